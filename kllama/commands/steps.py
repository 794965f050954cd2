"""``kllama steps [NAME] [--json]``: the sources and steps a recipe can name, with options, defaults and drop
reasons (read from each class: its ``__init__`` signature, docstring and ``drop_reasons``)."""

from __future__ import annotations

import argparse
import json
import textwrap
from typing import Any


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("steps", help="list the sources and steps a recipe can name: options, defaults, drop reasons",
                       description="List every registered source and step (kllama's own and those of installed "
                                   "plugins) with its options and defaults and the reasons it drops documents "
                                   "for; with NAME, show that one in full. Example: kllama steps c4_rules")
    p.add_argument("name", nargs="?", help="one source or step")
    p.add_argument("--json", action="store_true", help="JSON instead of text")
    p.set_defaults(func=main)


def _short(text: str, width: int = 96) -> str:
    return text if len(text) <= width else text[: width - 3].rstrip() + "..."


def format_one(d: dict[str, Any], full: bool = False) -> str:
    """One class as text: a header line, then its options and drop reasons (``full``: the whole docstring)."""
    lines = [f"{d['name']}  ({d['kind']}, {d['class']})"]
    if full:
        lines.extend("  " + line if line else "" for line in d["doc"].splitlines())
    elif d["summary"]:
        lines.append("  " + _short(d["summary"]))
    opts = ", ".join(f"{k}={v}" for k, v in d["options"].items()) or "none"
    if d["more_options"]:
        opts += " (and keyword arguments of its own)"
    reasons = ", ".join(d["drop_reasons"]) or "none"
    if full:
        lines.append("  options:")
        lines.extend(f"    {k} = {v}" for k, v in d["options"].items())
        if not d["options"]:
            lines.append("    none")
        lines.append(f"  drop reasons: {reasons}")
    else:
        lines.extend(textwrap.wrap(f"options: {opts}", 116, initial_indent="  ", subsequent_indent="    "))
        lines.extend(textwrap.wrap(f"drops: {reasons}", 116, initial_indent="  ", subsequent_indent="    "))
    return "\n".join(lines)


def main(args: argparse.Namespace) -> int:
    import difflib

    from kllama.core.registry import describe, known_sources, known_steps, source_class, step_class

    sources = [describe(source_class(n)) for n in known_sources()]
    steps = [describe(step_class(n)) for n in known_steps()]
    if args.name:
        found = [d for d in sources + steps if d["name"] == args.name]
        if not found:
            names = sorted({d["name"] for d in sources + steps})
            close = difflib.get_close_matches(args.name, names, n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else "; `kllama steps` lists them"
            raise ValueError(f"no source or step named {args.name!r}{hint}")
        if args.json:
            print(json.dumps(found, indent=1))
        else:
            print("\n\n".join(format_one(d, full=True) for d in found))
        return 0
    if args.json:
        print(json.dumps({"sources": sources, "steps": steps}, indent=1))
        return 0
    print("sources (a recipe's [sources.X] reader = NAME, options = {...}):\n")
    print("\n".join(format_one(d) for d in sources))
    print("\nsteps (a recipe's pipeline = [{ step = NAME, OPTION = VALUE, ... }]):\n")
    print("\n".join(format_one(d) for d in steps))
    return 0
