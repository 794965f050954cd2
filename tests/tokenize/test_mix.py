"""Mix by token budget: epochs from the store's token counts give LLaMA's Table 1 proportions (unit rules and
``kllama tokenize RUN --variant G --tokens N`` end to end, printing the achieved mix)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kllama.cli import main
from kllama.tokenize.mix import LLAMA_PROPORTIONS, budget_epochs, format_mix, parse_proportions
from tests.tokenize.helpers import write_shard

SOURCES = list(LLAMA_PROPORTIONS)


def test_targets_follow_table_1_and_extras_keep_their_epochs() -> None:
    store = {s: 1000 * (i + 1) for i, s in enumerate(SOURCES)} | {"maths": 500}
    mix = budget_epochs(store, 1_000_000, LLAMA_PROPORTIONS, {"maths": 2.0})
    assert mix.target["maths"] == 1000 and mix.epochs["maths"] == 2.0
    rest = 1_000_000 - 1000
    for s, pct in LLAMA_PROPORTIONS.items():
        assert mix.target[s] == pytest.approx(rest * pct / 100)
        assert mix.epochs[s] == pytest.approx(mix.target[s] / store[s])
    assert not mix.notes


def test_explicit_shares_missing_sources_and_errors() -> None:
    store = {"commoncrawl": 5000, "c4": 2000, "dialogue": 100}
    mix = budget_epochs(store, 10_000, LLAMA_PROPORTIONS, {}, explicit={"dialogue": 10.0})
    assert mix.target["dialogue"] == pytest.approx(1000)
    # only commoncrawl and c4 are present: 9000 tokens in the ratio 67 : 15
    assert mix.target["commoncrawl"] == pytest.approx(9000 * 67 / 82)
    assert mix.target["c4"] == pytest.approx(9000 * 15 / 82)
    assert any("github" in n for n in mix.notes)
    with pytest.raises(ValueError, match="raise --tokens"):
        budget_epochs(store, 500, LLAMA_PROPORTIONS, {}, explicit={"dialogue": 100.0})
    with pytest.raises(ValueError):
        budget_epochs(store, 0, LLAMA_PROPORTIONS, {})
    assert parse_proportions("llama") == LLAMA_PROPORTIONS
    assert parse_proportions("a=1,b=3") == {"a": 1.0, "b": 3.0}
    with pytest.raises(ValueError, match="NAME=PERCENT"):
        parse_proportions("a:1")


def _llama_run(root: Path) -> Path:
    """A run with the seven LLaMA sources (about equal sizes) and one extra, in G2."""
    shards = []
    for s in [*SOURCES, "maths"]:
        rows = [{"id": f"{s}/{j:04d}", "text": f"{s} document {j}: " + "some words here " * (3 + j % 5),
                 "source": s, "group": "extra" if s == "maths" else "core"} for j in range(300)]
        rel = f"shards/{rows[0]['group']}/{s}/part-00000.parquet"
        shards.append({"path": rel, "source": s, "group": rows[0]["group"], **write_shard(root / rel, rows)})
    manifest = {"shards": shards, "variants": {
        "G2": {"groups": ["core", "extra"], "weights": {"maths": 3.0, "wikipedia": 2.45}}}}
    (root / "manifest.json").write_text(json.dumps(manifest))
    return root


def test_tokenize_with_a_budget_matches_table_1(tmp_path: Path, dask_client, capsys) -> None:
    run = _llama_run(tmp_path / "run")
    budget = 2_000_000
    out = tmp_path / "g2"
    assert main(["tokenize", str(run), "--variant", "G2", "--output", str(out), "--tokens", str(budget),
                 "--cluster", dask_client.scheduler.address, "--ctx-len", "512"]) == 0
    printed = capsys.readouterr().out
    side = json.loads(Path(f"{out}.json").read_text())
    mix = side["mix"]
    rows = {r["source"]: r for r in mix["sources"]}
    assert mix["budget"] == budget and "mix for a budget of 2,000,000 tokens" in printed
    assert abs(side["tokens"] - budget) / budget < 0.01
    maths = side["per_source"]["maths"]
    assert maths["epochs"] == 3.0  # the extra keeps the variant's epochs
    table1_share = 100 - rows["maths"]["achieved_pct"]
    for s, pct in LLAMA_PROPORTIONS.items():
        want = pct * table1_share / 100
        assert abs(rows[s]["achieved_pct"] - want) < 0.3, (s, rows[s], want)
        assert rows[s]["table1_pct"] == pct and f"{rows[s]['tokens']:,}" in printed
    assert side["epochs"]["commoncrawl"] > 10 * side["epochs"]["stackexchange"] / 2
    assert "Table 1 %" in format_mix(mix)


def test_report_shows_each_variant_against_table_1() -> None:
    from kllama.report import bar_chart, mix_against_table1

    names, shares = mix_against_table1(["c4", "maths"], {"G1": [30, 10]}, ["G1"])
    assert names[:7] == list(LLAMA_PROPORTIONS) and names[-1] == "maths"
    assert shares["G1"][names.index("c4")] == 75.0 and shares["LLaMA Table 1"][names.index("c4")] == 15.0
    assert "<svg" in bar_chart("mix", names, shares, stacked=False)


def test_a_replacement_source_takes_its_slots_share(tmp_path: Path) -> None:
    """G3 with ``replace = { books = "science_books" }``: the science books (an extra source) get books' 4.5 %."""
    from kllama.tokenize.variant import tokenize_variant

    run = _llama_run(tmp_path / "run")
    rows = [{"id": f"science_books/{j:04d}", "text": f"a science book {j} " * 20, "source": "science_books",
             "group": "extra"} for j in range(100)]
    rel = "shards/extra/science_books/part-00000.parquet"
    manifest = json.loads((run / "manifest.json").read_text())
    manifest["shards"].append({"path": rel, "source": "science_books", "group": "extra",
                               **write_shard(run / rel, rows)})
    manifest["variants"]["G3"] = {"groups": ["core"], "replace": {"books": "science_books"}, "weights": {}}
    (run / "manifest.json").write_text(json.dumps(manifest))
    res = tokenize_variant(run, "G3", tmp_path / "g3", tokens=500_000, serial=True)
    rows_by = {r["source"]: r for r in res.sidecar["mix"]["sources"]}
    assert "science_books" not in rows_by and abs(rows_by["books"]["achieved_pct"] - 4.5) < 0.3
    assert res.per_source["science_books"]["tokens"] > 0 and "books" not in res.per_source
    assert "science_books fills the books slot" in format_mix(res.sidecar["mix"])
