"""``kllama status DIR [--json] [--samples REASON]``"""

from __future__ import annotations

import argparse
import json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("status", help="progress and ledger of a run in progress or finished")
    p.add_argument("run_dir")
    p.add_argument("--json", action="store_true", help="one JSON object")
    p.add_argument("--samples", metavar="REASON",
                   help="show the kept dropped documents of one drop reason (id, source, first 300 characters)")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from kllama.engine.status import format_samples, format_status, run_samples, run_status

    if args.samples:
        samples = run_samples(args.run_dir, args.samples)
        print(json.dumps(samples, indent=1, sort_keys=True) if args.json else format_samples(samples, args.samples))
        return 0
    status = run_status(args.run_dir)
    print(json.dumps(status, indent=1, sort_keys=True) if args.json else format_status(status))
    return 0
