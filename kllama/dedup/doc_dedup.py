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

from kllama.core.registry import register
from kllama.dedup.exact import ExactDedup
from kllama.text.ccnet_normalize import normalized_lines

_DIGITS = re.compile(r"\D")


def normalized_text_hash(text: str) -> tuple[int, int]:
    """Two uint64 halves of sha1 over the normalized, non-empty lines of ``text``."""
    norm = "\n".join(ln for ln in normalized_lines(text) if ln)
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
class CCNetDocDedup(ExactDedup):
    """Cross-snapshot document dedup (see the module docstring). Drop reason: ``doc_dedup``."""

    name = "ccnet_doc_dedup"
    drop_reasons = ("doc_dedup",)
    reason = "doc_dedup"

    def __init__(self, num_buckets: int = 16) -> None:
        super().__init__(num_buckets=num_buckets)

    def text_hashes(self, table: pa.Table) -> np.ndarray:
        h = [normalized_text_hash(t) for t in table.column("text").to_pylist()]
        return np.array(h, dtype=np.uint64).reshape(len(h), 2)

    def rank_columns(self, table: pa.Table) -> dict[str, pa.Array]:
        metas = table.column("meta").to_pylist() if "meta" in table.column_names else [None] * table.num_rows
        return {"ts": pa.array([_timestamp(m) for m in metas], pa.int64())}
