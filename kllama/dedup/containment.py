"""Containment of one document in another from small sketches: the Pile-overlap test of G3 (docs/dedup.md).

**What is estimated.** ``c(A, B) = |S(A) ∩ S(B)| / |S(A)|``: the share of our document A's word 5-gram shingles
that lie in one Pile document B. A revised copy (a newer Wikipedia article, a StackExchange question with fewer
answers, a code file without its licence header) is mostly *contained* in the Pile's version although their
Jaccard similarity is low; containment is what "the Pile already holds it" means. ``c >= J`` always, so every pair
that a Jaccard test would catch is caught too.

**Sketch: fractional sampling with a size floor** (FracMinHash with levels). Each distinct shingle hash ``h``
(C core word shingles, mixed with the seed) is kept when its top ``level`` bits are zero, i.e. a fixed hash-defined
sample at rate ``2**-level``. A document's ``level`` grows with its size so that its sketch holds ``min_size`` to
``2 * min_size`` hashes, up to ``max_level`` (long documents: about ``n / 2**max_level`` hashes)::

    level(n) = clamp(floor(log2(n / min_size)), 0, max_level)

Samples are nested (a level-``l`` sketch holds every hash of level ``l+1``), so for a pair the common rate is the
coarser one, ``L = max(level_A, level_B)``: both sketches hold *every* shingle with ``L`` leading zero bits, and

    ĉ = |{h in A ∩ B : h < 2**(64-L)}| / |{h in A : h < 2**(64-L)}|

is the share of a uniform random sample of A's shingles that lies in B: unbiased for any size ratio (MinHash's
``J·(|A|+|B|)/((1+J)|A|)`` blows the Jaccard estimate's error up by ``|B|/|A|``; a bottom-k sketch of B cannot say
which of A's sampled shingles B lacks). The numerator comes from the index join (shared sketch keys); the
denominator is counted from A's own text when the candidate is verified.

**Decision with a known error.** Given the sample size ``m`` (the denominator) out of A's ``N`` shingles, the shared
count is hypergeometric; a document is labelled when its shared count is *not* significantly below what a
containment of exactly ``threshold`` would give: ``P(X <= x | c = threshold) > 1 - confidence``. A document
contained at exactly ``threshold`` is labelled with probability >= ``confidence``; above it, more; an unrelated one
(c ~ 0) never (``min_shared`` shared keys are needed too). At level 0 (short documents: every shingle kept) the
test is exact: ``x / N >= threshold``.

**Frequent shingles.** A sketch key whose posting list in the index is longer than ``max_hits_per_key``
(boilerplate: licences, navigation, "all rights reserved") is a stop key: it is left out of both the numerator and
the denominator, so containment is measured on the informative shingles.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

_U64 = np.uint64
_MASK = (1 << 64) - 1


def splitmix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64's finalizer on a uint64 array (a bijection; wrapping arithmetic)."""
    with np.errstate(over="ignore"):
        z = np.asarray(x, dtype=_U64) + _U64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> _U64(30))) * _U64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> _U64(27))) * _U64(0x94D049BB133111EB)
        return z ^ (z >> _U64(31))


@dataclass(frozen=True)
class SketchSettings:
    """How sketches are made; the index stores these and a labelling step uses them."""

    ngram: int = 5
    seed: int = 1
    min_size: int = 16
    max_level: int = 7

    def level(self, n: int) -> int:
        """The sampling level of a document with ``n`` distinct shingles."""
        if n < 2 * self.min_size:
            return 0
        return min(self.max_level, int(math.floor(math.log2(n / self.min_size))))


def shingles(text: str, s: SketchSettings) -> np.ndarray:
    """The distinct seeded shingle hashes of an (already normalized) text, sorted ascending."""
    from kllama import native

    h = np.asarray(native.shingle_hashes(text, s.ngram), dtype=_U64)
    if h.size == 0:
        return h
    with np.errstate(over="ignore"):
        mixed = splitmix64(h ^ _U64((s.seed * 0x9E3779B97F4A7C15) & _MASK))
    return np.unique(mixed)


def sample_mask(hashes: np.ndarray, level: int) -> np.ndarray:
    """Which of ``hashes`` lie in the level-``level`` sample (top ``level`` bits zero)."""
    if level <= 0:
        return np.ones(hashes.shape, dtype=bool)
    return (hashes >> _U64(64 - level)) == 0


def sketch_keys(hashes: np.ndarray) -> np.ndarray:
    """Index keys of sampled hashes: mixed again so that the key's top bits (the index prefix) are uniform."""
    return splitmix64(hashes ^ _U64(0xD6E8FEB86659FD93))


def sketch(text: str, s: SketchSettings) -> tuple[np.ndarray, int, int]:
    """``(keys, level, n)``: a text's sketch keys, its level and its distinct shingle count."""
    h = shingles(text, s)
    level = s.level(int(h.size))
    return sketch_keys(h[sample_mask(h, level)]), level, int(h.size)


