"""Shared reading of JSON-lines dumps (C4, the Pile, any ``jsonl`` corpus): decompression by streaming only,
bounded line lengths, and one named drop for each bad record.

Drops it counts: ``truncated_file`` (a corrupt/truncated gzip, zstd or tar stream: the records before the cut are
kept), ``line_too_long``, ``invalid_utf8`` (also lone surrogates smuggled in by JSON escapes), ``invalid_json``,
``missing_text``, ``empty_text``.
"""

from __future__ import annotations

import gzip
import io
import json
import tarfile
import zlib
from collections.abc import Iterator
from typing import IO, Any

import zstandard

from kllama.core.ledger import Ledger

#: zstd window limit (Pile shards use level 3, a few MB); larger windows are refused (decompression bombs).
MAX_WINDOW_SIZE = 1 << 27
#: the window of Pushshift's Reddit dumps (``zstd --long=31``): a reader of them passes it explicitly
PUSHSHIFT_WINDOW_SIZE = 1 << 31
#: compressed bytes handed to zstd per call; bounds the output of one call (zstd's ratio is at most ~32768:1)
FEED_BYTES = 4096
#: errors that mean the compressed stream under a reader is corrupt or ends early
STREAM_ERRORS = (zstandard.ZstdError, tarfile.TarError, gzip.BadGzipFile, zlib.error, EOFError, OSError)


class TruncatedInput(Exception):
    """The stream under a line reader is corrupt or ends early; ``args[0]`` names the cause."""


class ZstdStream(io.RawIOBase):
    """Streaming zstd decompression over any number of frames that notices a truncated last frame.

    (``ZstdDecompressor.stream_reader`` ends silently when the input stops inside a frame.) Raises
    ``zstandard.ZstdError`` on corrupt data and on an input that ends before its frame does.
    ``max_window_size``: the largest window accepted (memory the decoder may take).
    """

    def __init__(self, raw: IO[bytes], chunk: int = 1 << 20, max_window_size: int = MAX_WINDOW_SIZE) -> None:
        super().__init__()
        self._raw = raw
        self._chunk = chunk
        self._dctx = zstandard.ZstdDecompressor(max_window_size=max_window_size)
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


def open_decompressed(raw: IO[bytes], name: str, max_window_size: int = MAX_WINDOW_SIZE) -> IO[bytes]:
    """A buffered binary stream of ``raw`` decompressed by the suffix of ``name`` (.zst, .gz, else as is)."""
    if name.endswith(".zst"):
        return io.BufferedReader(ZstdStream(raw, max_window_size=max_window_size), buffer_size=1 << 20)
    if name.endswith(".gz"):
        return gzip.GzipFile(fileobj=raw, mode="rb")
    return raw


def iter_lines(stream: IO[bytes], max_line_bytes: int) -> Iterator[tuple[int, bytes | None]]:
    """``(line_no, line)`` of a binary stream; ``line`` is ``None`` for a line longer than ``max_line_bytes``
    (its rest is skipped without holding it). Raises ``TruncatedInput`` when the stream breaks."""
    line_no = 0
    while True:
        try:
            line = stream.readline(max_line_bytes + 1)
        except STREAM_ERRORS as exc:
            raise TruncatedInput(type(exc).__name__) from exc
        if not line:
            return
        line_no += 1
        if len(line) > max_line_bytes and not line.endswith(b"\n"):
            while True:
                try:
                    rest = stream.readline(1 << 20)
                except STREAM_ERRORS as exc:
                    raise TruncatedInput(type(exc).__name__) from exc
                if not rest or rest.endswith(b"\n"):
                    break
            yield line_no, None
            continue
        yield line_no, line


#: every drop reason of :func:`iter_text_records` (a reader built on it declares these)
DROP_REASONS = ("truncated_file", "invalid_utf8", "invalid_json", "missing_text", "empty_text", "line_too_long")


def count_truncation(ledger: Ledger, exc: BaseException) -> None:
    """Count a broken stream as one ``truncated_file`` drop (and its cause as a statistic)."""
    ledger.drop("truncated_file")
    cause = exc.args[0] if isinstance(exc, TruncatedInput) and exc.args else type(exc).__name__
    ledger.count(f"truncated_file:{cause}")


def parse_json_line(line: bytes, ledger: Ledger) -> Any:
    """The JSON value of one line, or ``None`` after counting ``invalid_utf8``/``invalid_json`` (or for a blank
    line, which is no record)."""
    if not line.strip():
        return None
    try:
        return json.loads(line.decode("utf-8"))
    except UnicodeDecodeError:
        ledger.drop("invalid_utf8", 1, len(line))
    except json.JSONDecodeError:
        ledger.drop("invalid_json", 1, len(line))
    return None


def iter_json_records(path: str, ledger: Ledger, max_line_bytes: int, max_window_size: int = MAX_WINDOW_SIZE
                      ) -> Iterator[tuple[int, Any, int]]:
    """``(line_no, value, line_bytes)`` of every parsable line of a JSON-lines file (plain, .gz or .zst); bad
    lines are counted drops (``line_too_long``, ``invalid_utf8``, ``invalid_json``) and a broken stream ends the
    iteration with one ``truncated_file`` drop."""
    with open(path, "rb") as raw:
        stream = open_decompressed(raw, path, max_window_size=max_window_size)
        try:
            for line_no, line in iter_lines(stream, max_line_bytes):
                if line is None:
                    ledger.drop("line_too_long", 1, max_line_bytes)
                    continue
                value = parse_json_line(line, ledger)
                if value is not None:
                    yield line_no, value, len(line)
        except TruncatedInput as exc:
            count_truncation(ledger, exc)


def is_utf8(text: str) -> bool:
    """False for a ``str`` that UTF-8 cannot encode (a lone surrogate from a JSON escape)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def parse_text_record(line: bytes, ledger: Ledger, text_field: str = "text") -> tuple[str, dict[str, Any]] | None:
    """``(text, record)`` of one JSON line, or ``None`` after counting a named drop (a blank line is no record).

    A list-valued text is joined with blank lines, as lm_dataformat does.
    """
    rec = parse_json_line(line, ledger)
    if rec is None:
        return None
    text = rec.get(text_field) if isinstance(rec, dict) else None
    if isinstance(text, list) and all(isinstance(t, str) for t in text):
        text = "\n\n".join(text)
    if not isinstance(text, str):
        ledger.drop("missing_text", 1, len(line))
        return None
    if not text.strip():
        ledger.drop("empty_text", 1, len(line))
        return None
    if not is_utf8(text):
        ledger.drop("invalid_utf8", 1, len(line))
        return None
    return text, rec


def iter_text_records(stream: IO[bytes], ledger: Ledger, max_line_bytes: int, text_field: str = "text"
                      ) -> Iterator[tuple[int, str, dict[str, Any]]]:
    """``(line_no, text, record)`` for every good record of a JSON-lines stream; bad ones are counted drops.
    A broken stream ends the iteration with one ``truncated_file`` drop."""
    try:
        for line_no, line in iter_lines(stream, max_line_bytes):
            if line is None:
                ledger.drop("line_too_long", 1, max_line_bytes)
                continue
            rec = parse_text_record(line, ledger, text_field)
            if rec is not None:
                yield line_no, rec[0], rec[1]
    except TruncatedInput as exc:
        count_truncation(ledger, exc)
