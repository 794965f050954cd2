"""PDF pages through PDFium (``pypdfium2``): the text layer per page, and the page as an image for OCR.

PDFium is Chrome's PDF engine, hardened against hostile files; kllama adds a size limit before opening, a page
limit, and refuses encrypted files. Text comes from the page's text layer in three horizontal bands -- the top
and bottom ``band`` share of the page (where running headers, footers and page numbers live) and the body --
so that a header drawn last in the content stream still comes first. PDFium marks a word hyphenated at a line end
with ``\\x02`` (or U+FFFE) and joins the lines; that mark becomes ``-\\n`` so that the book cleaner decides about
the hyphen (:mod:`kllama.text.book_cleanup`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

#: a text layer needs this many letters or digits to count as usable
MIN_LAYER_CHARS = 20
_BAD = re.compile(r"[\ufffd\ue000-\uf8ff\x00-\x08\x0b\x0c\x0e-\x1f]")
_HYPHEN_MARK = re.compile(r"[\x02\ufffe]\s*")


class PdfError(ValueError):
    """A PDF that cannot be read (``reason`` is the ledger's drop name)."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


@dataclass
class PdfPageText:
    header: str
    body: str
    footer: str

    @property
    def text(self) -> str:
        return "\n".join(p for p in (self.header, self.body, self.footer) if p)


def open_pdf(path: str):
    """A ``pypdfium2.PdfDocument``; encrypted or broken files raise :class:`PdfError`."""
    import pypdfium2 as pdfium

    try:
        return pdfium.PdfDocument(path)
    except pdfium.PdfiumError as exc:
        msg = str(exc).lower()
        raise PdfError("pdf_encrypted" if "password" in msg else "pdf_unreadable", str(exc)) from exc


def _clean(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _HYPHEN_MARK.sub("-\n", text)


def page_text(page, band: float = 0.07) -> PdfPageText:
    """The text layer of a page in three bands: header (top ``band``), body, footer (bottom ``band``)."""
    textpage = page.get_textpage()
    try:
        w, h = page.get_size()
        cut = band * h
        header = textpage.get_text_bounded(0, h - cut, w, h)
        footer = textpage.get_text_bounded(0, 0, w, cut)
        body = textpage.get_text_bounded(0, cut, w, h - cut)
        return PdfPageText(_clean(header).strip(), _clean(body).strip(), _clean(footer).strip())
    finally:
        textpage.close()


def usable_layer(text: str, min_chars: int = MIN_LAYER_CHARS, max_bad_share: float = 0.1) -> bool:
    """Whether a page's text layer is worth keeping: enough letters/digits and few replacement, private-use or
    control characters (a broken font encoding)."""
    alnum = sum(1 for c in text if c.isalnum())
    if alnum < min_chars:
        return False
    bad = len(_BAD.findall(text))
    return bad <= max_bad_share * max(1, len(text.strip()))


def render_gray(page, dpi: int = 300) -> np.ndarray:
    """The page as an 8-bit grayscale image at ``dpi``."""
    bitmap = page.render(scale=dpi / 72.0, grayscale=True)
    try:
        arr = bitmap.to_numpy()
        return np.array(arr[:, :, 0] if arr.ndim == 3 else arr, dtype=np.uint8)
    finally:
        bitmap.close()
