"""Books: raw Project Gutenberg texts, PG-19-style clean texts and a Books3-style folder of ``.txt`` files.

One book is one file. The *collection* of a file is the name of a folder on its path (``gutenberg``, ``pg19``
or ``pg-19``, ``books3``; the nearest one wins) or, failing that, the reader's ``collection`` option. Ids are
``books/{collection}/{sha1(locator)[:20]}`` so that the same file name in two collections never collides
(RedPajama v1 defect). Raw Gutenberg texts lose their PG header and licence footer (``strip_gutenberg``);
PG-19 and Books3 texts are already clean and are read as they are.

Books are read whole, so a size limit keeps memory bounded: a file larger than ``max_book_bytes`` is a named
drop (``book_too_large``) and is never opened. Several books form one partition (``books_per_partition``).
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from kllama.core.document import Document, make_id
from kllama.core.ledger import Ledger
from kllama.core.registry import register
from kllama.core.steps import Source
from kllama.text.gutenberg import gutenberg_header, has_gutenberg_header, strip_gutenberg

#: Default size limit of one book file (the longest PG books are ~10 MB; Books3's longest are ~40 MB).
MAX_BOOK_BYTES = 64 << 20

#: Collections known by folder name (lower case) -> canonical collection name.
COLLECTION_FOLDERS = {"gutenberg": "gutenberg", "pg": "gutenberg", "pg19": "pg19", "pg-19": "pg19",
                      "pg_19": "pg19", "books3": "books3", "bibliotik": "books3"}

#: A batch of several book files travels as one partition unit: the paths joined by this separator.
BATCH_SEP = "\n"

#: PG "Language:" values -> ISO 639-1 (the common ones; others keep lang None and the name in meta).
LANGUAGE_CODES = {
    "english": "en", "french": "fr", "german": "de", "spanish": "es", "italian": "it", "portuguese": "pt",
    "dutch": "nl", "finnish": "fi", "swedish": "sv", "danish": "da", "norwegian": "no", "polish": "pl",
    "russian": "ru", "hungarian": "hu", "czech": "cs", "latin": "la", "greek": "el", "chinese": "zh",
    "japanese": "ja", "catalan": "ca", "esperanto": "eo", "tagalog": "tl", "middle english": "enm",
}


def collection_of(path: str, default: str) -> tuple[str, str]:
    """The collection of ``path`` (nearest known folder name, else ``default``) and the path's locator
    relative to that folder (else its base name)."""
    parts = Path(path).parts
    for i in range(len(parts) - 2, -1, -1):
        name = COLLECTION_FOLDERS.get(parts[i].lower())
        if name:
            return name, "/".join(parts[i + 1 :])
    return default, parts[-1]


def _load_pg19_metadata(folder: Path) -> dict[str, dict[str, str]]:
    """PG-19's ``metadata.csv`` (``id,title,year,url``, with or without a header row) from ``folder`` or its
    parent; {} when absent."""
    for d in (folder, folder.parent):
        f = d / "metadata.csv"
        if f.is_file() and f.stat().st_size < (64 << 20):
            rows = {}
            with open(f, encoding="utf-8", errors="replace", newline="") as fh:
                for row in csv.reader(fh):
                    if len(row) >= 2 and row[0].strip().isdigit():
                        rows[row[0].strip()] = {"title": row[1].strip(), "year": row[2].strip() if len(row) > 2 else "",
                                                "url": row[3].strip() if len(row) > 3 else ""}
            return rows
    return {}


def _decode(data: bytes, declared: str | None, ledger: Ledger) -> str | None:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    enc = (declared or "").strip().lower()
    for candidate in ([enc] if enc and "utf" not in enc else []) + ["cp1252"]:
        try:
            text = data.decode(candidate)
            ledger.count(f"books_decoded_as:{candidate}")
            return text
        except (UnicodeDecodeError, LookupError):
            continue
    return None


@register
class BooksSource(Source):
    """Reads book ``.txt`` files (Gutenberg raw, PG-19, Books3-style); one document per book.

    Options: ``collection`` (the collection of files that lie under no known collection folder), ``strip``
    (``auto``: strip PG header/footer when a START marker is present in a ``gutenberg`` file; ``always``;
    ``never``), ``max_book_bytes``, ``min_chars`` (shorter books are dropped as ``book_too_short``) and
    ``books_per_partition``. Drops: ``book_too_large``, ``invalid_encoding``, ``empty_book``,
    ``book_too_short``, ``unreadable_file``.
    """

    name = "books"
    drop_reasons = ("book_too_large", "unreadable_file", "invalid_encoding", "empty_book", "book_too_short")
    patterns = ("*.txt",)

    def __init__(self, collection: str = "books3", strip: str = "auto", max_book_bytes: int = MAX_BOOK_BYTES,
                 min_chars: int = 1, books_per_partition: int = 64, **options: Any) -> None:
        super().__init__(**options)
        if strip not in ("auto", "always", "never"):
            raise ValueError(f"books strip must be auto, always or never, not {strip!r}")
        self.collection = collection
        self.strip = strip
        self.max_book_bytes = int(max_book_bytes)
        self.min_chars = int(min_chars)
        self.books_per_partition = max(1, int(books_per_partition))

    def list_inputs(self, paths: list[str]) -> list[str]:
        """Book files in sorted order, batched ``books_per_partition`` to a partition unit."""
        files = [f for f in super().list_inputs(paths) if BATCH_SEP not in f]
        return [BATCH_SEP.join(files[i : i + self.books_per_partition])
                for i in range(0, len(files), self.books_per_partition)]

    def read(self, path: str, ledger: Ledger) -> Iterator[Document]:
        for one in path.split(BATCH_SEP):
            doc = self.read_book(one, ledger)
            if doc is not None:
                yield doc

    def read_book(self, path: str, ledger: Ledger) -> Document | None:
        """One book file -> a Document, or None after counting a named drop."""
        try:
            size = os.path.getsize(path)
            if size > self.max_book_bytes:
                ledger.drop("book_too_large", 1, size)
                return None
            with open(path, "rb") as f:
                data = f.read(self.max_book_bytes + 1)
        except OSError:
            ledger.drop("unreadable_file")
            return None
        if len(data) > self.max_book_bytes:  # grew while we looked
            ledger.drop("book_too_large", 1, len(data))
            return None
        collection, locator = collection_of(path, self.collection)
        head = data[:65536].decode("utf-8", "replace").replace("\r\n", "\n").split("\n")
        header = gutenberg_header(head) if has_gutenberg_header(head) else {}
        text = _decode(data, header.get("character set encoding"), ledger)
        if text is None:
            ledger.drop("invalid_encoding", 1, len(data))
            return None
        do_strip = self.strip == "always" or (self.strip == "auto" and collection == "gutenberg" and bool(header))
        if do_strip:
            text = strip_gutenberg(text)
        else:
            text = text.replace("\r\n", "\n").strip("\n")
            if collection == "gutenberg":
                ledger.count("gutenberg_without_start_marker")
        if not text.strip():
            ledger.drop("empty_book", 1, len(data))
            return None
        if len(text) < self.min_chars:
            ledger.drop("book_too_short", 1, len(text.encode("utf-8", "surrogatepass")))
            return None
        meta = self._meta(path, collection, locator, header)
        if collection == "gutenberg" and meta.get("pg_id"):
            locator = f"pg{meta['pg_id']}"
        language = meta.get("language") or ""
        lang = LANGUAGE_CODES.get(language.lower()) if language else ("en" if collection == "pg19" else None)
        url = f"https://www.gutenberg.org/ebooks/{meta['pg_id']}" if meta.get("pg_id") else meta.pop("url", None)
        return Document(id=make_id(f"books/{collection}", locator), text=text, source="books", url=url or None,
                        lang=lang, meta=meta)

    def _meta(self, path: str, collection: str, locator: str, header: dict[str, str]) -> dict[str, Any]:
        p = Path(path)
        stem = p.name[: -len(".txt")] if p.name.endswith(".txt") else p.stem
        meta: dict[str, Any] = {"collection": collection, "file": locator, "title": None, "author": None,
                                "language": None}
        if header:
            meta.update(title=header.get("title"), author=header.get("author"), language=header.get("language"))
            if header.get("ebook"):
                meta["pg_id"] = header["ebook"]
        if collection == "gutenberg" and "pg_id" not in meta:
            m = re.fullmatch(r"(?:pg)?(\d+)(?:-\d+)?", stem)
            if m:
                meta["pg_id"] = m.group(1)
        elif collection == "pg19":
            info = _load_pg19_metadata(p.parent).get(stem, {}) if stem.isdigit() else {}
            meta["title"] = meta["title"] or info.get("title") or None
            if info.get("year"):
                meta["year"] = info["year"]
            if info.get("url"):
                meta["url"] = info["url"]
            meta["language"] = meta["language"] or "English"
            if stem.isdigit():
                meta["pg_id"] = stem
        elif collection == "books3" and not meta["title"]:
            # Books3 files are named after the book ("Title - Author.epub.txt" and similar); keep the name only
            meta["title"] = re.sub(r"\.(epub|mobi|pdf)$", "", stem, flags=re.I)
        return meta
