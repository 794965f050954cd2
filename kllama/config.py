"""Recipes (TOML) -> typed settings. Every threshold of a run is visible in its recipe."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from kllama.core.variants import check_variant

RECIPES_DIR = Path(str(resources.files("kllama") / "recipes"))
DATA_DIR = Path(str(resources.files("kllama") / "data"))

#: LLaMA-1 Table 1 sampling proportions (epochs per source).
LLAMA_EPOCHS = {
    "commoncrawl": 1.10,
    "c4": 1.06,
    "github": 0.64,
    "wikipedia": 2.45,
    "books": 2.23,
    "arxiv": 1.06,
    "stackexchange": 1.03,
}


#: a source's policy against the Pile (``pile = "label" | "keep"`` in its block): ``label`` moves its documents
#: found in the Pile to the ``pile-overlap`` groups (G3 leaves them out); ``keep`` measures and records the overlap
#: but leaves them in their group (G3 keeps them)
PILE_POLICIES = ("label", "keep")

#: steps of ``[run] post`` that take the source's Pile policy (as their option ``policy``)
PILE_POLICY_STEPS = ("pile_label",)


@dataclass
class SourceSettings:
    """One source of a recipe: where its raw dumps are, its reader options, its pipeline and its Pile policy."""

    name: str
    inputs: list[str]
    reader: str
    group: str = "core"
    options: dict[str, Any] = field(default_factory=dict)
    pipeline: list[dict[str, Any]] = field(default_factory=list)
    pile: str = "label"


@dataclass
class Recipe:
    """A parsed recipe."""

    name: str
    path: Path
    sources: dict[str, SourceSettings]
    variants: dict[str, dict[str, Any]]
    run: dict[str, Any]
    raw: dict[str, Any]

    def post_for(self, source: str) -> list[dict[str, Any]]:
        """``[run] post`` as it runs after ``source``'s own pipeline: a Pile labelling step gets the source's
        policy (``policy = "label" | "keep"``) unless the step sets one itself."""
        pile = self.sources[source].pile
        return [({**spec, "policy": pile} if isinstance(spec, dict) and spec.get("step") in PILE_POLICY_STEPS
                 and "policy" not in spec else spec) for spec in self.run.get("post", [])]

    def pipeline_for(self, source: str) -> list[dict[str, Any]]:
        """Every step ``source`` runs: its own pipeline, then ``[run] post`` (:meth:`post_for`)."""
        return [*self.sources[source].pipeline, *self.post_for(source)]


def resolve_path(value: str, base: Path) -> str:
    """``@data/x`` -> the package's bundled ``data/x``; relative paths -> relative to the recipe file."""
    if value.startswith("@data/"):
        return str(DATA_DIR / value[len("@data/") :])
    p = Path(value).expanduser()
    return str(p if p.is_absolute() else (base / p))


def recipe_path(name_or_path: str) -> Path:
    """A TOML path, or the name of a bundled recipe (``llama``, ``kinda-llama``, ``demo``)."""
    p = Path(name_or_path)
    if p.suffix == ".toml" and p.exists():
        return p.resolve()
    bundled = RECIPES_DIR / f"{name_or_path}.toml"
    if bundled.exists():
        return bundled
    known = ", ".join(sorted(f.stem for f in RECIPES_DIR.glob("*.toml")))
    raise FileNotFoundError(f"no recipe {name_or_path!r} (a .toml path, or one of: {known})")


def _resolve_paths_in(obj: Any, base: Path) -> Any:
    """Resolve every string value of a key ending in ``path``/``model``/``inputs`` relative to ``base``."""
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            if isinstance(v, str) and (k.endswith("path") or k.endswith("model") or k.endswith("_dir")):
                out[k] = resolve_path(v, base)
            elif isinstance(v, dict) and k.endswith("models"):
                out[k] = {kk: resolve_path(vv, base) if isinstance(vv, str) else vv for kk, vv in v.items()}
            else:
                out[k] = _resolve_paths_in(v, base)
        return out
    if isinstance(obj, list):
        return [_resolve_paths_in(v, base) for v in obj]
    return obj


#: keys of a source block that a recipe extending another replaces whole (others merge key by key)
_REPLACED_KEYS = {"pipeline", "inputs"}


