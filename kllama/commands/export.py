"""``kllama export RUN --variant G1|G2|G3 --format jsonl.zst|parquet --output DIR``"""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="write one variant of a finished run")
    p.add_argument("run_dir")
    p.add_argument("--variant", required=True, help="G1, G2 or G3 (as named in the run's manifest)")
    p.add_argument("--format", default="jsonl.zst", choices=["jsonl.zst", "parquet"])
    p.add_argument("--output", required=True)
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from kllama.export import export_variant

    info = export_variant(args.run_dir, args.variant, args.format, args.output)
    print(f"{args.variant}: {info['docs']} documents in {len(info['files'])} files under {args.output}")
    return 0
