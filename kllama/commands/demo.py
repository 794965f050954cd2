"""``kllama demo --output DIR``: the whole pipeline on the sample dumps bundled in the package."""

from __future__ import annotations

import argparse

from kllama.commands._common import add_cluster_options, cluster_options, dry_run, summary_table


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="end-to-end build of a small corpus from bundled sample dumps (no network)")
    p.add_argument("--output", required=True, help="run folder")
    add_cluster_options(p)
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from pathlib import Path

    from kllama.config import load_recipe
    from kllama.engine.plan import build_plan

    out = Path(args.output)
    recipe = load_recipe("demo")
    plan = build_plan(recipe)
    if dry_run(args, plan):
        return 0
    from kllama.engine.cluster import open_client
    from kllama.export import export_variant
    from kllama.pipeline import run_recipe

    with open_client(args.cluster, args.workers, **cluster_options(args)) as client:
        summary = run_recipe(recipe, out, client, progress=not args.no_progress, plan=plan)
    print(summary_table(summary))
    for variant in sorted(summary.manifest["variants"]):  # DIR/export/ is the demo's own: replaced on a rerun
        info = export_variant(out, variant, "jsonl.zst", out / "export" / variant, force=True)
        print(f"export {variant}: {info['docs']} lines ({info['store_docs']} documents, weighted and shuffled) "
              f"-> {out / 'export' / variant}")
    print(f"manifest: {out / 'manifest.json'}")
    return 0
