"""The run plan: every reader and step built and checked on the driver before run.json or any task."""

import json
import subprocess
import sys
import time

import pytest

from kllama.config import DATA_DIR, load_recipe
from kllama.core.registry import register
from kllama.core.steps import Filter
from kllama.engine.plan import PlanError, build_plan, check_recipe, split_pipeline
from kllama.pipeline import run_recipe

KLLAMA = [sys.executable, "-m", "kllama.cli"]
C4_DEMO = str(DATA_DIR / "demo" / "c4")
BUILT: list[str] = []


@register
class SlowToBuild(Filter):
    """A step whose constructor takes seconds (as a model load would): the option check must not wait for it."""

    name = "test_plan_slow_to_build"
    drop_reasons = ()

    def __init__(self, seconds: float = 0.0) -> None:
        BUILT.append("built")
        time.sleep(seconds)

    def keep(self, doc):
        return True


def _recipe(tmp_path, c4_pipeline: str, c4_options: str = "{}", inputs: str = C4_DEMO, extra: str = "",
            seconds: float = 5):
    path = tmp_path / "recipe.toml"
    path.write_text(f"""
name = "t"
[run]
post = [{{ step = "test_plan_slow_to_build", seconds = {seconds} }}]
[sources.c4]
reader = "c4"
inputs = ["{inputs}"]
options = {c4_options}
pipeline = {c4_pipeline}
{extra}
[variants.G1]
groups = ["core"]
""")
    return path


def _error(path) -> str:
    with pytest.raises((PlanError, FileNotFoundError)) as err:
        build_plan(load_recipe(str(path)))
    return str(err.value)


def test_a_misspelt_option_fails_within_a_second_naming_recipe_source_and_key(tmp_path):
    """The slow step in [run] post would take 5 s to build: the misspelling is reported before any constructor."""
    path = _recipe(tmp_path, '[{ step = "c4_rules" }, { step = "exact_dedup", num_bucket = 4 }]')
    recipe = load_recipe(str(path))
    BUILT.clear()
    t = time.perf_counter()
    with pytest.raises(PlanError) as err:
        build_plan(recipe)
    elapsed = time.perf_counter() - t
    assert elapsed < 1.0, elapsed
    assert not BUILT
    msg = str(err.value)
    assert str(path) in msg and "[sources.c4] pipeline[1] 'num_bucket'" in msg
    assert "step 'exact_dedup' takes no option 'num_bucket'; did you mean 'num_buckets'?" in msg


def test_unknown_names_bad_values_and_reader_options_are_named(tmp_path):
    msg = _error(_recipe(tmp_path, '[{ step = "c4_rule" }]'))
    assert "[sources.c4] pipeline[0] step: unknown step 'c4_rule' (did you mean 'c4_rules'?)" in msg
    msg = _error(_recipe(tmp_path, "[]", c4_options='{ splitt = "train" }'))
    assert "[sources.c4] options 'splitt': reader 'c4' takes no option 'splitt'; did you mean 'split'?" in msg
    msg = _error(_recipe(tmp_path, "[]", c4_options='{ split = "test" }'))  # a bad value: the constructor says
    assert "[sources.c4] options: reader 'c4': c4 split must be train, validation or all, not 'test'" in msg
    msg = _error(_recipe(tmp_path, '[{ step = "minhash_lsh", measure = "cosine" }]'))
    assert "[sources.c4] pipeline[0]: step 'minhash_lsh': minhash_lsh measure must be jaccard or containment" in msg
    msg = _error(_recipe(tmp_path, '[{ step = "c4_rules" }]', extra='group = "kore"'))
    assert "[sources.c4] group: unknown shard group 'kore'" in msg
    path = _recipe(tmp_path, "[]")
    path.write_text(path.read_text().replace('seconds = 5', 'second = 5'))
    assert "[run] post[0] 'second': step 'test_plan_slow_to_build' takes no option 'second'" in _error(path)
    msg = _error(_recipe(tmp_path, "[]", inputs=str(tmp_path / "no-such-dir")))
    assert "[sources.c4] inputs: input" in msg and "no-such-dir" in msg


