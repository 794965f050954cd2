"""Issue 13 item 7: the Pile-like jsonl.zst export (mixed, shuffled, weighted, cut into NN.jsonl.zst)."""

from __future__ import annotations

import hashlib
import importlib
import json
import random
from collections import Counter

import pyarrow.parquet as pq
import pytest
import zstandard

from kllama.core.sampling import copies_for
from kllama.export import MANIFEST, export_variant, load_manifest, parse_shard_size, variant_shards


def _tokenize_rule():
    """``kllama tokenize``'s own sampling rule (wherever that package keeps it)."""
    for name in ("kllama.tokenize.variant", "kllama.tokenize.shuffle"):
        fn = getattr(importlib.import_module(name), "copies_for", None)
        if fn is not None:
            return fn
    raise AssertionError("kllama.tokenize has no copies_for")


def test_export_samples_fractional_epochs_exactly_as_tokenize():
    rng = random.Random(0)
    tok = _tokenize_rule()
    for _ in range(2000):
        doc_id, epochs, seed = f"src/{rng.getrandbits(80):020x}", rng.choice([0, 0.64, 1, 1.06, 2.45, 3.0]), rng.randrange(9)
        assert copies_for(doc_id, epochs, seed) == tok(doc_id, epochs, seed)


def _lines(path) -> list[dict]:
    with open(path, "rb") as f:
        data = zstandard.ZstdDecompressor().stream_reader(f, read_across_frames=True).read()
    return [json.loads(line) for line in data.decode("utf-8").splitlines()]


def _store(run, variant) -> dict[str, tuple[str, str]]:
    """id -> (source, text) of the variant's store documents."""
    out = {}
    for s in variant_shards(load_manifest(run), variant):
        t = pq.read_table(run / s["path"], columns=["id", "source", "text"])
        out.update({i: (src, txt) for i, src, txt in zip(*(t.column(c).to_pylist() for c in t.column_names),
                                                             strict=True)})
    return out


def test_g1_is_mixed_shuffled_repeated_by_epochs_and_cut_into_numbered_files(demo_run, tmp_path):
    info = export_variant(demo_run, "G1", "jsonl.zst", tmp_path / "g1", seed=5, shard_size="100docs")
    names = sorted(p.name for p in (tmp_path / "g1").iterdir())
    n = len(info["files"])
    assert n >= 3 and names == [f"{i:02d}.jsonl.zst" for i in range(n)] + ["README.md", MANIFEST]
    weights = load_manifest(demo_run)["variants"]["G1"]["weights"]
    store = _store(demo_run, "G1")
    lines = []
    for entry in info["files"]:
        path = tmp_path / "g1" / entry["path"]
        rows = _lines(path)
        assert hashlib.sha256(path.read_bytes()).hexdigest() == entry["sha256"]
        assert len(rows) == entry["docs"] <= 100 and Counter(r["meta"]["source"] for r in rows) == entry["sources"]
        lines.extend(rows)
    assert len(lines) == info["docs"]
    # one meta shape for every source; pile_set_name is the source; text as stored (digits untouched)
    assert {tuple(r["meta"]) for r in lines} == {tuple(info["meta_fields"])}
    for r in lines:
        m = r["meta"]
        assert m["pile_set_name"] == m["source"] == store[m["id"]][0] and m["variant"] == "G1"
        assert r["text"] == store[m["id"]][1]
        assert isinstance(json.loads(m["source_meta"]), dict) and isinstance(json.loads(m["stages"]), dict)
    # copies: floor(epochs) + the same deterministic sample of the fraction as kllama tokenize
    copies = Counter(r["meta"]["id"] for r in lines)
    for doc_id, (src, _) in store.items():
        assert copies.get(doc_id, 0) == copies_for(doc_id, weights[src], 5), doc_id
    assert {r["meta"]["copy"] for r in lines if r["meta"]["source"] == "wikipedia"} >= {0, 1}
    for src, s in info["sources"].items():
        assert s["copies"] == sum(1 for r in lines if r["meta"]["source"] == src)
        assert s["docs_in"] == s["docs"] + s["sampled_out"] == sum(1 for v in store.values() if v[0] == src)
    assert info["sources"]["github"]["sampled_out"] > 0  # epochs 0.64
    # shuffled: every file mixes sources; the stream is not grouped by source
    assert all(len(e["sources"]) >= 3 for e in info["files"])
    order = [r["meta"]["source"] for r in lines]
    assert sum(a != b for a, b in zip(order, order[1:], strict=False)) > len(order) / 3
    # Pile overlap documents say so in their stage columns
    overlap = [json.loads(r["meta"]["stages"]) for r in lines if r["meta"]["group"] == "pile-overlap"]
    assert overlap and all(s.get("pile_match") for s in overlap)


def test_output_is_the_same_for_any_worker_count_and_bucket_size(demo_run, tmp_path):
    base = export_variant(demo_run, "G2", "jsonl.zst", tmp_path / "a", seed=3, shard_size="150000")
    small = export_variant(demo_run, "G2", "jsonl.zst", tmp_path / "b", seed=3, shard_size="150000", workers=2,
                           bucket_bytes=60_000, buffer_bytes=8_000, task_bytes=100_000)
    assert [f["sha256"] for f in base["files"]] == [f["sha256"] for f in small["files"]]
    assert len(base["files"]) >= 3
    sh = small["shuffle"]
    assert sh["tasks"] > 2 and sh["first_level_buckets"] > 1 and sh["rescatter_levels"] >= 1
    biggest_line = max(len(json.dumps(r, ensure_ascii=False).encode()) for r in _lines(tmp_path / "a" / "00.jsonl.zst"))
    assert sh["largest_bucket_in_memory"] <= max(60_000, biggest_line + 64)
    assert base["shuffle"]["largest_bucket_in_memory"] > sh["largest_bucket_in_memory"]
    assert not [p for p in (tmp_path / "b").iterdir() if p.name.startswith(".")], "spill files removed"


def test_seed_changes_the_order_and_no_repeat_writes_each_document_once(demo_run, tmp_path):
    a = export_variant(demo_run, "G3", "jsonl.zst", tmp_path / "a", seed=1, repeat=False)
    b = export_variant(demo_run, "G3", "jsonl.zst", tmp_path / "b", seed=2, repeat=False)
    la, lb = _lines(tmp_path / "a" / "00.jsonl.zst"), _lines(tmp_path / "b" / "00.jsonl.zst")
    ids_a, ids_b = [r["meta"]["id"] for r in la], [r["meta"]["id"] for r in lb]
    assert ids_a != ids_b and sorted(ids_a) == sorted(ids_b) == sorted(_store(demo_run, "G3"))
    assert a["docs"] == b["docs"] == a["store_docs"] and {r["meta"]["copy"] for r in la} == {0}
    assert all(s["epochs"] == 1.0 for s in a["sources"].values())


def test_shard_size_parsing():
    assert parse_shard_size(None) == {"bytes": 10**9}
    assert parse_shard_size("500M") == {"bytes": 500 * 10**6}
    assert parse_shard_size("1GiB") == {"bytes": 1 << 30}
    assert parse_shard_size("1048576") == {"bytes": 1048576}
    assert parse_shard_size("100000docs") == {"docs": 100000}
    assert parse_shard_size(" 2.5 k ") == {"bytes": 2500}
    for bad in ("lots", "0", "-5M"):
        with pytest.raises(ValueError):
            parse_shard_size(bad)
