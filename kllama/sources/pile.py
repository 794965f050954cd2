"""The Pile v1 and other lm_dataformat archives: ``*.jsonl.zst``, ``*.jsonl.zst.tar``, ``*.jsonl``.

Records are ``{"text": str | [str, ...], "meta": {"pile_set_name": ...}}``; a list-valued ``text`` is joined
with ``"\\n\\n"`` as lm_dataformat does. zstd is always *stream*-decompressed (Pile shards are written in
streaming mode and carry no content size), with a bounded window and a bounded line length, so a worker's
memory does not grow with the shard. Tar archives are read as a stream (``r|``) and only regular members
whose names end in ``.zst``/``.jsonl`` are read; nothing is extracted to disk.

Drops: ``truncated_file`` (corrupt/truncated zstd or tar: the records before the cut are kept),
``invalid_utf8``, ``invalid_json``, ``missing_text``, ``empty_text``, ``line_too_long``.
"""

from __future__ import annotations

import io
import json
import os
import tarfile
from collections.abc import Iterator
from typing import IO, Any

import zstandard

from kllama.document import Document, make_id
from kllama.engine.ledger import Ledger
from kllama.steps import Source, register

#: A JSON line longer than this is dropped as ``line_too_long``.
MAX_LINE_BYTES = 256 << 20
#: zstd window limit (Pile shards use level 3, a few MB); larger windows are refused (decompression bombs).
MAX_WINDOW_SIZE = 1 << 27
#: compressed bytes handed to zstd per call; bounds the output of one call (zstd's ratio is at most ~32768:1)
FEED_BYTES = 4096


class _Truncated(Exception):
    pass


def _lines(stream: IO[bytes], max_line_bytes: int) -> Iterator[bytes | None]:
    """Lines of a binary stream; ``None`` for a line longer than ``max_line_bytes`` (its rest is skipped).
    Raises ``_Truncated`` when the underlying zstd/tar stream is corrupt or ends early."""
    reader = io.BufferedReader(stream, buffer_size=1 << 20) if not isinstance(stream, io.BufferedReader) else stream
    while True:
        try:
            line = reader.readline(max_line_bytes + 1)
        except (zstandard.ZstdError, tarfile.TarError, EOFError, OSError) as exc:
            raise _Truncated(type(exc).__name__) from exc
        if not line:
            return
        if len(line) > max_line_bytes and not line.endswith(b"\n"):
            while True:
                try:
                    rest = reader.readline(1 << 20)
                except (zstandard.ZstdError, tarfile.TarError, EOFError, OSError) as exc:
                    raise _Truncated(type(exc).__name__) from exc
                if not rest or rest.endswith(b"\n"):
                    break
            yield None
            continue
        yield line


