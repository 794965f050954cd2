"""A variant's weighted, shuffled stream, made on the workers in fixed-size chunks (two-level shuffle).

1. **scatter** (one task per shard of the variant): each stored document gets its number of copies
   (``kllama.core.sampling.copies_for``, the rule ``kllama export`` shares: ``floor(epochs)`` plus one more when a
   hash of seed and id falls under ``frac(epochs)``)
   and each copy a 64-bit **order key** (a hash of seed, id and copy number). The shard's copies are sorted by
   key and written as a refs file, cut into ``n_chunks`` key ranges (chunk = the key's top bits scaled to
   ``n_chunks``: a monotone map, so chunk ``c`` holds keys below those of chunk ``c + 1``).
2. **gather** (one task per chunk): the chunk's refs of every shard, merged by key (ties: shard, item, copy
   order), the tokens copied from the memory-mapped store entries into ``part-NNNNN.bin`` and the item sizes into
   ``part-NNNNN.sizes`` -- a chunk's memory is bounded by its document count, never the variant's.
3. **concatenate** (the driver): the chunk files in chunk order into ``PREFIX.bin``; ``PREFIX.idx`` streamed
   from the ``.sizes`` files. The driver holds one chunk's sizes at most, whatever the document count.

The output is the list of all copies sorted by order key: it depends on the store, the epochs and the seed
only -- not on the worker count, the number of chunks or a resume.
"""

from __future__ import annotations

import hashlib
import math
import os
import struct
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq

from kllama.core.ledger import Ledger
from kllama.core.sampling import DEFAULT_EPOCHS, copies_for
from kllama.tokenize.binidx import BinidxReader, paths, write_index_parts

REFS_MAGIC = b"KLREFS01"
#: mean tokens per item above which a chunk copies item by item (slices) instead of by index arrays
LONG_ITEMS = 48
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64's finalizer (a bijection of uint64)."""
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


def order_keys(doc_ids: list[str], copies: np.ndarray, seed: int) -> np.ndarray:
    """The order key of every copy (documents in order, each repeated ``copies`` times)."""
    base = np.fromiter((int.from_bytes(hashlib.blake2b(f"{seed}\x00{d}".encode("utf-8", "surrogatepass"),
                                                       digest_size=8, person=b"kllama-order").digest(), "little")
                        for d in doc_ids), dtype=np.uint64, count=len(doc_ids))
    rep = np.repeat(base, copies)
    starts = np.repeat(np.cumsum(copies) - copies, copies)
    j = (np.arange(len(rep), dtype=np.int64) - starts).astype(np.uint64)
    with np.errstate(over="ignore"):
        return _mix64(rep + j * _GOLDEN)


def chunk_of(keys: np.ndarray, n_chunks: int) -> np.ndarray:
    """Chunk of each key: ``floor(key_high32 * n_chunks / 2**32)``, monotone in the key."""
    return ((np.asarray(keys, dtype=np.uint64) >> np.uint64(32)) * np.uint64(n_chunks) >> np.uint64(32)).astype(
        np.int64)


def chunks_for(expected_copies: int, chunk_docs: int) -> int:
    """Number of chunks for about ``chunk_docs`` copies each."""
    return max(1, math.ceil(expected_copies / max(1, chunk_docs)))


# -- refs files ----------------------------------------------------------------------------------------------
def write_refs(path: str | Path, keys: np.ndarray, items: np.ndarray, n_chunks: int) -> None:
    """``magic, n_chunks, n, offsets[n_chunks + 1] (int64), keys[n] (uint64), items[n] (uint32)``; atomic."""
    path = Path(path)
    offsets = np.searchsorted(chunk_of(keys, n_chunks), np.arange(n_chunks + 1), side="left").astype("<i8")
    tmp = path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex}")
    try:
        with open(tmp, "wb") as f:
            f.write(REFS_MAGIC + struct.pack("<QQ", n_chunks, len(keys)))
            f.write(offsets.tobytes())
            f.write(np.ascontiguousarray(keys, dtype="<u8").tobytes())
            f.write(np.ascontiguousarray(items, dtype="<u4").tobytes())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def read_refs(path: str | Path, chunk: int) -> tuple[np.ndarray, np.ndarray]:
    """``(keys, items)`` of one chunk of a refs file (memory-mapped: only that slice is read)."""
    with open(path, "rb") as f:
        head = f.read(24)
    if head[:8] != REFS_MAGIC:
        raise ValueError(f"{path}: not a refs file")
    n_chunks, n = struct.unpack_from("<QQ", head, 8)
    if not n:
        return np.zeros(0, np.uint64), np.zeros(0, np.uint32)
    mm = np.memmap(path, mode="r", dtype=np.uint8)
    offsets = np.frombuffer(mm, dtype="<i8", count=n_chunks + 1, offset=24)
    lo, hi = int(offsets[chunk]), int(offsets[chunk + 1])
    base = 24 + 8 * (n_chunks + 1)
    keys = np.frombuffer(mm, dtype="<u8", count=hi - lo, offset=base + 8 * lo).copy()
    items = np.frombuffer(mm, dtype="<u4", count=hi - lo, offset=base + 8 * n + 4 * lo).copy()
    return keys, items


