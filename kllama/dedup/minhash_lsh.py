"""MinHash LSH near-duplicate removal across a whole source (the books rule, or any near-dup pass).

How it runs on the engine (only hashes travel, never texts):

1. ``emit_keys`` (per partition): MinHash signatures from the C core (``kllama.native.minhash``: word
   ``ngram`` shingles, ``num_perm`` permutations, ``seed``), cut into ``bands`` bands of ``rows`` values; each
   band is hashed to one 64-bit band key. One key row per (document, band) carries the document's id, byte
   length, shingle count (containment mode) and a *sketch*: the low ``sketch_bits`` bits of every signature
   value (``num_perm`` bytes at 8 bits), enough to estimate the Jaccard similarity of any two documents.
2. ``resolve`` (per bucket of band keys): documents that share a band key are candidate pairs; each pair is
   verified on the sketches (estimated Jaccard, or estimated containment = |A∩B| / |A| with exact shingle
   counts) against ``threshold``. Verified pairs are the output.
3. ``combine`` (once, on arrays: about 100 bytes and a few microseconds per verified pair, never a Python
   object per pair): connected components of the verified pairs (label propagation with pointer jumping); inside
   a component documents are taken in keep order (longest first, then smallest id) and a document is dropped
   when it has a verified pair with an already *kept* document (``dup_of`` names it). In the usual all-similar
   cluster this keeps exactly one document per component.
4. ``apply`` (per partition): drops the documents named, reason ``reason`` (default ``near_duplicate``).

The probability that a pair with Jaccard ``s`` becomes a candidate is ``1 - (1 - s**rows)**bands`` (see
``candidate_probability`` and docs/dedup.md for the curve); the sketch check then removes candidates below
``threshold``. Decisions depend only on texts and ids, never on partitioning or worker count.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from kllama.core.ledger import Ledger
from kllama.core.registry import register
from kllama.core.steps import GlobalStep
from kllama.dedup.exact import drop_rows

_U64 = np.uint64
_M1 = _U64(0xBF58476D1CE4E5B9)
_M2 = _U64(0x94D049BB133111EB)
_GOLDEN = _U64(0x9E3779B97F4A7C15)

#: Groups of documents sharing one band key larger than this are verified as a star around their first
#: member (in keep order) instead of all pairs, so a huge cluster never costs k^2 comparisons.
MAX_ALL_PAIRS = 64


@lru_cache(maxsize=MAX_ALL_PAIRS + 1)
def _pairs_small(m: int) -> tuple[np.ndarray, np.ndarray]:
    return np.triu_indices(m, 1)


def _pairs(m: int) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs to verify in a group of ``m`` documents sharing a band key (all pairs, or a star)."""
    if m <= MAX_ALL_PAIRS:
        return _pairs_small(m)
    return np.zeros(m - 1, dtype=np.int64), np.arange(1, m)


