"""The Pile reference index and the labelling stage: exact and near matches, groups, ledger stats, and the
variant store end to end (G3 export leaves out exactly the overlap group)."""

import io
import json
import random
import shutil
import subprocess
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

from kllama.config import load_recipe
from kllama.dedup.pile_index import PileIndex, build_index
from kllama.dedup.pile_label import PileLabel
from kllama.engine.inprocess import run_global_in_process
from kllama.engine.status import run_status
from kllama.export import export_variant
from kllama.pipeline import run_recipe
from tests.conftest import samples_dir


def _words(rng, n):
    return " ".join(f"w{rng.randrange(10**6)}" for _ in range(n))


def _write_pile(path, records):
    buf = io.BytesIO()
    with zstandard.ZstdCompressor(level=3).stream_writer(buf, closefd=False) as w:
        for text, name in records:
            w.write((json.dumps({"text": text, "meta": {"pile_set_name": name}}) + "\n").encode())
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buf.getvalue())


def _label(step, tables):
    """keys -> buckets -> resolve -> combine -> apply, as the engine runs a GlobalStep."""
    r = run_global_in_process(step, tables)
    return r.tables, r.ledger


def test_index_of_the_sample_shards(tmp_path):
    pile = samples_dir("pile")
    meta = build_index([str(pile)], tmp_path / "idx")
    assert meta["docs"] == 17 and meta["ledger"]["docs_in"] == 17 and not meta["ledger"]["dropped"]
    assert meta["sets"]["Gutenberg (PG-19)"] == 1 and meta["index_bytes"] > 0
    exact = pq.read_table(tmp_path / "idx" / "exact")  # hive-partitioned by prefix
    assert exact.num_rows == 17
    sketch = pq.read_table(tmp_path / "idx" / "sketch")
    assert meta["rows"] == {"exact": 17, "sketch": sketch.num_rows} and sketch.num_rows >= 17 * 10
    assert set(sketch.column("level").to_pylist()) <= set(range(8))
    for f in (tmp_path / "idx" / "sketch").rglob("*.parquet"):  # every file holds only its prefix
        t = pq.read_table(f)
        prefix = int(f.parent.name.split("=")[1], 16)
        assert set((t.column("key").to_numpy() >> np.uint64(56)).tolist()) == {prefix}
    again = build_index([str(pile)], tmp_path / "idx")  # finished shards are skipped
    assert again["docs"] == 17
    idx = PileIndex(tmp_path / "idx")
    assert idx.prefixes_for_bucket(3, 16) == [p for p in range(256) if p % 16 == 3]
    # the same shards copied elsewhere (another checkout of the demo data) are the same index, not a refusal
    moved = tmp_path / "elsewhere"
    shutil.copytree(pile, moved)
    assert build_index([str(moved)], tmp_path / "idx")["docs"] == 17
    (moved / "lm_dataformat-test-blns.jsonl.zst.tar").unlink()
    with pytest.raises(ValueError, match="other settings or shards"):
        build_index([str(moved)], tmp_path / "idx")


