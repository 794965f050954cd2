"""Deduplicate a source against *other* sources' final documents (G2 A.4: nothing that core ``github`` holds).

``{ step = "dedup_against", sources = ["github"], exact = true, near = { threshold = 0.85 } }`` in ``code_extra``'s
pipeline drops every document whose text equals (XXH3-128) or nearly equals (MinHash LSH, estimated Jaccard >=
``threshold``) a document that ``github`` keeps. The engine runs the referenced sources first
(:meth:`kllama.core.steps.GlobalStep.references`, ordered by the run plan) and feeds the key rows of their final
partitions -- made by this step's own ``emit_keys``, so both sides are hashed alike -- into every bucket with
``part`` < 0. Only hashes and sketches travel; the referenced source is never changed.

Key rows: one exact row per document (``kind`` 0: the 128-bit text hash as ``key``/``key2``) and, with ``near``,
one row per LSH band (``kind`` 1: the band key and the document's MinHash sketch, as in
:mod:`kllama.dedup.minhash_lsh`). A bucket task drops an own document when an exact row shares its hash with a
reference row, or when a band row shares its band key with a reference row whose sketch gives an estimated Jaccard
(or containment) >= ``threshold``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from kllama.core.ledger import Ledger
from kllama.core.registry import register
from kllama.core.steps import GlobalStep
from kllama.dedup.exact import _normalize, sample_rows
from kllama.dedup.minhash_lsh import (
    band_keys,
    containment_from_jaccard,
    jaccard_from_sketch,
    shingle_count,
    signatures,
)

#: reference rows compared with one own row under one band key at most (a boilerplate band can be shared by
#: thousands of reference files; the best candidates are the first ones in id order)
MAX_REFS_PER_KEY = 256
NEAR_DEFAULTS: dict[str, Any] = {"threshold": 0.85, "ngram": 5, "bands": 16, "rows": 8, "num_perm": None, "seed": 1,
                                 "measure": "jaccard", "sketch_bits": 8}

_DECISIONS = pa.schema([("part", pa.int32()), ("row", pa.int64()), ("reason", pa.int8()),
                        ("dup_of", pa.string()), ("score", pa.float64())])


def _binary(rows: np.ndarray) -> pa.Array:
    """A binary array of the rows of a ``uint8[n, width]`` matrix (one buffer, no Python object per row)."""
    n, width = rows.shape
    offsets = np.arange(n + 1, dtype=np.int32) * width
    return pa.BinaryArray.from_buffers(pa.binary(), n, [None, pa.py_buffer(offsets.tobytes()),
                                                        pa.py_buffer(np.ascontiguousarray(rows).tobytes())])


def _rows_of(col: pa.ChunkedArray) -> np.ndarray:
    """The ``uint8[n, width]`` matrix of a binary column whose values all have one width."""
    arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    n = len(arr)
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int32, count=n + 1, offset=arr.offset * 4)
    width = int(offsets[1] - offsets[0]) if n else 0
    if n and not (np.diff(offsets) == width).all():
        raise ValueError("sketches of different widths in one bucket (mixed near settings?)")
    data = np.frombuffer(arr.buffers()[2], dtype=np.uint8) if n and width else np.zeros(0, np.uint8)
    return data[offsets[0]:offsets[0] + n * width].reshape(n, width)


def _runs(sorted_keys: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Start and end of each run of equal rows of the (already sorted) key columns."""
    n = len(sorted_keys[0])
    new = np.ones(n, dtype=bool)
    if n > 1:
        same = np.ones(n - 1, dtype=bool)
        for k in sorted_keys:
            same &= k[1:] == k[:-1]
        new[1:] = ~same
    starts = np.flatnonzero(new)
    return starts, np.r_[starts[1:], n]


