"""science_books: generated EPUB, text PDF, scanned PDF (OCR), DjVu; metadata selection; drops; the book rule."""

from __future__ import annotations

import hashlib
import os
import random
import textwrap
from pathlib import Path

import pytest

from kllama.core.document import CORE_SCHEMA, documents_to_table
from kllama.core.ledger import Ledger
from kllama.dedup.minhash_lsh import MinHashLSH
from kllama.engine.inprocess import run_global_in_process
from kllama.formats.ocr import character_error_rate
from kllama.sources.science_books import ScienceBooksSource, file_md5, iso_language, topic_matches
from tools.make_demo.science_books import (
    chapters,
    djvu_tools,
    layout_lines,
    make_djvu,
    make_epub,
    make_garbage_pdf,
    make_scanned_pdf,
    make_text_pdf,
    paged,
    paragraph,
)

IN_CI = os.environ.get("CI", "").lower() == "true"
TOPICS = ["science", "engineering", "mathematics", "medicine", "computing"]


def _put(folder: Path, data: bytes, ext: str) -> str:
    md5 = hashlib.md5(data).hexdigest()
    (folder / f"{md5}.{ext}").write_bytes(data)
    return md5


def _read(folder: Path, **options) -> tuple[list, Ledger]:
    src = ScienceBooksSource(**options)
    ledger = Ledger()
    return [d for unit in src.list_inputs([str(folder)]) for d in src.read(unit, ledger)], ledger


def test_helpers():
    assert topic_matches("Mathematics\\Algebra", ["mathematics"])
    assert topic_matches("Technique\\Electronics", ["engineering"])
    assert topic_matches("Computers\\Programming", ["computing"])
    assert not topic_matches("Fiction", TOPICS) and not topic_matches(None, TOPICS)
    assert iso_language("English") == "en" and iso_language("eng") == "en" and iso_language("en-GB") == "en"
    assert iso_language("German") == "de" and iso_language(None) is None


def test_epub_and_text_pdf_books(tmp_path):
    chaps = chapters(5, n=3, paras=6)
    e = _put(tmp_path, make_epub("Heat", "A. Author", chaps, ligatures=True), "epub")
    p = _put(tmp_path, make_text_pdf("Heat", chaps, alternate=True), "pdf")
    docs, ledger = _read(tmp_path, min_book_chars=500)
    assert not ledger.dropped and len(docs) == 2
    by = {d.meta["format"]: d for d in docs}
    epub, pdf = by["epub"], by["pdf"]
    assert epub.meta["md5"] == e and pdf.meta["md5"] == p and epub.id != pdf.id
    assert epub.meta["epub_items_dropped"] == {"front": 4, "index": 1}
    assert "Copyright" not in epub.text and "Contents" not in epub.text and "\ufb01" not in epub.text
    # the PDF: running headers and page numbers gone, hyphenation joined, paragraphs reflowed
    assert pdf.meta["pages_text_layer"] == pdf.meta["pages"] and pdf.meta["pages_ocr"] == 0
    assert "HEAT\n" not in pdf.text and "\n1\n" not in pdf.text and "-\n" not in pdf.text
    assert ledger.stats["science_books_hyphens_joined"] >= 2
    flat_pdf, flat_epub = " ".join(pdf.text.split()), " ".join(epub.text.split())
    for title, paras in chaps:
        assert title in pdf.text.split("\n\n")
        for para in paras:  # (a paragraph that a page ends with a full stop may be cut there: flat compare)
            assert para in flat_pdf and para in epub.text
    assert flat_epub == flat_pdf  # the same book from two formats cleans to the same words


def test_scanned_pages_are_ocred_with_confidence_in_meta(tmp_path):
    rng = random.Random(9)
    scan = [textwrap.wrap(paragraph(rng, 4), 52), textwrap.wrap(paragraph(rng, 4), 52)]
    text_pages = paged(layout_lines(chapters(6, n=1, paras=4)), 40)
    _put(tmp_path, make_scanned_pdf(scan, text_pages=text_pages), "pdf")
    docs, ledger = _read(tmp_path, min_book_chars=500)
    doc = docs[0]
    assert doc.meta["pages_ocr"] == 2 and doc.meta["pages_text_layer"] == len(text_pages)
    assert doc.meta["ocr_confidence"] > 85 and ledger.stats["science_books_ocr_pages"] == 2
    ocr_part = doc.text[-(len(" ".join(scan[0] + scan[1])) + 20):]
    cer = character_error_rate(" ".join(scan[0] + scan[1]), ocr_part)
    print(f"\nscanned pages inside a book: character error rate {cer:.4f}, confidence {doc.meta['ocr_confidence']}")
    assert cer < 0.05
    # without OCR, or with a confidence bar no page reaches, the scanned-only book has too little text
    only = tmp_path / "only"
    only.mkdir()
    _put(only, make_scanned_pdf(scan), "pdf")
    assert _read(only, ocr=False, min_book_chars=200)[1].dropped == {"book_too_little_text": 1}
    docs, ledger = _read(only, min_ocr_confidence=101, min_book_chars=200)
    assert ledger.dropped == {"book_too_little_text": 1}


