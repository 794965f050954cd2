"""Containment sketches (kllama/dedup/containment.py): levels, nested samples, the hypergeometric decision,
and the in-memory reference labelling on revised copies, excerpts and unrelated texts."""

import random

import numpy as np
import pytest

from kllama.dedup.containment import (
    MemoryIndex,
    SketchSettings,
    accept,
    hypergeom_cdf,
    sample_mask,
    shingles,
    sketch,
)


def _words(rng, n, prefix="w"):
    return [f"{prefix}{rng.randrange(10**9)}" for _ in range(n)]


def test_levels_and_nested_samples():
    s = SketchSettings(min_size=16, max_level=7)
    assert [s.level(n) for n in (0, 10, 31, 32, 64, 100, 2047, 2048, 10**6)] == [0, 0, 0, 1, 2, 2, 6, 7, 7]
    rng = random.Random(1)
    text = " ".join(_words(rng, 5000))
    h = shingles(text, s)
    assert h.size == 4996 and np.all(np.diff(h.astype(np.float64)) > 0)
    for lvl in range(1, 8):  # every level's sample holds the next one's, at about half the size
        a, b = sample_mask(h, lvl - 1), sample_mask(h, lvl)
        assert np.all(a[b]) and 0.3 < b.sum() / a.sum() < 0.7
    keys, level, n = sketch(text, s)
    assert level == 7 and n == 4996 and 20 < keys.size < 60
    keys_short, level_short, _ = sketch(" ".join(text.split()[:20]), s)
    assert level_short == 0 and keys_short.size == 16  # short texts keep every shingle


def test_hypergeometric_decision():
    assert hypergeom_cdf(5, 100, 80, 10) == pytest.approx(sum(
        __import__("math").comb(80, k) * __import__("math").comb(20, 10 - k) for k in range(6))
        / __import__("math").comb(100, 10))
    # everything sampled: the exact share decides
    assert accept(80, 100, 100, 0.8, 0.95) and not accept(79, 100, 100, 0.8, 0.95)
    # a sample: a low count is consistent with 0.8 when the sample is small, not when it is large
    assert accept(6, 10, 1000, 0.8, 0.95) and not accept(60, 100, 1000, 0.8, 0.95)
    assert not accept(0, 20, 1000, 0.8, 0.95)
    rng = np.random.default_rng(0)  # at exactly the threshold, labelled with probability >= the confidence
    for drawn in (16, 40, 300):
        x = rng.hypergeometric(800, 200, drawn, size=2000)
        rate = np.mean([accept(int(v), drawn, 1000, 0.8, 0.95) for v in x])
        assert rate >= 0.94, (drawn, rate)


def _revised(rng, base, keep=0.55, changed=0.08):
    """A later revision: ~45% of the text deleted in sentence-sized chunks, some words changed."""
    chunks = [base[i: i + 20] for i in range(0, len(base), 20)]
    kept = [c for c in chunks if rng.random() < keep]
    out = []
    for c in kept:
        c = list(c)
        if rng.random() < changed * 4:
            c[rng.randrange(len(c))] = f"new{rng.randrange(10**9)}"
        out.extend(c)
    return out


def test_memory_index_finds_revisions_and_excerpts_not_unrelated_texts():
    rng = random.Random(7)
    idx = MemoryIndex(SketchSettings())
    pile_docs = [_words(rng, n) for n in (300, 800, 2500, 20000)]
    for d in pile_docs:
        idx.add(" ".join(d), "Wikipedia (en)")
    found = 0
    for j, d in enumerate(pile_docs):
        doc, est = idx.query(" ".join(_revised(rng, d)))
        found += doc == j
    assert found == 4
    # an excerpt of a tenth of a long document (containment 1, Jaccard 0.1)
    excerpt = pile_docs[3][5000:7000]
    assert idx.query(" ".join(excerpt))[0] == 3
    # half contained (with samples large enough to tell 0.5 from 0.8): not labelled; unrelated: never
    half = pile_docs[3][:3000] + _words(rng, 3000, "x")
    assert idx.query(" ".join(half))[0] == -1
    for _ in range(20):
        assert idx.query(" ".join(_words(rng, rng.randrange(30, 3000), "u")))[0] == -1


def test_frequent_keys_are_stop_keys():
    rng = random.Random(3)
    boiler = _words(rng, 40, "b")
    idx = MemoryIndex(SketchSettings(), max_hits_per_key=4)
    for _ in range(10):  # the boilerplate is in every Pile document: its keys are too frequent to count
        idx.add(" ".join(boiler + _words(rng, 200)))
    target = _words(rng, 200)
    idx.add(" ".join(boiler + target))
    # ours: the same boilerplate + the target's text; contained in the last document once the boilerplate is out
    doc, est = idx.query(" ".join(boiler + target))
    assert doc == 10 and est == 1.0
    # boilerplate alone is not a match to anything
    assert idx.query(" ".join(boiler))[0] == -1
