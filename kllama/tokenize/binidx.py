"""Megatron/GPT-NeoX ``MMapIndexedDataset`` ("binidx") files as RWKV reads them (byte layout: docs/tokenize.md).

``PREFIX.idx``: ``b"MMIDIDX\\x00\\x00"``, u64 version 1, u8 dtype code, u64 N items, u64 D = len(doc_idx),
int32 sizes[N], int64 pointers[N] (byte offsets into ``.bin``), int64 doc_idx[D]; little-endian, no padding.
``PREFIX.bin``: the items back to back in the index dtype. kllama writes one item per document (its tokens and
the EOD), so ``doc_idx`` is ``0..N``.
"""

from __future__ import annotations

import os
import struct
from array import array
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

MAGIC = b"MMIDIDX\x00\x00"
VERSION = 1
HEADER_SIZE = 9 + 8 + 1 + 8 + 8
#: dtype codes that every reader agrees on (6 and 7 differ between implementations: never written)
DTYPE_CODES: dict[int, np.dtype] = {
    1: np.dtype(np.uint8), 2: np.dtype(np.int8), 3: np.dtype(np.int16), 4: np.dtype(np.int32),
    5: np.dtype(np.int64), 8: np.dtype(np.uint16),
}
#: json2binidx / gpt-neox ``__best_fitting_dtype`` threshold
UINT16_VOCAB_LIMIT = 65500


def best_dtype(vocab_size: int) -> np.dtype:
    """``uint16`` (code 8) when ``vocab_size < 65500``, else ``int32`` (code 4), as json2binidx chooses."""
    return np.dtype(np.uint16) if vocab_size < UINT16_VOCAB_LIMIT else np.dtype(np.int32)


def dtype_code(dtype: np.dtype | type) -> int:
    dt = np.dtype(dtype)
    for code, d in DTYPE_CODES.items():
        if d == dt:
            return code
    raise ValueError(f"no binidx dtype code for {dt}")


def paths(prefix: str | Path) -> tuple[Path, Path]:
    """``(PREFIX.bin, PREFIX.idx)``."""
    prefix = str(prefix)
    return Path(prefix + ".bin"), Path(prefix + ".idx")


def exists(prefix: str | Path) -> bool:
    b, i = paths(prefix)
    return b.exists() or i.exists()


def write_index(path: str | Path, dtype: np.dtype, sizes: np.ndarray, doc_idx: np.ndarray | None = None,
                pointers: np.ndarray | None = None, *, chunk: int = 1 << 22) -> None:
    """Write an ``.idx`` file. ``pointers`` default to the running byte offsets of ``sizes`` and ``doc_idx`` to
    ``0..N`` (one item per document); both are then streamed in chunks, never held whole."""
    dtype = np.dtype(dtype)
    n = len(sizes)
    d = n + 1 if doc_idx is None else len(doc_idx)
    with open(path, "wb") as f:
        f.write(MAGIC)
        f.write(struct.pack("<Q", VERSION))
        f.write(struct.pack("<B", dtype_code(dtype)))
        f.write(struct.pack("<Q", n))
        f.write(struct.pack("<Q", d))
        for a in range(0, n, chunk):
            f.write(np.ascontiguousarray(sizes[a:a + chunk], dtype="<i4").tobytes())
        if pointers is not None:
            f.write(np.ascontiguousarray(pointers, dtype="<i8").tobytes())
        else:
            offset = 0
            for a in range(0, n, chunk):
                part = np.asarray(sizes[a:a + chunk], dtype=np.int64) * dtype.itemsize
                ptr = np.empty(len(part), dtype="<i8")
                ptr[0] = offset
                np.cumsum(part[:-1], out=ptr[1:])
                ptr[1:] += offset
                offset += int(part.sum())
                f.write(ptr.tobytes())
        if doc_idx is not None:
            f.write(np.ascontiguousarray(doc_idx, dtype="<i8").tobytes())
        else:
            for a in range(0, n + 1, chunk):
                f.write(np.arange(a, min(a + chunk, n + 1), dtype="<i8").tobytes())


