"""Regenerate the demo's G2 extra sources (synthetic, made by kllama; no third-party content).

    python -m tools.make_demo.extra

``maths/maths-00000.jsonl.zst``: worked arithmetic and algebra problems; ``dialogue/dialogue-00000.jsonl.gz``:
short two-speaker dialogues. Byte-identical on every run (fixed seed, gzip mtime 0, one zstd stream).
"""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path

import zstandard

HERE = Path(__file__).resolve().parents[2] / "kllama" / "data" / "demo" / "extra"


def maths(rng: random.Random, n: int = 24) -> list[dict]:
    out = []
    for i in range(n):
        a, b, c = rng.randint(12, 999), rng.randint(12, 999), rng.randint(2, 19)
        text = (f"Problem {i + 1}. Solve for x: {c}x + {a} = {a + c * b}.\n\n"
                f"Solution. Subtract {a} from both sides: {c}x = {c * b}. "
                f"Divide both sides by {c}: x = {b}.\n\n"
                f"Check: {c} times {b} is {c * b}, and {c * b} + {a} = {a + c * b}. "
                f"The answer is x = {b}.")
        out.append({"text": text, "subject": "algebra", "problem": i + 1})
    return out


def dialogue(rng: random.Random, n: int = 12) -> list[dict]:
    topics = ["the river survey", "the library catalogue", "the bridge design", "the garden plan"]
    out = []
    for i in range(n):
        t = rng.choice(topics)
        lines = [f"A: Did you finish {t}?", f"B: Almost. I still need {rng.randint(2, 9)} more hours.",
                 "A: What is left to do?", f"B: The last section on {rng.choice(topics)} and the summary.",
                 "A: Send it to me when it is ready and I will read it tonight.", "B: Thanks, I will."]
        out.append({"text": "\n".join(lines), "conversation": i})
    return out


def main() -> None:
    rng = random.Random(7)
    (HERE / "maths").mkdir(exist_ok=True)
    (HERE / "dialogue").mkdir(exist_ok=True)
    data = "".join(json.dumps(r) + "\n" for r in maths(rng)).encode()
    (HERE / "maths" / "maths-00000.jsonl.zst").write_bytes(zstandard.ZstdCompressor(level=3).compress(data))
    data = "".join(json.dumps(r) + "\n" for r in dialogue(rng)).encode()
    (HERE / "dialogue" / "dialogue-00000.jsonl.gz").write_bytes(gzip.compress(data, mtime=0))


if __name__ == "__main__":
    main()
