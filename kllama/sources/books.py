"""Books: raw Project Gutenberg texts, PG-19-style clean texts and Books3, as folders of ``.txt`` files, as the
distributed ``books3.tar.gz`` (streamed, never extracted) or as JSON lines ``{"title", "text"}``.

One book is one file (or archive member, or JSON line). The *collection* of a book is the name of a folder on its
path (``gutenberg``, ``pg19`` or ``pg-19``, ``books3``/``Bibliotik``; the nearest one wins; an archive named
``books3.tar.gz`` counts as a folder ``books3``) or, failing that, the reader's ``collection`` option. Ids are
``books/{collection}/{sha1(locator)[:20]}`` so that the same file name in two collections never collides
(RedPajama v1 defect). A Books3 locator is the book's **title** (the file name without ``.txt`` and
``.epub``/``.mobi``/``.pdf``), so the extracted folder, the tar and the JSON lines give the same id to the same
book. Raw Gutenberg texts lose their PG header and licence footer (``strip_gutenberg``); PG-19 and Books3 texts
are already clean and are read as they are.

Books are read whole, so a size limit keeps memory bounded: a file or member larger than ``max_book_bytes`` is a
named drop (``book_too_large``) and is never read. Several loose files form one partition
(``books_per_partition``); an archive or JSON-lines file is its own partition (or ``archive_parts`` of them).
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
from kllama.formats.jsonlines import DROP_REASONS as JSONL_DROP_REASONS
from kllama.formats.jsonlines import iter_text_records, open_decompressed
from kllama.formats.tarstream import TruncatedArchive, iter_tar
from kllama.text.gutenberg import gutenberg_header, has_gutenberg_header, strip_gutenberg

#: Default size limit of one book file (the longest PG books are ~10 MB; Books3's longest are ~40 MB).
MAX_BOOK_BYTES = 64 << 20

#: Collections known by folder name (lower case) -> canonical collection name.
COLLECTION_FOLDERS = {"gutenberg": "gutenberg", "pg": "gutenberg", "pg19": "pg19", "pg-19": "pg19",
                      "pg_19": "pg19", "books3": "books3", "bibliotik": "books3"}

#: A batch of several book files travels as one partition unit: the paths joined by this separator.
BATCH_SEP = "\n"

#: Archives of book files, streamed member by member (``books3.tar.gz`` as distributed).
ARCHIVE_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz")
#: JSON lines of books (``{"title", "text"}``; the Hugging Face ``the_pile_books3`` form), plain or compressed.
JSONL_SUFFIXES = (".jsonl", ".jsonl.gz", ".jsonl.zst", ".json.gz", ".json.zst")
#: book file name suffixes removed to get a title (``Some Title - Author.epub.txt`` -> ``Some Title - Author``)
_TITLE_SUFFIX = re.compile(r"(?:\.(?:epub|mobi|pdf|azw3?|fb2|djvu))?(?:\.txt)?$", re.I)
#: an archive partition unit ``path#k/n``: the k-th of n interleaved slices of the archive's book members
_PART = re.compile(r"^(?P<path>.+)#(?P<k>\d+)/(?P<n>\d+)$")

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


def book_title(name: str) -> str:
    """A book's title from its file name or a JSON ``title``: the base name without ``.txt`` and
    ``.epub``/``.mobi``/``.pdf`` (``Bibliotik/A/A Title - Author.epub.txt`` -> ``A Title - Author``)."""
    base = name.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]
    return _TITLE_SUFFIX.sub("", base).strip() or base


def is_archive(path: str) -> bool:
    return path.lower().endswith(ARCHIVE_SUFFIXES)


def is_jsonl(path: str) -> bool:
    return path.lower().endswith(JSONL_SUFFIXES)


def archive_stem(path: str) -> str:
    """``/data/books3.tar.gz`` -> ``/data/books3``: an archive stands for a folder of its name."""
    low = path.lower()
    for suf in sorted(ARCHIVE_SUFFIXES + JSONL_SUFFIXES, key=len, reverse=True):
        if low.endswith(suf):
            return path[: -len(suf)]
    return path


def split_part(unit: str) -> tuple[str, int, int]:
    """``path#k/n`` -> (path, k, n); a plain path -> (path, 0, 1)."""
    m = _PART.match(unit)
    if m and not os.path.exists(unit):
        k, n = int(m.group("k")), int(m.group("n"))
        if 0 <= k < n:
            return m.group("path"), k, n
    return unit, 0, 1


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
    """Reads books (Gutenberg raw, PG-19, Books3): ``.txt`` files, tar archives of them (``books3.tar.gz``,
    streamed) and JSON lines ``{"title", "text"}``; one document per book.

    Options: ``collection`` (the collection of books that lie under no known collection folder), ``strip``
    (``auto``: strip PG header/footer when a START marker is present in a ``gutenberg`` file; ``always``;
    ``never``), ``max_book_bytes`` (also the limit of one archive member; a JSON line may be twice as long, for
    its escapes), ``min_chars`` (shorter books are dropped as ``book_too_short``), ``books_per_partition`` (loose
    files per partition) and ``archive_parts`` (an archive is read as this many partitions, each streaming the
    whole archive and taking every n-th book: more parallelism for one big ``.tar.gz`` at the price of reading it
    n times). Drops: ``book_too_large``, ``invalid_encoding``, ``empty_book``, ``book_too_short``,
    ``unreadable_file``, ``unsafe_member`` (an archive member with an absolute or ``..`` path, a link, device or
    sparse file), ``truncated_file`` and the JSON-lines reasons (``invalid_json``, ``missing_text``, ...).
    """

    name = "books"
    drop_reasons = ("book_too_large", "unreadable_file", "invalid_encoding", "empty_book", "book_too_short",
                    "unsafe_member", *JSONL_DROP_REASONS)
    patterns = ("*.txt", *(f"*{s}" for s in ARCHIVE_SUFFIXES + JSONL_SUFFIXES))

    def __init__(self, collection: str = "books3", strip: str = "auto", max_book_bytes: int = MAX_BOOK_BYTES,
                 min_chars: int = 1, books_per_partition: int = 64, archive_parts: int = 1,
                 **options: Any) -> None:
        super().__init__(**options)
        if strip not in ("auto", "always", "never"):
            raise ValueError(f"books strip must be auto, always or never, not {strip!r}")
        self.collection = collection
        self.strip = strip
        self.max_book_bytes = int(max_book_bytes)
        self.min_chars = int(min_chars)
        self.books_per_partition = max(1, int(books_per_partition))
        self.archive_parts = int(archive_parts)
        if self.archive_parts < 1:
            raise ValueError("books archive_parts must be >= 1")

    def list_inputs(self, paths: list[str]) -> list[str]:
        """Loose book files in sorted order, batched ``books_per_partition`` to a partition unit; each archive
        (``archive_parts`` units ``path#k/n`` when > 1) and each JSON-lines file is its own unit."""
        files = [f for f in super().list_inputs(paths) if BATCH_SEP not in f]
        whole = [f for f in files if is_archive(f) or is_jsonl(f)]
        loose = [f for f in files if not (is_archive(f) or is_jsonl(f))]
        units = [BATCH_SEP.join(loose[i : i + self.books_per_partition])
                 for i in range(0, len(loose), self.books_per_partition)]
        for f in whole:
            n = self.archive_parts if is_archive(f) else 1
            units.extend([f] if n == 1 else [f"{f}#{k}/{n}" for k in range(n)])
        return sorted(units)

    def read(self, path: str, ledger: Ledger) -> Iterator[Document]:
        if BATCH_SEP not in path:
            real, k, n = split_part(path)
            if is_archive(real):
                yield from self.read_archive(real, ledger, k, n)
                return
            if is_jsonl(real):
                yield from self.read_jsonl(real, ledger)
                return
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
        return self.book(data, path, ledger, meta_dir=Path(path).parent)

    def read_archive(self, path: str, ledger: Ledger, part: int = 0, parts: int = 1) -> Iterator[Document]:
        """The books of a tar archive, streamed (``kllama.formats.tarstream``: no extraction, no seeking, bounded
        memory). Members that are not ``.txt`` files are skipped and counted (``books_member_skipped``). With
        ``parts`` > 1 only every ``parts``-th book member from the ``part``-th is read (the others are skipped
        unread and are no input of this partition)."""
        stem = archive_stem(path)
        ordinal = -1
        try:
            with open(path, "rb") as raw:
                for entry in iter_tar(raw, self.max_book_bytes):
                    if entry.kind == "dir":
                        continue
                    if entry.kind == "file" and not entry.name.lower().endswith(".txt"):
                        ledger.count("books_member_skipped")
                        continue
                    ordinal += 1
                    if ordinal % parts != part:
                        continue
                    if entry.kind == "unsafe":
                        ledger.drop("unsafe_member", 1, entry.size)
                        continue
                    if entry.kind == "too_large":
                        ledger.drop("book_too_large", 1, entry.size)
                        continue
                    doc = self.book(entry.read(), f"{stem}/{entry.name}", ledger, meta_dir=None)
                    if doc is not None:
                        yield doc
        except OSError:
            ledger.drop("unreadable_file")
        except TruncatedArchive as exc:
            ledger.drop("truncated_file")
            ledger.count(f"truncated_file:{exc.args[0] if exc.args else 'TarError'}")

    def read_jsonl(self, path: str, ledger: Ledger) -> Iterator[Document]:
        """Books as JSON lines ``{"title", "text", ...}`` (plain, ``.gz`` or ``.zst``, streamed). The title gives
        the locator (the same id as the book's ``.txt`` file; a title repeated in the file gets `` #2``, ...); a record
        without one is located by file and line."""
        stem = archive_stem(path)
        base = os.path.basename(path)
        seen: dict[str, int] = {}
        try:
            with open(path, "rb") as raw:
                stream = open_decompressed(raw, path.lower())
                for line_no, text, rec in iter_text_records(stream, ledger, 2 * self.max_book_bytes + 4096):
                    data = text.encode("utf-8")
                    if len(data) > self.max_book_bytes:
                        ledger.drop("book_too_large", 1, len(data))
                        continue
                    title = rec.get("title")
                    if isinstance(title, str) and title.strip():
                        title = book_title(title.replace("/", "_"))
                        seen[title] = seen.get(title, 0) + 1
                        if seen[title] > 1:  # e.g. titles cut at their first dot: keep the ids apart
                            ledger.count("books_duplicate_title")
                            title = f"{title} #{seen[title]}"
                        name = f"{title}.txt"
                    else:
                        ledger.count("books_untitled_record")
                        name = f"{base}:{line_no}.txt"
                    doc = self.book(data, f"{stem}/{name}", ledger, meta_dir=None, text=text)
                    if doc is not None:
                        yield doc
        except OSError:
            ledger.drop("unreadable_file")

    def book(self, data: bytes, path: str, ledger: Ledger, meta_dir: Path | None,
             text: str | None = None) -> Document | None:
        """One book's bytes (``path``: its file, archive member or title path, which gives the collection and
        locator) -> a Document, or None after counting a named drop. ``text``: already decoded (JSON lines)."""
        collection, locator = collection_of(path, self.collection)
        head = data[:65536].decode("utf-8", "replace").replace("\r\n", "\n").split("\n")
        header = gutenberg_header(head) if has_gutenberg_header(head) else {}
        if text is None:
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
        meta = self._meta(path, collection, locator, header, meta_dir)
        if collection == "gutenberg" and meta.get("pg_id"):
            locator = f"pg{meta['pg_id']}"
        elif collection == "books3":
            locator = book_title(path)
        language = meta.get("language") or ""
        lang = LANGUAGE_CODES.get(language.lower()) if language else ("en" if collection == "pg19" else None)
        url = f"https://www.gutenberg.org/ebooks/{meta['pg_id']}" if meta.get("pg_id") else meta.pop("url", None)
        return Document(id=make_id(f"books/{collection}", locator), text=text, source="books", url=url or None,
                        lang=lang, meta=meta)

    def _meta(self, path: str, collection: str, locator: str, header: dict[str, str],
              meta_dir: Path | None) -> dict[str, Any]:
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
            info = _load_pg19_metadata(meta_dir).get(stem, {}) if stem.isdigit() and meta_dir is not None else {}
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
            meta["title"] = book_title(p.name)
        return meta
