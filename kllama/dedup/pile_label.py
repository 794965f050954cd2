"""Label documents that the Pile v1 already holds: the shard groups behind G3 (DESIGN.md, Variants).

A GlobalStep run after every source's own pipeline (``[run] post`` in the recipes). Nothing is dropped; each
document's ``group`` changes ``core -> pile-overlap`` and ``extra -> extra-pile-overlap`` when it matches the
Pile reference index (``kllama.dedup.pile_index``):

* **exact**: the 128-bit hash of its normalized text equals that of a Pile document;
* **near**: otherwise, at least ``min_bands`` of its MinHash band keys equal those of one Pile document
  (with the index's 20 bands x 6 rows: a pair at Jaccard 0.8 is labelled with probability ~0.98, at 0.5 ~0.04;
  see docs/dedup.md). Documents with fewer than ``min_words`` words are matched exactly only.

Keys are rotated so that the index's key prefix lands in the engine's bucket: a bucket reads only the index
prefixes it needs, one file at a time. Ledger stats: ``pile_checked:{source}``,
``pile_overlap:{source}:{exact|near}`` and ``pile_overlap_set:{pile_set_name}``.
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
from kllama.dedup.pile_index import (
    IndexSettings,
    PileIndex,
    doc_band_keys,
    exact_hashes,
    finish_index,
    index_location,
    index_tasks,
    normalize_text,
    prepare_index,
)

OVERLAP_GROUP = {"core": "pile-overlap", "extra": "extra-pile-overlap"}
_KIND_EXACT, _KIND_BAND = 0, 1
_HITS_SCHEMA = pa.schema([("part", pa.int32()), ("row", pa.int64()), ("kind", pa.int8()), ("doc", pa.uint64()),
                          ("set", pa.string())])
_LABEL_SCHEMA = pa.schema([("part", pa.int32()), ("row", pa.int64()), ("match", pa.string()),
                           ("set", pa.string())])


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


@register
class PileLabel(GlobalStep):
    """Sets the Pile-overlap shard groups; see the module docstring.

    ``index_path``: a built index (``kllama pile-index``). Or ``pile_dir``: Pile-format shards whose index
    ``kllama run`` builds first, as its own engine stage ``pile-index.<id>`` (``setup_tasks``), into a folder of
    ``cache_dir`` (default ``$KLLAMA_CACHE`` or ``~/.cache/kllama/pile-index``) named by a fingerprint of the
    shards, shared by later runs -- the demo's way. The step itself only loads the index (on first use).
    ``near = false`` keeps exact matching only.
    """

    name = "pile_label"
    drop_reasons = ()
    columns = {"pile_match": pa.string(), "pile_set_name": pa.string()}

    def __init__(self, index_path: str | None = None, pile_dir: str | None = None, cache_dir: str | None = None,
                 near: bool = True, min_bands: int = 2, min_words: int = 20, max_hits_per_key: int = 16,
                 num_buckets: int = 16) -> None:
        if not index_path and not pile_dir:
            raise ValueError("pile_label needs index_path (a built index) or pile_dir (Pile shards to index)")
        self.pile_dir = None if index_path else str(pile_dir)
        self.index_path = str(index_path) if index_path else str(index_location(str(pile_dir), cache_dir))
        self._index: PileIndex | None = PileIndex(self.index_path) if index_path else None
        self.near = bool(near)
        self.min_bands = int(min_bands)
        self.min_words = int(min_words)
        self.max_hits_per_key = int(max_hits_per_key)
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
        if self.near:
            long_enough = np.array([t.count(" ") + 1 >= self.min_words for t in texts], dtype=bool)
            idx = np.flatnonzero(long_enough)
            if len(idx):
                bk = doc_band_keys([texts[i] for i in idx], self.settings)
                keys.append(_rotl(bk.reshape(-1), bits))
                key2.append(np.zeros(bk.size, np.uint64))
                kinds.append(np.full(bk.size, _KIND_BAND, np.int8))
                rows.append(np.repeat(idx.astype(np.int64), self.settings.bands))
        return pa.table({"key": pa.array(np.concatenate(keys), pa.uint64()),
                         "key2": pa.array(np.concatenate(key2), pa.uint64()),
                         "kind": pa.array(np.concatenate(kinds), pa.int8()),
                         "row": pa.array(np.concatenate(rows), pa.int64())})

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
            for hit in self.index.iter_matches("exact", "h1", key[ex], prefixes):
                hit = _aggregate(hit, ["h1", "h2"], "set", "min", "set")
                j = q.join(hit, keys=["h1", "h2"], join_type="inner")
                if j.num_rows:
                    out.append(pa.table({"part": j.column("part"), "row": j.column("row"),
                                         "kind": pa.array(np.full(j.num_rows, _KIND_EXACT, np.int8)),
                                         "doc": pa.array(np.zeros(j.num_rows, np.uint64)), "set": j.column("set")},
                                        schema=_HITS_SCHEMA))
        bd = kind == _KIND_BAND
        if bd.any():
            q = pa.table({"key": pa.array(key[bd], pa.uint64()), "part": pa.array(part[bd], pa.int32()),
                          "row": pa.array(row[bd], pa.int64())})
            for hit in self.index.iter_matches("bands", "key", key[bd], prefixes):
                # a very common band key (boilerplate) keeps only its smallest docs: bounded work, deterministic
                hit = hit.sort_by([("key", "ascending"), ("doc", "ascending")])
                k = hit.column("key").to_numpy()
                first = np.r_[0, np.flatnonzero(k[1:] != k[:-1]) + 1]
                pos = np.arange(len(k)) - np.repeat(first, np.diff(np.r_[first, len(k)]))
                hit = hit.filter(pa.array(pos < self.max_hits_per_key))
                j = q.join(hit, keys="key", join_type="inner")
                if j.num_rows:
                    out.append(pa.table({"part": j.column("part"), "row": j.column("row"),
                                         "kind": pa.array(np.full(j.num_rows, _KIND_BAND, np.int8)),
                                         "doc": j.column("doc"), "set": j.column("set")}, schema=_HITS_SCHEMA))
        if not out:
            return _HITS_SCHEMA.empty_table()
        return pa.concat_tables(out).sort_by([("part", "ascending"), ("row", "ascending"), ("kind", "ascending"),
                                              ("doc", "ascending"), ("set", "ascending")])

    def combine(self, decisions: pa.Table) -> pa.Table:
        """Per document: an exact hit wins; else the Pile document sharing the most bands (>= ``min_bands``)."""
        if decisions.num_rows == 0 or "kind" not in decisions.column_names:
            return _LABEL_SCHEMA.empty_table()
        ex = decisions.filter(pc.equal(decisions.column("kind"), _KIND_EXACT))
        exact = _aggregate(ex, ["part", "row"], "set", "min", "set")
        bd = decisions.filter(pc.equal(decisions.column("kind"), _KIND_BAND))
        counts = _aggregate(bd, ["part", "row", "doc", "set"], "kind", "count", "n")
        counts = counts.filter(pc.greater_equal(counts.column("n"), self.min_bands))
        counts = counts.sort_by([("part", "ascending"), ("row", "ascending"), ("n", "descending"),
                                 ("doc", "ascending")])
        labels: dict[tuple[int, int], tuple[str, str]] = {}
        for p, r, s in zip(counts.column("part").to_pylist(), counts.column("row").to_pylist(),
                           counts.column("set").to_pylist(), strict=True):
            labels.setdefault((p, r), ("near", s))
        for p, r, s in zip(exact.column("part").to_pylist(), exact.column("row").to_pylist(),
                           exact.column("set").to_pylist(), strict=True):
            labels[(p, r)] = ("exact", s)
        items = sorted(labels.items())
        return pa.table({"part": pa.array([k[0] for k, _ in items], pa.int32()),
                         "row": pa.array([k[1] for k, _ in items], pa.int64()),
                         "match": pa.array([v[0] for _, v in items], pa.string()),
                         "set": pa.array([v[1] for _, v in items], pa.string())}, schema=_LABEL_SCHEMA)

    def apply(self, table: pa.Table, decisions: pa.Table, ledger: Ledger) -> pa.Table:
        n = table.num_rows
        match = [None] * n
        pset = [None] * n
        if decisions.num_rows:
            for r, m, s in zip(decisions.column("row").to_pylist(), decisions.column("match").to_pylist(),
                               decisions.column("set").to_pylist(), strict=True):
                match[r], pset[r] = m, s
        groups = table.column("group").to_pylist()
        sources = table.column("source").to_pylist()
        for i in range(n):
            ledger.count(f"pile_checked:{sources[i]}")
            if match[i] is not None:
                groups[i] = OVERLAP_GROUP.get(groups[i] or "core", groups[i])
                ledger.count(f"pile_overlap:{sources[i]}:{match[i]}")
                ledger.count(f"pile_overlap_set:{pset[i]}")
        out = table.set_column(table.schema.get_field_index("group"), "group", pa.array(groups, pa.string()))
        for name, values in (("pile_match", match), ("pile_set_name", pset)):
            arr = pa.array(values, pa.string())
            if name in out.column_names:
                out = out.set_column(out.schema.get_field_index(name), name, arr)
            else:
                out = out.append_column(name, arr)
        return out
