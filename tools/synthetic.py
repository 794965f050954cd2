"""Deterministic English-like text for demos, tests and benchmarks (no external data needed)."""

from __future__ import annotations

import random

_WORDS = (
    "the of and to in is was for on that with as by it from at his an were are which this be or has had not but "
    "their also its after first new one two three can been who they more other time all into most when during "
    "people only years over between some may used world would these such like school made many about where both "
    "while under city year water river history known began well part then than through large local team work "
    "music state government early south north house family several group found village area public small music "
    "system began later service second century song film series station season power field energy light market "
    "company children language number program research book line game data model theory report member center "
    "study region growth island garden bridge forest mountain valley coast harbor museum library festival "
    "church temple village council court law policy science method result change level process design"
).split()


def sentence(rng: random.Random, min_words: int = 6, max_words: int = 18) -> str:
    n = rng.randint(min_words, max_words)
    words = [rng.choice(_WORDS) for _ in range(n)]
    if rng.random() < 0.3:
        words.insert(rng.randrange(len(words)), str(rng.randint(2, 2024)))
    s = " ".join(words)
    return s[0].upper() + s[1:] + rng.choice(".....!?")


def paragraph(rng: random.Random, sentences: tuple[int, int] = (2, 6)) -> str:
    return " ".join(sentence(rng) for _ in range(rng.randint(*sentences)))


def document(rng: random.Random, min_bytes: int = 2000, max_bytes: int = 20000) -> str:
    """A document of paragraphs separated by newlines, between ``min_bytes`` and about ``max_bytes`` long."""
    target = rng.randint(min_bytes, max_bytes)
    parts: list[str] = []
    size = 0
    while size < target:
        p = paragraph(rng)
        parts.append(p)
        size += len(p) + 1
    return "\n".join(parts)


def corpus(n_docs: int, seed: int = 0, min_bytes: int = 2000, max_bytes: int = 20000) -> list[str]:
    rng = random.Random(seed)
    return [document(rng, min_bytes, max_bytes) for _ in range(n_docs)]