def splitmix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64 finalizer, vectorized over a uint64 array (wrapping arithmetic)."""
    with np.errstate(over="ignore"):
        z = x.astype(_U64, copy=True) + _GOLDEN
        z = (z ^ (z >> _U64(30))) * _M1
        z = (z ^ (z >> _U64(27))) * _M2
        return z ^ (z >> _U64(31))


def band_keys(sig: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """``(n, bands)`` uint64 band keys of ``(n, >= bands*rows)`` signatures; band ``j`` mixes in ``j`` so that
    equal values in different bands never collide."""
    sig = np.asarray(sig, dtype=_U64)
    n = sig.shape[0]
    if sig.shape[1] < bands * rows:
        raise ValueError(f"signatures have {sig.shape[1]} values, bands*rows needs {bands * rows}")
    out = np.empty((n, bands), dtype=_U64)
    for j in range(bands):
        h = splitmix64(np.full(n, j + 1, dtype=_U64))
        for k in range(rows):
            h = splitmix64(h ^ sig[:, j * rows + k])
        out[:, j] = h
    return out


def signatures(texts: pa.Array | pa.ChunkedArray | list[str], num_perm: int, ngram: int, seed: int) -> np.ndarray:
    """``(n, num_perm)`` uint64 MinHash signatures from the C core."""
    from kllama import native

    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks() if texts.num_chunks != 1 else texts.chunk(0)
    n = len(texts)
    if n == 0:
        return np.zeros((0, num_perm), dtype=_U64)
    return np.asarray(native.minhash(texts, num_perm, ngram, seed), dtype=_U64)


def shingle_count(text: str, ngram: int) -> int:
    """Number of distinct word ``ngram`` shingles of ``text`` (C core hashes)."""
    from kllama import native

    h = np.asarray(native.shingle_hashes(text, ngram), dtype=_U64)
    return int(np.unique(h).size)


def candidate_probability(s: float | np.ndarray, bands: int, rows: int) -> float | np.ndarray:
    """Probability that a pair with Jaccard ``s`` shares at least one band: ``1 - (1 - s^rows)^bands``."""
    return 1.0 - (1.0 - np.asarray(s, dtype=float) ** rows) ** bands


def lsh_threshold(bands: int, rows: int) -> float:
    """The usual approximation of the S-curve's steepest point, ``(1/bands)^(1/rows)``."""
    return (1.0 / bands) ** (1.0 / rows)


def jaccard_from_sketch(a: np.ndarray, b: np.ndarray, bits: int) -> np.ndarray:
    """Jaccard estimate from b-bit sketches (last axis = permutations): corrects for chance collisions."""
    match = (a == b).mean(axis=-1)
    chance = 1.0 / (1 << bits)
    return np.clip((match - chance) / (1.0 - chance), 0.0, 1.0)