# -- tasks ---------------------------------------------------------------------------------------------------
def scatter_shard(prefix: str | None, source: str, epochs: dict[str, float], seed: int, n_chunks: int,
                  out_path: str) -> dict[str, Any]:
    """Copies and order keys of one shard's stored documents, written as a refs file (a worker task).

    ``prefix``: the shard's token-store entry (None or missing: no documents, e.g. a quarantined shard).
    Returns ``ledger`` (in = stored documents, out = documents with at least one copy, ``sampled_out``),
    ``per_source`` (``sampled_out``, ``docs``/``tokens`` = copies and their tokens) and ``copies``."""
    cpu0 = time.process_time()
    ledger = Ledger()
    per_source: dict[str, Counter] = {}
    keys = np.zeros(0, np.uint64)
    items = np.zeros(0, np.uint32)
    if prefix and all(os.path.exists(p) for p in (prefix + ".idx", prefix + ".bin", prefix + ".docs.parquet")):
        docs = pq.read_table(prefix + ".docs.parquet")
        ids = docs.column("id").to_pylist()
        srcs = docs.column("source").to_pylist()
        sizes = np.asarray(BinidxReader(prefix).sizes, dtype=np.int64)
        if len(sizes) != len(ids):
            raise ValueError(f"{prefix}: {len(sizes)} items but {len(ids)} document ids")
        copies = np.fromiter((copies_for(d, epochs.get(s or source, DEFAULT_EPOCHS), seed)
                              for d, s in zip(ids, srcs, strict=True)), dtype=np.int64, count=len(ids))
        for s, c, n in zip(srcs, copies.tolist(), sizes.tolist(), strict=True):
            cnt = per_source.setdefault(s or source, Counter())
            ledger.take_in(1)
            if c == 0:
                ledger.drop("sampled_out")
                cnt["sampled_out"] += 1
            else:
                ledger.put_out(1)
                cnt["docs"] += c
                cnt["tokens"] += c * n
        keys = order_keys(ids, copies, seed)
        items = np.repeat(np.arange(len(ids), dtype=np.uint32), copies)
        copy_no = np.arange(len(keys), dtype=np.int64) - np.repeat(np.cumsum(copies) - copies, copies)
        order = np.lexsort((copy_no, items, keys))
        keys, items = keys[order], items[order]
    Path(out_path).parent.mkdir(parents=True, exist_ok=True)
    write_refs(out_path, keys, items, n_chunks)
    return {"ledger": ledger.to_dict(), "per_source": {k: dict(v) for k, v in sorted(per_source.items())},
            "copies": len(keys), "cpu_s": round(time.process_time() - cpu0, 4)}