def _merge(base: dict[str, Any], over: dict[str, Any], replaced: set[str] = frozenset()) -> dict[str, Any]:
    """``over`` on top of ``base``: tables merge key by key, other values (and keys in ``replaced``) replace."""
    out = dict(base)
    for k, v in over.items():
        if k in out and isinstance(out[k], dict) and isinstance(v, dict) and k not in replaced:
            out[k] = _merge(out[k], v, replaced)
        else:
            out[k] = v
    return out


def _resolve_source_block(spec: dict[str, Any], base: Path) -> dict[str, Any]:
    spec = _resolve_paths_in(spec, base)
    if "inputs" in spec:
        spec["inputs"] = [resolve_path(i, base) for i in spec["inputs"]]
    return spec


def read_recipe_tables(path: Path, _seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """The recipe's tables after composition: ``extends = "NAME"`` (a bundled name or a path, relative to this
    file) is loaded first, then each of ``include = [...]``, then this file's own tables on top. Source blocks
    merge key by key (``options`` too); ``pipeline`` and ``inputs`` replace; ``sources.X = false`` removes a
    source. Paths are resolved relative to the file that names them."""
    if path in _seen:
        raise ValueError(f"recipe {path} extends itself through {' -> '.join(map(str, _seen))}")
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    base_dir = path.parent
    merged: dict[str, Any] = {}
    parents = ([raw["extends"]] if isinstance(raw.get("extends"), str) else list(raw.get("extends", [])))
    for ref in parents + list(raw.get("include", [])):
        candidate = base_dir / ref
        parent = candidate.resolve() if candidate.suffix == ".toml" and candidate.exists() else recipe_path(ref)
        merged = _merge(merged, read_recipe_tables(parent, (*_seen, path)), _REPLACED_KEYS)
    own = {k: v for k, v in raw.items() if k not in ("extends", "include")}
    own_sources = {n: (_resolve_source_block(s, base_dir) if isinstance(s, dict) else s)
                   for n, s in own.pop("sources", {}).items()}
    own = _resolve_paths_in(own, base_dir)
    merged = _merge(merged, own)
    sources = dict(merged.get("sources", {}))
    for name, spec in own_sources.items():
        if spec is False:
            sources.pop(name, None)
        elif isinstance(spec, dict):
            sources[name] = _merge(sources.get(name, {}), spec, _REPLACED_KEYS)
        else:
            raise ValueError(f"recipe {path}: [sources.{name}] must be a table (or false to remove it)")
    merged["sources"] = sources
    return merged


def load_recipe(name_or_path: str, input_overrides: dict[str, list[str]] | None = None) -> Recipe:
    """Load a recipe (composed through ``extends``/``include``, see :func:`read_recipe_tables`);
    ``input_overrides`` (from ``--input SOURCE=PATH``) replace a source's inputs.

    Naming a source in ``input_overrides`` that the recipe lacks is an error; when overrides are given,
    only the overridden sources run, unless the recipe sets ``run.keep_other_sources = true``.
    """
    path = recipe_path(name_or_path)
    raw = read_recipe_tables(path)
    run = raw.get("run", {})
    sources: dict[str, SourceSettings] = {}
    for name, spec in raw.get("sources", {}).items():
        pile = spec.get("pile", "label")
        if pile not in PILE_POLICIES:
            raise ValueError(f"recipe {path}: [sources.{name}] pile = {pile!r}: must be one of "
                             f"{', '.join(repr(p) for p in PILE_POLICIES)}")
        sources[name] = SourceSettings(
            name=name,
            inputs=list(spec.get("inputs", [])),
            reader=spec.get("reader", name),
            group=spec.get("group", "core"),
            options=spec.get("options", {}),
            pipeline=spec.get("pipeline", []),
            pile=pile,
        )
    variants = raw.get("variants", {})
    for vname, vspec in variants.items():
        try:
            check_variant(vname, vspec, set(sources))
        except ValueError as exc:
            raise ValueError(f"recipe {path}: {exc}") from exc
    if input_overrides:
        unknown = sorted(set(input_overrides) - set(sources))
        if unknown:
            raise ValueError(
                f"--input names source(s) {unknown} that recipe {path.stem!r} does not define "
                f"(it has: {', '.join(sorted(sources))})"
            )
        for name, paths in input_overrides.items():
            sources[name].inputs = [str(Path(p).expanduser().resolve()) for p in paths]
        if not run.get("keep_other_sources", False):
            sources = {n: s for n, s in sources.items() if n in input_overrides}
    return Recipe(name=raw.get("name", path.stem), path=path, sources=sources, variants=variants, run=run, raw=raw)