def containment_from_jaccard(j: np.ndarray, ca: np.ndarray, cb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(|A∩B|/|A|, |A∩B|/|B|) from a Jaccard estimate and the exact set sizes (|A∩B| = j(|A|+|B|)/(1+j))."""
    ca = np.maximum(np.asarray(ca, dtype=float), 1.0)
    cb = np.maximum(np.asarray(cb, dtype=float), 1.0)
    inter = j * (ca + cb) / (1.0 + j)
    return np.minimum(inter / ca, 1.0), np.minimum(inter / cb, 1.0)


class UnionFind:
    """Deterministic union-find over 0..n-1: the root of a set is always its smallest member."""

    def __init__(self, n: int) -> None:
        self.parent = np.arange(n, dtype=np.int64)

    def find(self, x: int) -> int:
        p = self.parent
        root = x
        while p[root] != root:
            root = p[root]
        while p[x] != root:  # path compression
            p[x], x = root, p[x]
        return int(root)

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            lo, hi = (ra, rb) if ra < rb else (rb, ra)
            self.parent[hi] = lo


_EDGE_SCHEMA = pa.schema([
    ("part", pa.int32()), ("a_part", pa.int32()), ("a_row", pa.int64()), ("a_id", pa.string()),
    ("a_len", pa.int64()), ("b_part", pa.int32()), ("b_row", pa.int64()), ("b_id", pa.string()),
    ("b_len", pa.int64()), ("score", pa.float64()),
])
_DECISION_SCHEMA = pa.schema([
    ("part", pa.int32()), ("row", pa.int64()), ("id", pa.string()), ("dup_of", pa.string()),
    ("cluster", pa.string()), ("score", pa.float64()),
])


@register
class MinHashLSH(GlobalStep):
    """Near-duplicate removal with MinHash LSH; see the module docstring.

    ``measure``: ``jaccard`` (a pair is a duplicate when its estimated Jaccard >= ``threshold``) or
    ``containment`` (when the shorter document's estimated share of shingles inside the other >= ``threshold``;
    the books rule, ``threshold = 0.9``). Drop reason: ``reason`` (``near_duplicate``).
    """

    name = "minhash_lsh"
    #: the default; the ``reason`` option names another (the books rule: ``book_near_duplicate``)
    drop_reasons = ("near_duplicate",)

    def __init__(self, ngram: int = 5, bands: int = 16, rows: int = 8, num_perm: int | None = None, seed: int = 1,
                 threshold: float = 0.8, measure: str = "jaccard", sketch_bits: int = 8,
                 reason: str = "near_duplicate", num_buckets: int = 16) -> None:
        if measure not in ("jaccard", "containment"):
            raise ValueError(f"minhash_lsh measure must be jaccard or containment, not {measure!r}")
        if sketch_bits not in (8, 16, 32):
            raise ValueError("sketch_bits must be 8, 16 or 32")
        self.ngram = int(ngram)
        self.bands = int(bands)
        self.rows = int(rows)
        self.num_perm = int(num_perm) if num_perm else self.bands * self.rows
        if self.num_perm < self.bands * self.rows:
            raise ValueError(f"num_perm {self.num_perm} < bands*rows {self.bands * self.rows}")
        self.seed = int(seed)
        self.threshold = float(threshold)
        self.measure = measure
        self.sketch_bits = int(sketch_bits)
        self.reason = reason
        self.num_buckets = int(num_buckets)

    # -- keys -------------------------------------------------------------------------------------
    def declared_reasons(self) -> tuple[str, ...]:
        return (self.reason,)

    def emit_keys(self, table: pa.Table) -> pa.Table:
        n = table.num_rows
        texts = table.column("text")
        sig = signatures(texts, self.num_perm, self.ngram, self.seed)
        keys = band_keys(sig, self.bands, self.rows)
        sketch_dtype = {8: np.uint8, 16: np.uint16, 32: np.uint32}[self.sketch_bits]
        sketch = (sig & _U64((1 << self.sketch_bits) - 1)).astype(sketch_dtype)
        lengths = pc.binary_length(texts).to_numpy(zero_copy_only=False).astype(np.int64) if n else \
            np.zeros(0, np.int64)
        if self.measure == "containment":
            counts = np.array([shingle_count(t, self.ngram) for t in texts.to_pylist()], dtype=np.int64)
        else:
            counts = np.zeros(n, dtype=np.int64)
        # a text without words has an all-0xFFFFFFFF signature: it would match every other such text
        has_words = ~(sig == _U64(0xFFFFFFFF)).all(axis=1) if n else np.zeros(0, dtype=bool)
        rep = np.repeat(np.flatnonzero(has_words).astype(np.int64), self.bands)
        keys = keys[has_words]
        width = sketch.shape[1] * sketch.itemsize
        sk_bytes = np.ascontiguousarray(sketch).view(np.uint8).reshape(n, width)[rep] if n else \
            np.zeros((0, width), np.uint8)
        sk_arr = pa.FixedSizeBinaryArray.from_buffers(pa.binary(width), len(rep),
                                                      [None, pa.py_buffer(sk_bytes.tobytes())])
        return pa.table({
            "key": pa.array(keys.reshape(-1), pa.uint64()),
            "row": pa.array(rep),
            "id": table.column("id").take(pa.array(rep)),
            "len": pa.array(lengths[rep]),
            "card": pa.array(counts[rep]),
            "sketch": sk_arr,
        })

    # -- resolve ----------------------------------------------------------------------------------
    def resolve(self, keys: pa.Table) -> pa.Table:
        if keys.num_rows == 0:
            return _EDGE_SCHEMA.empty_table()
        k = keys.column("key").to_numpy()
        ln = keys.column("len").to_numpy()
        ids = np.array(keys.column("id").to_pylist(), dtype=object)
        # sort by key, then keep order (longest first, then smallest id)
        order = np.lexsort((ids.astype(str), -ln, k))
        k = k[order]
        starts = np.flatnonzero(np.r_[True, k[1:] != k[:-1]])
        ends = np.r_[starts[1:], len(k)]
        multi = (ends - starts) >= 2
        if not multi.any():
            return _EDGE_SCHEMA.empty_table()
        width = keys.schema.field("sketch").type.byte_width
        sk_dtype = {8: np.uint8, 16: np.uint16, 32: np.uint32}[self.sketch_bits]
        sk_all = np.frombuffer(keys.column("sketch").combine_chunks().buffers()[1], dtype=np.uint8,
                               count=keys.num_rows * width).reshape(keys.num_rows, width)
        part = keys.column("part").to_numpy()
        row = keys.column("row").to_numpy()
        card = keys.column("card").to_numpy()
        ai: list[np.ndarray] = []
        bi: list[np.ndarray] = []
        size = ends - starts
        twos = starts[size == 2]  # the common case, vectorized
        ai.append(order[twos])
        bi.append(order[twos + 1])
        for s, e in zip(starts[size > 2], ends[size > 2], strict=True):
            m = e - s
            a, b = _pairs(int(m))
            ai.append(order[s + a])
            bi.append(order[s + b])
        a_idx = np.concatenate(ai)
        b_idx = np.concatenate(bi)
        # a pair that shares several bands of this bucket is verified once
        pair = np.stack([part[a_idx], row[a_idx], part[b_idx], row[b_idx]], axis=1)
        _, first = np.unique(pair, axis=0, return_index=True)
        first.sort()
        a_idx, b_idx = a_idx[first], b_idx[first]
        # the same document twice under one key cannot happen (one key per band), but guard anyway
        same_doc = (part[a_idx] == part[b_idx]) & (row[a_idx] == row[b_idx])
        a_idx, b_idx = a_idx[~same_doc], b_idx[~same_doc]
        sa = sk_all[a_idx].view(sk_dtype)
        sb = sk_all[b_idx].view(sk_dtype)
        jac = jaccard_from_sketch(sa, sb, self.sketch_bits)
        if self.measure == "containment":
            ca, cb = containment_from_jaccard(jac, card[a_idx], card[b_idx])
            score = np.maximum(ca, cb)
        else:
            score = jac
        ok = score >= self.threshold
        a_idx, b_idx, score = a_idx[ok], b_idx[ok], score[ok]
        if not len(a_idx):
            return _EDGE_SCHEMA.empty_table()
        return pa.table({
            "part": pa.array(part[a_idx], pa.int32()),
            "a_part": pa.array(part[a_idx], pa.int32()), "a_row": pa.array(row[a_idx], pa.int64()),
            "a_id": pa.array(ids[a_idx].tolist(), pa.string()), "a_len": pa.array(ln[a_idx], pa.int64()),
            "b_part": pa.array(part[b_idx], pa.int32()), "b_row": pa.array(row[b_idx], pa.int64()),
            "b_id": pa.array(ids[b_idx].tolist(), pa.string()), "b_len": pa.array(ln[b_idx], pa.int64()),
            "score": pa.array(score, pa.float64()),
        }, schema=_EDGE_SCHEMA)

    # -- combine ----------------------------------------------------------------------------------
    def combine(self, decisions: pa.Table) -> pa.Table:
        return components_and_keep(decisions)

    # -- apply ------------------------------------------------------------------------------------
    def apply(self, table: pa.Table, decisions: pa.Table, ledger: Ledger) -> pa.Table:
        if decisions.num_rows:
            ledger.count(f"{self.name}:clusters_touched", len(set(decisions.column("cluster").to_pylist())))
        return drop_rows(table, decisions.column("row"), ledger, self.reason)


def _node_index(edges: pa.Table) -> tuple[np.ndarray, np.ndarray, pa.Array, np.ndarray, np.ndarray, np.ndarray]:
    """Nodes of the edge list in id order: ``(a_idx, b_idx, ids, part, row, length)``."""
    ids_all = pa.chunked_array(edges.column("a_id").chunks + edges.column("b_id").chunks).combine_chunks()
    part_all = np.concatenate([edges.column("a_part").to_numpy(), edges.column("b_part").to_numpy()])
    row_all = np.concatenate([edges.column("a_row").to_numpy(), edges.column("b_row").to_numpy()])
    len_all = np.concatenate([edges.column("a_len").to_numpy(), edges.column("b_len").to_numpy()])
    # the last occurrence of an id gives its (part, row, len), as the reference does
    order = pc.sort_indices(ids_all).to_numpy()
    sorted_ids = ids_all.take(pa.array(order))
    is_new = np.ones(len(order), dtype=bool)
    if len(order) > 1:
        is_new[1:] = pc.not_equal(sorted_ids.slice(1), sorted_ids.slice(0, len(order) - 1)).to_numpy(
            zero_copy_only=False)
    node_of_sorted = np.cumsum(is_new) - 1
    node = np.empty(len(order), dtype=np.int64)
    node[order] = node_of_sorted
    n_nodes = int(node_of_sorted[-1]) + 1 if len(order) else 0
    last = np.zeros(n_nodes, dtype=np.int64)
    last[node] = np.arange(len(order))  # fancy assignment keeps the last write per node
    ids = ids_all.take(pa.array(last))
    m = edges.num_rows
    return node[:m], node[m:], ids, part_all[last], row_all[last], len_all[last]


def _components(n: int, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Label of each node = the smallest node of its connected component (label propagation with pointer
    jumping, vectorized)."""
    label = np.arange(n, dtype=np.int64)
    if not len(lo):
        return label
    while True:
        m = np.minimum(label[lo], label[hi])
        before = label.copy()
        np.minimum.at(label, lo, m)
        np.minimum.at(label, hi, m)
        while True:  # pointer jumping: every node points at its label's label
            jumped = label[label]
            if np.array_equal(jumped, label):
                break
            label = jumped
        if np.array_equal(label, before):
            return label


def components_and_keep(edges: pa.Table) -> pa.Table:
    """Verified pairs -> connected components -> the documents to drop.

    Documents are visited in keep order (longest first, then smallest id); one is dropped when it has a
    verified pair with a document already kept, and ``dup_of`` names the first such kept document (the
    earliest in keep order); ``cluster`` is the component's smallest id. Arrays throughout (Arrow for ids,
    numpy for the rest): memory is about 100 bytes per verified pair and the cost ``O(E log E)``, with a
    Python loop only over components of three or more documents; the output equals
    :func:`components_and_keep_reference`.
    """
    if edges.num_rows == 0 or "a_id" not in edges.column_names:
        return _DECISION_SCHEMA.empty_table()
    a, b, ids, part, row, length = _node_index(edges)
    n = len(part)
    score = edges.column("score").to_numpy()
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    keep = lo != hi
    lo, hi, score = lo[keep], hi[keep], score[keep]
    # one edge per pair, with its best score
    order = np.lexsort((-score, hi, lo))
    lo, hi, score = lo[order], hi[order], score[order]
    first = np.r_[True, (lo[1:] != lo[:-1]) | (hi[1:] != hi[:-1])] if len(lo) else np.zeros(0, bool)
    lo, hi, score = lo[first], hi[first], score[first]
    comp = _components(n, lo, hi)
    # keep rank: longest first, then smallest id (node numbers follow id order)
    rank = np.empty(n, dtype=np.int64)
    rank[np.lexsort((np.arange(n), -length))] = np.arange(n)
    size = np.bincount(comp, minlength=n)
    drop_node: list[np.ndarray] = []
    drop_by: list[np.ndarray] = []
    drop_score: list[np.ndarray] = []
    # components of two: the pair's later document in keep order is dropped
    pair = size[comp[lo]] == 2
    pl, ph, ps = lo[pair], hi[pair], score[pair]
    later_is_hi = rank[ph] > rank[pl]
    drop_node.append(np.where(later_is_hi, ph, pl))
    drop_by.append(np.where(later_is_hi, pl, ph))
    drop_score.append(ps)
    # larger components: the greedy keep rule, node by node in keep order
    big = ~pair
    if big.any():
        bl, bh, bs = lo[big], hi[big], score[big]
        src = np.concatenate([bl, bh])
        dst = np.concatenate([bh, bl])
        sc = np.concatenate([bs, bs])
        o = np.lexsort((rank[dst], src))
        src, dst, sc = src[o], dst[o], sc[o]
        starts = np.searchsorted(src, np.arange(n))
        ends = np.searchsorted(src, np.arange(n), side="right")
        nodes = np.unique(src)
        nodes = nodes[np.lexsort((rank[nodes], comp[nodes]))]
        kept = np.zeros(n, dtype=bool)
        dn, db, ds = [], [], []
        dst_l, sc_l = dst.tolist(), sc.tolist()
        kept_l = kept  # numpy bool array, item access
        for i in nodes.tolist():
            for k in range(int(starts[i]), int(ends[i])):  # neighbours in keep order
                j = dst_l[k]
                if kept_l[j]:
                    dn.append(i)
                    db.append(j)
                    ds.append(sc_l[k])
                    break
            else:
                kept_l[i] = True
        drop_node.append(np.array(dn, dtype=np.int64))
        drop_by.append(np.array(db, dtype=np.int64))
        drop_score.append(np.array(ds, dtype=np.float64))
    dnode = np.concatenate(drop_node)
    dby = np.concatenate(drop_by)
    dscore = np.concatenate(drop_score)
    o = np.lexsort((row[dnode], part[dnode]))
    dnode, dby, dscore = dnode[o], dby[o], dscore[o]
    return pa.table({
        "part": pa.array(part[dnode], pa.int32()), "row": pa.array(row[dnode], pa.int64()),
        "id": ids.take(pa.array(dnode)).cast(pa.string()), "dup_of": ids.take(pa.array(dby)).cast(pa.string()),
        "cluster": ids.take(pa.array(comp[dnode])).cast(pa.string()), "score": pa.array(dscore, pa.float64()),
    }, schema=_DECISION_SCHEMA)


def components_and_keep_reference(edges: pa.Table) -> pa.Table:
    """The per-edge Python form of :func:`components_and_keep` (same output): the reference in tests."""
    if edges.num_rows == 0 or "a_id" not in edges.column_names:
        return _DECISION_SCHEMA.empty_table()
    cols = {c: edges.column(c).to_pylist() for c in ("a_id", "b_id", "a_part", "b_part", "a_row", "b_row",
                                                       "a_len", "b_len", "score")}
    info: dict[str, tuple[int, int, int]] = {}
    best: dict[tuple[str, str], float] = {}
    for i in range(edges.num_rows):
        a, b = cols["a_id"][i], cols["b_id"][i]
        info[a] = (cols["a_part"][i], cols["a_row"][i], cols["a_len"][i])
        info[b] = (cols["b_part"][i], cols["b_row"][i], cols["b_len"][i])
        pair = (a, b) if a < b else (b, a)
        best[pair] = max(best.get(pair, 0.0), cols["score"][i])
    names = sorted(info)
    index = {name: i for i, name in enumerate(names)}
    uf = UnionFind(len(names))
    neighbours: dict[int, list[tuple[int, float]]] = {i: [] for i in range(len(names))}
    for (a, b), score in sorted(best.items()):
        ia, ib = index[a], index[b]
        uf.union(ia, ib)
        neighbours[ia].append((ib, score))
        neighbours[ib].append((ia, score))
    members: dict[int, list[int]] = {}
    for i in range(len(names)):
        members.setdefault(uf.find(i), []).append(i)
    out = {name: [] for name in _DECISION_SCHEMA.names}
    for root in sorted(members):
        comp = sorted(members[root], key=lambda i: (-info[names[i]][2], names[i]))
        rank = {i: r for r, i in enumerate(comp)}
        kept: set[int] = set()
        for i in comp:
            hits = sorted((rank[j], j, s) for j, s in neighbours[i] if j in kept)
            if not hits:
                kept.add(i)
                continue
            _, j, score = hits[0]
            part, row, _ = info[names[i]]
            out["part"].append(part)
            out["row"].append(row)
            out["id"].append(names[i])
            out["dup_of"].append(names[j])
            out["cluster"].append(names[root])
            out["score"].append(score)
    table = pa.table({n: pa.array(out[n], _DECISION_SCHEMA.field(n).type) for n in _DECISION_SCHEMA.names},
                     schema=_DECISION_SCHEMA)
    return table.sort_by([("part", "ascending"), ("row", "ascending")])