def _ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Concatenation of ``arange(s, s + n)`` for every (s, n)."""
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    before = np.zeros(len(lengths), dtype=np.int64)
    np.cumsum(lengths[:-1], out=before[1:])
    return np.repeat(starts.astype(np.int64) - before, lengths) + np.arange(total, dtype=np.int64)


def gather_chunk(chunk: int, shards: list[dict[str, str | None]], out_prefix: str, dtype: str,
                 chunk_tokens: int = 1 << 24) -> dict[str, Any]:
    """Write chunk ``chunk`` of the stream: ``out_prefix.bin`` (tokens) and ``out_prefix.sizes`` (int32 item
    sizes), the copies of every shard (``shards``: ``{"refs", "prefix"}`` in shard order) sorted by key."""
    cpu0 = time.process_time()
    dt = np.dtype(dtype).newbyteorder("<")
    key_parts, item_parts, shard_parts = [], [], []
    readers: dict[int, BinidxReader] = {}
    for s, sh in enumerate(shards):
        if not sh.get("refs") or not os.path.exists(sh["refs"]):
            continue
        k, it = read_refs(sh["refs"], chunk)
        if len(k):
            key_parts.append(k)
            item_parts.append(it.astype(np.int64))
            shard_parts.append(np.full(len(k), s, dtype=np.int32))
            readers[s] = BinidxReader(sh["prefix"])
    keys = np.concatenate(key_parts) if key_parts else np.zeros(0, np.uint64)
    items = np.concatenate(item_parts) if item_parts else np.zeros(0, np.int64)
    shard_of = np.concatenate(shard_parts) if shard_parts else np.zeros(0, np.int32)
    del key_parts, item_parts, shard_parts
    order = np.argsort(keys, kind="stable")  # ties keep shard order, then each shard's (item, copy) order
    del keys
    items, shard_of = items[order], shard_of[order]
    del order
    sizes = np.zeros(len(items), dtype=np.int64)
    starts = np.zeros(len(items), dtype=np.int64)
    by_shard = np.argsort(shard_of, kind="stable")
    for sel in np.split(by_shard, np.flatnonzero(np.diff(shard_of[by_shard])) + 1):
        if len(sel):
            rd = readers[int(shard_of[sel[0]])]
            sizes[sel] = np.asarray(rd.sizes, dtype=np.int64)[items[sel]]
            starts[sel] = np.asarray(rd.pointers, dtype=np.int64)[items[sel]] // rd.dtype.itemsize
    del by_shard
    bin_path, _ = paths(out_prefix)
    sizes_path = Path(out_prefix + ".sizes")
    bin_path.parent.mkdir(parents=True, exist_ok=True)
    tmp_bin = bin_path.with_name(f".{bin_path.name}.tmp-{uuid.uuid4().hex}")
    tmp_sizes = sizes_path.with_name(f".{sizes_path.name}.tmp-{uuid.uuid4().hex}")
    views = {k: rd.tokens.view(np.ndarray) for k, rd in readers.items()}  # plain arrays: cheap slices
    try:
        cum = np.cumsum(sizes)
        with open(tmp_bin, "wb") as out:
            a = 0
            while a < len(items):
                base = int(cum[a - 1]) if a else 0
                b = max(a + 1, int(np.searchsorted(cum, base + chunk_tokens, side="right")))
                lengths = sizes[a:b]
                dst0 = np.zeros(b - a, dtype=np.int64)
                np.cumsum(lengths[:-1], out=dst0[1:])
                buf = np.empty(int(lengths.sum()), dtype=dt)
                sh = shard_of[a:b]
                if len(buf) >= LONG_ITEMS * (b - a):  # long documents: one slice copy each
                    for d0, n, s0, k in zip(dst0.tolist(), lengths.tolist(), starts[a:b].tolist(), sh.tolist(),
                                            strict=True):
                        buf[d0:d0 + n] = views[k][s0:s0 + n]
                else:  # short ones: gathered by index arrays, shard by shard
                    by_shard = np.argsort(sh, kind="stable")
                    cuts = np.flatnonzero(np.diff(sh[by_shard])) + 1
                    for sel in np.split(by_shard, cuts):
                        if len(sel):
                            tokens = readers[int(sh[sel[0]])].tokens
                            buf[_ranges(dst0[sel], lengths[sel])] = tokens[_ranges(starts[a:b][sel], lengths[sel])]
                out.write(buf.data)
                a = b
        sizes.astype("<i4").tofile(tmp_sizes)
        os.replace(tmp_bin, bin_path)
        os.replace(tmp_sizes, sizes_path)
    finally:
        tmp_bin.unlink(missing_ok=True)
        tmp_sizes.unlink(missing_ok=True)
    n, total = len(items), int(sizes.sum())
    ledger = Ledger(docs_in=n, docs_out=n)
    return {"ledger": ledger.to_dict(), "items": n, "tokens": total, "cpu_s": round(time.process_time() - cpu0, 4)}


def concatenate(parts: list[str], out_prefix: str | Path, dtype: np.dtype | str) -> tuple[int, int]:
    """``PREFIX.bin`` = the parts' ``.bin`` files in order; ``PREFIX.idx`` streamed from their ``.sizes``.
    Written under temporary names, ``.idx`` renamed last. Returns ``(items, tokens)``."""
    bin_path, idx_path = paths(out_prefix)
    bin_path.parent.mkdir(parents=True, exist_ok=True)
    tmp_bin = bin_path.with_name(f".{bin_path.name}.tmp-{os.getpid()}")
    tmp_idx = idx_path.with_name(f".{idx_path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp_bin, "wb", buffering=0) as out:
            for p in parts:
                with open(p + ".bin", "rb", buffering=0) as src:
                    _copy(src, out, os.fstat(src.fileno()).st_size)
        size_files = [p + ".sizes" for p in parts]
        items = write_index_parts(tmp_idx, np.dtype(dtype), size_files)
        tokens = os.path.getsize(tmp_bin) // np.dtype(dtype).itemsize
        os.replace(tmp_bin, bin_path)
        os.replace(tmp_idx, idx_path)
    finally:
        tmp_bin.unlink(missing_ok=True)
        tmp_idx.unlink(missing_ok=True)
    return items, tokens


def _copy(src: Any, dst: Any, n: int) -> None:
    """Copy ``n`` bytes from ``src`` to the end of ``dst`` (unbuffered files), in the kernel where possible."""
    left = n
    try:
        while left > 0:
            done = os.copy_file_range(src.fileno(), dst.fileno(), min(left, 1 << 30))
            if done == 0:
                break
            left -= done
    except (AttributeError, OSError):
        pass
    if left > 0:
        src.seek(n - left)
        dst.seek(0, os.SEEK_END)
        while left > 0 and (block := src.read(min(left, 1 << 24))):
            dst.write(block)
            left -= len(block)
    if left:
        raise OSError(f"short copy: {left} bytes missing")
