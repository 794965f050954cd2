"""Exact document dedup across a whole source: 128-bit hash of the text, shuffled by hash prefix."""

from __future__ import annotations

import unicodedata

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from kllama.core.ledger import Ledger
from kllama.core.registry import register
from kllama.core.steps import GlobalStep


def _normalize(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).split())


def drop_rows(table: pa.Table, rows: pa.Array | pa.ChunkedArray, ledger: Ledger, reason: str) -> pa.Table:
    """``table`` without the row numbers ``rows``, counted in ``ledger`` as drops for ``reason``."""
    if len(rows) == 0:
        return table
    drop = np.zeros(table.num_rows, dtype=bool)
    drop[np.asarray(rows)] = True
    lengths = pc.binary_length(table.column("text")).to_numpy(zero_copy_only=False)
    ledger.drop(reason, int(drop.sum()), int(lengths[drop].sum()))
    if ledger.sample_limit:
        sample_rows(table, np.flatnonzero(drop), ledger, reason)
    return table.filter(pa.array(~drop))


def sample_rows(table: pa.Table, rows: np.ndarray, ledger: Ledger, reason: str) -> None:
    """Offer the dropped ``rows`` of ``table`` as samples of ``reason`` (only the smallest ids are read)."""
    ids = table.column("id").take(pa.array(rows, pa.int64())).to_pylist()
    order = sorted(range(len(ids)), key=ids.__getitem__)[: ledger.sample_limit]
    picked = pa.array([int(rows[i]) for i in order], pa.int64())
    texts = table.column("text").take(picked).to_pylist()
    sources = table.column("source").take(picked).to_pylist()
    for i, text, source in zip(order, texts, sources, strict=True):
        ledger.keep_sample(reason, ids[i], source, text)


@register
class ExactDedup(GlobalStep):
    """Drop every document whose text equals (by XXH3-128 of its UTF-8, see ``kllama.native``) that of a
    document ranked before it: by ``rank_columns`` (none here), then the smallest id. With ``normalize=True``
    texts are compared after NFC and whitespace collapsing. Drop reason: ``exact_duplicate``.

    Subclasses change what is hashed (``text_hashes``) and the keep order (``rank_columns``).
    """

    name = "exact_dedup"
    drop_reasons = ("exact_duplicate",)
    reason = "exact_duplicate"

    def __init__(self, normalize: bool = False, num_buckets: int = 16) -> None:
        self.normalize = normalize
        self.num_buckets = int(num_buckets)

    def text_hashes(self, table: pa.Table) -> np.ndarray:
        """``uint64[n, 2]`` key of each row's text."""
        from kllama import native

        texts = table.column("text")
        if self.normalize:
            texts = pa.array([_normalize(t) for t in texts.to_pylist()], pa.large_string())
        return native.hash128(texts) if len(texts) else np.zeros((0, 2), dtype=np.uint64)

    def rank_columns(self, table: pa.Table) -> dict[str, pa.Array]:
        """Sort keys (ascending) that decide which copy is kept, before the id."""
        return {}

    def emit_keys(self, table: pa.Table) -> pa.Table:
        h = self.text_hashes(table)
        return pa.table({
            "key": pa.array(h[:, 0], pa.uint64()),
            "key2": pa.array(h[:, 1], pa.uint64()),
            "row": pa.array(np.arange(table.num_rows, dtype=np.int64)),
            **self.rank_columns(table),
            "id": table.column("id"),
        })

    def resolve(self, keys: pa.Table) -> pa.Table:
        empty = pa.table({"part": pa.array([], pa.int32()), "row": pa.array([], pa.int64()),
                          "dup_of": pa.array([], pa.string())})
        if keys.num_rows == 0:
            return empty
        rank = [c for c in keys.column_names if c not in ("key", "key2", "row", "id", "part")]
        keys = keys.sort_by([(c, "ascending") for c in ("key", "key2", *rank, "id")])
        k1 = keys.column("key").to_numpy()
        k2 = keys.column("key2").to_numpy()
        same = np.zeros(len(k1), dtype=bool)
        same[1:] = (k1[1:] == k1[:-1]) & (k2[1:] == k2[:-1])
        if not same.any():
            return empty
        first = np.maximum.accumulate(np.where(~same, np.arange(len(k1)), 0))
        ids = keys.column("id").to_numpy(zero_copy_only=False)
        idx = np.nonzero(same)[0]
        return pa.table({
            "part": keys.column("part").take(pa.array(idx)),
            "row": keys.column("row").take(pa.array(idx)),
            "dup_of": pa.array(ids[first[idx]].tolist(), pa.string()),
        })

    def apply(self, table: pa.Table, decisions: pa.Table, ledger: Ledger) -> pa.Table:
        return drop_rows(table, decisions.column("row"), ledger, self.reason)