def test_djvu_book(tmp_path):
    if not djvu_tools():
        if IN_CI:
            raise AssertionError("djvulibre-bin is missing in CI (.ci/run installs it)")
        pytest.skip("djvulibre-bin not installed")
    chaps = chapters(7, n=2, paras=4)
    _put(tmp_path, make_djvu(paged(layout_lines(chaps), 40)), "djvu")
    docs, ledger = _read(tmp_path, min_book_chars=500)
    assert not ledger.dropped and docs[0].meta["format"] == "djvu"
    for para in chaps[0][1]:
        assert para in docs[0].text


def test_metadata_selects_topics_and_languages(tmp_path):
    books = tmp_path / "books"
    books.mkdir()
    rows = [
        (_put(books, make_epub("Algebra", "A", chapters(1, 2, 4)), "epub"), "Mathematics\\Algebra", "English"),
        (_put(books, make_epub("A Novel", "B", chapters(2, 2, 4)), "epub"), "Fiction", "English"),
        (_put(books, make_epub("Optik", "C", chapters(3, 2, 4), lang="de"), "epub"), "Physics", "German"),
    ]
    extra = _put(books, make_epub("Unlisted", "D", chapters(4, 2, 4)), "epub")
    table = tmp_path / "libgen.tsv"
    table.write_text("MD5\tTitle\tAuthor\tYear\tLanguage\tExtension\tTopic\n" + "".join(
        f"{m.upper()}\tT{k}\tAuthor\t2001\t{lang}\tepub\t{topic}\n" for k, (m, topic, lang) in enumerate(rows)))
    opts = {"metadata_path": str(table), "topics": TOPICS, "languages": ["en"], "min_book_chars": 500}
    docs, ledger = _read(books, **opts)
    assert dict(ledger.dropped) == {"book_topic_excluded": 1, "book_language_excluded": 1}
    assert sorted(d.meta["md5"] for d in docs) == sorted([rows[0][0], extra])
    algebra = next(d for d in docs if d.meta["md5"] == rows[0][0])
    assert algebra.meta["topic"] == "Mathematics\\Algebra" and algebra.meta["year"] == "2001"
    assert algebra.meta["title"] == "T0" and algebra.lang == "en"
    docs, ledger = _read(books, require_metadata=True, **opts)
    assert ledger.dropped["book_not_in_metadata"] == 1 and len(docs) == 1
    # the units carry the joined rows: a worker never loads the table
    src = ScienceBooksSource(**opts)
    unit = src.list_inputs([str(books)])[0]
    assert "\t" in unit and "Mathematics" in unit


def test_named_drops(tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    _put(bad, make_garbage_pdf(), "pdf")
    (bad / "broken.pdf").write_bytes(b"%PDF-1.4 nothing else")
    (bad / "broken.epub").write_bytes(b"PK\x03\x04 truncated zip")
    big = tmp_path / "big"
    big.mkdir()
    _put(big, make_text_pdf("Big", chapters(8, 2, 6)), "pdf")
    docs, ledger = _read(bad)
    assert not docs
    assert dict(ledger.dropped) == {"book_too_little_text": 1, "pdf_unreadable": 1, "epub_not_a_zip": 1}
    assert _read(big, max_book_bytes=1000)[1].dropped == {"book_too_large": 1}
    assert _read(big, max_pages=1)[1].dropped == {"book_too_many_pages": 1}


def test_md5_from_name_or_content(tmp_path):
    f = tmp_path / "My Book.pdf"
    f.write_bytes(b"abc")
    assert file_md5(str(f)) == hashlib.md5(b"abc").hexdigest()
    g = tmp_path / ("AB" * 16 + ".pdf")
    g.write_bytes(b"anything")
    assert file_md5(str(g)) == "ab" * 16


def test_book_rule_drops_the_print_edition(tmp_path):
    chaps = chapters(5, n=3, paras=6)
    _put(tmp_path, make_epub("Heat", "A. Author", chaps), "epub")
    _put(tmp_path, make_text_pdf("Heat", chaps), "pdf")
    _put(tmp_path, make_text_pdf("Other", chapters(99, n=3, paras=6)), "pdf")
    docs, _ = _read(tmp_path, min_book_chars=500)
    step = MinHashLSH(ngram=5, bands=32, rows=4, measure="containment", threshold=0.9,
                      reason="book_near_duplicate", num_buckets=4)
    res = run_global_in_process(step, [documents_to_table(docs, CORE_SCHEMA)])
    assert res.ledger.dropped == {"book_near_duplicate": 1}
    assert res.tables[0].num_rows == 2


def test_no_tools_no_crash(tmp_path, monkeypatch):
    """Without tesseract a scanned book is dropped (too little text), counted; without djvused a DjVu book is
    the named drop djvutxt_missing."""
    import kllama.formats.djvu as djvu
    import kllama.formats.ocr as ocr

    monkeypatch.setattr(ocr, "tesseract_path", lambda: None)
    monkeypatch.setattr(djvu, "djvutxt_path", lambda: None)
    _put(tmp_path, make_scanned_pdf([textwrap.wrap(paragraph(random.Random(1), 3), 50)]), "pdf")
    (tmp_path / "x.djvu").write_bytes(b"AT&TFORM")
    docs, ledger = _read(tmp_path, min_book_chars=100)
    assert dict(ledger.dropped) == {"book_too_little_text": 1, "djvutxt_missing": 1}
    assert ledger.stats["science_books_ocr_unavailable"] == 1
