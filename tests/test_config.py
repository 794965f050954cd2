"""Recipes: composition (extends/include), path resolution per file, and the bundled recipes' shape."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from kllama.config import RECIPES_DIR, load_recipe


def test_extends_merges_options_replaces_pipelines_and_removes_sources(tmp_path):
    (tmp_path / "base.toml").write_text(
        'name = "base"\n[sources.a]\nreader = "c4"\ninputs = ["data/a"]\noptions = { split = "train", x = 1 }\n'
        'pipeline = [{ step = "exact_dedup" }]\n'
        '[sources.b]\nreader = "c4"\ninputs = ["data/b"]\n[variants.G1]\ngroups = ["core"]\n')
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "mine.toml").write_text(
        'extends = "../base.toml"\nname = "mine"\n[sources.a.options]\nx = 2\n'
        '[sources.a]\npipeline = [{ step = "c4_rules" }]\n[sources]\nb = false\n'
        '[sources.c]\nreader = "jsonl"\ninputs = ["data/c"]\ngroup = "extra"\n')
    r = load_recipe(str(sub / "mine.toml"))
    assert r.name == "mine" and sorted(r.sources) == ["a", "c"]
    assert r.sources["a"].options == {"split": "train", "x": 2}
    assert r.sources["a"].pipeline == [{"step": "c4_rules"}]
    # each path is relative to the file that names it
    assert r.sources["a"].inputs == [str(tmp_path / "data" / "a")]
    assert r.sources["c"].inputs == [str(sub / "data" / "c")]
    assert r.variants["G1"]["groups"] == ["core"]


def test_include_and_a_cycle(tmp_path):
    (tmp_path / "frag.toml").write_text('[sources.x]\nreader = "c4"\ninputs = ["x"]\n')
    (tmp_path / "main.toml").write_text('include = ["frag.toml"]\nname = "m"\n')
    assert list(load_recipe(str(tmp_path / "main.toml")).sources) == ["x"]
    (tmp_path / "loop.toml").write_text('extends = "loop.toml"\n')
    with pytest.raises(ValueError, match="extends itself"):
        load_recipe(str(tmp_path / "loop.toml"))


def _bundled() -> dict[str, dict]:
    return {p.stem: tomllib.loads(p.read_text()) for p in sorted(RECIPES_DIR.glob("*.toml"))}


def test_each_bundled_source_block_is_written_once():
    """A source is *defined* (has a ``reader``) in one bundled file only; others extend or override it, and no
    two bundled files carry the same pipeline for one source."""
    defined: dict[str, list[str]] = {}
    pipelines: dict[tuple[str, str], list[str]] = {}
    for stem, raw in _bundled().items():
        for name, block in raw.get("sources", {}).items():
            if isinstance(block, dict) and "reader" in block:
                defined.setdefault(name, []).append(stem)
            if isinstance(block, dict) and "pipeline" in block:
                pipelines.setdefault((name, repr(block["pipeline"])), []).append(stem)
    twice = {n: files for n, files in defined.items() if len(files) > 1 and "demo" not in files}
    assert not twice, f"source blocks defined in several recipes: {twice}"
    same = {k[0]: files for k, files in pipelines.items() if len(files) > 1}
    assert not same, f"identical pipelines copied between recipes: {same}"


def test_kinda_llama_is_one_run_for_three_variants():
    r = load_recipe("kinda-llama")
    g1 = load_recipe("llama")
    assert set(r.variants) == {"G1", "G2", "G3"}
    assert set(g1.sources) <= set(r.sources) and any(s.group == "extra" for s in r.sources.values())
    for name, src in g1.sources.items():  # the LLaMA sources come unchanged from llama.toml
        assert r.sources[name].pipeline == src.pipeline and r.sources[name].options == src.options
    assert any(step["step"] == "pile_label" for step in r.run["post"])
    assert not load_recipe("llama").run.get("post")


def test_every_bundled_recipe_loads():
    for stem in _bundled():
        r = load_recipe(stem)
        assert r.sources and r.variants, stem
        assert Path(r.path).parent == RECIPES_DIR


def test_pile_policy_per_source_reaches_the_labelling_step(tmp_path):
    (tmp_path / "r.toml").write_text(
        'name = "r"\n[run]\npost = [{ step = "pile_label", index_path = "idx" }, { step = "exact_dedup" }]\n'
        '[sources.a]\nreader = "c4"\ninputs = ["a"]\npile = "keep"\n'
        '[sources.b]\nreader = "c4"\ninputs = ["b"]\npipeline = [{ step = "c4_rules" }]\n')
    r = load_recipe(str(tmp_path / "r.toml"))
    assert r.sources["a"].pile == "keep" and r.sources["b"].pile == "label"
    assert r.post_for("a")[0]["policy"] == "keep" and "policy" not in r.post_for("a")[1]
    assert [s["step"] for s in r.pipeline_for("b")] == ["c4_rules", "pile_label", "exact_dedup"]
    assert r.pipeline_for("b")[1]["policy"] == "label"
    assert "policy" not in r.run["post"][0]  # the recipe itself is not changed
    (tmp_path / "bad.toml").write_text('extends = "r.toml"\n[sources.a]\npile = "drop"\n')
    with pytest.raises(ValueError, match=r"\[sources.a\] pile = 'drop'"):
        load_recipe(str(tmp_path / "bad.toml"))


def test_variant_replacements_are_checked_against_the_recipe(tmp_path):
    (tmp_path / "r.toml").write_text(
        'name = "r"\n[sources.books]\nreader = "books"\ninputs = ["b"]\n'
        '[sources.sci]\nreader = "jsonl"\ninputs = ["s"]\ngroup = "extra"\n'
        '[variants.G3]\ngroups = ["core"]\nreplace = { books = "sci" }\n')
    assert load_recipe(str(tmp_path / "r.toml")).variants["G3"]["replace"] == {"books": "sci"}
    (tmp_path / "typo.toml").write_text('extends = "r.toml"\n[variants.G3]\nreplace = { books = "sciense" }\n')
    with pytest.raises(ValueError, match=r"typo.toml: \[variants.G3\] replace.books: 'sciense'"):
        load_recipe(str(tmp_path / "typo.toml"))
