"""Issue 11 item 3: every exported variant loads whole with the standard readers, offline.

Parquet: ``datasets.load_dataset("parquet")`` (and ``load_dataset(DIR)``), ``pandas.read_parquet(DIR)``,
``pyarrow.dataset.dataset(DIR)``. jsonl.zst: ``datasets.load_dataset("json")`` (and ``load_dataset(DIR)``),
``pandas.read_json(lines=True)`` per file, ``pyarrow.json`` per file concatenated (one schema across files).
"""

from __future__ import annotations

import pyarrow as pa
import pytest

from kllama.export import MANIFEST, export_variant

VARIANTS = ("G1", "G2", "G3")


@pytest.fixture(scope="module")
def exports(demo_run, tmp_path_factory):
    """Every variant in both formats; jsonl.zst cut small so that each export has several files."""
    root = tmp_path_factory.mktemp("exports")
    out = {}
    for variant in VARIANTS:
        for fmt in ("parquet", "jsonl.zst"):
            folder = root / fmt / variant
            info = export_variant(demo_run, variant, fmt, folder, shard_size="60000" if fmt == "jsonl.zst" else None)
            out[variant, fmt] = (folder, info)
    return out


@pytest.fixture
def hf(tmp_path, monkeypatch):
    """``datasets`` offline with a fresh cache under tmp_path."""
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    import datasets

    monkeypatch.setattr(datasets.config, "HF_DATASETS_OFFLINE", True, raising=False)
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True, raising=False)
    datasets.disable_progress_bars()
    return datasets, str(tmp_path / "hf-cache")


@pytest.mark.parametrize("variant", VARIANTS)
def test_parquet_export_loads_with_datasets_pandas_and_pyarrow(exports, hf, variant):
    import pandas as pd
    import pyarrow.dataset as pads

    datasets, cache = hf
    folder, info = exports[variant, "parquet"]
    assert (folder / MANIFEST).exists() and info["docs"] == info["store_docs"] > 0
    files = sorted(str(p) for p in folder.rglob("*.parquet"))
    assert len(files) == len(info["files"]) > 1
    ds = datasets.load_dataset("parquet", data_files=files, split="train", cache_dir=cache)
    ds_dir = datasets.load_dataset(str(folder), split="train", cache_dir=cache)
    df = pd.read_parquet(folder)
    table = pads.dataset(folder).to_table()
    assert len(ds) == len(ds_dir) == len(df) == table.num_rows == info["docs"]
    # nothing dropped silently: every stage column of the store is there, commoncrawl's scores too
    assert set(ds.column_names) == set(df.columns) == set(table.column_names) == {c.split(":")[0] for c in info["schema"]}
    assert {"perplexity", "bucket", "lang_score", "wiki_prob"} <= set(table.column_names)
    assert sorted(table.column("id").to_pylist()) == sorted(df["id"]) == sorted(ds["id"])
    assert len(set(table.column("id").to_pylist())) == info["docs"]
    cc = table.filter(pa.compute.equal(table.column("source"), "commoncrawl"))
    assert cc.num_rows and cc.column("perplexity").null_count < cc.num_rows


@pytest.mark.parametrize("variant", VARIANTS)
def test_jsonl_export_loads_with_datasets_pandas_and_pyarrow(exports, hf, variant):
    import pandas as pd
    import pyarrow.json as pajson

    datasets, cache = hf
    folder, info = exports[variant, "jsonl.zst"]
    files = sorted(str(p) for p in folder.glob("*.jsonl.zst"))
    assert len(files) == len(info["files"]) > 1
    ds = datasets.load_dataset("json", data_files=files, split="train", cache_dir=cache)
    ds_dir = datasets.load_dataset(str(folder), split="train", cache_dir=cache)
    df = pd.concat([pd.read_json(f, lines=True, compression="zstd") for f in files], ignore_index=True)
    tables = [pajson.read_json(pa.input_stream(f, compression="zstd")) for f in files]
    assert len({t.schema for t in tables}) == 1, "every file has the same schema"
    table = pa.concat_tables(tables)
    assert len(ds) == len(ds_dir) == len(df) == table.num_rows == info["docs"]
    assert ds.column_names == ["text", "meta"]
    meta = ds.features["meta"]
    assert list(meta) == info["meta_fields"]
    assert all(meta[k].dtype == ("int64" if k == "copy" else "string") for k in meta)
    sources = {m["source"] for m in ds["meta"]}
    assert sources == set(info["sources"]) and len(sources) >= 7
