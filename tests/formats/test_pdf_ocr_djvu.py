"""PDF text layers (PDFium), OCR with Tesseract on generated scans (character error rate printed), DjVu text."""

from __future__ import annotations

import os
import random
import shutil
import textwrap

import pytest

from kllama.formats.djvu import DjvuError, djvu_pages
from kllama.formats.ocr import character_error_rate, ocr_image, parse_tsv
from kllama.formats.pdf import PdfError, open_pdf, page_text, render_gray, usable_layer
from tools.make_demo.pdfwriter import PdfBuilder
from tools.make_demo.science_books import djvu_tools, make_djvu, make_scanned_pdf, paragraph

IN_CI = os.environ.get("CI", "").lower() == "true"


def _need(tool: str, present: bool) -> None:
    """Skip when a system tool is missing, except in CI, where .ci/run installs it."""
    if not present:
        if IN_CI:
            raise AssertionError(f"{tool} is missing in CI (.ci/run installs it)")
        pytest.skip(f"{tool} not installed")


def test_text_layer_in_bands_and_hyphen_marks(tmp_path):
    b = PdfBuilder()
    b.add_text_page(["The heat equation describes how the temper-", "ature of a rod changes with time."],
                    header="CHAPTER 1. HEAT", footer="12")
    path = tmp_path / "t.pdf"
    path.write_bytes(b.build())
    pdf = open_pdf(str(path))
    t = page_text(pdf[0])
    assert t.header == "CHAPTER 1. HEAT" and t.footer == "12"
    assert t.body == "The heat equation describes how the temper-\nature of a rod changes with time."
    assert t.text.startswith("CHAPTER 1. HEAT\nThe heat") and usable_layer(t.text)
    pdf.close()


def test_unreadable_pdf(tmp_path):
    path = tmp_path / "x.pdf"
    path.write_bytes(b"%PDF-1.4\nthis is not a pdf body")
    with pytest.raises(PdfError) as e:
        open_pdf(str(path))
    assert e.value.reason == "pdf_unreadable"


def test_usable_layer():
    assert not usable_layer("  12  ")
    assert not usable_layer("\ue000\ue001\ue002 abcdefghijklmnopqrstuvwxyz \ufffd\ufffd" * 3)
    assert usable_layer("A perfectly ordinary sentence about heat.")


def test_parse_tsv():
    tsv = ("level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext\n"
           "5\t1\t1\t1\t1\t1\t0\t0\t1\t1\t96.5\tHeat\n5\t1\t1\t1\t1\t2\t0\t0\t1\t1\t93.5\tflows.\n"
           "5\t1\t1\t1\t2\t1\t0\t0\t1\t1\t90\tIt\n4\t1\t1\t1\t2\t0\t0\t0\t1\t1\t-1\t\n"
           "5\t1\t2\t1\t1\t1\t0\t0\t1\t1\t80\tNext\n")
    r = parse_tsv(tsv)
    assert r.text == "Heat flows.\nIt\n\nNext" and r.words == 4 and r.confidence == pytest.approx(90.0)


@pytest.mark.parametrize("noise, max_cer", [(0.0, 0.02), (0.03, 0.15)])
def test_ocr_of_a_scanned_page_has_a_known_answer(tmp_path, noise, max_cer):
    _need("tesseract", shutil.which("tesseract") is not None)
    lines = textwrap.wrap(paragraph(random.Random(8), 4), 52)
    path = tmp_path / "scan.pdf"
    path.write_bytes(make_scanned_pdf([lines], noise=noise))
    pdf = open_pdf(str(path))
    assert not usable_layer(page_text(pdf[0]).text)  # image only: no text layer at all
    result = ocr_image(render_gray(pdf[0], 300))
    pdf.close()
    cer = character_error_rate("\n".join(lines), result.text)
    print(f"\nOCR character error rate {cer:.4f} (noise {noise:.0%}), mean word confidence {result.confidence:.1f}, "
          f"{result.words} words")
    assert cer < max_cer and result.confidence > 70


def test_character_error_rate():
    assert character_error_rate("abcd", "abcd") == 0
    assert character_error_rate("abcd", "abed") == 0.25
    assert character_error_rate("a  b\nc", "a b c") == 0


def test_djvu_text_layer(tmp_path):
    _need("djvulibre-bin (cjb2, djvm, djvused)", djvu_tools())
    pages = [["The first page of the book.", "It has two lines."], ["The second page."]]
    path = tmp_path / "b.djvu"
    path.write_bytes(make_djvu(pages))
    assert djvu_pages(str(path)) == ["The first page of the book.\nIt has two lines.", "The second page."]
    bad = tmp_path / "bad.djvu"
    bad.write_bytes(b"AT&TFORM not really")
    with pytest.raises(DjvuError) as e:
        djvu_pages(str(bad))
    assert e.value.reason == "djvu_unreadable"
