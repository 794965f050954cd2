"""What every ``kllama COMMAND --help`` ends with: examples, and the default of every option that has one.

``finish_help`` walks the parser tree after the commands registered themselves: each (sub-)command gets
:class:`HelpFormatter` and, unless its module already wrote one, an epilog of examples from :data:`EXAMPLES`.
"""

from __future__ import annotations

import argparse

#: examples per command path ("run", "models fetch", ...); the test checks that every command has some
EXAMPLES: dict[str, str] = {
    "run": """\
  kllama run llama --input c4=/data/c4/en --input wikipedia=/data/wikipedia --output runs/llama
  kllama run kinda-llama --input commoncrawl=/data/cc --output runs/kl --cluster slurm --workers 20
  kllama run my-recipe.toml --input c4=/data/c4/en --output runs/x --dry-run   # check and print the plan
  kllama run llama --input c4=/data/c4/en --output runs/llama                  # again: resumes""",
    "demo": """\
  kllama demo --output demo-out
  kllama demo --output demo-out --workers 2 --no-progress""",
    "status": """\
  kllama status runs/llama
  kllama status runs/llama --json
  kllama status runs/llama --samples exact_duplicate   # the kept dropped documents of one reason""",
    "export": """\
  kllama export runs/llama --variant G3 --output exports/g3                  # Pile-like jsonl.zst
  kllama export runs/llama --variant G1 --format parquet --output exports/g1""",
    "tokenize": """\
  kllama tokenize --jsonl data.jsonl --output out/data_text_document
  kllama tokenize runs/llama --variant G3 --output out/g3 --ctx-len 4096 --seed 1""",
    "report": """\
  kllama report runs/llama --output report.html""",
    "download": """\
  kllama download c4 --output dumps --limit 2
  kllama download wikipedia --output dumps --languages en,de
  kllama download commoncrawl --output dumps --snapshot CC-MAIN-2020-34 --limit 10 --dry-run""",
    "pile-index": """\
  kllama pile-index /data/pile/train --output pile-index
  kllama pile-index /data/pile/train/00.jsonl.zst --output pile-index --workers 4""",
    "steps": """\
  kllama steps                  # every source and step with its options
  kllama steps c4_rules         # one of them
  kllama steps --json""",
    "models": """\
  kllama models fetch
  kllama models list
  kllama models demo""",
    "models fetch": """\
  kllama models fetch                     # lid.176.bin and the English cc_net models
  kllama models fetch --lang de --dest /scratch/models""",
    "models list": """\
  kllama models list""",
    "models demo": """\
  kllama models demo""",
    "classifier": """\
  kllama classifier urls enwiki-20220601-pages-articles.xml.bz2 > ref-urls.txt
  kllama classifier train --positives refs.warc.wet.gz --negatives cc.warc.wet.gz --output wiki-clf.bin""",
    "classifier urls": """\
  kllama classifier urls enwiki-20220601-pages-articles.xml.bz2 > ref-urls.txt""",
    "classifier train": """\
  kllama classifier train --positives refs.warc.wet.gz --negatives cc.warc.wet.gz --output wiki-clf.bin""",
}


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Descriptions and epilogs as written; ``(default: X)`` after every option whose default is a value and
    whose help does not state it already."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if (not action.option_strings or default in (None, False, argparse.SUPPRESS, [], "")
                or "default" in text or "%(default)" in text or action.nargs == 0):
            return text
        return f"{text} (default: %(default)s)"


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    out: dict[str, argparse.ArgumentParser] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                out.setdefault(name, sub)
    return out


def finish_help(parser: argparse.ArgumentParser, path: str = "") -> None:
    """Set :class:`HelpFormatter` and the examples on every sub-command of ``parser`` (recursively)."""
    for name, sub in _subparsers(parser).items():
        key = f"{path} {name}".strip()
        sub.formatter_class = HelpFormatter
        for action in sub._actions:  # an option without help text still shows its default
            if action.help is None and action.option_strings and action.nargs != 0 \
                    and action.default not in (None, False, argparse.SUPPRESS, [], ""):
                action.help = "(default: %(default)s)"
        examples = EXAMPLES.get(key)
        if examples and "example" not in (sub.epilog or "").lower():
            sub.epilog = ((sub.epilog.rstrip() + "\n\n") if sub.epilog else "") + "examples:\n" + examples
        finish_help(sub, key)
