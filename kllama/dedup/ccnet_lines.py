"""cc_net line-level deduplication over a whole CommonCrawl snapshot (or cc_net's groups of N files).

cc_net (facebookresearch/cc_net, ``dedup.py``) hashes every line of ``raw_content`` as
``sha1(normalize_for_dedup(line))[:8]`` read as a little-endian uint64, and then

* removes every occurrence of a line whose hash was seen in two or more documents of the dedup scope,
* inside a document keeps only the first occurrence of a repeated line (``finalize_doc``),
* drops a document left without lines.

Upstream the scope is a group of ``hash_in_mem`` shards (RedPajama: 1/5000 of a snapshot). Here the scope is,
by default, a whole snapshot: each partition emits its distinct (line hash, snapshot) pairs with the number of
its documents that hold them, the engine shuffles them by ``hash % num_buckets``, each bucket sums the counts,
and each partition then gets back the hashes that are duplicated. ``scope = "all"`` treats every input as one
snapshot; ``scope_files = N`` reproduces cc_net's groups (partitions ``0..N-1``, ``N..2N-1``, ... dedup among
themselves only).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from kllama.core.ledger import Ledger
from kllama.core.registry import register
from kllama.core.steps import GlobalStep
from kllama.text.ccnet_normalize import normalized_lines


def python_line_hashes(text: str) -> np.ndarray:
    """cc_net's ``compute_hashes``: ``sha1(normalize_for_dedup(line))[:8]`` as little-endian uint64, one per
    ``\\n``-separated line (the pure-Python reference and fallback)."""
    lines = normalized_lines(text)
    buf = b"".join([hashlib.sha1(ln.encode("utf-8", "surrogatepass")).digest()[:8] for ln in lines])
    return np.frombuffer(buf, dtype="<u8").astype(np.uint64, copy=False)


def _native_batch():
    """The C core's ``ccnet_line_hashes_batch`` if the C library is built, else None."""
    try:
        from kllama import native
    except Exception:  # noqa: BLE001 - the C core is optional for this module
        return None
    return getattr(native, "ccnet_line_hashes_batch", None)