@register
class DedupAgainst(GlobalStep):
    """Drop documents that named other sources already hold (exactly and/or nearly); the others stay as they are.

    ``sources``: the recipe names of the referenced sources (run first). ``exact``: compare the XXH3-128 of the
    text (after NFC and whitespace collapsing with ``normalize``). ``near``: a table of MinHash LSH settings
    (``threshold`` 0.85, ``ngram`` 5, ``bands`` 16, ``rows`` 8, ``num_perm``, ``seed``, ``measure`` jaccard or
    containment, ``sketch_bits``), or ``false``. Drops: ``duplicate_of_other_source``,
    ``near_duplicate_of_other_source``; the samples and the decisions name the referenced document
    (``dup_of``).
    """

    name = "dedup_against"
    drop_reasons = ("duplicate_of_other_source", "near_duplicate_of_other_source")
    _REASONS: ClassVar[dict[int, str]] = {0: "duplicate_of_other_source", 1: "near_duplicate_of_other_source"}

    def __init__(self, sources: list[str], exact: bool = True, near: dict[str, Any] | bool | None = None,
                 normalize: bool = False, num_buckets: int = 16) -> None:
        if isinstance(sources, str) or not sources or not all(isinstance(s, str) and s for s in sources):
            raise ValueError("dedup_against needs sources = [NAME, ...] (recipe names of other sources)")
        self.sources = tuple(dict.fromkeys(sources))
        self.exact = bool(exact)
        if near is True:
            near = {}
        if near not in (None, False) and not isinstance(near, dict):
            raise ValueError("near is a table of MinHash settings (threshold, ngram, bands, rows, ...) or false")
        if isinstance(near, dict):
            unknown = sorted(set(near) - set(NEAR_DEFAULTS))
            if unknown:
                raise ValueError(f"near takes no option(s) {', '.join(unknown)} (options: {', '.join(NEAR_DEFAULTS)})")
            cfg = {**NEAR_DEFAULTS, **near}
            if cfg["measure"] not in ("jaccard", "containment"):
                raise ValueError("near.measure must be jaccard or containment")
            if int(cfg["sketch_bits"]) not in (8, 16, 32):
                raise ValueError("near.sketch_bits must be 8, 16 or 32")
            cfg["num_perm"] = int(cfg["num_perm"] or int(cfg["bands"]) * int(cfg["rows"]))
            if cfg["num_perm"] < int(cfg["bands"]) * int(cfg["rows"]):
                raise ValueError("near.num_perm must be at least bands * rows")
            self.near: dict[str, Any] | None = cfg
        else:
            self.near = None
        if not self.exact and self.near is None:
            raise ValueError("dedup_against needs exact = true or a near table")
        self.normalize = bool(normalize)
        self.num_buckets = int(num_buckets)

    def references(self) -> tuple[str, ...]:
        return self.sources

    # -- keys -------------------------------------------------------------------------------------
    def emit_keys(self, table: pa.Table) -> pa.Table:
        from kllama import native

        n = table.num_rows
        texts = table.column("text")
        ids = table.column("id")
        rows = np.arange(n, dtype=np.int64)
        pieces = []
        if self.exact:
            hashed = texts
            if self.normalize:
                hashed = pa.array([_normalize(t) for t in texts.to_pylist()], pa.large_string())
            h = native.hash128(hashed) if n else np.zeros((0, 2), np.uint64)
            pieces.append(pa.table({
                "key": pa.array(h[:, 0], pa.uint64()), "key2": pa.array(h[:, 1], pa.uint64()),
                "kind": pa.array(np.zeros(n, np.int8)), "row": pa.array(rows), "id": ids,
                "card": pa.array(np.zeros(n, np.int64)), "sketch": _binary(np.zeros((n, 0), np.uint8)),
            }))
        if self.near is not None:
            cfg = self.near
            sig = signatures(texts, cfg["num_perm"], int(cfg["ngram"]), int(cfg["seed"]))
            keys = band_keys(sig, int(cfg["bands"]), int(cfg["rows"]))
            bits = int(cfg["sketch_bits"])
            sk = (sig & np.uint64((1 << bits) - 1)).astype({8: np.uint8, 16: np.uint16, 32: np.uint32}[bits])
            # a text without words has an all-0xFFFFFFFF signature: it would match every other such text
            has_words = ~(sig == np.uint64(0xFFFFFFFF)).all(axis=1) if n else np.zeros(0, bool)
            keep = np.flatnonzero(has_words)
            rep = np.repeat(keep, int(cfg["bands"]))
            if cfg["measure"] == "containment":
                card = np.array([shingle_count(t, int(cfg["ngram"])) for t in texts.to_pylist()], np.int64)
            else:
                card = np.zeros(n, np.int64)
            sk_bytes = np.ascontiguousarray(sk).view(np.uint8).reshape(n, -1) if n else np.zeros((0, 0), np.uint8)
            pieces.append(pa.table({
                "key": pa.array(keys[has_words].reshape(-1), pa.uint64()),
                "key2": pa.array(np.zeros(len(rep), np.uint64)), "kind": pa.array(np.ones(len(rep), np.int8)),
                "row": pa.array(rep), "id": ids.take(pa.array(rep, pa.int64())),
                "card": pa.array(card[rep]),
                "sketch": _binary(sk_bytes[rep]),
            }))
        return pa.concat_tables(pieces) if len(pieces) > 1 else pieces[0]

    # -- resolve ----------------------------------------------------------------------------------
    def resolve(self, keys: pa.Table) -> pa.Table:
        if keys.num_rows == 0:
            return _DECISIONS.empty_table()
        out: dict[str, list] = {n: [] for n in _DECISIONS.names}
        kind = keys.column("kind").to_numpy()
        for k in (0, 1):
            sel = np.flatnonzero(kind == k)
            if len(sel):
                self._resolve_kind(keys.take(pa.array(sel)), k, out)
        return pa.table({n: pa.array(out[n], _DECISIONS.field(n).type) for n in _DECISIONS.names},
                        schema=_DECISIONS)

    def _resolve_kind(self, t: pa.Table, kind: int, out: dict[str, list]) -> None:
        key, key2 = t.column("key").to_numpy(), t.column("key2").to_numpy()
        part = t.column("part").to_numpy()
        is_ref = part < 0
        if not is_ref.any() or is_ref.all():
            return
        ids = np.array(t.column("id").to_pylist(), dtype=object)
        # by key, then reference rows by id (the smallest id is named first)
        order = np.lexsort((ids.astype(str), ~is_ref, key2, key))
        starts, ends = _runs([key[order], key2[order]])
        refs_in = np.add.reduceat(is_ref[order].astype(np.int64), starts)
        mixed = (refs_in > 0) & (refs_in < ends - starts)
        if not mixed.any():
            return
        row = t.column("row").to_numpy()
        if kind == 0:
            for s, e, nref in zip(starts[mixed].tolist(), ends[mixed].tolist(), refs_in[mixed].tolist(),
                                  strict=True):
                ref0 = order[s]
                for i in order[s + nref:e].tolist():
                    self._decide(out, part[i], row[i], 0, ids[ref0], 1.0)
            return
        cfg = self.near
        assert cfg is not None
        bits = int(cfg["sketch_bits"])
        dtype = {8: np.uint8, 16: np.uint16, 32: np.uint32}[bits]
        sk_all = _rows_of(t.column("sketch")).view(dtype)
        card = t.column("card").to_numpy()
        for s, e, nref in zip(starts[mixed].tolist(), ends[mixed].tolist(), refs_in[mixed].tolist(), strict=True):
            refs = order[s:s + min(nref, MAX_REFS_PER_KEY)]
            ref_sk = sk_all[refs]
            for i in order[s + nref:e].tolist():
                jac = jaccard_from_sketch(ref_sk, sk_all[i][None, :], bits)
                if cfg["measure"] == "containment":
                    own_in_ref, _ = containment_from_jaccard(jac, np.full(len(refs), card[i]), card[refs])
                    score = own_in_ref
                else:
                    score = jac
                best = int(np.argmax(score))
                if score[best] >= float(cfg["threshold"]):
                    self._decide(out, part[i], row[i], 1, ids[refs[best]], float(score[best]))

    @staticmethod
    def _decide(out: dict[str, list], part: int, row: int, reason: int, dup_of: str, score: float) -> None:
        for name, v in (("part", int(part)), ("row", int(row)), ("reason", reason), ("dup_of", dup_of),
                        ("score", score)):
            out[name].append(v)

    # -- apply ------------------------------------------------------------------------------------
    def apply(self, table: pa.Table, decisions: pa.Table, ledger: Ledger) -> pa.Table:
        if decisions.num_rows == 0:
            return table
        code = np.full(table.num_rows, -1, dtype=np.int8)
        rows = decisions.column("row").to_numpy()
        reason = decisions.column("reason").to_numpy()
        # a row found both ways counts as an exact duplicate (exact decisions are written last)
        order = np.argsort(-reason, kind="stable")
        code[rows[order]] = reason[order]
        lengths = pc.binary_length(table.column("text")).to_numpy(zero_copy_only=False)
        for c, name in self._REASONS.items():
            sel = np.flatnonzero(code == c)
            if len(sel):
                ledger.drop(name, len(sel), int(lengths[sel].sum()))
                if ledger.sample_limit:
                    sample_rows(table, sel, ledger, name)
        return table.filter(pa.array(code < 0))
