"""Regenerate the `reasoning` demo inputs and test excerpts (G2 A.6).

    python -m tools.make_demo.reasoning SAMPLES    # SAMPLES = the shared sample folder (holds reasoning/)

Writes, byte-identical on every run:

* ``kllama/data/demo/reasoning/gsm8k-test-excerpt.jsonl``: the first 10 problems of the real GSM8K test set
  (openai/grade-school-math, MIT), byte for byte;
* ``kllama/data/demo/reasoning/constructed.jsonl.gz``: MATH-style and steps-style records written for kllama
  (Apache-2.0), one without a ``\\boxed{}`` answer (the demo's ``no_final_answer`` drop);
* ``tests/data/reasoning/gsm8k-test-excerpt.jsonl`` (12 problems) and ``gsm8k-test_socratic-excerpt.jsonl`` (3).
"""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "kllama" / "data" / "demo" / "reasoning"
TESTS = REPO / "tests" / "data" / "reasoning"

CONSTRUCTED = [
    {"problem": "Simplify $\\frac{6}{8} + \\frac{1}{4}$.", "level": "Level 1", "type": "Prealgebra",
     "solution": "First, $\\frac{6}{8} = \\frac{3}{4}$. Then $\\frac{3}{4} + \\frac{1}{4} = \\frac{4}{4}$, "
                 "so the sum is $\\boxed{1}$."},
    {"problem": "Solve $2x + 7 = 19$ for $x$.", "level": "Level 1", "type": "Algebra",
     "solution": "Subtract 7 from both sides: $2x = 12$.\n\nDivide by 2: $x = \\boxed{6}$."},
    {"problem": "What is the greatest common divisor of 84 and 126?", "level": "Level 2",
     "type": "Number Theory",
     "solution": "We have $84 = 2^2 \\cdot 3 \\cdot 7$ and $126 = 2 \\cdot 3^2 \\cdot 7$.\n"
                 "The common factors are $2 \\cdot 3 \\cdot 7 = \\boxed{42}$."},
    {"problem": "How many positive divisors does 36 have?", "level": "Level 2", "type": "Number Theory",
     "solution": "Since $36 = 2^2 \\cdot 3^2$, it has $(2+1)(2+1) = 9$ divisors."},
    {"question": "A train travels 180 km in 2 hours. How far does it go in 5 hours at the same speed?",
     "steps": ["Its speed is 180 / 2 = <<180/2=90>>90 km per hour.",
               "In 5 hours it goes 90 * 5 = <<90*5=450>>450 km."],
     "answer": "450 km"},
    {"question": "What is 15% of 240?", "steps": "10% of 240 is 24.\n5% of 240 is 12.\n24 + 12 = 36.",
     "answer": 36},
]


def main(samples: Path) -> None:
    DEMO.mkdir(parents=True, exist_ok=True)
    TESTS.mkdir(parents=True, exist_ok=True)
    lines = (samples / "reasoning" / "gsm8k-test.jsonl").read_bytes().splitlines(keepends=True)
    (DEMO / "gsm8k-test-excerpt.jsonl").write_bytes(b"".join(lines[:10]))
    (TESTS / "gsm8k-test-excerpt.jsonl").write_bytes(b"".join(lines[:12]))
    socratic = (samples / "reasoning" / "gsm8k-test_socratic.jsonl").read_bytes().splitlines(keepends=True)
    (TESTS / "gsm8k-test_socratic-excerpt.jsonl").write_bytes(b"".join(socratic[:3]))
    data = "".join(json.dumps(r, sort_keys=True) + "\n" for r in CONSTRUCTED).encode()
    (DEMO / "constructed.jsonl.gz").write_bytes(gzip.compress(data, mtime=0))


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/samples"))