def line_hashes_batch(texts: Sequence[str], use_native: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Line hashes of many documents: ``(hashes, offsets)`` with document ``i``'s hashes at
    ``hashes[offsets[i]:offsets[i+1]]``. Uses ``kllama.native.ccnet_line_hashes_batch`` (the C core) when it
    is built, else :func:`python_line_hashes` (same values, tested)."""
    native = _native_batch() if use_native else None
    if native is not None:
        h, off = native(list(texts))
        return np.asarray(h, dtype=np.uint64), np.asarray(off, dtype=np.int64)
    parts = [python_line_hashes(t) for t in texts]
    offsets = np.zeros(len(parts) + 1, dtype=np.int64)
    if parts:
        np.cumsum([len(p) for p in parts], out=offsets[1:])
        return (np.concatenate(parts) if offsets[-1] else np.zeros(0, np.uint64)), offsets
    return np.zeros(0, np.uint64), offsets


def _doc_ids(offsets: np.ndarray) -> np.ndarray:
    return np.repeat(np.arange(len(offsets) - 1, dtype=np.int64), np.diff(offsets))


def first_in_doc(hashes: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Boolean mask: True where a line's hash is its first occurrence within its document."""
    n = len(hashes)
    mask = np.zeros(n, dtype=bool)
    if n == 0:
        return mask
    doc = _doc_ids(offsets)
    order = np.lexsort((hashes, doc))  # stable: equal (doc, hash) keep their line order
    sd, sh = doc[order], hashes[order]
    start = np.ones(n, dtype=bool)
    start[1:] = (sd[1:] != sd[:-1]) | (sh[1:] != sh[:-1])
    mask[order[start]] = True
    return mask


def snapshot_scope(meta_json: str | None) -> int:
    """The dedup scope of a document: a 64-bit id of its snapshot (``meta.snapshot``, else the
    ``CC-MAIN-YYYY-WW`` in ``meta.cc_segment``); 0 when unknown."""
    if not meta_json:
        return 0
    try:
        meta = json.loads(meta_json)
    except ValueError:
        return 0
    snap = meta.get("snapshot") or ""
    if not snap:
        m = _SNAPSHOT_RE.search(str(meta.get("cc_segment") or ""))
        snap = m.group(0) if m else ""
    if not snap:
        return 0
    return int.from_bytes(hashlib.sha1(snap.encode()).digest()[:8], "little") or 1


_SNAPSHOT_RE = re.compile(r"CC-MAIN-\d{4}-\d{2}")
_SNAPSHOT_FIELD = r'"snapshot": ?"(?P<snap>CC-MAIN-[0-9]{4}-[0-9]{2})"'


def snapshot_scopes(meta: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """:func:`snapshot_scope` of every row of a ``meta`` column, without parsing each JSON object: rows that
    are a flat object naming ``"snapshot"`` once with a ``CC-MAIN-YYYY-WW`` value are read with one regular
    expression over the column; every other row goes through :func:`snapshot_scope`. Same values."""
    meta = meta.combine_chunks() if isinstance(meta, pa.ChunkedArray) else meta
    n = len(meta)
    if n == 0:
        return np.zeros(0, dtype=np.uint64)
    meta = meta.cast(pa.string())
    # a flat object (one "{") naming "snapshot" once: the match is its top-level key
    once = pc.fill_null(pc.and_(pc.equal(pc.count_substring(meta, '"snapshot"'), 1),
                                pc.equal(pc.count_substring(meta, "{"), 1)), False)
    snaps = pc.struct_field(pc.extract_regex(meta, _SNAPSHOT_FIELD), [0])
    fast = pc.and_(once, pc.is_valid(snaps)).to_numpy(zero_copy_only=False)
    out = np.zeros(n, dtype=np.uint64)
    values = snaps.to_pylist()
    cache: dict[str, int] = {}
    for i in np.flatnonzero(fast).tolist():
        snap = values[i]
        if snap not in cache:
            cache[snap] = int.from_bytes(hashlib.sha1(snap.encode()).digest()[:8], "little") or 1
        out[i] = cache[snap]
    slow = np.flatnonzero(~fast)
    if len(slow):
        rows = meta.take(pa.array(slow)).to_pylist()
        out[slow] = np.array([snapshot_scope(m) for m in rows], dtype=np.uint64)
    return out


@register
class CCNetLineDedup(GlobalStep):
    """cc_net line dedup (see the module docstring). Drop reason: ``line_dedup_empty`` (no line left).

    ``scope``: ``"snapshot"`` (default) dedups each CommonCrawl snapshot over all its files -- a page crawled
    again in another snapshot is left to the cross-snapshot document dedup; ``"all"`` dedups over the whole
    stage input. ``scope_files = N`` (default 0 = off) further cuts the scope into cc_net's groups of N
    consecutive input files. ``min_length`` (default 0 = off, as cc_net after dedup) drops documents shorter
    than that many characters after dedup as ``short``.
    Stats: ``lines_in``, ``lines_removed_duplicate``, ``lines_removed_in_document``.
    """

    name = "ccnet_line_dedup"
    drop_reasons = ("line_dedup_empty", "short")

    def __init__(self, scope: str = "snapshot", scope_files: int = 0, num_buckets: int = 16,
                 min_length: int = 0) -> None:
        if scope not in ("snapshot", "all"):
            raise ValueError("scope must be 'snapshot' or 'all'")
        if scope_files < 0:
            raise ValueError("scope_files must be >= 0 (0 = no file groups)")
        self.scope = scope
        self.scope_files = int(scope_files)
        self.num_buckets = int(num_buckets)
        self.min_length = int(min_length)

    def _scopes(self, table: pa.Table) -> np.ndarray:
        if self.scope == "all" or "meta" not in table.column_names:
            return np.zeros(table.num_rows, dtype=np.uint64)
        return snapshot_scopes(table.column("meta"))

    # -- 1. per partition: distinct (scope, hash) and how many documents hold each ------------------------
    def emit_keys(self, table: pa.Table) -> pa.Table:
        texts = table.column("text").to_pylist()
        hashes, offsets = line_hashes_batch(texts)
        if len(hashes) == 0:
            return pa.table({"key": pa.array([], pa.uint64()), "scope": pa.array([], pa.uint64()),
                             "n": pa.array([], pa.uint32())})
        scope = self._scopes(table)[_doc_ids(offsets)]
        first = first_in_doc(hashes, offsets)  # distinct (document, hash) pairs
        h, sc = hashes[first], scope[first]
        if len(sc) and (sc == sc[0]).all():
            keys, counts = np.unique(h, return_counts=True)
            scopes = np.full(len(keys), sc[0], dtype=np.uint64)
        else:
            order = np.lexsort((h, sc))
            h, sc = h[order], sc[order]
            start = np.ones(len(h), dtype=bool)
            start[1:] = (h[1:] != h[:-1]) | (sc[1:] != sc[:-1])
            idx = np.flatnonzero(start)
            keys, scopes = h[idx], sc[idx]
            counts = np.diff(np.append(idx, len(h)))
        return pa.table({"key": pa.array(keys, pa.uint64()), "scope": pa.array(scopes, pa.uint64()),
                         "n": pa.array(counts.astype(np.uint32))})

    # -- 2. per bucket: hashes held by >= 2 documents of the same scope -------------------------------------
    def resolve(self, keys: pa.Table) -> pa.Table:
        empty = pa.table({"part": pa.array([], pa.int32()), "scope": pa.array([], pa.uint64()),
                          "key": pa.array([], pa.uint64())})
        if keys.num_rows == 0:
            return empty
        key = keys.column("key").to_numpy()
        scope = keys.column("scope").to_numpy()
        n = keys.column("n").to_numpy().astype(np.int64)
        part = keys.column("part").to_numpy().astype(np.int64)
        group = part // self.scope_files if self.scope_files else np.zeros_like(part)
        if (scope == scope[0]).all() and (group == group[0]).all():  # the usual case: one scope per bucket
            order = np.argsort(key, kind="stable")
            sk, sn = key[order], n[order]
            start = np.ones(len(sk), dtype=bool)
            start[1:] = sk[1:] != sk[:-1]
        else:
            order = np.lexsort((key, scope, group))
            sk, ss, sg, sn = key[order], scope[order], group[order], n[order]
            start = np.ones(len(sk), dtype=bool)
            start[1:] = (sk[1:] != sk[:-1]) | (ss[1:] != ss[:-1]) | (sg[1:] != sg[:-1])
        totals = np.add.reduceat(sn, np.flatnonzero(start))
        gid = np.cumsum(start) - 1
        dup_rows = np.sort(order[totals[gid] >= 2])
        if len(dup_rows) == 0:
            return empty
        return pa.table({"part": pa.array(part[dup_rows].astype(np.int32)),
                         "scope": pa.array(scope[dup_rows], pa.uint64()),
                         "key": pa.array(key[dup_rows], pa.uint64())})

    # -- 3. per partition: remove the lines ---------------------------------------------------------------
    def apply(self, table: pa.Table, decisions: pa.Table, ledger: Ledger) -> pa.Table:
        texts = table.column("text").to_pylist()
        metas = table.column("meta").to_pylist() if "meta" in table.column_names else [None] * len(texts)
        hashes, offsets = line_hashes_batch(texts)
        line_scope = self._scopes(table)[_doc_ids(offsets)]
        not_dup = np.ones(len(hashes), dtype=bool)
        if decisions.num_rows:
            d_key = decisions.column("key").to_numpy()
            d_scope = decisions.column("scope").to_numpy()
            for sc in np.unique(line_scope):
                rows = line_scope == sc
                not_dup[rows] = ~np.isin(hashes[rows], d_key[d_scope == sc])
        first = first_in_doc(hashes, offsets)
        keep = not_dup & first & (hashes != 0)  # cc_net zeroes removed hashes and tests h != 0
        ledger.count("lines_in", int(len(hashes)))
        ledger.count("lines_removed_duplicate", int((~not_dup).sum()))
        ledger.count("lines_removed_in_document", int((not_dup & ~first).sum()))

        keep_rows: list[int] = []
        new_texts: list[str] = []
        new_metas: list[str] = []
        n_lines = np.diff(offsets)
        n_kept = np.add.reduceat(keep.astype(np.int64), offsets[:-1]) if len(hashes) else np.zeros(len(texts), int)
        n_kept[n_lines == 0] = 0  # reduceat reads the next document's first line for an empty range
        for i, text in enumerate(texts):
            if n_kept[i] == n_lines[i]:  # nothing removed: no need to rebuild the text
                kept_ids = np.arange(n_lines[i])
                lines_count = int(n_lines[i])
                new = text
            else:
                kept_ids = np.flatnonzero(keep[offsets[i]:offsets[i + 1]])
                lines = text.split("\n")
                lines_count = len(lines)
                new = "\n".join([lines[j] for j in kept_ids]) if len(kept_ids) else ""
            if not new.strip():
                ledger.drop("line_dedup_empty", 1, len(text.encode("utf-8", "surrogatepass")))
                if ledger.sample_limit:
                    ledger.keep_sample("line_dedup_empty", table.column("id")[i].as_py(),
                                       table.column("source")[i].as_py(), text)
                continue
            if self.min_length and len(new) < self.min_length:
                ledger.drop("short", 1, len(text.encode("utf-8", "surrogatepass")))
                if ledger.sample_limit:
                    ledger.keep_sample("short", table.column("id")[i].as_py(), table.column("source")[i].as_py(),
                                       text)
                continue
            meta = json.loads(metas[i]) if metas[i] else {}
            meta.setdefault("original_nlines", meta.get("nlines", lines_count))
            meta.setdefault("original_length", meta.get("length", len(text)))
            old_ids = meta.get("line_ids")
            ids = kept_ids.tolist()
            meta["line_ids"] = ([old_ids[j] for j in ids] if isinstance(old_ids, list) and len(old_ids) == lines_count
                                else ids)
            meta["nlines"] = len(ids)
            meta["length"] = len(new)
            keep_rows.append(i)
            new_texts.append(new)
            new_metas.append(json.dumps(meta, ensure_ascii=False, sort_keys=True))
        out = table.take(pa.array(keep_rows, pa.int64()))
        out = out.set_column(out.schema.get_field_index("text"), table.schema.field("text"),
                             pa.array(new_texts, table.schema.field("text").type))
        if "meta" in out.column_names:
            out = out.set_column(out.schema.get_field_index("meta"), table.schema.field("meta"),
                                 pa.array(new_metas, table.schema.field("meta").type))
        ledger.count("chars_kept", int(pc.sum(pc.utf8_length(out.column("text"))).as_py() or 0) if out.num_rows else 0)
        return out
