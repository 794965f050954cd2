"""An external shuffle with bounded memory: records with a random 64-bit key, spilled to buckets by key, each bucket
sorted in memory.

A record is ``(key, tag, payload)``: ``key`` a seeded hash (its order is the shuffled order), ``tag`` a small
integer the caller uses (the source), ``payload`` bytes (a JSON line). On disk each is ``>QHI`` (key, tag, length)
followed by the payload, in zstd frames appended to one file per bucket and writer.

* **Scatter** (any number of writers, in parallel): a record goes to the bucket given by the top bits of its key;
  each writer buffers at most ``buffer_bytes`` in memory before appending a frame to its bucket files.
* **Gather** (in bucket order): a bucket's files are read into memory and sorted by (key, payload); a bucket larger
  than ``bucket_bytes`` is first scattered again by the next bits of the key (recursively), so memory never holds
  more than one bucket of at most ``bucket_bytes``, whatever the corpus size.

Sorting by key with the payload as tie-break makes the order a function of the records alone: it does not depend on
how records were split among writers, on the worker count, or on file order.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterator
from pathlib import Path

import zstandard

HEADER = struct.Struct(">QHI")
#: at most 2**FANOUT_BITS buckets per level (bounds the files a writer keeps and the frames it writes per flush)
FANOUT_BITS = 8


def bucket_of(key: int, shift: int, bits: int) -> int:
    """The bucket of ``key`` at a level that reads ``bits`` bits above bit ``shift``."""
    return (key >> shift) & ((1 << bits) - 1) if bits else 0


def level_bits(nbytes: int, bucket_bytes: int, available: int = 64) -> int:
    """Bits of key for a scatter of ``nbytes`` into buckets of about ``bucket_bytes`` (at most FANOUT_BITS)."""
    if nbytes <= bucket_bytes or available <= 0:
        return 0
    return min(FANOUT_BITS, available, max(1, math.ceil(math.log2(nbytes / bucket_bytes))))


def bucket_file(folder: Path, bucket: int) -> Path:
    return Path(folder) / f"b{bucket:05d}.zst"


class SpillWriter:
    """Scatters records into ``folder/bNNNNN.zst`` by ``bucket_of(key, shift, bits)``, holding at most
    ``buffer_bytes`` in memory. ``close`` returns ``{bucket: [records, bytes]}`` (bytes as stored, uncompressed)."""

    def __init__(self, folder: str | Path, shift: int, bits: int, buffer_bytes: int = 64 << 20,
                 level: int = 1) -> None:
        self.folder = Path(folder)
        self.shift, self.bits = shift, bits
        self.buffer_bytes = max(1, buffer_bytes)
        self._buffers: dict[int, bytearray] = {}
        self._buffered = 0
        self._cctx = zstandard.ZstdCompressor(level=level)
        self.stats: dict[int, list[int]] = {}

    def add(self, key: int, tag: int, *payload: bytes) -> None:
        """One record; ``payload`` may come in pieces (they are stored as one)."""
        b = bucket_of(key, self.shift, self.bits)
        buf = self._buffers.get(b)
        if buf is None:
            buf = self._buffers[b] = bytearray()
        size = sum(len(p) for p in payload)
        buf += HEADER.pack(key, tag, size)
        for piece in payload:
            buf += piece
        n = HEADER.size + size
        st = self.stats.setdefault(b, [0, 0])
        st[0] += 1
        st[1] += n
        self._buffered += n
        if self._buffered >= self.buffer_bytes:
            self.flush()

    def flush(self) -> None:
        if not self._buffers:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        for b in sorted(self._buffers):
            with open(bucket_file(self.folder, b), "ab") as f:
                f.write(self._cctx.compress(bytes(self._buffers[b])))
        self._buffers.clear()
        self._buffered = 0

    def close(self) -> dict[int, list[int]]:
        self.flush()
        return self.stats


def _chunks(path: Path, size: int = 1 << 20) -> Iterator[bytes]:
    with open(path, "rb") as f:
        reader = zstandard.ZstdDecompressor().stream_reader(f, read_across_frames=True)
        while chunk := reader.read(size):
            yield chunk


def read_records(path: str | Path) -> Iterator[tuple[int, int, bytes]]:
    """The records of one spill file, streamed (memory: one chunk plus one record)."""
    buf = bytearray()
    pos = 0
    for chunk in _chunks(Path(path)):
        buf = buf[pos:] + chunk if pos else buf + chunk
        pos = 0
        while len(buf) - pos >= HEADER.size:
            key, tag, n = HEADER.unpack_from(buf, pos)
            if len(buf) - pos - HEADER.size < n:
                break
            start = pos + HEADER.size
            yield key, tag, bytes(buf[start:start + n])
            pos = start + n
    if len(buf) - pos:
        raise ValueError(f"{path}: truncated spill file")


class Gather:
    """Yields the records of buckets in (key, payload) order; see the module docstring. ``largest`` is the most
    bytes held in memory for one bucket, ``levels`` the deepest re-scatter, ``rescattered`` its bytes."""

    def __init__(self, work: str | Path, bucket_bytes: int, buffer_bytes: int = 64 << 20, level: int = 1) -> None:
        self.work = Path(work)
        self.bucket_bytes = bucket_bytes
        self.buffer_bytes = buffer_bytes
        self.level = level
        self.largest = 0
        self.levels = 0
        self.rescattered = 0
        self._n = 0

    def records(self, files: list[Path], nbytes: int, shift: int,
                depth: int = 0) -> Iterator[tuple[int, int, memoryview]]:
        """The records of one bucket (stored in ``files``, ``nbytes`` in all, keys sharing their bits at and
        above ``shift``), sorted. The files are deleted once read."""
        bits = level_bits(nbytes, self.bucket_bytes, shift)
        if bits:
            self._n += 1
            sub = self.work / f"r{self._n:06d}"
            writer = SpillWriter(sub, shift - bits, bits, self.buffer_bytes, self.level)
            for path in files:
                for rec in read_records(path):
                    writer.add(*rec)
                path.unlink()
            stats = writer.close()
            self.levels = max(self.levels, depth + 1)
            self.rescattered += nbytes
            for b in sorted(stats):
                yield from self.records([bucket_file(sub, b)], stats[b][1], shift - bits, depth + 1)
            return
        buf = bytearray()
        for path in files:
            for chunk in _chunks(path):
                buf += chunk
        self.largest = max(self.largest, len(buf))
        recs: list[tuple[int, int, int, int]] = []
        pos, end = 0, len(buf)
        while pos < end:
            key, tag, n = HEADER.unpack_from(buf, pos)
            recs.append((key, pos + HEADER.size, n, tag))
            pos += HEADER.size + n
        recs.sort(key=lambda r: r[0])
        i = 0
        while i < len(recs):  # equal keys (astronomically rare): order by payload, never by file position
            j = i + 1
            while j < len(recs) and recs[j][0] == recs[i][0]:
                j += 1
            if j - i > 1:
                recs[i:j] = sorted(recs[i:j], key=lambda r: bytes(buf[r[1]:r[1] + r[2]]))
            i = j
        view = memoryview(buf)
        for key, start, n, tag in recs:
            yield key, tag, view[start:start + n]
        for path in files:
            path.unlink()
