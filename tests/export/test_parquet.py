"""The Parquet export: the store's shards of a variant, hard-linked, one schema for every file."""

from __future__ import annotations

import json
import os
import shutil

import pyarrow.dataset as pads
import pyarrow.parquet as pq

from kllama.export import export_variant, load_manifest


def test_store_shards_share_one_schema_and_the_export_links_them(demo_run, tmp_path):
    manifest = load_manifest(demo_run)
    schemas = {str(pq.read_schema(demo_run / s["path"]).remove_metadata()) for s in manifest["shards"]}
    assert len(schemas) == 1, "every shard of a run has the same columns and types"
    info = export_variant(demo_run, "G1", "parquet", tmp_path / "g1")
    assert info["rewritten"] == 0 and all(f["linked"] for f in info["files"])
    store = {s["path"]: s for s in manifest["shards"]}
    for f in info["files"]:
        src = demo_run / "shards" / f["path"]
        assert os.stat(src).st_ino == os.stat(tmp_path / "g1" / f["path"]).st_ino
        assert f["sha256"] == store[f"shards/{f['path']}"]["sha256"]
    assert {f["group"] for f in info["files"]} == {"core", "pile-overlap"}


def test_a_shard_of_another_schema_is_rewritten_to_the_common_one(demo_run, tmp_path):
    """An older run (stage columns only where a source set them) still exports as one table."""
    run = tmp_path / "old"
    shutil.copytree(demo_run / "shards", run / "shards")
    shutil.copy(demo_run / "manifest.json", run / "manifest.json")
    manifest = json.loads((run / "manifest.json").read_text())
    c4 = next(s for s in manifest["shards"] if s["source"] == "c4" and s["group"] == "core")
    core = ["id", "text", "source", "url", "lang", "meta", "group"]
    pq.write_table(pq.read_table(run / c4["path"], columns=core), run / c4["path"])
    info = export_variant(run, "G3", "parquet", tmp_path / "g3")
    assert info["rewritten"] == 1
    table = pads.dataset(tmp_path / "g3").to_table()
    assert table.num_rows == info["docs"] and "perplexity" in table.column_names
