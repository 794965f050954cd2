"""A modified Kneser-Ney n-gram language model written as an ARPA file (what KenLM's ``lmplz`` builds).

Interpolated modified Kneser-Ney (Chen & Goodman 1998) with lmplz's conventions, so that the ``kenlm``
Python module loads the file and scores like an lmplz model of the same counts:

* sentences are wrapped in ``<s>`` ... ``</s>``; ``<unk>`` is in the vocabulary; ``p(<s>)`` is written as -99;
* the highest order uses raw counts; lower orders use continuation counts (number of distinct words to the
  left), except n-grams that start with ``<s>`` (which have no left context), which keep their raw counts;
* three discounts per order from that order's counts-of-counts: ``Y = n1/(n1+2 n2)``,
  ``D1 = 1-2Y n2/n1``, ``D2 = 2-3Y n3/n2``, ``D3+ = 3-4Y n4/n3``;
* ``p(w|c) = (a(cw) - D(a(cw))) / a(c.) + gamma(c) p(w|c')`` with ``gamma(c) = (D1 N1(c.) + D2 N2(c.) +
  D3+ N3+(c.)) / a(c.)``; unigrams interpolate with the uniform distribution over the vocabulary
  (including ``<unk>``, excluding ``<s>``); the backoff weight written for context ``c`` is ``gamma(c)``.

Pure Python: fine for the demo's and the tests' small corpora (a few MB); real runs use cc_net's models.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from pathlib import Path


def _discounts(counts: Iterable[int]) -> tuple[float, float, float]:
    coc = Counter(c for c in counts if c <= 4)
    n1, n2, n3, n4 = (coc.get(i, 0) for i in (1, 2, 3, 4))
    fallback = (0.5, 1.0, 1.5)
    if min(n1, n2, n3, n4) == 0:
        return fallback
    y = n1 / (n1 + 2 * n2)
    d = (1 - 2 * y * n2 / n1, 2 - 3 * y * n3 / n2, 3 - 4 * y * n4 / n3)
    # a discount must stay within (0, count) to leave positive mass
    return tuple(min(max(di, 0.05), lim - 0.05) for di, lim in zip(d, (1, 2, 3), strict=True))  # type: ignore[return-value]


def build_arpa(sentences: Iterable[str], order: int = 3) -> str:
    """ARPA text of an interpolated modified Kneser-Ney model of whitespace-tokenized ``sentences``."""
    if order < 2:
        raise ValueError("order must be >= 2")
    # raw counts of the highest order, and of every lower-order n-gram that starts with <s>
    raw: list[Counter] = [Counter() for _ in range(order + 1)]
    for sent in sentences:
        words = ["<s>", *sent.split(), "</s>"]
        for n in range(1, order + 1):
            for i in range(len(words) - n + 1):
                gram = tuple(words[i:i + n])
                if n == order or gram[0] == "<s>":
                    raw[n][gram] += 1
    # adjusted counts: continuation counts for lower orders (unless the gram starts with <s>)
    adj: list[dict[tuple[str, ...], int]] = [dict() for _ in range(order + 1)]
    adj[order] = dict(raw[order])
    for n in range(order, 1, -1):
        cont: Counter = Counter()
        for gram in adj[n]:
            cont[gram[1:]] += 1
        lower = dict(raw[n - 1])
        for g, c in cont.items():
            if g[0] != "<s>":
                lower[g] = c
        adj[n - 1] = lower
    adj[1].pop(("<s>",), None)
    vocab = sorted({g[0] for g in adj[1]} | {"<unk>", "</s>"})

    prob: list[dict[tuple[str, ...], float]] = [dict() for _ in range(order + 1)]
    gamma: list[dict[tuple[str, ...], float]] = [dict() for _ in range(order + 1)]
    for n in range(1, order + 1):
        d1, d2, d3 = _discounts(adj[n].values())
        ctx_total: dict[tuple[str, ...], int] = defaultdict(int)
        ctx_nk: dict[tuple[str, ...], list[int]] = defaultdict(lambda: [0, 0, 0])
        for g, c in adj[n].items():
            ctx = g[:-1]
            ctx_total[ctx] += c
            ctx_nk[ctx][min(c, 3) - 1] += 1
        for ctx, total in ctx_total.items():
            k1, k2, k3 = ctx_nk[ctx]
            gamma[n - 1][ctx] = (d1 * k1 + d2 * k2 + d3 * k3) / total
        for g, c in adj[n].items():
            disc = d1 if c == 1 else d2 if c == 2 else d3
            u = (c - disc) / ctx_total[g[:-1]]
            if n == 1:
                lower = 1.0 / (len(vocab))
            else:
                lower = prob[n - 1][g[1:]]
            prob[n][g] = u + gamma[n - 1][g[:-1]] * lower
        if n == 1:
            g0 = gamma[0][()]
            prob[1][("<unk>",)] = g0 / len(vocab)
            for w in vocab:
                prob[1].setdefault((w,), g0 / len(vocab))

    lines = ["", "\\data\\"]
    lines.append(f"ngram 1={len(prob[1]) + 1}")
    for n in range(2, order + 1):
        lines.append(f"ngram {n}={len(prob[n])}")
    for n in range(1, order + 1):
        lines.append("")
        lines.append(f"\\{n}-grams:")
        entries = sorted(prob[n].items())
        if n == 1:
            entries = sorted([(("<s>",), None), *entries], key=lambda e: e[0])
        for g, p in entries:
            lp = -99.0 if p is None else math.log10(p)
            text = f"{lp:.6f}\t{' '.join(g)}"
            if n < order:
                bo = gamma[n].get(g)
                if bo is not None and bo > 0:
                    text += f"\t{math.log10(bo):.6f}"
                elif g == ("<s>",) or bo is not None:
                    text += "\t0.000000"
            lines.append(text)
    lines += ["", "\\end\\", ""]
    return "\n".join(lines)


def write_arpa(sentences: Iterable[str], path: str | Path, order: int = 3) -> Path:
    """Write :func:`build_arpa`'s model to ``path``."""
    path = Path(path)
    path.write_text(build_arpa(sentences, order), encoding="utf-8")
    return path
