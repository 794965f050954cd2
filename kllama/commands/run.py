"""``kllama run RECIPE [--input SOURCE=PATH ...] --output DIR``"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from kllama.commands._common import add_cluster_options, cluster_options, dry_run, summary_table


def parse_inputs(values: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for v in values or []:
        if "=" not in v:
            raise ValueError(f"--input wants SOURCE=PATH, got {v!r}")
        name, path = v.split("=", 1)
        out.setdefault(name.strip(), []).append(path)
    return out


def refuse_placeholder_inputs(recipe: Any) -> None:
    """A bundled recipe's inputs are placeholders inside the package (``kllama/recipes/data/...``): run without
    ``--input``, say what to pass instead of naming a path inside the installed package."""
    import glob

    import kllama

    package = Path(kllama.__file__).resolve().parent
    missing = sorted(name for name, src in recipe.sources.items()
                     if src.inputs and all(Path(i).resolve().is_relative_to(package) and not glob.glob(i)
                                           for i in src.inputs))
    if missing:
        raise FileNotFoundError(
            f"recipe {recipe.name!r} needs the raw dumps of its sources ({', '.join(missing)}); pass "
            f"--input SOURCE=PATH for each source you have (a file, folder or glob; only the sources named "
            f"run), e.g. --input {missing[0]}=/data/{missing[0]}, or fetch the public dumps first with "
            f"`kllama download SOURCE --output DIR`")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="run a recipe over raw dumps")
    p.add_argument("recipe", help="recipe TOML path or bundled name (llama, kinda-llama, demo)")
    p.add_argument("--input", action="append", default=[], metavar="SOURCE=PATH",
                   help="point a source at a file, folder or glob of raw dumps (repeatable)")
    p.add_argument("--output", required=True, help="run folder (resumes if it holds a partial run)")
    add_cluster_options(p)
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from kllama.config import load_recipe
    from kllama.engine.plan import build_plan

    recipe = load_recipe(args.recipe, parse_inputs(args.input))
    if not args.input:
        refuse_placeholder_inputs(recipe)
    plan = build_plan(recipe)  # every reader, step, option and input checked before the cluster starts
    if dry_run(args, plan):
        return 0
    from kllama.engine.cluster import open_client
    from kllama.pipeline import run_recipe

    with open_client(args.cluster, args.workers, **cluster_options(args)) as client:
        summary = run_recipe(recipe, Path(args.output), client, progress=not args.no_progress, plan=plan)
    print(summary_table(summary))
    print(f"manifest: {Path(args.output) / 'manifest.json'}")
    return 0