class ZstdStream(io.RawIOBase):
    """Streaming zstd decompression over any number of frames that notices a truncated last frame.

    (``ZstdDecompressor.stream_reader`` ends silently when the input stops inside a frame.) Raises
    ``zstandard.ZstdError`` on corrupt data and on an input that ends before its frame does.
    """

    def __init__(self, raw: IO[bytes], chunk: int = 1 << 20) -> None:
        super().__init__()
        self._raw = raw
        self._chunk = chunk
        self._dctx = zstandard.ZstdDecompressor(max_window_size=MAX_WINDOW_SIZE)
        self._obj = self._dctx.decompressobj()
        self._pending = b""
        self._input = b""
        self._in_frame = False
        self._done = False

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:  # type: ignore[override]
        while not self._pending and not self._done:
            if not self._input:
                self._input = self._raw.read(self._chunk)
                if not self._input:
                    self._done = True
                    if self._in_frame:
                        raise zstandard.ZstdError("input ends inside a zstd frame (truncated file)")
                    break
            # feed a small slice at a time: one slice expands to at most FEED_BYTES * ~32768 bytes
            data, self._input = self._input[:FEED_BYTES], self._input[FEED_BYTES:]
            while data:
                self._in_frame = True
                self._pending += self._obj.decompress(data)
                if self._obj.eof:
                    self._in_frame = False
                    data = self._obj.unused_data
                    self._obj = self._dctx.decompressobj()
                else:
                    data = b""
        n = min(len(b), len(self._pending))
        b[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n


def _zstd_stream(raw: IO[bytes]) -> IO[bytes]:
    return ZstdStream(raw)


def parse_record(line: bytes, ledger: Ledger) -> tuple[str, dict[str, Any]] | None:
    """``(text, meta)`` of one JSON line, or None after counting a named drop (blank lines are no record)."""
    if not line.strip():
        return None
    try:
        s = line.decode("utf-8")
    except UnicodeDecodeError:
        ledger.drop("invalid_utf8", 1, len(line))
        return None
    try:
        rec = json.loads(s)
    except json.JSONDecodeError:
        ledger.drop("invalid_json", 1, len(line))
        return None
    if not isinstance(rec, dict):
        ledger.drop("missing_text", 1, len(line))
        return None
    text = rec.get("text")
    if isinstance(text, list) and all(isinstance(t, str) for t in text):
        text = "\n\n".join(text)
    if not isinstance(text, str):
        ledger.drop("missing_text", 1, len(line))
        return None
    if not text.strip():
        ledger.drop("empty_text", 1, len(line))
        return None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        ledger.drop("invalid_utf8", 1, len(line))
        return None
    meta = rec.get("meta") if isinstance(rec.get("meta"), dict) else {}
    return text, meta


def iter_records(path: str, ledger: Ledger, max_line_bytes: int = MAX_LINE_BYTES
                 ) -> Iterator[tuple[str, int, str, dict[str, Any]]]:
    """``(member, line_no, text, meta)`` for every good record of a Pile file; bad ones are counted drops."""
    name = os.path.basename(path)
    with open(path, "rb") as raw:
        try:
            if name.endswith(".tar"):
                with tarfile.open(fileobj=raw, mode="r|") as tar:
                    for member in tar:
                        if not member.isfile():
                            continue
                        mname = member.name
                        if not (mname.endswith(".zst") or mname.endswith(".jsonl")):
                            ledger.count("pile_tar_member_skipped")
                            continue
                        f = tar.extractfile(member)
                        if f is None:
                            continue
                        stream = _zstd_stream(f) if mname.endswith(".zst") else f
                        yield from _records(stream, mname, ledger, max_line_bytes)
            else:
                stream = _zstd_stream(raw) if name.endswith(".zst") else raw
                yield from _records(stream, "", ledger, max_line_bytes)
        except (_Truncated, tarfile.TarError, zstandard.ZstdError, EOFError) as exc:
            ledger.drop("truncated_file")
            cause = exc.args[0] if isinstance(exc, _Truncated) and exc.args else type(exc).__name__
            ledger.count(f"truncated_file:{cause}")


def _records(stream: IO[bytes], member: str, ledger: Ledger, max_line_bytes: int
             ) -> Iterator[tuple[str, int, str, dict[str, Any]]]:
    for line_no, line in enumerate(_lines(stream, max_line_bytes), start=1):
        if line is None:
            ledger.drop("line_too_long", 1, max_line_bytes)
            continue
        rec = parse_record(line, ledger)
        if rec is not None:
            yield member, line_no, rec[0], rec[1]


@register
class PileSource(Source):
    """Reads Pile-format shards into Documents (``source = "pile"``, ``meta`` = the record's meta)."""

    name = "pile"
    patterns = ("*.jsonl.zst", "*.jsonl.zst.tar", "*.jsonl")

    def __init__(self, max_line_bytes: int = MAX_LINE_BYTES, **options: Any) -> None:
        super().__init__(**options)
        self.max_line_bytes = int(max_line_bytes)

    def read(self, path: str, ledger: Ledger) -> Iterator[Document]:
        base = os.path.basename(path)
        for member, line_no, text, meta in iter_records(path, ledger, self.max_line_bytes):
            locator = f"{base}:{member}:{line_no}" if member else f"{base}:{line_no}"
            yield Document(id=make_id("pile", locator), text=text, source="pile", meta=meta)
