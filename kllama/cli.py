"""The ``kllama`` command. Each sub-command lives in ``kllama/commands/<name>.py`` and exposes
``register(subparsers)``; this file only discovers and dispatches them."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from kllama import __version__


def build_parser() -> argparse.ArgumentParser:
    import kllama.commands as commands

    parser = argparse.ArgumentParser(prog="kllama", description="Rebuild the LLaMA pre-training corpus.")
    parser.add_argument("--version", action="version", version=f"kllama {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for mod in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        if mod.name.startswith("_"):
            continue
        module = importlib.import_module(f"kllama.commands.{mod.name}")
        module.register(sub)
    from kllama.commands._help import finish_help

    finish_help(parser)  # examples and defaults in every sub-command's --help
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        # Ctrl-C: completed partitions are on disk with their markers, so the same command picks up from there
        print(f"\nkllama {args.command}: interrupted; rerun the same command to resume", file=sys.stderr)
        return 130
    except (FileNotFoundError, ValueError, KeyError, FileExistsError, RuntimeError) as exc:
        print(f"kllama {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
