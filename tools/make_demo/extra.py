"""Regenerate the demo's G2 extra sources (synthetic, made by kllama; no third-party content).

    python -m tools.make_demo.extra

``maths/maths-00000.jsonl.zst``: worked arithmetic and algebra problems (the dialogue demo inputs are made by
``tools/make_demo/dialogue.py``). Byte-identical on every run (fixed seed, one zstd stream).
"""

from __future__ import annotations

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


def main() -> None:
    rng = random.Random(7)
    (HERE / "maths").mkdir(exist_ok=True)
    data = "".join(json.dumps(r) + "\n" for r in maths(rng)).encode()
    (HERE / "maths" / "maths-00000.jsonl.zst").write_bytes(zstandard.ZstdCompressor(level=3).compress(data))


if __name__ == "__main__":
    main()
