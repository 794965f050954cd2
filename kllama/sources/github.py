"""GitHub code dumps: codeparrot/github-code style and bigcode/the-stack style, Parquet or JSON lines.

codeparrot/github-code rows: ``code, repo_name, path, language, license, size``.
the-stack rows: ``content, hexsha, size, ext, lang, max_stars_repo_{name,path,licenses}, max_stars_count, ...``.
Both become one Document per file with ``meta = {repo_name, path, language, licenses, size, ...}``.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import zlib
from collections.abc import Iterator
from typing import Any

from kllama.core.document import Document, make_id
from kllama.core.ledger import Ledger
from kllama.core.registry import register
from kllama.core.steps import Source

#: A file larger than this (bytes of UTF-8) is dropped as ``file_too_large`` before it becomes a Python string.
MAX_FILE_BYTES = 8 << 20

_TEXT_KEYS = ("code", "content", "text")
_META_KEYS = {
    "repo_name": ("repo_name", "max_stars_repo_name", "repo"),
    "path": ("path", "max_stars_repo_path", "filepath"),
    "language": ("language", "lang"),
    "size": ("size",),
    "hexsha": ("hexsha",),
    "ext": ("ext",),
    "stars": ("max_stars_count",),
}
_LICENSE_KEYS = ("license", "licenses", "max_stars_repo_licenses", "max_issues_repo_licenses",
                 "max_forks_repo_licenses")


def _first(rec: dict[str, Any], keys: tuple[str, ...]) -> Any:
    for k in keys:
        v = rec.get(k)
        if v is not None:
            return v
    return None


def _licenses(rec: dict[str, Any]) -> list[str]:
    for k in _LICENSE_KEYS:
        v = rec.get(k)
        if v is None:
            continue
        if isinstance(v, str):
            return [v] if v else []
        if isinstance(v, list | tuple):
            return [x for x in v if isinstance(x, str) and x]
    return []


def _skip_rest_of_line(f: io.BufferedIOBase, chunk: int = 1 << 20) -> int:
    """Consume the rest of an overlong line without keeping it; returns bytes skipped."""
    n = 0
    while True:
        part = f.readline(chunk)
        n += len(part)
        if not part or part.endswith(b"\n"):
            return n


@register
class GithubSource(Source):
    """Reads code dumps (``.parquet``, ``.jsonl``/``.json`` optionally ``.gz``/``.zst``). Also the reader of
    ``code_extra`` (G2), whose wider licence and extension lists are the recipe's steps, not reader options.

    Every record is a file. Drops: ``file_too_large`` (over ``max_file_bytes``; a JSON line is never read whole
    into memory beyond that limit), ``binary_file`` (bytes that are not UTF-8, or a NUL character),
    ``invalid_json``, ``missing_code``, ``empty_file``, ``truncated_file``.
    """

    name = "github"
    drop_reasons = ("missing_code", "binary_file", "empty_file", "file_too_large", "truncated_file", "invalid_json")
    patterns = ("*.parquet", "*.jsonl", "*.jsonl.gz", "*.json.gz", "*.json", "*.jsonl.zst")

    def __init__(self, max_file_bytes: int = MAX_FILE_BYTES, batch_rows: int = 1024, **options: Any) -> None:
        super().__init__(**options)
        self.max_file_bytes = int(max_file_bytes)
        self.batch_rows = int(batch_rows)

    # ---- records -> documents
    def _document(self, rec: dict[str, Any], text: Any, base: str, row: int, ledger: Ledger) -> Document | None:
        if text is None:
            ledger.drop("missing_code")
            return None
        if isinstance(text, bytes | bytearray | memoryview):
            try:
                text = bytes(text).decode("utf-8")
            except UnicodeDecodeError:
                ledger.drop("binary_file", 1, len(text))
                return None
        if not isinstance(text, str):
            ledger.drop("missing_code")
            return None
        if not text:
            ledger.drop("empty_file")
            return None
        if "\x00" in text:
            ledger.drop("binary_file", 1, len(text.encode("utf-8", "surrogatepass")))
            return None
        meta: dict[str, Any] = {}
        for key, names in _META_KEYS.items():
            v = _first(rec, names)
            if v is not None:
                meta[key] = v
        meta["licenses"] = _licenses(rec)
        repo = meta.get("repo_name") or ""
        path = meta.get("path") or ""
        locator = f"{repo}/{path}@{meta['hexsha']}" if meta.get("hexsha") else f"{base}:{row}:{repo}/{path}"
        url = f"https://github.com/{repo}/blob/HEAD/{path}" if repo and path else None
        # ids and the source column take the recipe's name: another source with this reader (code_extra) gets
        # its own ids, even for a file that github also holds
        return Document(id=make_id(self.source_name, locator), text=text, source=self.source_name, url=url,
                        lang="code", meta=meta)

    def read(self, path: str, ledger: Ledger) -> Iterator[Document]:
        if path.endswith(".parquet"):
            yield from self._read_parquet(path, ledger)
        else:
            yield from self._read_jsonl(path, ledger)

    def _read_parquet(self, path: str, ledger: Ledger) -> Iterator[Document]:
        import pyarrow.compute as pc
        import pyarrow.parquet as pq

        base = os.path.basename(path)
        pf = pq.ParquetFile(path)
        names = pf.schema_arrow.names
        text_col = next((k for k in _TEXT_KEYS if k in names), None)
        if text_col is None:
            raise ValueError(f"{base}: no code/content column (columns: {names})")
        row = 0
        for batch in pf.iter_batches(batch_size=self.batch_rows):
            texts = batch.column(text_col)
            lengths = pc.binary_length(texts).to_pylist()
            others = batch.drop_columns([text_col]).to_pylist() if batch.num_columns > 1 else [{}] * batch.num_rows
            for i, n in enumerate(lengths):
                if n is not None and n > self.max_file_bytes:
                    ledger.drop("file_too_large", 1, n)
                    row += 1
                    continue
                doc = self._document(others[i], texts[i].as_py(), base, row, ledger)
                row += 1
                if doc is not None:
                    yield doc

    def _read_jsonl(self, path: str, ledger: Ledger) -> Iterator[Document]:
        base = os.path.basename(path)
        with _open_binary(path) as f:
            row = 0
            while True:
                try:
                    line = f.readline(self.max_file_bytes + 1)
                except (EOFError, gzip.BadGzipFile, zlib.error, OSError) as exc:
                    ledger.drop("truncated_file")
                    ledger.count(f"truncated_file:{type(exc).__name__}")
                    return
                if not line:
                    return
                if len(line) > self.max_file_bytes and not line.endswith(b"\n"):
                    skipped = _skip_rest_of_line(f)
                    ledger.drop("file_too_large", 1, len(line) + skipped)
                    row += 1
                    continue
                if not line.strip():
                    continue
                try:
                    rec = json.loads(line)
                except (json.JSONDecodeError, UnicodeDecodeError):
                    ledger.drop("invalid_json", 1, len(line))
                    row += 1
                    continue
                if not isinstance(rec, dict):
                    ledger.drop("invalid_json", 1, len(line))
                    row += 1
                    continue
                text = _first(rec, _TEXT_KEYS)
                doc = self._document(rec, text, base, row, ledger)
                row += 1
                if doc is not None:
                    yield doc


def _open_binary(path: str) -> io.BufferedIOBase:
    if path.endswith(".gz"):
        return gzip.open(path, "rb")
    if path.endswith(".zst"):
        import zstandard

        fh = open(path, "rb")  # noqa: SIM115 - closed with the reader
        return io.BufferedReader(zstandard.ZstdDecompressor().stream_reader(fh, closefd=True))
    return open(path, "rb")  # noqa: SIM115
