"""A minimal PDF writer for test and demo books: text pages (Helvetica, Latin-1) and image-only (scanned) pages.

Written for kllama (no PDF library needed to build the fixtures): one page object per page, a text page is a
content stream of ``Tj`` lines, an image page is one 8-bit grayscale image XObject (Flate) drawn over the whole
page, so it has no text layer at all. Output is byte-identical for the same input (no dates, fixed ids).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

A4 = (595, 842)


def _pdf_string(s: str) -> bytes:
    raw = s.encode("latin-1", "replace")
    return b"(" + raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)") + b")"


@dataclass
class TextPage:
    """Lines of text drawn top-down from ``top`` with ``leading`` points between baselines."""

    lines: list[str]
    font_size: float = 11.0
    leading: float = 14.0
    left: float = 72.0
    top: float = 770.0
    header: str | None = None
    footer: str | None = None


@dataclass
class ImagePage:
    """A grayscale image (``width`` x ``height`` bytes, row-major, 0 = black) covering the page."""

    width: int
    height: int
    pixels: bytes
    page_size: tuple[int, int] = A4


@dataclass
class PdfBuilder:
    pages: list[TextPage | ImagePage] = field(default_factory=list)
    title: str = ""

    def add_text_page(self, lines: list[str], **kw) -> None:
        self.pages.append(TextPage(lines, **kw))

    def add_image_page(self, width: int, height: int, pixels: bytes) -> None:
        self.pages.append(ImagePage(width, height, pixels))

    def build(self) -> bytes:
        objects: list[bytes] = []  # object n is objects[n-1]

        def add(body: bytes) -> int:
            objects.append(body)
            return len(objects)

        catalog = add(b"")  # placeholders filled below
        pages_obj = add(b"")
        font = add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
        info = add(b"<< /Producer (kllama test fixture) /Title " + _pdf_string(self.title) + b" >>")
        kids = []
        for page in self.pages:
            if isinstance(page, TextPage):
                ops = [b"BT", b"/F1 %.1f Tf" % page.font_size, b"%.1f TL" % page.leading,
                       b"%.1f %.1f Td" % (page.left, page.top)]
                for line in page.lines:
                    ops.append(_pdf_string(line) + b" Tj T*")
                ops.append(b"ET")
                if page.header:
                    ops += [b"BT", b"/F1 9 Tf", b"%.1f 805 Td" % page.left, _pdf_string(page.header) + b" Tj", b"ET"]
                if page.footer:
                    ops += [b"BT", b"/F1 9 Tf", b"290 40 Td", _pdf_string(page.footer) + b" Tj", b"ET"]
                stream = b"\n".join(ops)
                content = add(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
                res = b"<< /Font << /F1 %d 0 R >> >>" % font
                size = A4
            else:
                data = zlib.compress(page.pixels, 9)
                img = add(b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray "
                          b"/BitsPerComponent 8 /Filter /FlateDecode /Length %d >>\nstream\n"
                          % (page.width, page.height, len(data)) + data + b"\nendstream")
                w, h = page.page_size
                stream = b"q %d 0 0 %d 0 0 cm /Im1 Do Q" % (w, h)
                content = add(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
                res = b"<< /XObject << /Im1 %d 0 R >> >>" % img
                size = page.page_size
            kids.append(add(b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 %d %d] /Resources %s /Contents %d 0 R >>"
                            % (pages_obj, size[0], size[1], res, content)))
        objects[catalog - 1] = b"<< /Type /Catalog /Pages %d 0 R >>" % pages_obj
        objects[pages_obj - 1] = (b"<< /Type /Pages /Kids [" + b" ".join(b"%d 0 R" % k for k in kids)
                                  + b"] /Count %d >>" % len(kids))
        out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
        offsets = []
        for n, body in enumerate(objects, start=1):
            offsets.append(len(out))
            out += b"%d 0 obj\n" % n + body + b"\nendobj\n"
        xref = len(out)
        out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
        for off in offsets:
            out += b"%010d 00000 n \n" % off
        out += (b"trailer\n<< /Size %d /Root %d 0 R /Info %d 0 R >>\nstartxref\n%d\n%%%%EOF\n"
                % (len(objects) + 1, catalog, info, xref))
        return bytes(out)
