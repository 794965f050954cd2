"""Document-level dedup across CommonCrawl snapshots by the hash of the normalized text (not the URL).

The key is a 128-bit sha1 prefix of the document's text with every line normalized as cc_net's
``normalize_for_dedup`` (lowercase, digits -> 0, unicode punctuation and non-printing characters removed)
and empty lines dropped, so the same page text crawled in several snapshots -- under other URLs too --
collapses to one. Keep rule (deterministic, independent of partitioning): the earliest ``date_download``,
then the smallest document id. Others are dropped as ``doc_dedup``.
"""

from __future__ import annotations

import hashlib
import json
import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from kllama.dedup.ccnet_lines import _normalized_lines
from kllama.engine.ledger import Ledger
from kllama.steps import GlobalStep, register

_DIGITS = re.compile(r"\D")


def normalized_text_hash(text: str) -> tuple[int, int]:
    """Two uint64 halves of sha1 over the normalized, non-empty lines of ``text``."""
    norm = "\n".join(ln for ln in _normalized_lines(text) if ln)
    d = hashlib.sha1(norm.encode("utf-8", "surrogatepass")).digest()
    return int.from_bytes(d[:8], "little"), int.from_bytes(d[8:16], "little")


def _timestamp(meta_json: str | None) -> int:
    """``date_download`` as the integer YYYYMMDDhhmmss (0 when unknown)."""
    if not meta_json:
        return 0
    try:
        date = json.loads(meta_json).get("date_download") or ""
    except (ValueError, AttributeError):
        return 0
    digits = _DIGITS.sub("", str(date))[:14]
    return int(digits.ljust(14, "0")) if digits else 0


@register
class CCNetDocDedup(GlobalStep):
    """Cross-snapshot document dedup (see the module docstring). Drop reason: ``doc_dedup``."""

    name = "ccnet_doc_dedup"

    def __init__(self, num_buckets: int = 16) -> None:
        self.num_buckets = int(num_buckets)

    def emit_keys(self, table: pa.Table) -> pa.Table:
        texts = table.column("text").to_pylist()
        metas = table.column("meta").to_pylist() if "meta" in table.column_names else [None] * len(texts)
        ids = table.column("id").to_pylist()
        h = [normalized_text_hash(t) for t in texts]
        return pa.table({
            "key": pa.array([a for a, _ in h], pa.uint64()),
            "key2": pa.array([b for _, b in h], pa.uint64()),
            "ts": pa.array([_timestamp(m) for m in metas], pa.int64()),
            "id": pa.array(ids, pa.string()),
            "row": pa.array(np.arange(len(texts), dtype=np.int64)),
        })

    def resolve(self, keys: pa.Table) -> pa.Table:
        empty = pa.table({"part": pa.array([], pa.int32()), "row": pa.array([], pa.int64())})
        if keys.num_rows == 0:
            return empty
        keys = keys.sort_by([("key", "ascending"), ("key2", "ascending"), ("ts", "ascending"),
                             ("id", "ascending")])
        k1 = keys.column("key").to_numpy()
        k2 = keys.column("key2").to_numpy()
        later = np.zeros(len(k1), dtype=bool)
        later[1:] = (k1[1:] == k1[:-1]) & (k2[1:] == k2[:-1])
        idx = pa.array(np.flatnonzero(later))
        return pa.table({"part": keys.column("part").take(idx), "row": keys.column("row").take(idx)})

    def apply(self, table: pa.Table, decisions: pa.Table, ledger: Ledger) -> pa.Table:
        if decisions.num_rows == 0:
            return table
        drop = np.zeros(table.num_rows, dtype=bool)
        drop[decisions.column("row").to_numpy()] = True
        lengths = pc.binary_length(table.column("text")).to_numpy(zero_copy_only=False)
        ledger.drop("doc_dedup", int(drop.sum()), int(lengths[drop].sum()))
        return table.filter(pa.array(~drop))
