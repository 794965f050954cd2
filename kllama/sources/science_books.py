"""Science and engineering books from a local collection (libgen-like): EPUB, PDF (text layer, else OCR), DjVu.

Inputs: folders (or files) of ``.epub``, ``.pdf`` and ``.djvu`` books, any names; libgen names files by their
md5, and the optional **metadata table** (``metadata_path``) uses the layout of the libgen non-fiction database
dump: a CSV or TSV with a header holding at least ``md5`` and any of ``title``, ``author``, ``year``,
``language``, ``extension``, ``topic``. The recipe picks ``topics`` and ``languages`` from it. No content, and no
downloader, for any shadow library is part of kllama: this reader takes a folder the user may lawfully use.

Formats (:mod:`kllama.formats`):

- **EPUB**: zip read with limits, spine order from the OPF, XHTML to text; front matter (cover, title page,
  copyright, contents, ...) and the index dropped (:mod:`kllama.formats.epub`).
- **PDF**: PDFium's text layer per page (``pypdfium2``); a page with **no usable text layer** is rendered at
  ``ocr_dpi`` and read by **Tesseract** (``ocr = true``), its mean word confidence kept; a page under
  ``min_ocr_confidence`` is garbage. At most ``max_ocr_pages`` pages of a book are OCRed.
- **DjVu**: the hidden text layer of every page (``djvused``/``djvutxt`` from djvulibre-bin).

Page texts are cleaned by :mod:`kllama.text.book_cleanup` (ligatures, soft hyphens, running headers/footers and
page numbers, garbage pages, hyphenation at line ends, reflow into paragraphs) and the whole book is dropped when too
little survives. EPUB items are cleaned the same way minus the header/footer and reflow passes.

A book is one document: ``id`` = ``science_books/sha1(md5)`` (the file's md5, from a 32-hex file name or computed),
``meta``: ``md5``, ``file``, ``format``, ``title``, ``author``, ``year``, ``language``, ``topic``, ``extension``,
``pages``, ``pages_kept``, ``pages_text_layer``, ``pages_ocr``, ``ocr_confidence`` (mean over OCRed pages),
``pages_garbage`` (by reason), ``epub_items_dropped``.

Partition units batch ``books_per_partition`` books; with a metadata table the driver joins it once, when the
inputs are listed, and each unit carries its books' rows (so no worker loads the whole table).
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
from collections import Counter
from collections.abc import Iterator
from typing import Any, ClassVar

from kllama.core.document import Document, make_id
from kllama.core.ledger import Ledger
from kllama.core.registry import register
from kllama.core.steps import Source
from kllama.text.book_cleanup import book_verdict, clean_pages

BOOK_SEP = "\n"
ROW_SEP = "\t"
FORMATS = {".epub": "epub", ".pdf": "pdf", ".djvu": "djvu", ".djv": "djvu"}
_MD5 = re.compile(r"^[0-9a-fA-F]{32}$")

#: topic words the recipe may use -> words that appear in libgen's topic names for them
TOPIC_SYNONYMS = {
    "science": ("science", "physics", "chemistry", "biology", "geology", "astronomy", "geography", "earth"),
    "engineering": ("engineering", "technique", "technology", "electronics", "mechanics", "energy"),
    "mathematics": ("mathematics", "math", "algebra", "geometry", "analysis", "probability", "statistics"),
    "medicine": ("medicine", "medical", "anatomy", "pharmacology", "clinical"),
    "computing": ("computing", "computers", "computer", "programming", "informatics", "software"),
}
#: language names of the libgen table -> ISO 639-1
LANGUAGE_NAMES = {"english": "en", "german": "de", "french": "fr", "spanish": "es", "russian": "ru",
                  "italian": "it", "portuguese": "pt", "chinese": "zh", "japanese": "ja", "polish": "pl",
                  "dutch": "nl", "ukrainian": "uk", "czech": "cs", "hungarian": "hu", "swedish": "sv"}
TESSERACT_LANGS = {"en": "eng", "de": "deu", "fr": "fra", "es": "spa", "ru": "rus", "it": "ita", "pt": "por",
                   "nl": "nld", "pl": "pol"}


def iso_language(value: str | None) -> str | None:
    """``English``/``eng``/``en``/``en-US`` -> ``en``; unknown -> the value lower-cased; None stays None."""
    if not value:
        return None
    v = value.strip().lower().split(",")[0].split(";")[0].strip()
    if v in LANGUAGE_NAMES:
        return LANGUAGE_NAMES[v]
    v = v.split("-")[0].split("_")[0]
    three = {"eng": "en", "ger": "de", "deu": "de", "fre": "fr", "fra": "fr", "spa": "es", "rus": "ru",
             "ita": "it", "por": "pt", "chi": "zh", "zho": "zh", "jpn": "ja", "pol": "pl"}
    return three.get(v, v)


def topic_matches(topic: str | None, wanted: list[str]) -> bool:
    """Whether a libgen topic (``Mathematics\\\\Algebra``, ``Physics``, ``Technique``...) is one of ``wanted``
    (recipe words, expanded by :data:`TOPIC_SYNONYMS`, matched as words, case-insensitively)."""
    if not topic:
        return False
    words = set(re.findall(r"[a-z]+", topic.lower()))
    for w in wanted:
        for syn in TOPIC_SYNONYMS.get(w.lower(), (w.lower(),)):
            if syn in words:
                return True
    return False


def file_md5(path: str) -> str:
    """The book's md5: its file name when that is 32 hex digits (libgen's naming), else computed."""
    stem = os.path.basename(path).split(".")[0]
    if _MD5.match(stem):
        return stem.lower()
    h = hashlib.md5()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def load_metadata(path: str, md5s: set[str] | None = None) -> dict[str, dict[str, str]]:
    """Rows of a libgen-layout table (CSV or TSV with a header), keyed by lower-case md5; only ``md5s`` when given."""
    with open(path, encoding="utf-8", errors="replace", newline="") as f:
        head = f.readline()
        f.seek(0)
        delim = "\t" if head.count("\t") > head.count(",") else ","
        reader = csv.DictReader(f, delimiter=delim)
        out = {}
        for row in reader:
            row = {(k or "").strip().lower(): (v or "").strip() for k, v in row.items()}
            md5 = row.get("md5", "").lower()
            if not md5 or (md5s is not None and md5 not in md5s):
                continue
            out[md5] = {k: row.get(k, "") for k in ("title", "author", "year", "language", "extension", "topic")}
        return out


@register
class ScienceBooksSource(Source):
    """Books from a local EPUB/PDF/DjVu collection with an optional libgen-layout metadata table (see the module
    docstring). Options are grouped: selection (``metadata_path``, ``topics``, ``languages``,
    ``require_metadata``, ``formats``), limits (``max_book_bytes``, ``max_pages``), OCR (``ocr``, ``ocr_dpi``,
    ``min_ocr_confidence``, ``max_ocr_pages``, ``ocr_timeout``), cleaning (``min_page_chars``,
    ``max_symbol_ratio``, ``min_word_ratio``, ``min_running_share``, ``reflow``, ``min_book_chars``,
    ``min_kept_share``), ``default_lang`` and ``books_per_partition``."""

    name = "science_books"
    patterns = ("*.epub", "*.pdf", "*.djvu", "*.djv")
    drop_reasons: ClassVar[tuple[str, ...]] = (
        "book_too_large", "unreadable_file", "book_not_in_metadata", "book_topic_excluded",
        "book_language_excluded", "book_too_many_pages", "book_too_little_text", "pdf_encrypted", "pdf_unreadable",
        "epub_not_a_zip", "epub_limits", "epub_no_container", "epub_no_package", "epub_bad_package",
        "djvu_unreadable", "djvutxt_missing")

    def __init__(self, metadata_path: str | None = None, topics: list[str] | None = None,
                 languages: list[str] | None = None, require_metadata: bool = False,
                 formats: list[str] | None = None, max_book_bytes: int = 512 << 20, max_pages: int = 5000,
                 ocr: bool = True, ocr_dpi: int = 300, min_ocr_confidence: float = 60.0, max_ocr_pages: int = 2000,
                 ocr_timeout: float = 300.0, min_page_chars: int = 40, max_symbol_ratio: float = 0.3,
                 min_word_ratio: float = 0.08, min_running_share: float = 0.2, reflow: bool = True,
                 min_book_chars: int = 2000, min_kept_share: float = 0.5, default_lang: str = "en",
                 books_per_partition: int = 8, **options: Any) -> None:
        super().__init__(**options)
        self.metadata_path = metadata_path
        self.topics = list(topics) if topics else None
        self.languages = {iso_language(x) for x in languages} if languages else None
        self.require_metadata = require_metadata
        self.formats = set(formats) if formats else {"epub", "pdf", "djvu"}
        self.max_book_bytes = int(max_book_bytes)
        self.max_pages = int(max_pages)
        self.ocr = bool(ocr)
        self.ocr_dpi = int(ocr_dpi)
        self.min_ocr_confidence = float(min_ocr_confidence)
        self.max_ocr_pages = int(max_ocr_pages)
        self.ocr_timeout = float(ocr_timeout)
        self.clean_options = {"min_page_chars": int(min_page_chars), "max_symbol_ratio": float(max_symbol_ratio),
                              "min_word_ratio": float(min_word_ratio),
                              "min_running_share": float(min_running_share)}
        self.reflow = bool(reflow)
        self.min_book_chars = int(min_book_chars)
        self.min_kept_share = float(min_kept_share)
        self.default_lang = default_lang
        self.books_per_partition = max(1, int(books_per_partition))

    # -- inputs -------------------------------------------------------------------------------------
    def list_inputs(self, paths: list[str]) -> list[str]:
        """Book files in sorted order, ``books_per_partition`` to a unit; with a metadata table each book carries
        its row (``path<TAB>md5<TAB>json``), joined here once."""
        files = [f for f in super().list_inputs(paths)
                 if BOOK_SEP not in f and ROW_SEP not in f and FORMATS.get(os.path.splitext(f)[1].lower())]
        entries = files
        if self.metadata_path:
            md5s = {f: file_md5(f) for f in files}
            table = load_metadata(self.metadata_path, set(md5s.values()))
            entries = [ROW_SEP.join([f, md5s[f], json.dumps(table.get(md5s[f]), ensure_ascii=False,
                                                              sort_keys=True)]) for f in files]
        return [BOOK_SEP.join(entries[i: i + self.books_per_partition])
                for i in range(0, len(entries), self.books_per_partition)]

    def read(self, path: str, ledger: Ledger) -> Iterator[Document]:
        table = None
        for entry in path.split(BOOK_SEP):
            parts = entry.split(ROW_SEP)
            book, md5, row = parts[0], None, None
            if len(parts) == 3:
                md5, row = parts[1], json.loads(parts[2])
            elif self.metadata_path:  # a unit made without list_inputs (tests, tools): join here
                if table is None:
                    table = load_metadata(self.metadata_path)
                md5 = file_md5(book)
                row = table.get(md5)
            doc = self.read_book(book, ledger, md5, row)
            if doc is not None:
                yield doc

    # -- one book -----------------------------------------------------------------------------------
    def read_book(self, path: str, ledger: Ledger, md5: str | None = None, row: dict[str, str] | None = None
                  ) -> Document | None:
        """One book file -> a Document, or None after counting a named drop."""
        fmt = FORMATS.get(os.path.splitext(path)[1].lower())
        try:
            size = os.path.getsize(path)
        except OSError:
            ledger.drop("unreadable_file")
            return None
        if size > self.max_book_bytes:
            ledger.drop("book_too_large", 1, size)
            return None
        if self.metadata_path and row is None and self.require_metadata:
            ledger.drop("book_not_in_metadata", 1, size)
            return None
        lang_meta = iso_language(row.get("language")) if row else None
        if row is not None and self.topics is not None and not topic_matches(row.get("topic"), self.topics):
            ledger.drop("book_topic_excluded", 1, size)
            return None
        if row is not None and self.languages is not None and lang_meta not in self.languages:
            ledger.drop("book_language_excluded", 1, size)
            return None
        md5 = md5 or file_md5(path)
        info: dict[str, Any] = {"md5": md5, "file": os.path.basename(path), "format": fmt}
        try:
            if fmt == "epub":
                result = self._epub(path, info, lang_meta)
            elif fmt == "pdf":
                result = self._pdf(path, info, lang_meta, ledger)
            else:
                result = self._djvu(path, info, lang_meta)
        except _Drop as d:
            ledger.drop(d.reason, 1, size)
            return None
        text, stats, lang = result
        reason = book_verdict(stats, self.min_book_chars, self.min_kept_share)
        if reason:
            ledger.drop(reason, 1, size)
            ledger.count("science_books_pages_dropped", stats.pages - stats.pages_kept)
            return None
        if self.languages is not None and row is None and lang not in self.languages:
            ledger.drop("book_language_excluded", 1, size)
            return None
        for k, v in stats.pages_garbage.items():
            ledger.count(f"science_books_garbage_pages:{k}", v)
        ledger.count("science_books_running_lines", stats.running_lines + stats.page_numbers)
        ledger.count("science_books_hyphens_joined", stats.hyphens_joined)
        meta = {**info, "title": None, "author": None, "year": None, "language": None, "topic": None,
                "extension": None}
        if row:
            meta.update({k: (v or None) for k, v in row.items()})
        meta.update(pages=stats.pages, pages_kept=stats.pages_kept,
                    pages_garbage=dict(sorted(stats.pages_garbage.items())), pages_empty=stats.pages_empty)
        return Document(id=make_id(self.source_name, md5), text=text, source=self.source_name, lang=lang,
                        meta=meta)

    def _lang(self, lang_meta: str | None, found: str | None) -> str:
        return lang_meta or iso_language(found) or self.default_lang

    def _clean(self, pages: list[str], lang: str, skip: set[int] | None = None, reflow: bool | None = None):
        return clean_pages(pages, lang, reflow_lines=self.reflow if reflow is None else reflow,
                           skip_pages=skip, **self.clean_options)

    def _epub(self, path: str, info: dict[str, Any], lang_meta: str | None):
        from kllama.formats.epub import EpubError, read_epub

        try:
            book = read_epub(path)
        except EpubError as exc:
            raise _Drop(exc.reason) from exc
        lang = self._lang(lang_meta, book.language)
        content = [item.text for item in book.items if item.kind == "content"]
        dropped = Counter(item.kind for item in book.items if item.kind != "content")
        info.update(epub_items=len(book.items), epub_items_dropped=dict(sorted(dropped.items())),
                    epub_title=book.title, epub_creator=book.creator)
        # EPUB text is structured already: no running lines, no reflow; each item is a "page"
        clean = clean_pages(content, lang, reflow_lines=False, min_running_share=2.0, skip_pages=None,
                            **{k: v for k, v in self.clean_options.items() if k != "min_running_share"})
        return clean.text, clean.stats, lang

    def _pdf(self, path: str, info: dict[str, Any], lang_meta: str | None, ledger: Ledger):
        from kllama.formats.pdf import PdfError, open_pdf, page_text, render_gray, usable_layer

        try:
            pdf = open_pdf(path)
        except PdfError as exc:
            raise _Drop(exc.reason) from exc
        try:
            n = len(pdf)
            if n > self.max_pages:
                raise _Drop("book_too_many_pages")
            lang = self._lang(lang_meta, None)
            pages: list[str] = []
            skip: set[int] = set()
            confs: list[float] = []
            text_layer = ocred = 0
            for i in range(n):
                page = pdf[i]
                try:
                    t = page_text(page)
                    if usable_layer(t.text):
                        pages.append(t.text)
                        text_layer += 1
                        continue
                    if not self.ocr or ocred >= self.max_ocr_pages:
                        pages.append(t.text)
                        if self.ocr:
                            ledger.count("science_books_ocr_pages_over_limit")
                        continue
                    text, conf = self._ocr_page(render_gray(page, self.ocr_dpi), lang, ledger)
                    ocred += 1
                    if conf is not None:
                        confs.append(conf)
                    if text is None or conf is None or conf < self.min_ocr_confidence:
                        skip.add(i)
                    pages.append(text or "")
                finally:
                    page.close()
        finally:
            pdf.close()
        clean = self._clean(pages, lang, skip)
        info.update(pages_text_layer=text_layer, pages_ocr=ocred,
                    ocr_confidence=round(sum(confs) / len(confs), 2) if confs else None)
        return clean.text, clean.stats, lang

    def _ocr_page(self, gray, lang: str, ledger: Ledger) -> tuple[str | None, float | None]:
        from kllama.formats.ocr import OcrUnavailable, ocr_image

        try:
            res = ocr_image(gray, TESSERACT_LANGS.get(lang, "eng"), timeout=self.ocr_timeout)
        except OcrUnavailable:
            ledger.count("science_books_ocr_unavailable")
            return None, None
        except Exception:  # noqa: BLE001 - one failed page (timeout, crash) is a garbage page, not a lost book
            ledger.count("science_books_ocr_failed")
            return None, None
        ledger.count("science_books_ocr_pages")
        return res.text, res.confidence

    def _djvu(self, path: str, info: dict[str, Any], lang_meta: str | None):
        from kllama.formats.djvu import DjvuError, djvu_pages

        try:
            pages = djvu_pages(path)
        except DjvuError as exc:
            raise _Drop(exc.reason) from exc
        if len(pages) > self.max_pages:
            raise _Drop("book_too_many_pages")
        lang = self._lang(lang_meta, None)
        clean = self._clean(pages, lang)
        info.update(pages_text_layer=sum(1 for p in pages if p.strip()))
        return clean.text, clean.stats, lang


class _Drop(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
