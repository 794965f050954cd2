"""C4 (``allenai/c4`` ``en/*.json.gz``: one JSON object per line with ``text, timestamp, url``)."""

from __future__ import annotations

import os
from collections.abc import Iterator

from kllama.core.document import Document, make_id
from kllama.core.ledger import Ledger
from kllama.core.registry import register
from kllama.core.steps import Source
from kllama.formats.jsonlines import DROP_REASONS, iter_text_records, open_decompressed

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
    drop_reasons = DROP_REASONS
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
        base = os.path.basename(path)
        with open(path, "rb") as raw:
            stream = open_decompressed(raw, path)
            for line_no, text, rec in iter_text_records(stream, ledger, self.max_line_bytes):
                url = rec.get("url") if isinstance(rec.get("url"), str) else None
                meta = {"timestamp": rec.get("timestamp"), "file": base, "line": line_no}
                yield Document(id=make_id("c4", f"{base}:{line_no}"), text=text, source="c4", url=url, lang="en",
                               meta=meta)
