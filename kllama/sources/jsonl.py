"""Any JSON-lines corpus (``.jsonl``, ``.jsonl.gz``, ``.jsonl.zst``, ``.json.gz``): G2's extra sources
(maths, science, code, dialogue sets) or a user's own data. Documents take the recipe's source name."""

from __future__ import annotations

import os
from collections.abc import Iterator

from kllama.core.document import Document, make_id
from kllama.core.ledger import Ledger
from kllama.core.registry import register
from kllama.core.steps import Source
from kllama.formats.jsonlines import DROP_REASONS, iter_text_records, open_decompressed


@register
class JsonlSource(Source):
    """Reads one JSON object per line; ``text_field`` holds the text (a list is joined with blank lines, as
    lm_dataformat does); ``url_field``/``id_field`` are optional; every other field goes to ``meta``.
    Drops: ``invalid_json``, ``missing_text``, ``empty_text``, ``invalid_utf8``, ``line_too_long``,
    ``truncated_file``."""

    name = "jsonl"
    drop_reasons = DROP_REASONS
    patterns = ("*.jsonl", "*.jsonl.gz", "*.jsonl.zst", "*.json.gz")

    def __init__(self, text_field: str = "text", url_field: str = "url", id_field: str | None = None,
                 lang: str | None = None, max_line_bytes: int = 64 << 20, **options) -> None:
        super().__init__(**options)
        self.text_field, self.url_field, self.id_field = text_field, url_field, id_field
        self.lang = lang
        self.max_line_bytes = max_line_bytes

    def read(self, path: str, ledger: Ledger) -> Iterator[Document]:
        base = os.path.basename(path)
        with open(path, "rb") as raw:
            stream = open_decompressed(raw, path)
            for line_no, text, rec in iter_text_records(stream, ledger, self.max_line_bytes, self.text_field):
                rid = rec.get(self.id_field) if self.id_field else None
                locator = str(rid) if rid is not None else f"{base}:{line_no}"
                url = rec.get(self.url_field) if isinstance(rec.get(self.url_field), str) else None
                meta = {k: v for k, v in rec.items() if k not in (self.text_field, self.url_field)}
                meta.setdefault("file", base)
                yield Document(id=make_id(self.source_name, locator), text=text, source=self.source_name,
                               url=url, lang=self.lang, meta=meta)
