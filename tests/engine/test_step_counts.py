"""Per-step counts (documents in/out, drops by reason, CPU seconds) and dropped-document samples, on a real
distributed LocalCluster."""

import json

import pytest

from kllama.cli import main as kllama
from kllama.config import DATA_DIR, load_recipe
from kllama.core.ledger import Ledger
from kllama.engine.samples import merge_partition_samples
from kllama.engine.status import run_status
from kllama.pipeline import run_recipe

RECIPE = f"""
name = "t"
[run]
drop_samples = 2
[sources.c4]
reader = "c4"
inputs = ["{DATA_DIR / 'demo' / 'c4'}"]
pipeline = [{{ step = "c4_rules" }}, {{ step = "exact_dedup", num_buckets = 4 }}, {{ step = "c4_rules", min_sentences = 5 }},
            {{ step = "c4_rules", min_sentences = 6 }}]
[variants.G1]
groups = ["core"]
"""


def ordered(steps: dict) -> list:
    """Steps in pipeline order (JSON files sort keys; ``position`` keeps the order)."""
    return sorted(steps.items(), key=lambda kv: kv[1]["position"])


def check_steps(stage: str, led: dict) -> None:
    """Every step balances; each step's output is the next one's input; together they make the stage's counts."""
    steps = ordered(led["steps"])
    assert steps, stage
    for name, s in steps:
        assert s["docs_in"] == s["docs_out"] + sum(s["dropped"].values()), (stage, name)
        assert s["cpu_s"] >= 0
    for (_, a), (_, b) in zip(steps, steps[1:], strict=False):
        assert a["docs_out"] == b["docs_in"], stage
    assert steps[0][1]["docs_in"] == led["docs_in"] and steps[-1][1]["docs_out"] == led["docs_out"], stage
    total: dict[str, int] = {}
    for _, s in steps:
        for reason, n in s["dropped"].items():
            total[reason] = total.get(reason, 0) + n
    assert total == led["dropped"], stage


@pytest.fixture(scope="module")
def run(tmp_path_factory, dask_client):
    base = tmp_path_factory.mktemp("steps")
    (base / "r.toml").write_text(RECIPE)
    summary = run_recipe(load_recipe(str(base / "r.toml")), base / "run", dask_client, progress=False)
    return base / "run", summary


def test_per_step_counts_balance_and_sum_to_the_stage(run):
    run_dir, summary = run
    ledger = json.loads((run_dir / "ledger.json").read_text())
    assert [k for k, _ in ordered(ledger["c4.00-read"]["steps"])] == ["read:c4", "c4_rules"]
    assert [k for k, _ in ordered(ledger["c4.02-c4_rules"]["steps"])] == ["c4_rules", "c4_rules#2"]  # a repeat
    for stage in ("c4.00-read", "c4.01-exact_dedup", "c4.02-c4_rules"):
        check_steps(stage, ledger[stage])
        assert Ledger.from_dict(ledger[stage]).to_dict() == ledger[stage]  # the steps survive the round trip
    read = ledger["c4.00-read"]["steps"]
    assert read["read:c4"]["dropped"] == {"invalid_json": 1, "missing_text": 1, "truncated_file": 1}
    assert set(read["c4_rules"]["dropped"]) == {"c4_curly_bracket", "c4_too_few_sentences"}
    assert ledger["c4.01-exact_dedup"]["steps"]["exact_dedup"]["dropped"] == {"exact_duplicate": 3}
    assert ledger["c4.01-exact_dedup"]["steps"]["exact_dedup"]["cpu_s"] > 0  # keys + resolve + apply
    status = run_status(run_dir)
    for stage, s in status["stages"].items():
        if stage.endswith("-shards"):
            continue
        check_steps(stage, s)
    assert status["stages"]["c4.01-exact_dedup"]["steps"]["exact_dedup"]["cpu_s"] > 0


def test_samples_keep_the_smallest_ids_per_reason_and_stage(run):
    run_dir, _ = run
    stage = run_dir / "stages" / "c4.00-read"
    merged = [json.loads(line) for line in (stage / "_samples" / "c4_curly_bracket.jsonl").read_text().splitlines()]
    assert len(merged) == 2  # [run] drop_samples = 2 of the 5 dropped
    everything = merge_partition_samples(stage, None, 100)["c4_curly_bracket"]
    assert [r["id"] for r in merged] == sorted(r["id"] for r in everything)[:2]
    assert {r["source"] for r in merged} == {"c4"} and {r["step"] for r in merged} == {"c4_rules"}
    assert all("{" in r["text"] for r in merged)
    dedup = run_dir / "stages" / "c4.01-exact_dedup" / "_samples" / "exact_duplicate.jsonl"
    assert len(dedup.read_text().splitlines()) == 2  # global steps keep samples too


def test_status_shows_steps_and_samples(run, capsys):
    run_dir, _ = run
    assert kllama(["status", str(run_dir)]) == 0
    out = capsys.readouterr().out
    assert "c4.00-read / read:c4" in out and "c4.02-c4_rules / c4_rules#2" in out
    assert kllama(["status", str(run_dir), "--samples", "c4_too_few_sentences"]) == 0
    out = capsys.readouterr().out
    sample = json.loads((run_dir / "stages" / "c4.00-read" / "_samples" / "c4_too_few_sentences.jsonl")
                        .read_text().splitlines()[0])
    assert "c4.00-read: 2 sample(s) of c4_too_few_sentences" in out
    assert f"  {sample['id']}  (source c4, step c4_rules)" in out
    assert sample["text"][:60].splitlines()[0] in out
    assert kllama(["status", str(run_dir), "--samples", "no_such_reason"]) == 0
    assert "no samples of drop reason 'no_such_reason'" in capsys.readouterr().out


def test_a_rerun_keeps_the_same_samples(run, dask_client):
    run_dir, _ = run
    stage = run_dir / "stages" / "c4.00-read"
    before = {p.name: p.read_text() for p in (stage / "_samples").glob("*.jsonl")}
    (stage / "part-00001.done.json").unlink()  # one partition is redone
    run_recipe(load_recipe(str(run_dir.parent / "r.toml")), run_dir, dask_client, progress=False)
    assert {p.name: p.read_text() for p in (stage / "_samples").glob("*.jsonl")} == before
