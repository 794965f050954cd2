"""GitHub code dump reader: codeparrot/github-code and the-stack schemas, bad records, size limits; the
source end to end through the pipeline on a real LocalCluster."""

from __future__ import annotations

import gzip
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from kllama.config import DATA_DIR
from kllama.core.ledger import Ledger
from kllama.sources.github import GithubSource
from tests.conftest import samples_dir


def read_all(path, **opts):
    led = Ledger()
    docs = list(GithubSource(**opts).read(str(path), led))
    return docs, led


def test_codeparrot_jsonl_and_parquet_samples_give_the_same_documents():
    d = samples_dir("code", "constructed")
    jdocs, jled = read_all(d / "github-code-style.jsonl.gz")
    pdocs, pled = read_all(d / "github-code-style-train-00000-of-00001.parquet")
    assert len(jdocs) == len(pdocs) == 9 and not jled.dropped and not pled.dropped
    assert [x.text for x in jdocs] == [x.text for x in pdocs]
    assert [x.id for x in jdocs] == [x.id for x in read_all(d / "github-code-style.jsonl.gz")[0]]  # stable ids
    first = jdocs[0]
    assert first.meta["repo_name"] == "chatnoir-eu/chatnoir-resiliparse"
    assert first.meta["path"].endswith("encoding.h") and first.meta["licenses"] == ["apache-2.0"]
    assert first.meta["language"] == "C" and first.meta["size"] == 4917
    assert first.url == "https://github.com/chatnoir-eu/chatnoir-resiliparse/blob/HEAD/" + first.meta["path"]
    orig = (samples_dir("code", "files") / "chatnoir-eu__chatnoir-resiliparse/resiliparse-py/resiliparse/parse/encoding.h")
    assert first.text == orig.read_text(encoding="utf-8")


def test_the_stack_schema_with_licence_lists():
    docs, led = read_all(DATA_DIR / "demo" / "github" / "the-stack-demo.parquet")
    assert len(docs) == 3 and not led.dropped
    assert docs[0].meta["licenses"] == ["MIT", "Apache-2.0"]
    assert docs[0].meta["repo_name"] == "kllama-demo/numbers" and docs[0].meta["path"] == "src/lcm.rs"
    assert docs[0].meta["stars"] == 12 and "stars" not in docs[2].meta
    assert docs[0].meta["hexsha"] == f"{1:040x}"


def test_bad_records_are_named_drops(tmp_path):
    rows = [
        json.dumps({"code": "print(1)\n", "repo_name": "a/b", "path": "x.py", "license": "mit"}),
        "{not json",
        json.dumps(["a", "list"]),
        json.dumps({"repo_name": "a/b", "path": "nocode.py"}),
        json.dumps({"code": "", "repo_name": "a/b", "path": "empty.py"}),
        json.dumps({"code": "\x7fELF\x00\x01", "repo_name": "a/b", "path": "bin.h"}),
        "",
    ]
    p = tmp_path / "bad.jsonl"
    p.write_text("\n".join(rows) + "\n", encoding="utf-8")
    docs, led = read_all(p)
    assert len(docs) == 1
    assert led.dropped == {"invalid_json": 2, "missing_code": 1, "empty_file": 1, "binary_file": 1}


def test_binary_bytes_column_in_parquet(tmp_path):
    t = pa.table({"content": pa.array([b"int x;\n", b"\xff\xfe\x00\x01garbage"], pa.binary()),
                  "max_stars_repo_path": ["a.c", "b.c"], "max_stars_repo_name": ["r/r", "r/r"],
                  "max_stars_repo_licenses": [["MIT"], ["MIT"]]})
    pq.write_table(t, tmp_path / "b.parquet")
    docs, led = read_all(tmp_path / "b.parquet")
    assert [d.text for d in docs] == ["int x;\n"] and led.dropped == {"binary_file": 1}


def test_oversized_line_is_dropped_without_reading_it_whole(tmp_path):
    # stands in for a 500 MB minified file: a 2 MB record against a 64 kB limit, then reading goes on
    big = json.dumps({"code": "x=1;" * 500_000, "repo_name": "a/b", "path": "min.js", "license": "mit"})
    ok = json.dumps({"code": "y = 2\n", "repo_name": "a/b", "path": "ok.py", "license": "mit"})
    p = tmp_path / "big.jsonl.gz"
    with gzip.open(p, "wt", encoding="utf-8") as f:
        f.write(big + "\n" + ok + "\n")
    docs, led = read_all(p, max_file_bytes=65536)
    assert [d.meta["path"] for d in docs] == ["ok.py"]
    assert led.dropped == {"file_too_large": 1} and led.dropped_bytes["file_too_large"] == len(big) + 1


def test_oversized_value_in_parquet_is_dropped(tmp_path):
    t = pa.table({"code": ["a" * 100_000, "b = 1\n"], "repo_name": ["r/r", "r/r"], "path": ["a.js", "b.py"],
                  "license": ["mit", "mit"]})
    pq.write_table(t, tmp_path / "p.parquet")
    docs, led = read_all(tmp_path / "p.parquet", max_file_bytes=50_000)
    assert [d.meta["path"] for d in docs] == ["b.py"] and led.dropped == {"file_too_large": 1}


def test_truncated_gzip_keeps_rows_before_the_cut(tmp_path):
    rows = "".join(json.dumps({"code": f"x = {i}\n" * 50, "repo_name": "a/b", "path": f"{i}.py",
                               "license": "mit"}) + "\n" for i in range(200))
    data = gzip.compress(rows.encode())
    p = tmp_path / "cut.jsonl.gz"
    p.write_bytes(data[: len(data) // 2])
    docs, led = read_all(p)
    assert 0 < len(docs) < 200 and led.dropped == {"truncated_file": 1}


def test_parquet_without_code_column_raises_for_quarantine(tmp_path):
    pq.write_table(pa.table({"path": ["a.py"]}), tmp_path / "x.parquet")
    with pytest.raises(ValueError, match="no code/content column"):
        read_all(tmp_path / "x.parquet")


@pytest.mark.slow
def test_github_source_end_to_end_on_samples(tmp_path, dask_client):
    from kllama.config import load_recipe
    from kllama.pipeline import run_recipe

    inputs = str(samples_dir("code", "constructed"))
    recipe = load_recipe("demo", {"github": [inputs]})
    recipe.run["post"] = []  # only this source's own pipeline
    summary = run_recipe(recipe, tmp_path / "run", dask_client, progress=False)
    for name, led in summary.stages.items():
        assert led.balanced, (name, led.to_dict())
    read = summary.stages["github.00-read"]
    assert read.docs_in == 18
    # AGPL/LGPL files (the copyleft fixture, gensim) go; so do the tables of numbers
    assert read.dropped["license_not_allowed"] == 8
    dedup = next(v for k, v in summary.stages.items() if "exact_dedup" in k)
    assert dedup.dropped["exact_duplicate"] == 4  # jsonl.gz and parquet hold the same files
    texts = []
    for shard in summary.shards:
        t = pq.read_table(tmp_path / "run" / shard["path"])
        texts += t.column("text").to_pylist()
        metas = [json.loads(m) for m in t.column("meta").to_pylist()]
        assert all(set(m["licenses"]) & {"mit", "apache-2.0"} for m in metas)
    assert texts and not any("Licensed under the Apache License" in x[:400] for x in texts)
