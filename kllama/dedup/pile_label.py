"""Label documents that the Pile v1 already holds: the shard groups behind G3 (README: Variants and the Pile).

A GlobalStep run after every source's own pipeline (``[run] post`` in the recipes). Nothing is dropped; each
document's ``group`` changes ``core -> pile-overlap`` and ``extra -> extra-pile-overlap`` when it matches the
Pile reference index (``kllama.dedup.pile_index``) -- unless the source's Pile policy is ``keep``
(``pile = "keep"`` in its recipe block, handed to this step as ``policy``): then the overlap is measured and
recorded the same way but the document stays in its group, so G3 keeps it.

* **exact**: the 128-bit hash of its normalized text equals that of a Pile document;
* **near** (containment): otherwise, a Pile document holds at least ``threshold`` (0.8) of its word 5-gram
  shingles, estimated from the index's containment sketches (``kllama.dedup.containment``): candidates are the
  Pile documents sharing at least ``min_shared`` sketch keys with it (at most ``max_candidates``, by estimated
  shared shingles), and each is verified on the document's own shingles -- the sample's denominator is counted from
  its text -- with a hypergeometric test at ``confidence``. A revised copy (a Wikipedia article edited since,
  94% contained at Jaccard 0.52) is found; documents with fewer than ``min_words`` words are matched exactly only.

Keys are rotated so that the index's key prefix lands in the engine's bucket: a bucket reads only the index
prefixes it needs, one file at a time. Ledger stats: ``pile_checked:{source}``,
``pile_overlap:{source}:{exact|near}``, ``pile_overlap_set:{pile_set_name}``, ``pile_kept:{source}`` (overlap left
in place by the keep policy) and ``pile_near_rejected:{source}`` (candidates that failed verification).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from kllama.core.ledger import Ledger
from kllama.core.registry import register
from kllama.core.steps import GlobalStep
from kllama.dedup.containment import shingles, verify
from kllama.dedup.pile_index import (
    IndexSettings,
    PileIndex,
    doc_sketches,
    exact_hashes,
    finish_index,
    index_location,
    index_tasks,
    normalize_text,
    prepare_index,
)

OVERLAP_GROUP = {"core": "pile-overlap", "extra": "extra-pile-overlap"}
POLICIES = ("label", "keep")
_KIND_EXACT, _KIND_NEAR, _KIND_STOP = 0, 1, 2
_HITS_SCHEMA = pa.schema([("part", pa.int32()), ("row", pa.int64()), ("kind", pa.int8()), ("doc", pa.uint64()),
                          ("set", pa.string()), ("level", pa.int8()), ("mine", pa.int8())])
_DECISION_SCHEMA = pa.schema([("part", pa.int32()), ("row", pa.int64()), ("kind", pa.int8()),
                              ("doc", pa.uint64()), ("set", pa.string()), ("level", pa.int8()), ("n", pa.int64())])


def _rotl(x: np.ndarray, r: int) -> np.ndarray:
    x = np.asarray(x, dtype=np.uint64)
    return (x << np.uint64(r)) | (x >> np.uint64(64 - r))


def _rotr(x: np.ndarray, r: int) -> np.ndarray:
    x = np.asarray(x, dtype=np.uint64)
    return (x >> np.uint64(r)) | (x << np.uint64(64 - r))


def _aggregate(table: pa.Table, keys: list[str], column: str, fn: str, name: str) -> pa.Table:
    """``keys`` + one aggregate column called ``name``, whatever column order this pyarrow version returns."""
    agg = table.group_by(keys).aggregate([(column, fn)])
    return agg.select([*keys, f"{column}_{fn}"]).rename_columns([*keys, name])


def _first_per_group(table: pa.Table, key: str, limit: int) -> pa.Table:
    """The first ``limit`` rows of each run of equal ``key`` values (``table`` sorted by ``key``)."""
    if table.num_rows == 0:
        return table
    k = table.column(key).to_numpy()
    first = np.r_[0, np.flatnonzero(k[1:] != k[:-1]) + 1]
    pos = np.arange(len(k)) - np.repeat(first, np.diff(np.r_[first, len(k)]))
    return table.filter(pa.array(pos < limit))


@register
class PileLabel(GlobalStep):
    """Sets the Pile-overlap shard groups (exact text hash, then containment >= ``threshold``); see the module
    docstring.

    ``index_path``: a built index (``kllama pile-index``). Or ``pile_dir``: Pile-format shards whose index
    ``kllama run`` builds first, as its own engine stage ``pile-index.<id>`` (``setup_tasks``), into a folder of
    ``cache_dir`` (default ``$KLLAMA_CACHE`` or ``~/.cache/kllama/pile-index``) named by a fingerprint of the
    shards, shared by later runs -- the demo's way. The step itself only loads the index (on first use).
    ``near = false`` keeps exact matching only. ``policy``: ``label`` (move overlap out of G3) or ``keep``
    (measure only); recipes set it per source (``pile = ...``). A sketch key held by more than
    ``max_hits_per_key`` Pile documents is boilerplate and counts on neither side of the estimate.
    """

    name = "pile_label"
    drop_reasons = ()
    columns = {"pile_match": pa.string(), "pile_set_name": pa.string(), "pile_containment": pa.float32()}

    def __init__(self, index_path: str | None = None, pile_dir: str | None = None, cache_dir: str | None = None,
                 near: bool = True, threshold: float = 0.8, confidence: float = 0.95, min_shared: int = 3,
                 max_candidates: int = 4, min_words: int = 20, max_hits_per_key: int = 64, policy: str = "label",
                 num_buckets: int = 16) -> None:
        if not index_path and not pile_dir:
            raise ValueError("pile_label needs index_path (a built index) or pile_dir (Pile shards to index)")
        if policy not in POLICIES:
            raise ValueError(f"pile_label policy must be one of {', '.join(POLICIES)}, not {policy!r}")
        if not 0.0 < float(threshold) <= 1.0 or not 0.0 < float(confidence) < 1.0:
            raise ValueError("pile_label threshold must be in (0, 1] and confidence in (0, 1)")
        self.pile_dir = None if index_path else str(pile_dir)
        self.index_path = str(index_path) if index_path else str(index_location(str(pile_dir), cache_dir))
        self._index: PileIndex | None = PileIndex(self.index_path) if index_path else None
        self.near = bool(near)
        self.threshold = float(threshold)
        self.confidence = float(confidence)
        self.min_shared = max(1, int(min_shared))
        self.max_candidates = max(1, int(max_candidates))
        self.min_words = int(min_words)
        self.max_hits_per_key = int(max_hits_per_key)
        self.policy = policy
        self.num_buckets = int(num_buckets)

    @property
    def index(self) -> PileIndex:
        """The index, loaded on first use (a ``pile_dir`` index is built by the run's ``pile-index`` stage)."""
        if self._index is None:
            try:
                self._index = PileIndex(self.index_path)
            except FileNotFoundError as exc:
                raise FileNotFoundError(
                    f"the Pile index of {self.pile_dir} is not built ({self.index_path}): `kllama run` builds it "
                    "as its pile-index stage before any source; or build one with `kllama pile-index PILE_DIR "
                    "--output INDEX` and give index_path") from exc
        return self._index

    @property
    def settings(self) -> IndexSettings:
        return self.index.settings

    # -- the setup stage: the engine builds a pile_dir index before the run (kllama.engine.tasks) -----------
    @property
    def setup_stage_name(self) -> str:
        return f"pile-index.{Path(self.index_path).name[:8]}"

    def setup_tasks(self) -> list[dict[str, Any]]:
        """Tasks that build the index of ``pile_dir`` (none for a given ``index_path``)."""
        if self.pile_dir is None:
            return []
        self._shards = prepare_index([self.pile_dir], self.index_path)
        return index_tasks(self._shards, self.index_path)

    def finish_setup(self, results: list[dict[str, Any]]) -> dict[str, Any]:
        """Write the index's ``index.json`` from the tasks' results; returns it."""
        meta = finish_index(self.index_path, self._shards, None, results)
        self._index = None
        return meta

    def emit_keys(self, table: pa.Table) -> pa.Table:
        bits = self.settings.prefix_bits
        texts = [normalize_text(t) for t in table.column("text").to_pylist()]
        n = len(texts)
        h = exact_hashes(texts)
        keys = [_rotl(h[:, 0], bits)]
        key2 = [h[:, 1]]
        kinds = [np.full(n, _KIND_EXACT, np.int8)]
        rows = [np.arange(n, dtype=np.int64)]
        mine = [np.zeros(n, np.int8)]
        if self.near:
            sk, owner, levels, _ = doc_sketches(texts, self.settings, self.min_words)
            keys.append(_rotl(sk, bits))
            key2.append(np.zeros(sk.size, np.uint64))
            kinds.append(np.full(sk.size, _KIND_NEAR, np.int8))
            rows.append(owner)
            mine.append(levels[owner].astype(np.int8))
        return pa.table({"key": pa.array(np.concatenate(keys), pa.uint64()),
                         "key2": pa.array(np.concatenate(key2), pa.uint64()),
                         "kind": pa.array(np.concatenate(kinds), pa.int8()),
                         "row": pa.array(np.concatenate(rows), pa.int64()),
                         "mine": pa.array(np.concatenate(mine), pa.int8())})

    def resolve(self, keys: pa.Table) -> pa.Table:
        if keys.num_rows == 0:
            return _HITS_SCHEMA.empty_table()
        bits = self.settings.prefix_bits
        bucket = int(keys.column("key")[0].as_py() % self.num_buckets)
        prefixes = self.index.prefixes_for_bucket(bucket, self.num_buckets)
        kind = keys.column("kind").to_numpy()
        key = _rotr(keys.column("key").to_numpy(), bits)
        part = keys.column("part").to_numpy()
        row = keys.column("row").to_numpy()
        out: list[pa.Table] = []
        ex = kind == _KIND_EXACT
        if ex.any():
            q = pa.table({"h1": pa.array(key[ex], pa.uint64()), "h2": keys.column("key2").filter(pa.array(ex)),
                          "part": pa.array(part[ex], pa.int32()), "row": pa.array(row[ex], pa.int64())})
            # the query sorted by h1 once: each index file's hits join only the query rows with their keys
            q_order = np.argsort(key[ex], kind="stable")
            q_h1 = key[ex][q_order]
            for hit in self.index.iter_matches("exact", "h1", key[ex], prefixes):
                hit = _aggregate(hit, ["h1", "h2"], "set", "min", "set")
                hk = np.unique(hit.column("h1").to_numpy())
                lo = np.searchsorted(q_h1, hk, "left")
                n = np.searchsorted(q_h1, hk, "right") - lo
                within = np.arange(int(n.sum())) - np.repeat(np.cumsum(n) - n, n)
                sel = np.sort(q_order[np.repeat(lo, n) + within])
                j = q.take(pa.array(sel, pa.int64())).join(hit, keys=["h1", "h2"], join_type="inner")
                if j.num_rows:
                    out.append(pa.table({"part": j.column("part"), "row": j.column("row"),
                                         "kind": pa.array(np.full(j.num_rows, _KIND_EXACT, np.int8)),
                                         "doc": pa.array(np.zeros(j.num_rows, np.uint64)), "set": j.column("set"),
                                         "level": pa.array(np.zeros(j.num_rows, np.int8)),
                                         "mine": pa.array(np.zeros(j.num_rows, np.int8))}, schema=_HITS_SCHEMA))
        nr = kind == _KIND_NEAR
        if nr.any():
            out.extend(self._resolve_near(key[nr], part[nr], row[nr],
                                          keys.column("mine").to_numpy()[nr], prefixes))
        if not out:
            return _HITS_SCHEMA.empty_table()
        return pa.concat_tables(out).sort_by([("part", "ascending"), ("row", "ascending"), ("kind", "ascending"),
                                              ("doc", "ascending"), ("set", "ascending")])

    def _resolve_near(self, key: np.ndarray, part: np.ndarray, row: np.ndarray, mine: np.ndarray,
                      prefixes: list[int]) -> list[pa.Table]:
        """Sketch hits: (query document, Pile document) pairs sharing a key; keys with more than
        ``max_hits_per_key`` Pile documents are stop keys (one row per query document holding one)."""
        cap = self.max_hits_per_key
        held: pa.Table | None = None  # at most cap + 1 postings per key (the smallest docs): bounded memory

        def compact(tables: list[pa.Table]) -> pa.Table:
            t = pa.concat_tables(tables) if len(tables) > 1 else tables[0]
            return _first_per_group(t.sort_by([("key", "ascending"), ("doc", "ascending")]), "key", cap + 1)

        # files' hits gather until they outnumber what is held (or 1M rows), then one sort keeps cap + 1 per
        # key: the same postings as sorting after every file, at O(n log n) instead of (held rows) x (files)
        pending: list[pa.Table] = []
        pending_rows = 0
        for hit in self.index.iter_matches("sketch", "key", key, prefixes):
            pending.append(hit.select(["key", "doc", "level", "set"]))
            pending_rows += hit.num_rows
            if pending_rows > max(1 << 20, 2 * (held.num_rows if held is not None else 0)):
                held = compact(([held] if held is not None else []) + pending)
                pending, pending_rows = [], 0
        if pending:
            held = compact(([held] if held is not None else []) + pending)
        if held is None:
            return []
        counts = _aggregate(held, ["key"], "doc", "count", "n")
        stop = counts.filter(pc.greater(counts.column("n"), cap)).column("key")
        q = pa.table({"key": pa.array(key, pa.uint64()), "part": pa.array(part, pa.int32()),
                      "row": pa.array(row, pa.int64()), "mine": pa.array(mine, pa.int8())})
        out = []
        if len(stop):
            sq = q.filter(pc.is_in(q.column("key"), value_set=stop))
            out.append(pa.table({"part": sq.column("part"), "row": sq.column("row"),
                                 "kind": pa.array(np.full(sq.num_rows, _KIND_STOP, np.int8)),
                                 "doc": sq.column("key"), "set": pa.nulls(sq.num_rows, pa.string()),
                                 "level": pa.array(np.zeros(sq.num_rows, np.int8)), "mine": sq.column("mine")},
                                schema=_HITS_SCHEMA))
            held = held.filter(pc.invert(pc.is_in(held.column("key"), value_set=stop)))
        j = q.join(held, keys="key", join_type="inner")
        if j.num_rows:
            out.append(pa.table({"part": j.column("part"), "row": j.column("row"),
                                 "kind": pa.array(np.full(j.num_rows, _KIND_NEAR, np.int8)), "doc": j.column("doc"),
                                 "set": j.column("set"), "level": pc.cast(j.column("level"), pa.int8()),
                                 "mine": j.column("mine")}, schema=_HITS_SCHEMA))
        return out

    def candidates(self, decisions: pa.Table) -> pa.Table:
        """Per document: its exact hit (the smallest set name), else its ``max_candidates`` best near candidates
        (at least ``min_shared`` shared keys, ranked by shared keys x 2**level = estimated shared shingles, then
        the smallest doc) and its stop keys; ``apply`` verifies the candidates.

        Everything here is per document, so ``apply`` runs it on its own partition's hits: the step has no
        ``combine`` task holding every hit of the run (at 16x in bench_scale that one task held 23 million rows
        and peaked at 5.5 GB)."""
        if decisions.num_rows == 0 or "kind" not in decisions.column_names:
            return _DECISION_SCHEMA.empty_table()
        kind = decisions.column("kind")
        ex = decisions.filter(pc.equal(kind, _KIND_EXACT))
        exact = _aggregate(ex, ["part", "row"], "set", "min", "set")
        exact_rows = pa.table({"part": exact.column("part"), "row": exact.column("row"),
                               "kind": pa.array(np.full(exact.num_rows, _KIND_EXACT, np.int8)),
                               "doc": pa.array(np.zeros(exact.num_rows, np.uint64)), "set": exact.column("set"),
                               "level": pa.array(np.zeros(exact.num_rows, np.int8)),
                               "n": pa.array(np.zeros(exact.num_rows, np.int64))}, schema=_DECISION_SCHEMA)
        parts = [exact_rows]
        done = set(zip(exact.column("part").to_pylist(), exact.column("row").to_pylist(), strict=True))
        near = decisions.filter(pc.equal(kind, _KIND_NEAR))
        if near.num_rows:
            counts = near.group_by(["part", "row", "doc", "set", "level", "mine"]).aggregate([("kind", "count")])
            counts = counts.rename_columns([("n" if c == "kind_count" else c) for c in counts.column_names])
            counts = counts.filter(pc.greater_equal(counts.column("n"), self.min_shared))
            lvl = np.maximum(counts.column("level").to_numpy(), counts.column("mine").to_numpy()).astype(np.float64)
            score = counts.column("n").to_numpy().astype(np.float64) * np.exp2(lvl)
            counts = counts.append_column("score", pa.array(score))
            counts = counts.sort_by([("part", "ascending"), ("row", "ascending"), ("score", "descending"),
                                     ("doc", "ascending")])
            pr = (counts.column("part").to_numpy().astype(np.int64) << 40) + counts.column("row").to_numpy()
            counts = counts.append_column("pr", pa.array(pr))
            counts = _first_per_group(counts, "pr", self.max_candidates)
            parts.append(pa.table({"part": counts.column("part"), "row": counts.column("row"),
                                   "kind": pa.array(np.full(counts.num_rows, _KIND_NEAR, np.int8)),
                                   "doc": counts.column("doc"), "set": counts.column("set"),
                                   "level": counts.column("level"), "n": counts.column("n")}, schema=_DECISION_SCHEMA))
        stop = decisions.filter(pc.equal(kind, _KIND_STOP))
        if stop.num_rows:
            parts.append(pa.table({"part": stop.column("part"), "row": stop.column("row"), "kind": stop.column("kind"),
                                   "doc": stop.column("doc"), "set": stop.column("set"),
                                   "level": stop.column("level"),
                                   "n": pa.array(np.zeros(stop.num_rows, np.int64))}, schema=_DECISION_SCHEMA))
        out = pa.concat_tables(parts)
        if done and out.num_rows > exact_rows.num_rows:  # documents with an exact hit need nothing else
            pr = list(zip(out.column("part").to_pylist(), out.column("row").to_pylist(), strict=True))
            keep = [k == _KIND_EXACT or p not in done for k, p in zip(out.column("kind").to_pylist(), pr, strict=True)]
            out = out.filter(pa.array(keep))
        return out.sort_by([("part", "ascending"), ("row", "ascending"), ("kind", "ascending"),
                            ("doc", "ascending")])

    def apply(self, table: pa.Table, decisions: pa.Table, ledger: Ledger) -> pa.Table:
        if "mine" in decisions.column_names:  # resolve's hits of this partition: to candidates first
            decisions = self.candidates(decisions)
        n = table.num_rows
        match: list[str | None] = [None] * n
        pset: list[str | None] = [None] * n
        score: list[float | None] = [None] * n
        cands: dict[int, list[tuple[int, int, str]]] = {}
        stops: dict[int, list[int]] = {}
        if decisions.num_rows:
            for r, k, d, s, lv, cnt in zip(*(decisions.column(c).to_pylist()
                                             for c in ("row", "kind", "doc", "set", "level", "n")), strict=True):
                if k == _KIND_EXACT:
                    match[r], pset[r], score[r] = "exact", s, 1.0
                elif k == _KIND_NEAR:
                    cands.setdefault(r, []).append((cnt, lv, s))
                else:
                    stops.setdefault(r, []).append(d)
        sources = table.column("source").to_pylist()
        if cands:
            texts = table.column("text")
            sk = self.settings.sketch
            for r, cs in sorted(cands.items()):
                if match[r] is not None:
                    continue
                h = shingles(normalize_text(texts[r].as_py()), sk)
                v = verify(h, sk.level(int(h.size)), [(c[0], c[1]) for c in cs],
                           np.array(stops.get(r, []), dtype=np.uint64), self.threshold, self.confidence,
                           self.min_shared)
                score[r] = round(v.estimate, 4)
                if v.index >= 0:
                    match[r], pset[r] = "near", cs[v.index][2]
                else:
                    ledger.count(f"pile_near_rejected:{sources[r]}")
        groups = table.column("group").to_pylist()
        for i in range(n):
            ledger.count(f"pile_checked:{sources[i]}")
            if match[i] is not None:
                ledger.count(f"pile_overlap:{sources[i]}:{match[i]}")
                ledger.count(f"pile_overlap_set:{pset[i]}")
                if self.policy == "label":
                    groups[i] = OVERLAP_GROUP.get(groups[i] or "core", groups[i])
                else:
                    ledger.count(f"pile_kept:{sources[i]}")
        out = table.set_column(table.schema.get_field_index("group"), "group", pa.array(groups, pa.string()))
        for name, values in (("pile_match", match), ("pile_set_name", pset), ("pile_containment", score)):
            arr = pa.array(values, self.columns[name])
            if name in out.column_names:
                out = out.set_column(out.schema.get_field_index(name), name, arr)
            else:
                out = out.append_column(name, arr)
        return out
