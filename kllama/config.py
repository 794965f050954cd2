"""Recipes (TOML) -> typed settings. Every threshold of a run is visible in its recipe."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

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


@dataclass
class SourceSettings:
    """One source of a recipe: where its raw dumps are, its reader options, and its pipeline."""

    name: str
    inputs: list[str]
    reader: str
    group: str = "core"
    options: dict[str, Any] = field(default_factory=dict)
    pipeline: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Recipe:
    """A parsed recipe."""

    name: str
    path: Path
    sources: dict[str, SourceSettings]
    variants: dict[str, dict[str, Any]]
    run: dict[str, Any]
    raw: dict[str, Any]


def resolve_path(value: str, base: Path) -> str:
    """``@data/x`` -> the package's bundled ``data/x``; relative paths -> relative to the recipe file."""
    if value.startswith("@data/"):
        return str(DATA_DIR / value[len("@data/") :])
    p = Path(value).expanduser()
    return str(p if p.is_absolute() else (base / p))


def recipe_path(name_or_path: str) -> Path:
    """A TOML path, or the name of a bundled recipe (``llama``, ``llama-plus``, ``llama-minus-pile``, ``demo``)."""
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


def load_recipe(name_or_path: str, input_overrides: dict[str, list[str]] | None = None) -> Recipe:
    """Load a recipe; ``input_overrides`` (from ``--input SOURCE=PATH``) replace a source's inputs.

    Naming a source in ``input_overrides`` that the recipe lacks is an error; when overrides are given,
    only the overridden sources run, unless the recipe sets ``run.keep_other_sources = true``.
    """
    path = recipe_path(name_or_path)
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    base = path.parent
    run = raw.get("run", {})
    sources: dict[str, SourceSettings] = {}
    for name, spec in raw.get("sources", {}).items():
        spec = _resolve_paths_in(spec, base)
        sources[name] = SourceSettings(
            name=name,
            inputs=[resolve_path(i, base) for i in spec.get("inputs", [])],
            reader=spec.get("reader", name),
            group=spec.get("group", "core"),
            options=spec.get("options", {}),
            pipeline=spec.get("pipeline", []),
        )
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
    variants = _resolve_paths_in(raw.get("variants", {}), base)
    return Recipe(name=raw.get("name", path.stem), path=path, sources=sources, variants=variants,
                  run=_resolve_paths_in(run, base), raw=_resolve_paths_in(raw, base))
