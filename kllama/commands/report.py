"""``kllama report RUN --output report.html [--card DATASET_CARD.md]``"""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="self-contained HTML report with plots, and a DATASET_CARD.md, of a run")
    p.add_argument("run_dir", help="a finished run folder")
    p.add_argument("--output", default="report.html", help="HTML file to write (default report.html)")
    p.add_argument("--card", default=None, help="dataset card path (default: DATASET_CARD.md beside the report)")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from kllama.report import write_report

    html_path, card_path = write_report(args.run_dir, args.output, args.card)
    print(f"report: {html_path}\ndataset card: {card_path}")
    return 0
