"""``kllama models fetch|list|demo``: the public models real runs use, and the demo models."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="download the public models (lid.176.bin, cc_net LMs) or build demo ones")
    msub = p.add_subparsers(dest="models_command", metavar="ACTION", required=True)
    f = msub.add_parser("fetch", help="download models into the models folder (resumes, checks sizes/checksums)")
    f.add_argument("names", nargs="*", help="file names to fetch (default: all for --lang)")
    f.add_argument("--lang", action="append", default=[], help="cc_net LM languages (default: en)")
    f.add_argument("--dest", help="folder (default: $KLLAMA_MODELS or ~/.cache/kllama/models)")
    f.add_argument("--base-url", help="a mirror holding the same file names (or $KLLAMA_MODELS_URL)")
    f.add_argument("--sha256", help="expected sha256 (only with a single name)")
    f.set_defaults(func=_fetch)
    ls = msub.add_parser("list", help="the known model files and their URLs")
    ls.add_argument("--lang", action="append", default=[])
    ls.set_defaults(func=_list)
    d = msub.add_parser("demo", help="build (or find) the demo models and print their paths")
    d.set_defaults(func=_demo)


def _fetch(args: argparse.Namespace) -> int:
    from kllama.models import models_dir
    from kllama.models.fetch import fetch, registry

    files = registry(args.lang or ["en"])
    if args.names:
        known = {m.name: m for m in files}
        unknown = [n for n in args.names if n not in known]
        if unknown:
            raise ValueError(f"unknown model file(s) {unknown}; known: {', '.join(sorted(known))}")
        files = [known[n] for n in args.names]
    if args.sha256 and len(files) != 1:
        raise ValueError("--sha256 needs exactly one model name")
    dest = args.dest or str(models_dir())
    for m in files:
        path = fetch(m, dest, base_url=args.base_url, sha256=args.sha256)
        print(f"{m.name}: {path}")
    return 0


def _list(args: argparse.Namespace) -> int:
    from kllama.models.fetch import registry

    for m in registry(args.lang or ["en"]):
        print(f"{m.name}\t{m.url}\t{m.size or '?'} bytes")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from kllama.models.demo import demo_model

    for name in ("lid", "lm", "wiki"):
        print(f"demo:{name}\t{demo_model(name)}")
    return 0