def test_the_plan_is_checked_before_run_json(tmp_path):
    """run_recipe builds the plan before it writes anything: a bad recipe leaves the run folder empty, so the
    corrected command is not refused as 'a run made with other settings'."""
    path = _recipe(tmp_path, '[{ step = "c4_rules", min_sentence = 3 }]')
    out = tmp_path / "run"
    with pytest.raises(PlanError, match="min_sentence"):
        run_recipe(load_recipe(str(path)), out, client=None)
    assert not (out / "run.json").exists() and not (out / "stages").exists()


def test_the_plan_lists_partitions_stages_and_global_buckets(tmp_path):
    path = _recipe(tmp_path, '[{ step = "c4_rules" }, { step = "exact_dedup", num_buckets = 4 }, '
                             '{ step = "c4_rules", min_sentences = 4 }]', seconds=0)
    plan = build_plan(load_recipe(str(path)))
    c4 = plan.to_dict()["sources"]["c4"]
    assert [p.rsplit("/", 1)[1] for p in c4["partitions"]] == [f"c4-train.0000{i}-of-00003.json.gz"
                                                                 for i in range(3)]
    assert [s["name"] for s in c4["stages"]] == ["c4.00-read", "c4.01-exact_dedup", "c4.02-c4_rules+test_plan_slow"
                                                 "_to_build", "c4.99-shards"]
    dedup = c4["stages"][1]["steps"][0]
    assert dedup == {"step": "exact_dedup", "where": "[sources.c4] pipeline[1]", "kind": "global", "buckets": 4,
                     "combine": False, "options": {"normalize": False, "num_buckets": 4},
                     "drop_reasons": ["exact_duplicate"]}
    rules = c4["stages"][2]["steps"][0]["options"]
    assert rules["min_sentences"] == 4 and rules["min_words_per_line"] == 5  # defaults filled in
    assert c4["stages"][2]["steps"][1]["where"] == "[run] post[0]"
    text = plan.format()
    assert "c4.01-exact_dedup (global): 4 buckets" in text and "-> 3 partitions" in text


def test_split_pipeline_is_the_runners():
    from kllama.engine.runner import split_pipeline as runner_split

    assert runner_split is split_pipeline


def test_bundled_recipes_pass_the_check():
    for name in ("demo", "llama", "kinda-llama"):
        check_recipe(load_recipe(name))


def test_cli_dry_run_prints_the_plan_and_writes_plan_json(tmp_path):
    recipe = tmp_path / "r.toml"
    recipe.write_text(f"""
[sources.c4]
reader = "c4"
inputs = ["{C4_DEMO}"]
pipeline = [{{ step = "c4_rules" }}, {{ step = "exact_dedup", num_buckets = 4 }}]
""")
    out = tmp_path / "run"
    proc = subprocess.run([*KLLAMA, "run", str(recipe), "--output", str(out), "--dry-run"], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("plan of recipe r ") and "c4.01-exact_dedup (global): 4 buckets" in proc.stdout
    plan = json.loads((out / "plan.json").read_text())
    assert plan["partitions_total"] == 3 and plan["sources"]["c4"]["stages"][0]["steps"][0]["step"] == "c4_rules"
    assert sorted(p.name for p in out.iterdir()) == ["plan.json"]  # no run.json, no stages: nothing ran
    assert "dashboard" not in proc.stderr  # no cluster was started


def test_cli_misspelt_option_exits_2_before_the_cluster(tmp_path):
    recipe = tmp_path / "r.toml"
    recipe.write_text(f"""
[sources.c4]
reader = "c4"
inputs = ["{C4_DEMO}"]
pipeline = [{{ step = "c4_rules", min_sentence = 3 }}]
""")
    out = tmp_path / "run"
    proc = subprocess.run([*KLLAMA, "run", str(recipe), "--output", str(out)], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2
    assert f"kllama run: error: recipe {recipe}: [sources.c4] pipeline[0] 'min_sentence'" in proc.stderr
    assert "dashboard" not in proc.stderr and not out.exists()