def _log_comb(n: np.ndarray, k: np.ndarray) -> np.ndarray:
    from math import lgamma

    lg = np.vectorize(lgamma, otypes=[float])
    return lg(n + 1.0) - lg(k + 1.0) - lg(n - k + 1.0)


def hypergeom_cdf(x: int, population: int, successes: int, draws: int) -> float:
    """``P(X <= x)`` for X hypergeometric (``draws`` from ``population`` holding ``successes``)."""
    lo = max(0, draws - (population - successes))
    hi = min(draws, successes)
    if x < lo:
        return 0.0
    if x >= hi:
        return 1.0
    ks = np.arange(lo, x + 1, dtype=float)
    logp = (_log_comb(np.float64(successes), ks) + _log_comb(np.float64(population - successes), draws - ks)
            - _log_comb(np.float64(population), np.float64(draws)))
    return float(min(1.0, np.exp(logp).sum()))


def accept(shared: int, drawn: int, population: int, threshold: float, confidence: float) -> bool:
    """Whether ``shared`` of ``drawn`` sampled shingles (out of ``population``) are consistent with a containment of
    at least ``threshold`` at the given ``confidence`` (module docstring)."""
    if drawn <= 0 or population <= 0:
        return False
    shared = min(shared, drawn)
    successes = min(population, math.ceil(threshold * population - 1e-9))
    if drawn >= population:  # everything sampled: exact
        return shared >= successes
    return hypergeom_cdf(shared, population, successes, drawn) > 1.0 - confidence


@dataclass
class Verdict:
    """The outcome of checking one document against its candidates."""

    index: int  # candidate picked (-1: none accepted)
    estimate: float  # its containment estimate (best estimate over candidates when none is accepted)
    drawn: int  # sample size of that estimate


def verify(hashes: np.ndarray, level: int, candidates: list[tuple[int, int]], stop_keys: np.ndarray,
           threshold: float, confidence: float, min_shared: int) -> Verdict:
    """Check one document (its distinct ``hashes``, its ``level``) against ``candidates`` = [(shared keys, the
    Pile document's level)]; ``stop_keys``: its sketch keys that the index found too frequent. The accepted
    candidate with the highest estimate wins."""
    keys_all = sketch_keys(hashes)
    informative = ~np.isin(keys_all, stop_keys) if stop_keys.size else np.ones(hashes.shape, dtype=bool)
    population = int(informative.sum())
    results = []
    for i, (shared, their_level) in enumerate(candidates):
        drawn = int((sample_mask(hashes, max(level, their_level)) & informative).sum())
        est = min(1.0, shared / drawn) if drawn else 0.0
        ok = shared >= min_shared and accept(shared, drawn, population, threshold, confidence)
        results.append((ok, est, -i, drawn))
    if not results:
        return Verdict(-1, 0.0, 0)
    ok, est, neg_i, drawn = max(results)
    return Verdict(-neg_i if ok else -1, est, drawn)


class MemoryIndex:
    """The whole labelling in memory (a reference for tests and benchmarks; the engine's ``pile_label`` does the
    same through the on-disk index): sketches of reference documents, then containment queries."""

    def __init__(self, settings: SketchSettings | None = None, max_hits_per_key: int = 64) -> None:
        self.s = settings or SketchSettings()
        self.max_hits = max_hits_per_key
        self.postings: dict[int, list[int]] = {}
        self.levels: list[int] = []
        self.names: list[str] = []
        self.rows = 0

    def add(self, text: str, name: str = "") -> None:
        keys, level, _ = sketch(text, self.s)
        doc = len(self.levels)
        self.levels.append(level)
        self.names.append(name)
        for k in keys.tolist():
            self.postings.setdefault(k, []).append(doc)
        self.rows += int(keys.size)

    def query(self, text: str, threshold: float = 0.8, confidence: float = 0.95, min_shared: int = 3,
              max_candidates: int = 4) -> tuple[int, float]:
        """``(Pile document, estimate)`` of the accepted candidate, or ``(-1, best estimate)``."""
        h = shingles(text, self.s)
        level = self.s.level(int(h.size))
        keys = sketch_keys(h[sample_mask(h, level)]).tolist()
        counts: dict[int, int] = {}
        stop = []
        for k in keys:
            docs = self.postings.get(k, ())
            if len(docs) > self.max_hits:
                stop.append(k)
                continue
            for d in docs:
                counts[d] = counts.get(d, 0) + 1
        ranked = sorted(counts.items(), key=lambda kv: (-kv[1] * 2 ** max(level, self.levels[kv[0]]), kv[0]))
        ranked = ranked[:max_candidates]
        v = verify(h, level, [(n, self.levels[d]) for d, n in ranked], np.array(stop, dtype=_U64), threshold,
                   confidence, min_shared)
        return (ranked[v.index][0] if v.index >= 0 else -1), v.estimate