def test_cli_pile_index(tmp_path):
    shard = samples_dir("pile", "constructed", "train")
    out = tmp_path / "cli-idx"
    proc = subprocess.run([sys.executable, "-m", "kllama.cli", "pile-index", str(shard), "--output", str(out),
                           "--serial"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "indexed 9 documents" in proc.stdout and (out / "index.json").exists()
    # an engine task stage: one marker per Pile shard, shown by `kllama status INDEX`
    status = run_status(out)
    stage = status["stages"]["pile-index"]
    assert stage["partitions_done"] == stage["partitions_total"] == 1 and stage["docs_in"] == 9
    assert status["finished"]


def test_bad_pile_shards_are_counted_not_fatal(tmp_path):
    _write_pile(tmp_path / "pile" / "00.jsonl.zst", [("a good document " * 10, "Pile-CC")])
    with open(tmp_path / "pile" / "00.jsonl.zst", "ab") as f:  # a second frame: a JSON line without text
        f.write(zstandard.ZstdCompressor().compress(b'{"meta": {"pile_set_name": "ArXiv"}}\n'))
    raw = io.BytesIO()
    with zstandard.ZstdCompressor().stream_writer(raw, closefd=False) as w:
        for i in range(2000):
            w.write((json.dumps({"text": f"doc {i} " * 30}) + "\n").encode())
    data = raw.getvalue()
    (tmp_path / "pile" / "01.jsonl.zst").write_bytes(data[: len(data) // 2])
    meta = build_index([str(tmp_path / "pile")], tmp_path / "idx")
    assert meta["ledger"]["dropped"] == {"truncated_file": 1, "missing_text": 1}
    assert meta["ledger"]["docs_in"] == meta["docs"] + 2
    assert 1 < meta["docs"] < 2001


def test_exact_and_near_matches_set_the_groups(tmp_path):
    rng = random.Random(5)
    in_pile_exact = _words(rng, 300)
    in_pile_near = _words(rng, 300)
    short = "Too short for near matching."
    _write_pile(tmp_path / "pile" / "train" / "00.jsonl.zst",
                [(in_pile_exact, "Pile-CC"), (in_pile_near, "Books3"), (short, "HackerNews")]
                + [(_words(rng, 200), "Pile-CC") for _ in range(30)])
    build_index([str(tmp_path / "pile")], tmp_path / "idx")
    words = in_pile_near.split(" ")
    near = " ".join("edited" if i % 60 == 30 else w for i, w in enumerate(words))  # Jaccard ~0.85
    docs = {
        "exact": "  " + in_pile_exact.replace(" ", "\n", 5) + "\n",  # other whitespace: same normalized text
        "near": near,
        "short": short,
        "fresh": _words(rng, 300),
        "extra_exact": in_pile_exact,
    }
    ids = list(docs)
    groups = ["core", "core", "core", "core", "extra"]
    sources = ["c4", "books", "c4", "c4", "extra_source"]
    table = pa.table({"id": ids, "text": pa.array(list(docs.values()), pa.large_string()), "source": sources,
                      "group": groups})
    step = PileLabel(index_path=str(tmp_path / "idx"), num_buckets=4)
    (a, b), ledger = _label(step, [table.slice(0, 2), table.slice(2)])
    out = pa.concat_tables([a, b])
    got = dict(zip(out.column("id").to_pylist(), out.column("group").to_pylist(), strict=True))
    assert got == {"exact": "pile-overlap", "near": "pile-overlap", "short": "pile-overlap", "fresh": "core",
                   "extra_exact": "extra-pile-overlap"}
    match = dict(zip(out.column("id").to_pylist(), out.column("pile_match").to_pylist(), strict=True))
    assert match == {"exact": "exact", "near": "near", "short": "exact", "fresh": None, "extra_exact": "exact"}
    assert out.column("pile_set_name").to_pylist()[1] == "Books3"
    assert ledger.stats["pile_checked:c4"] == 3 and ledger.stats["pile_overlap:books:near"] == 1
    assert ledger.stats["pile_overlap_set:Pile-CC"] == 2 and ledger.stats["pile_overlap_set:HackerNews"] == 1
    assert not ledger.dropped
    # exact only: the near copy stays core
    (a, b), _ = _label(PileLabel(index_path=str(tmp_path / "idx"), near=False, num_buckets=3),
                       [table.slice(0, 2), table.slice(2)])
    assert a.column("group").to_pylist() == ["pile-overlap", "core"]


def test_revised_copies_by_containment_and_the_keep_policy(tmp_path):
    rng = random.Random(11)
    article = [_words(rng, 25) + "." for _ in range(60)]  # a Pile article of 60 sentences
    _write_pile(tmp_path / "pile" / "00.jsonl.zst", [(" ".join(article), "Wikipedia (en)")]
                + [(_words(rng, 400), "Pile-CC") for _ in range(20)])
    build_index([str(tmp_path / "pile")], tmp_path / "idx")
    # a later revision: 45% of the sentences deleted, two changed, one new: containment 0.97, Jaccard 0.51
    kept = [s for i, s in enumerate(article) if i % 20 >= 9]
    kept[3] = kept[3].replace(kept[3].split()[4], "changed")
    kept[10] = "A new sentence written after the Pile was made, about something else entirely."
    revised = " ".join(kept)
    table = pa.table({"id": ["revised", "fresh"], "text": pa.array([revised, _words(rng, 500)], pa.large_string()),
                      "source": ["wikipedia", "wikipedia"], "group": ["core", "core"]})
    (out,), ledger = _label(PileLabel(index_path=str(tmp_path / "idx"), num_buckets=4), [table])
    assert out.column("group").to_pylist() == ["pile-overlap", "core"]
    assert out.column("pile_match").to_pylist() == ["near", None]
    assert out.column("pile_set_name").to_pylist()[0] == "Wikipedia (en)"
    assert 0.85 <= out.column("pile_containment").to_pylist()[0] <= 1.0
    # keep: measured and recorded the same way, but the document stays in its group (G3 keeps it)
    (kept_out,), led = _label(PileLabel(index_path=str(tmp_path / "idx"), policy="keep", num_buckets=4), [table])
    assert kept_out.column("group").to_pylist() == ["core", "core"]
    assert kept_out.column("pile_match").to_pylist() == ["near", None]
    assert led.stats["pile_overlap:wikipedia:near"] == 1 and led.stats["pile_kept:wikipedia"] == 1
    with pytest.raises(ValueError, match="policy"):
        PileLabel(index_path=str(tmp_path / "idx"), policy="drop")


def test_an_index_of_the_old_format_is_refused(tmp_path):
    _write_pile(tmp_path / "pile" / "00.jsonl.zst", [("a Pile document " * 10, "Pile-CC")])
    build_index([str(tmp_path / "pile")], tmp_path / "idx")
    meta = json.loads((tmp_path / "idx" / "index.json").read_text())
    meta["format"] = 1
    (tmp_path / "idx" / "index.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="format 1 Pile index"):
        PileIndex(tmp_path / "idx")


def test_missing_index_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="pile-index"):
        PileLabel(index_path=str(tmp_path / "nothing"))
    # given pile_dir, the step is built without its index (the run plan builds steps first) and only loads it
    _write_pile(tmp_path / "pile" / "00.jsonl.zst", [("a Pile document " * 10, "Pile-CC")])
    step = PileLabel(pile_dir=str(tmp_path / "pile"), cache_dir=str(tmp_path / "cache"))
    with pytest.raises(FileNotFoundError, match="pile-index stage"):
        step.emit_keys(pa.table({"text": ["x"]}))
    tasks = step.setup_tasks()  # what the run's pile-index stage runs
    assert [t["name"] for t in tasks] == ["part-00000"] and step.setup_stage_name.startswith("pile-index.")
    step.finish_setup([t["fn"](**t["kwargs"]) for t in tasks])
    assert step.index.meta["docs"] == 1


E2E_RECIPE = """
name = "g3-test"
[run]
post = [{{ step = "pile_label", pile_dir = "@data/demo/pile", cache_dir = "{cache}", num_buckets = 4 }}]
[sources.c4]
reader = "c4"
inputs = ["@data/demo/c4"]
options = {{ split = "train" }}
pipeline = [{{ step = "c4_rules" }}, {{ step = "exact_dedup", num_buckets = 4 }}]
[sources.books]
reader = "books"
inputs = ["@data/demo/books"]
options = {{ books_per_partition = 2 }}
pipeline = [{{ step = "minhash_lsh", bands = 32, rows = 4, measure = "containment", threshold = 0.9, num_buckets = 4 }}]
[variants.G1]
groups = ["core", "pile-overlap"]
weights = {{ c4 = 1.06, books = 2.23 }}
[variants.G2]
groups = ["core", "pile-overlap", "extra", "extra-pile-overlap"]
weights = {{ c4 = 1.06, books = 2.23 }}
[variants.G3]
groups = ["core"]
weights = {{ c4 = 1.06, books = 2.23 }}
"""


def _ids(folder):
    ids = set()
    for f in folder.rglob("*.jsonl.zst"):
        with open(f, "rb") as fh:
            text = zstandard.ZstdDecompressor().stream_reader(fh).read().decode()
        ids.update(json.loads(line)["meta"]["id"] for line in text.splitlines() if line)
    return ids


def test_demo_sources_labelled_and_g3_export_leaves_out_exactly_the_overlap(tmp_path, dask_client):
    recipe = tmp_path / "g3.toml"
    recipe.write_text(E2E_RECIPE.format(cache=tmp_path / "cache"))
    run = tmp_path / "run"
    summary = run_recipe(load_recipe(str(recipe)), run, dask_client, progress=False)
    for name, led in summary.stages.items():
        assert led.balanced, name
    manifest = json.loads((run / "manifest.json").read_text())
    assert set(manifest["variants"]) == {"G1", "G2", "G3"}
    by_group: dict[str, set] = {}
    for s in manifest["shards"]:
        ids = set(pq.read_table(run / s["path"]).column("id").to_pylist())
        by_group.setdefault(s["group"], set()).update(ids)
    assert by_group.get("pile-overlap"), "the demo Pile shard overlaps the demo sources"
    assert {s["source"] for s in manifest["shards"] if s["group"] == "pile-overlap"} == {"c4", "books"}
    # the index of pile_dir was built as the run's own engine stage, before any source
    index_stage = [n for n in summary.stages if n.startswith("pile-index.")]
    assert len(index_stage) == 1 and summary.stages[index_stage[0]].docs_in > 0
    st = run_status(run)["stages"][index_stage[0]]
    assert st["partitions_done"] == st["partitions_total"] >= 1
    stats = summary.stages["c4.02-pile_label"].stats
    assert stats["pile_overlap:c4:exact"] >= 1 and stats["pile_overlap:c4:near"] >= 1
    export_variant(run, "G3", "jsonl.zst", tmp_path / "g3", repeat=False)  # each document once, not by epochs
    export_variant(run, "G1", "jsonl.zst", tmp_path / "g1", repeat=False)
    assert _ids(tmp_path / "g3") == by_group["core"]
    assert _ids(tmp_path / "g1") == by_group["core"] | by_group["pile-overlap"]
    assert not _ids(tmp_path / "g3") & by_group["pile-overlap"]
    assert manifest["variants"]["G1"]["docs"] - manifest["variants"]["G3"]["docs"] == len(by_group["pile-overlap"])


POLICY_RECIPE = """
name = "policy-test"
[run]
post = [{{ step = "pile_label", pile_dir = "@data/demo/pile", cache_dir = "{cache}", num_buckets = 4 }}]
[sources.c4]
reader = "c4"
pile = "keep"
inputs = ["@data/demo/c4"]
options = {{ split = "train" }}
pipeline = [{{ step = "c4_rules" }}, {{ step = "exact_dedup", num_buckets = 4 }}]
[sources.books]
reader = "books"
inputs = ["@data/demo/books"]
options = {{ books_per_partition = 2 }}
[sources.maths]
reader = "jsonl"
inputs = ["@data/demo/extra/maths"]
group = "extra"
[variants.G1]
groups = ["core", "pile-overlap"]
weights = {{ c4 = 1.06, books = 2.23 }}
[variants.G3]
groups = ["core"]
weights = {{ c4 = 1.06, books = 2.23 }}
replace = {{ books = ["books", "maths"] }}
"""


def test_keep_policy_and_a_replaced_books_slot_end_to_end(tmp_path, dask_client):
    from kllama.core.variants import replacement_volumes
    from kllama.report import dataset_card, load_run

    recipe = tmp_path / "policy.toml"
    recipe.write_text(POLICY_RECIPE.format(cache=tmp_path / "cache"))
    run = tmp_path / "run"
    summary = run_recipe(load_recipe(str(recipe)), run, dask_client, progress=False)
    manifest = json.loads((run / "manifest.json").read_text())
    groups = {(s["source"], s["group"]) for s in manifest["shards"]}
    # c4 keeps its Pile matches in core (measured and recorded), books' matches leave G3
    assert ("c4", "pile-overlap") not in groups and ("books", "pile-overlap") in groups
    c4 = [m for s in manifest["shards"] if s["source"] == "c4"
          for m in pq.read_table(run / s["path"]).column("pile_match").to_pylist()]
    assert set(c4) >= {"exact", "near"}
    stats = summary.stages["c4.02-pile_label"].stats
    assert stats["pile_kept:c4"] == stats["pile_overlap:c4:exact"] + stats["pile_overlap:c4:near"] >= 2
    # G3's books slot: the non-Pile books plus maths (its extra shards), at books' epochs
    g3 = manifest["variants"]["G3"]
    assert g3["replace"] == {"books": ["books", "maths"]}
    in_g3 = {(s["source"], s["group"]) for s in manifest["shards"] if s["group"] == "core"} | {("maths", "extra")}
    assert g3["docs"] == sum(s["docs"] for s in manifest["shards"] if (s["source"], s["group"]) in in_g3)
    info = export_variant(run, "G3", "jsonl.zst", tmp_path / "g3", repeat=False)
    assert info["docs"] == g3["docs"] and any(i.startswith("maths/") for i in _ids(tmp_path / "g3"))
    assert info["weights"]["maths"] == 2.23 and info["replace"] == {"books": ["books", "maths"]}
    vol = replacement_volumes(manifest, "G3")[0]
    assert vol["slot"] == "books" and vol["after_docs"] > vol["before_docs"]
    card = dataset_card(load_run(run))
    assert "| G3 | books | books + maths |" in card and "| c4 | keep |" in card and "| books | label |" in card


def test_sorted_member_is_isin():
    import numpy as np

    from kllama.dedup.pile_index import sorted_member

    rng = np.random.default_rng(5)
    for n, m in ((0, 5), (5, 0), (1, 10), (1000, 5000), (50_000, 20_000)):
        values = np.unique(rng.integers(0, 1 << 63, n, dtype=np.uint64) | np.uint64(1))
        x = np.concatenate([rng.choice(values, m // 2) if len(values) else np.zeros(0, np.uint64),
                            rng.integers(0, 1 << 63, m - m // 2, dtype=np.uint64)])
        x = np.concatenate([x, np.array([0, np.iinfo(np.uint64).max], dtype=np.uint64)])
        assert np.array_equal(sorted_member(values, x), np.isin(x, values))
