"""dedup_against: a source deduplicated against other sources' final documents (code_extra against github), in
process and on the engine, both ways (a file in both is dropped from code_extra and kept in github)."""

import json

import pyarrow.parquet as pq
import pytest

from kllama.config import load_recipe
from kllama.core.document import Document, documents_to_table, schema_with
from kllama.dedup.dedup_against import DedupAgainst
from kllama.engine.inprocess import run_global_in_process
from kllama.engine.plan import PlanError, build_plan, source_order
from kllama.pipeline import run_recipe
from tests.conftest import samples_dir

CODE = samples_dir("code", "files")
FLAT = (CODE / "facebookresearch__cc_net" / "cc_net" / "flat_hash_set.py").read_text("utf-8")
UTILS = (CODE / "EleutherAI__stackexchange-dataset" / "utils.py").read_text("utf-8")
LMD = (CODE / "leogao2__lm_dataformat" / "lm_dataformat" / "__init__.py").read_text("utf-8")


def near_copy(text: str) -> str:
    """The same file with one line changed and one appended (Jaccard of 5-gram shingles well above 0.85)."""
    lines = text.splitlines()
    lines[len(lines) // 2] = lines[len(lines) // 2] + "  # tweaked"
    return "\n".join(lines) + "\n# end of file\n"


def _table(source, texts):
    docs = [Document(id=f"{source}/{i:03d}", text=t, source=source) for i, t in enumerate(texts)]
    return documents_to_table(docs, schema_with({}))


def test_exact_and_near_in_process():
    github = [_table("github", [FLAT, UTILS])]
    own = [_table("code_extra", [FLAT, near_copy(UTILS), LMD]), _table("code_extra", [" ".join(FLAT.split())])]
    step = DedupAgainst(sources=["github"], exact=True, near={"threshold": 0.85}, num_buckets=4)
    res = run_global_in_process(step, own, references=github)
    assert dict(res.ledger.dropped) == {"duplicate_of_other_source": 1, "near_duplicate_of_other_source": 2}
    assert res.tables[0].column("text").to_pylist() == [LMD]
    assert res.tables[1].num_rows == 0  # whitespace-collapsed copy: not exact, but near
    dup = res.decisions.to_pylist()
    assert {(d["part"], d["row"], d["reason"], d["dup_of"]) for d in dup} >= {
        (0, 0, 0, "github/000"), (0, 1, 1, "github/001"), (1, 0, 1, "github/000")}
    assert res.ledger.balanced
    # exact only: the near copies stay; normalize=true catches the whitespace copy
    exact = run_global_in_process(DedupAgainst(sources=["github"], normalize=True), own, references=github)
    assert dict(exact.ledger.dropped) == {"duplicate_of_other_source": 2}
    # nothing to compare against: nothing dropped
    alone = run_global_in_process(DedupAgainst(sources=["github"], near=True), own)
    assert not alone.ledger.dropped
    assert DedupAgainst(sources=["github"]).references() == ("github",)


def test_options_are_checked():
    with pytest.raises(ValueError, match="sources"):
        DedupAgainst(sources="github")
    with pytest.raises(ValueError, match="near takes no option"):
        DedupAgainst(sources=["github"], near={"treshold": 0.9})
    with pytest.raises(ValueError, match="exact = true or a near table"):
        DedupAgainst(sources=["github"], exact=False)


def test_source_order_puts_references_first():
    assert source_order({"code_extra": ["github"], "github": [], "arxiv": []}) == ["arxiv", "github", "code_extra"]
    assert source_order({"a": ["missing"], "b": []}) == ["a", "b"]
    with pytest.raises(ValueError, match="cycle"):
        source_order({"a": ["b"], "b": ["a"]})


def _write_code(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


RECIPE = """
name = "t"
[sources.github]
reader = "github"
inputs = ["{root}/github"]
pipeline = [{{ step = "exact_dedup", num_buckets = 2 }}]

[sources.code_extra]
reader = "github"
inputs = ["{root}/extra"]
group = "extra"
pipeline = [
  {{ step = "dedup_against", sources = ["github"], exact = true, near = {{ threshold = 0.85 }}, num_buckets = 3 }},
  {{ step = "minhash_lsh", ngram = 5, bands = 16, rows = 8, threshold = 0.85, num_buckets = 2 }},
]
[variants.G2]
groups = ["core", "extra"]
weights = {{ github = 1.0, code_extra = 1.0 }}
"""


def test_engine_both_ways(tmp_path, dask_client):
    def rec(repo, path, code):
        return {"code": code, "repo_name": repo, "path": path, "license": "mit", "language": "Python"}

    _write_code(tmp_path / "github" / "a.jsonl", [rec("fb/cc_net", "flat_hash_set.py", FLAT)])
    _write_code(tmp_path / "github" / "b.jsonl", [rec("eai/se", "utils.py", UTILS)])
    _write_code(tmp_path / "extra" / "x.jsonl", [
        rec("fork/cc_net", "flat_hash_set.py", FLAT),          # github holds it: exact
        rec("fork/se", "utils.py", near_copy(UTILS)),           # github holds a near copy
        rec("lm/lmd", "__init__.py", LMD),                      # new: kept
    ])
    _write_code(tmp_path / "extra" / "y.jsonl", [rec("lm2/lmd", "__init__.py", near_copy(LMD))])  # near dup within
    recipe = tmp_path / "r.toml"
    recipe.write_text(RECIPE.format(root=tmp_path))
    plan = build_plan(load_recipe(str(recipe)))
    assert plan.order == ["github", "code_extra"] and plan.sources["code_extra"].references == ["github"]
    assert "runs after github" in plan.format()
    summary = run_recipe(load_recipe(str(recipe)), tmp_path / "run", dask_client, progress=False, plan=plan)
    dedup = summary.stages["code_extra.01-dedup_against"]
    assert dict(dedup.dropped) == {"duplicate_of_other_source": 1, "near_duplicate_of_other_source": 1}
    assert dict(summary.stages["code_extra.02-minhash_lsh"].dropped) == {"near_duplicate": 1}
    assert all(led.balanced for led in summary.stages.values())
    texts = {}
    for shard in summary.manifest["shards"]:
        t = pq.read_table(tmp_path / "run" / shard["path"], columns=["id", "text", "source"])
        for i, text, src in zip(*(t.column(c).to_pylist() for c in ("id", "text", "source")), strict=True):
            texts.setdefault(src, []).append(text)
            assert i.startswith(f"{src}/")
    # github keeps both files; code_extra keeps only the file github lacks (one copy of its near pair)
    assert sorted(texts["github"]) == sorted([FLAT, UTILS])
    assert len(texts["code_extra"]) == 1 and texts["code_extra"][0] in (LMD, near_copy(LMD))
    keys = sorted(p.name for p in (tmp_path / "run" / "stages" / "code_extra.01-dedup_against" / "_refkeys").glob(
        "*.parquet"))
    assert keys == ["ref-00000.parquet", "ref-00001.parquet"]  # github's two final partitions


def test_plan_refuses_a_self_reference_and_warns_on_a_missing_one(tmp_path):
    (tmp_path / "extra").mkdir()
    recipe = tmp_path / "r.toml"
    recipe.write_text(RECIPE.format(root=tmp_path).replace('sources = ["github"]', 'sources = ["code_extra"]'))
    with pytest.raises(PlanError, match="cannot reference its own source"):
        build_plan(load_recipe(str(recipe)), list_inputs=False)
    recipe.write_text(RECIPE.format(root=tmp_path))
    alone = load_recipe(str(recipe), {"code_extra": [str(tmp_path / "extra")]})
    plan = build_plan(alone, list_inputs=False)
    assert plan.order == ["code_extra"] and plan.sources["code_extra"].references == []
    assert plan.warnings and "'github' is not in this run" in plan.warnings[0]