def write_index_parts(path: str | Path, dtype: np.dtype, size_files: Sequence[str | Path], *,
                      chunk: int = 1 << 18) -> int:
    """Write an ``.idx`` whose sizes are the concatenation of raw little-endian int32 ``size_files`` (one item
    per document, pointers the running byte offsets), reading them piece by piece: memory is bounded by
    ``chunk`` items whatever the total. Returns the number of items."""
    dtype = np.dtype(dtype)
    n = sum(os.path.getsize(f) // 4 for f in size_files)

    def pieces() -> Iterable[np.ndarray]:
        for f in size_files:
            sizes = np.memmap(f, mode="r", dtype="<i4") if os.path.getsize(f) else np.zeros(0, "<i4")
            for a in range(0, len(sizes), chunk):
                yield np.asarray(sizes[a:a + chunk])

    with open(path, "wb") as out:
        out.write(MAGIC + struct.pack("<Q", VERSION) + struct.pack("<B", dtype_code(dtype)) +
                  struct.pack("<QQ", n, n + 1))
        for part in pieces():
            out.write(part.astype("<i4", copy=False).tobytes())
        offset = 0
        for part in pieces():
            nbytes = part.astype(np.int64) * dtype.itemsize
            ptr = np.empty(len(part), dtype="<i8")
            if len(part):
                ptr[0] = offset
                np.cumsum(nbytes[:-1], out=ptr[1:])
                ptr[1:] += offset
                offset += int(nbytes.sum())
            out.write(ptr.tobytes())
        for a in range(0, n + 1, chunk):
            out.write(np.arange(a, min(a + chunk, n + 1), dtype="<i8").tobytes())
    return n


class BinidxWriter:
    """Write ``PREFIX.bin``/``PREFIX.idx``: ``add_document(ids)`` writes one item of ``ids`` + EOD.

    Files are written under temporary names and renamed on ``close()`` (``.bin`` first, ``.idx`` last), so a
    crash never leaves a pair that looks complete. Use as a context manager; an exception removes the files.
    """

    def __init__(self, prefix: str | Path, dtype: np.dtype | type = np.uint16, *, eod: int | None = 0,
                 buffer_tokens: int = 1 << 22) -> None:
        self.prefix = str(prefix)
        self.dtype = np.dtype(dtype)
        self.eod = eod
        self.bin_path, self.idx_path = paths(prefix)
        self.bin_path.parent.mkdir(parents=True, exist_ok=True)
        self._tmp_bin = self.bin_path.with_name(f".{self.bin_path.name}.tmp-{os.getpid()}")
        self._tmp_idx = self.idx_path.with_name(f".{self.idx_path.name}.tmp-{os.getpid()}")
        self._f = open(self._tmp_bin, "wb")
        self._sizes = array("q")
        self._doc_idx = array("q", [0])
        self._pending: list[int] = []
        self._buffer_tokens = buffer_tokens
        self.tokens = 0
        self._limit = np.iinfo(self.dtype).max if self.dtype.kind in "ui" else None

    def add_item(self, ids: Sequence[int] | np.ndarray) -> None:
        """One item (no EOD added)."""
        if isinstance(ids, np.ndarray):
            self._flush()
            self._write(ids)
        else:
            self._pending.extend(ids)
            if len(self._pending) >= self._buffer_tokens:
                self._flush()
        self._sizes.append(len(ids))
        self.tokens += len(ids)

    def end_document(self) -> None:
        self._doc_idx.append(len(self._sizes))

    def add_document(self, ids: Sequence[int]) -> None:
        """One document: one item of ``ids`` followed by the EOD (if set)."""
        if self.eod is not None:
            ids = list(ids)
            ids.append(self.eod)
        self.add_item(ids)
        self.end_document()

    def add_documents(self, batch: Iterable[Sequence[int]]) -> None:
        for ids in batch:
            self.add_document(ids)

    def _write(self, arr: np.ndarray) -> None:
        if arr.size and self._limit is not None and (arr.max() > self._limit or arr.min() < 0):
            raise ValueError(f"token id out of range for {self.dtype}")
        self._f.write(np.ascontiguousarray(arr, dtype=self.dtype.newbyteorder("<")).tobytes())

    def _flush(self) -> None:
        if self._pending:
            self._write(np.asarray(self._pending, dtype=np.int64))
            self._pending = []

    @property
    def num_items(self) -> int:
        return len(self._sizes)

    def close(self) -> None:
        """Finish both files and move them to their names."""
        if self._f.closed:
            return
        try:
            self._flush()
            self._f.close()
            write_index(self._tmp_idx, self.dtype, np.frombuffer(self._sizes, dtype=np.int64),
                        np.frombuffer(self._doc_idx, dtype=np.int64))
            os.replace(self._tmp_bin, self.bin_path)
            os.replace(self._tmp_idx, self.idx_path)
        except BaseException:
            self.abort()
            raise

    def abort(self) -> None:
        if not self._f.closed:
            self._f.close()
        for p in (self._tmp_bin, self._tmp_idx):
            p.unlink(missing_ok=True)

    def __enter__(self) -> BinidxWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


class BinidxReader:
    """Memory-mapped reader: ``sizes``, ``pointers``, ``doc_idx``, ``tokens`` (the whole ``.bin``), ``[i]``."""

    def __init__(self, prefix: str | Path) -> None:
        self.prefix = str(prefix)
        bin_path, idx_path = paths(prefix)
        with open(idx_path, "rb") as f:
            head = f.read(HEADER_SIZE)
        if len(head) < HEADER_SIZE or head[:9] != MAGIC:
            raise ValueError(f"{idx_path}: not a binidx index (bad magic)")
        (version,) = struct.unpack_from("<Q", head, 9)
        if version != VERSION:
            raise ValueError(f"{idx_path}: unsupported version {version}")
        code = head[17]
        if code not in DTYPE_CODES:
            raise ValueError(f"{idx_path}: unsupported dtype code {code}")
        self.dtype = DTYPE_CODES[code].newbyteorder("<")
        self.dtype_code = code
        n, d = struct.unpack_from("<QQ", head, 18)
        expected = HEADER_SIZE + 12 * n + 8 * d
        if os.path.getsize(idx_path) != expected:
            raise ValueError(f"{idx_path}: size {os.path.getsize(idx_path)} != {expected} for N={n}, D={d}")
        idx = np.memmap(idx_path, mode="r", dtype=np.uint8)
        self.sizes = np.frombuffer(idx, dtype="<i4", count=n, offset=HEADER_SIZE)
        self.pointers = np.frombuffer(idx, dtype="<i8", count=n, offset=HEADER_SIZE + 4 * n)
        self.doc_idx = np.frombuffer(idx, dtype="<i8", count=d, offset=HEADER_SIZE + 12 * n)
        nbytes = os.path.getsize(bin_path)
        if nbytes % self.dtype.itemsize:
            raise ValueError(f"{bin_path}: size {nbytes} is not a multiple of {self.dtype.itemsize}")
        if nbytes:
            self.tokens = np.memmap(bin_path, mode="r", dtype=self.dtype)
        else:
            self.tokens = np.zeros(0, dtype=self.dtype)

    def __len__(self) -> int:
        return len(self.sizes)

    def __getitem__(self, i: int) -> np.ndarray:
        start = int(self.pointers[i]) // self.dtype.itemsize
        return self.tokens[start:start + int(self.sizes[i])]

    @property
    def num_tokens(self) -> int:
        return len(self.tokens)


def merge(prefixes: Sequence[str | Path], out_prefix: str | Path, *, chunk_bytes: int = 1 << 24) -> None:
    """Concatenate binidx pairs into ``out_prefix``: sizes appended, pointers shifted by the bytes before,
    doc_idx extended with ``offset + other.doc_idx[1:]`` (the step old gpt-neox/json2binidx forgot)."""
    if not prefixes:
        raise ValueError("merge needs at least one input")
    readers = [BinidxReader(p) for p in prefixes]
    dtype = readers[0].dtype
    for r in readers[1:]:
        if r.dtype != dtype:
            raise ValueError(f"{r.prefix}: dtype {r.dtype} differs from {dtype}")
    sizes, pointers, doc_idx = [], [], [np.zeros(1, dtype=np.int64)]
    bin_path, idx_path = paths(out_prefix)
    bin_path.parent.mkdir(parents=True, exist_ok=True)
    tmp_bin = bin_path.with_name(f".{bin_path.name}.tmp-{os.getpid()}")
    tmp_idx = idx_path.with_name(f".{idx_path.name}.tmp-{os.getpid()}")
    byte_offset = 0
    item_offset = 0
    try:
        with open(tmp_bin, "wb") as out:
            for r in readers:
                src_bin, _ = paths(r.prefix)
                with open(src_bin, "rb") as f:
                    while block := f.read(chunk_bytes):
                        out.write(block)
                sizes.append(np.asarray(r.sizes, dtype=np.int32))
                pointers.append(np.asarray(r.pointers, dtype=np.int64) + byte_offset)
                doc_idx.append(np.asarray(r.doc_idx[1:], dtype=np.int64) + item_offset)
                byte_offset += os.path.getsize(src_bin)
                item_offset += len(r)
        write_index(tmp_idx, dtype, np.concatenate(sizes), np.concatenate(doc_idx), np.concatenate(pointers))
        os.replace(tmp_bin, bin_path)
        os.replace(tmp_idx, idx_path)
    except BaseException:
        tmp_bin.unlink(missing_ok=True)
        tmp_idx.unlink(missing_ok=True)
        raise
