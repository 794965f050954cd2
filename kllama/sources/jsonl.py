"""Any JSON-lines corpus (``.jsonl``, ``.jsonl.gz``, ``.jsonl.zst``, ``.json.gz``): G2's extra sources
(maths, science, code, dialogue sets) or a user's own data. Documents take the recipe's source name."""

from __future__ import annotations

import gzip
import io
import json
import os
from collections.abc import Iterator
from typing import IO

import zstandard

from kllama.document import Document, make_id
from kllama.engine.ledger import Ledger
from kllama.steps import Source, register


def open_text_stream(path: str) -> IO[bytes]:
    """A binary stream of the decompressed file (zstd is always stream-decoded: Pile frames have no size)."""
    if path.endswith(".zst"):
        from kllama.sources.pile import ZstdStream

        return io.BufferedReader(ZstdStream(open(path, "rb")))  # noqa: SIM115 - closed with the reader
    if path.endswith(".gz"):
        return gzip.open(path, "rb")
    return open(path, "rb")  # noqa: SIM115


@register
class JsonlSource(Source):
    """Reads one JSON object per line; ``text_field`` holds the text (a list is joined with blank lines, as
    lm_dataformat does); ``url_field``/``id_field`` are optional; every other field goes to ``meta``.
    Drops: ``invalid_json``, ``missing_text``, ``empty_text``, ``invalid_utf8``, ``line_too_long``,
    ``truncated_file``."""

    name = "jsonl"
    patterns = ("*.jsonl", "*.jsonl.gz", "*.jsonl.zst", "*.json.gz")

    def __init__(self, text_field: str = "text", url_field: str = "url", id_field: str | None = None,
                 lang: str | None = None, max_line_bytes: int = 64 << 20, **options) -> None:
        super().__init__(**options)
        self.text_field, self.url_field, self.id_field = text_field, url_field, id_field
        self.lang = lang
        self.max_line_bytes = max_line_bytes

    def read(self, path: str, ledger: Ledger) -> Iterator[Document]:
        base = os.path.basename(path)
        with open_text_stream(path) as f:
            line_no = 0
            while True:
                try:
                    line = f.readline(self.max_line_bytes + 1)
                except (EOFError, OSError, zstandard.ZstdError) as exc:
                    ledger.drop("truncated_file")
                    ledger.count(f"truncated_file:{type(exc).__name__}")
                    return
                if not line:
                    return
                line_no += 1
                if len(line) > self.max_line_bytes and not line.endswith(b"\n"):
                    ledger.drop("line_too_long", 1, len(line))
                    while (chunk := f.readline(1 << 20)) and not chunk.endswith(b"\n"):
                        pass
                    continue
                if line.strip():
                    doc = self._parse(line, base, line_no, ledger)
                    if doc is not None:
                        yield doc

    def _parse(self, line: bytes, base: str, line_no: int, ledger: Ledger) -> Document | None:
        try:
            rec = json.loads(line.decode("utf-8"))
        except UnicodeDecodeError:
            ledger.drop("invalid_utf8", 1, len(line))
            return None
        except json.JSONDecodeError:
            ledger.drop("invalid_json", 1, len(line))
            return None
        text = rec.get(self.text_field) if isinstance(rec, dict) else None
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
        locator = str(rec.get(self.id_field)) if self.id_field and rec.get(self.id_field) is not None else \
            f"{base}:{line_no}"
        url = rec.get(self.url_field) if isinstance(rec.get(self.url_field), str) else None
        meta = {k: v for k, v in rec.items() if k not in (self.text_field, self.url_field)}
        meta.setdefault("file", base)
        return Document(id=make_id(self.source_name, locator), text=text, source=self.source_name, url=url,
                        lang=self.lang, meta=meta)
