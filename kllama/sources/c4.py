"""C4 (``allenai/c4`` ``en/*.json.gz``: one JSON object per line with ``text, timestamp, url``)."""

from __future__ import annotations

import gzip
import json
import os
import zlib
from collections.abc import Iterator

from kllama.document import Document, make_id
from kllama.engine.ledger import Ledger
from kllama.steps import Source, register

#: A JSON line longer than this is dropped as ``line_too_long`` (C4 pages are far below it).
MAX_LINE_BYTES = 16 << 20


@register
class C4Source(Source):
    """Reads C4 ``.json.gz`` (or plain ``.json``/``.jsonl``) files.

    ``split`` selects files by name: ``train`` keeps ``c4-train.*`` files and never mixes in
    ``c4-validation.*``; ``validation`` the reverse; ``all`` keeps both. Files whose name says neither are kept.
    Drops: ``truncated_file`` (the partial last line of a truncated/corrupt gzip; the lines before it are kept),
    ``invalid_utf8``, ``invalid_json``, ``missing_text``, ``empty_text``, ``line_too_long``.
    """

    name = "c4"
    patterns = ("*.json.gz", "*.json", "*.jsonl", "*.jsonl.gz")

    def __init__(self, split: str = "train", max_line_bytes: int = MAX_LINE_BYTES, **options) -> None:
        super().__init__(**options)
        if split not in ("train", "validation", "all"):
            raise ValueError(f"c4 split must be train, validation or all, not {split!r}")
        self.split = split
        self.max_line_bytes = max_line_bytes

    def list_inputs(self, paths: list[str]) -> list[str]:
        files = super().list_inputs(paths)
        if self.split == "all":
            return files
        other = "validation" if self.split == "train" else "train"
        return [f for f in files if f"c4-{other}." not in os.path.basename(f)]

    def read(self, path: str, ledger: Ledger) -> Iterator[Document]:
        opener = gzip.open if path.endswith(".gz") else open
        base = os.path.basename(path)
        with opener(path, "rb") as f:
            line_no = 0
            while True:
                try:
                    line = f.readline(self.max_line_bytes + 1)
                except (EOFError, gzip.BadGzipFile, zlib.error, OSError) as exc:
                    ledger.drop("truncated_file")
                    ledger.count(f"truncated_file:{type(exc).__name__}")
                    return
                if not line:
                    return
                line_no += 1
                if len(line) > self.max_line_bytes and not line.endswith(b"\n"):
                    ledger.drop("line_too_long", 1, len(line))
                    _skip_rest_of_line(f, ledger)
                    continue
                doc = self._parse(line, base, line_no, ledger)
                if doc is not None:
                    yield doc

    def _parse(self, line: bytes, base: str, line_no: int, ledger: Ledger) -> Document | None:
        if not line.strip():
            return None  # blank line: not a record
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
        if not isinstance(rec, dict) or not isinstance(rec.get("text"), str):
            ledger.drop("missing_text", 1, len(line))
            return None
        text = rec["text"]
        if not text.strip():
            ledger.drop("empty_text", 1, len(line))
            return None
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:  # JSON escapes can smuggle lone surrogates in
            ledger.drop("invalid_utf8", 1, len(line))
            return None
        url = rec.get("url") if isinstance(rec.get("url"), str) else None
        meta = {"timestamp": rec.get("timestamp"), "file": base, "line": line_no}
        return Document(id=make_id("c4", f"{base}:{line_no}"), text=text, source="c4", url=url, lang="en", meta=meta)


def _skip_rest_of_line(f, ledger: Ledger) -> None:
    while True:
        try:
            chunk = f.readline(1 << 20)
        except (EOFError, gzip.BadGzipFile, zlib.error, OSError):
            return
        if not chunk or chunk.endswith(b"\n"):
            return
