"""Regenerate the demo's Pile-like reference shard ``train/00.jsonl.zst`` from the other demo inputs.

    python -m tools.make_demo.pile

The shard is in the Pile v1 format (``{"text": ..., "meta": {"pile_set_name": ...}}`` per line, json.dumps
separators, one zstd frame written in streaming mode, so no content size in the frame header). It holds, for
several demo sources, **exact copies** and **near copies** (every 60th word replaced) of documents as the
demo pipeline sees them (reader + the per-document steps before the source's first global step), plus
filler documents that the demo never reads (the C4 validation file). A demo run therefore finds a non-empty
``pile-overlap`` group. Byte-identical output on every run for the same demo inputs; rerun it whenever
another source's demo data changes (a source missing from the recipe is skipped).
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import zstandard

HERE = Path(__file__).resolve().parents[2] / "kllama" / "data" / "demo" / "pile"
#: source -> (pile_set_name, exact copies, near copies)
PLAN = {
    "c4": ("Pile-CC", 3, 2),
    "books": ("Gutenberg (PG-19)", 1, 1),
    "wikipedia": ("Wikipedia (en)", 1, 1),
    "stackexchange": ("StackExchange", 1, 1),
    "arxiv": ("ArXiv", 1, 0),
    "github": ("Github", 1, 0),
    # G2 extras: their copies land in the extra-pile-overlap group
    "maths": ("DM Mathematics", 1, 0),
    "dialogue": ("Ubuntu IRC", 1, 0),
}


def near_copy(text: str, every: int = 60) -> str:
    """Replace every ``every``-th word (Jaccard of word 5-gram shingles ~0.85 with the original)."""
    words = text.split(" ")
    for i in range(every // 2, len(words), every):
        words[i] = "pileedit"
    return " ".join(words)


def source_docs(recipe, name: str) -> list:
    """The documents of one demo source after its leading per-document steps, sorted by id."""
    from kllama.core.ledger import Ledger
    from kllama.core.registry import build_step, source_class
    from kllama.core.steps import GlobalStep

    src = recipe.sources[name]
    reader = source_class(src.reader)(**src.options)
    steps = []
    for spec in src.pipeline:
        step = build_step(spec)
        if isinstance(step, GlobalStep):
            break
        steps.append(step)
    docs = []
    for unit in reader.list_inputs(src.inputs):
        ledger = Ledger()
        batch = list(reader.read(unit, ledger))
        for step in steps:
            batch = step.process(batch, ledger) if batch else batch
        docs.extend(batch)
    return sorted(docs, key=lambda d: d.id)


def records() -> list[dict]:
    from kllama.config import load_recipe
    from kllama.sources.c4 import C4Source

    recipe = load_recipe("demo")
    out = []
    for name, (set_name, n_exact, n_near) in PLAN.items():
        if name not in recipe.sources:
            continue
        docs = source_docs(recipe, name)
        long = [d for d in docs if len(d.text.split()) >= 60]
        pool = long if len(long) >= 3 * (n_exact + n_near) else docs
        picked = pool[::3][: n_exact + n_near]
        for k, d in enumerate(picked):
            text = d.text if k < n_exact else near_copy(d.text)
            out.append({"text": text, "meta": {"pile_set_name": set_name}})
    # filler the demo never reads: the C4 validation split
    reader = C4Source(split="validation")
    from kllama.core.ledger import Ledger

    for unit in reader.list_inputs([str(HERE.parent / "c4")]):
        for d in reader.read(unit, Ledger()):
            out.append({"text": d.text, "meta": {"pile_set_name": "Pile-CC"}})
    return out


def main() -> None:
    buf = io.BytesIO()
    cctx = zstandard.ZstdCompressor(level=3)
    with cctx.stream_writer(buf, closefd=False) as w:
        for rec in records():
            w.write((json.dumps(rec) + "\n").encode("utf-8"))
    (HERE / "train").mkdir(exist_ok=True)
    (HERE / "train" / "00.jsonl.zst").write_bytes(buf.getvalue())


if __name__ == "__main__":
    main()
