"""code_extra: the github reader and steps under another recipe name, with wider lists, deduplicated against github."""

from kllama.config import DATA_DIR, load_recipe
from kllama.core.document import Document
from kllama.core.ledger import Ledger
from kllama.engine.plan import build_plan
from kllama.filters.code import REDPAJAMA_EXTENSIONS, ExtensionFilter
from kllama.sources.github import GithubSource

DEMO = DATA_DIR / "demo" / "code_extra" / "the-stack-extra.parquet"


def _read(name: str):
    src = GithubSource()
    src.source_name = name
    ledger = Ledger()
    return list(src.read(str(DEMO), ledger)), ledger


def test_the_github_reader_names_documents_after_the_recipe_source():
    extra, _ = _read("code_extra")
    core, _ = _read("github")
    assert len(extra) == len(core) == 10
    assert all(d.id.startswith("code_extra/") and d.source == "code_extra" for d in extra)
    assert all(d.id.startswith("github/") and d.source == "github" for d in core)
    assert [d.id.split("/")[1] for d in extra] == [d.id.split("/")[1] for d in core]
    assert GithubSource().source_name == "github"


def test_extension_list_widens_redpajama():
    f = ExtensionFilter(["redpajama", ".kt", ".swift", ".py"])
    assert len(f.extensions) == len(REDPAJAMA_EXTENSIONS) + 2
    doc = Document(id="x", text="x", source="code_extra")
    for path, verdict in (("a/Words.kt", True), ("b.py", True), ("c.swift", True), ("package.json",
                                                                                    "extension_not_allowed")):
        doc.meta = {"path": path}
        assert f.keep(doc) == verdict
    assert ExtensionFilter().extensions == REDPAJAMA_EXTENSIONS


def test_bundled_recipes_run_github_before_code_extra():
    for name in ("demo", "kinda-llama"):
        src = load_recipe(name).sources["code_extra"]
        assert src.reader == "github" and src.group == "extra"
        steps = [s["step"] for s in src.pipeline]
        assert steps[:5] == ["code_license", "code_extension", "code_binary", "code_header", "code_quality"]
        against = next(s for s in src.pipeline if s["step"] == "dedup_against")
        assert against["sources"] == ["github"] and against["near"]["threshold"] == 0.85
        near = next(s for s in src.pipeline if s["step"] == "minhash_lsh")
        assert near["threshold"] == 0.85 and near["measure"] == "jaccard"
    plan = build_plan(load_recipe("demo"), list_inputs=False)
    assert plan.order.index("github") < plan.order.index("code_extra")
    assert plan.sources["code_extra"].references == ["github"]
