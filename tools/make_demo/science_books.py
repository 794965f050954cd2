"""Generated science books for the tests, the demo and the benchmark: EPUB, text PDF, scanned (image-only) PDF,
DjVu with a text layer, and a libgen-layout metadata table. All text is made here from word lists written for
kllama (no third-party text, no libgen content).

    python -m tools.make_demo.science_books          # rebuilds kllama/data/demo/science_books/

Every file is byte-identical on every run for the same Pillow version (fixed seeds, fixed zip timestamps, no
dates in the PDFs). A book is named by the md5 of its bytes, as libgen names its files.
"""

from __future__ import annotations

import hashlib
import io
import os
import random
import shutil
import subprocess
import tempfile
import textwrap
import zipfile
from pathlib import Path

from tools.make_demo.pdfwriter import A4, PdfBuilder

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "kllama" / "data" / "demo" / "science_books"

_SUBJ = ["the temperature", "the pressure", "the heat flux", "the electric field", "the wave function",
         "the reaction rate", "the density", "the velocity", "the energy", "the current", "the entropy",
         "the potential", "the concentration", "the frequency", "the amplitude", "the matrix", "the vector",
         "the derivative", "the integral", "the eigenvalue", "the resistance", "the voltage", "the mass"]
_VERB = ["depends on", "is proportional to", "decreases with", "increases with", "is determined by",
         "can be measured from", "changes with", "is related to", "is given by", "follows from"]
_OBJ = ["the length of the rod", "the square of the distance", "the boundary conditions", "the initial state",
        "the size of the sample", "the thermal conductivity", "the applied force", "the number of particles",
        "the volume of the container", "the speed of light", "the angle of incidence", "the mean free path",
        "the charge of the electron", "the rank of the system", "the step of the method"]
_TAIL = ["in the steady state", "for small values of the time", "when the system is isolated",
         "under the usual assumptions", "as shown in the previous section", "to first order",
         "at constant volume", "in most practical cases", "for a uniform material", "in the limit of large numbers"]
_OPEN = ["In this chapter we show that", "It is easy to see that", "Experiments confirm that",
         "We now prove that", "One finds that", "It follows that", "Recall that", "Note that",
         "A simple argument shows that", "The theory predicts that"]
_TERMS = ["conductivity", "equilibrium", "approximation", "thermodynamics", "electromagnetism", "differential",
          "independent", "interpolation", "characteristic", "transformation", "conservation", "measurement"]


def sentence(rng: random.Random) -> str:
    s = (f"{rng.choice(_OPEN)} {rng.choice(_SUBJ)} {rng.choice(_VERB)} {rng.choice(_OBJ)} "
         f"{rng.choice(_TAIL)}")
    if rng.random() < 0.3:
        s += f", and the {rng.choice(_TERMS)} of {rng.choice(_OBJ)} {rng.choice(_VERB)} {rng.choice(_OBJ)}"
    return s + "."


def paragraph(rng: random.Random, n: int = 5) -> str:
    return " ".join(sentence(rng) for _ in range(n))


def chapters(seed: int, n: int = 3, paras: int = 6) -> list[tuple[str, list[str]]]:
    rng = random.Random(seed)
    names = ["Heat and Temperature", "Conduction in Solids", "Waves and Oscillations", "Linear Systems",
             "Electric Circuits", "Numerical Methods", "Chemical Kinetics", "Optics"]
    out = []
    for i in range(n):
        title = f"{i + 1}. {names[(seed + i) % len(names)]}"
        out.append((title, [paragraph(rng, rng.randint(4, 7)) for _ in range(paras)]))
    return out


# -- EPUB ---------------------------------------------------------------------------------------------------

def _xhtml(title: str, body: str, epub_type: str | None = None) -> str:
    t = f' epub:type="{epub_type}"' if epub_type else ""
    return ('<?xml version="1.0" encoding="utf-8"?>\n<!DOCTYPE html>\n'
            '<html xmlns="http://www.w3.org/1999/xhtml" xmlns:epub="http://www.idpf.org/2007/ops">\n'
            f"<head><title>{title}</title></head>\n<body{t}>\n{body}\n</body>\n</html>\n")


def make_epub(title: str, author: str, chaps: list[tuple[str, list[str]]], lang: str = "en",
              front: bool = True, index: bool = True, ligatures: bool = False) -> bytes:
    """An EPUB 3 book: cover, title page, copyright and contents (front matter), the chapters, an index. The
    manifest lists files in another order than the spine, so reading order must come from the spine."""
    files: dict[str, str] = {}
    spine: list[tuple[str, str]] = []  # (id, href)
    if front:
        files["cover.xhtml"] = _xhtml("Cover", f"<p>{title}</p>", "cover")
        files["title.xhtml"] = _xhtml(title, f"<h1>{title}</h1><p>by {author}</p>", "titlepage")
        files["legal.xhtml"] = _xhtml("Copyright", f"<p>Copyright 2020 {author}. All rights reserved.</p>",
                                      "copyright-page")
        spine += [("cover", "cover.xhtml"), ("titlepage", "title.xhtml"), ("legal", "legal.xhtml")]
    toc_links = "".join(f'<li><a href="ch{i + 1}.xhtml">{t}</a></li>' for i, (t, _) in enumerate(chaps))
    files["nav.xhtml"] = _xhtml("Contents", f'<nav epub:type="toc"><h1>Contents</h1><ol>{toc_links}</ol></nav>'
                                '<nav epub:type="landmarks"><ol><li><a epub:type="bodymatter" href="ch1.xhtml">'
                                'Start</a></li>' + ('<li><a epub:type="index" href="back.xhtml">Index</a></li>'
                                                    if index else "") + "</ol></nav>")
    spine.append(("nav", "nav.xhtml"))
    for i, (t, paras) in enumerate(chaps):
        body = f"<h2>{t}</h2>\n" + "\n".join(f"<p>{p}</p>" for p in paras)
        if ligatures:
            body = body.replace("fi", "\ufb01").replace("fl", "\ufb02")
        files[f"ch{i + 1}.xhtml"] = _xhtml(t, body)
        spine.append((f"ch{i + 1}", f"ch{i + 1}.xhtml"))
    if index:
        rows = "".join(f"<p>{w}, {3 + 7 * k}, {11 + 5 * k}</p>" for k, w in enumerate(sorted(_TERMS)))
        files["back.xhtml"] = _xhtml("Index", f"<h1>Index</h1>{rows}")
        spine.append(("index", "back.xhtml"))
    manifest = "".join(
        f'<item id="{i}" href="{h}" media-type="application/xhtml+xml"'
        + (' properties="nav"' if i == "nav" else "") + "/>" for i, h in sorted(spine, key=lambda x: x[1]))
    itemrefs = "".join(f'<itemref idref="{i}"/>' for i, _ in spine)
    opf = ('<?xml version="1.0" encoding="utf-8"?>\n<package xmlns="http://www.idpf.org/2007/opf" version="3.0" '
           'unique-identifier="id"><metadata xmlns:dc="http://purl.org/dc/elements/1.1/">'
           f'<dc:identifier id="id">kllama-{hashlib.sha1(title.encode()).hexdigest()[:12]}</dc:identifier>'
           f"<dc:title>{title}</dc:title><dc:creator>{author}</dc:creator><dc:language>{lang}</dc:language>"
           f"</metadata><manifest>{manifest}</manifest><spine>{itemrefs}</spine></package>\n")
    container = ('<?xml version="1.0"?>\n<container version="1.0" '
                 'xmlns="urn:oasis:names:tc:opendocument:xmlns:container"><rootfiles>'
                 '<rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/>'
                 "</rootfiles></container>\n")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        def put(name: str, data: str, compress: int = zipfile.ZIP_DEFLATED) -> None:
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.compress_type = compress
            z.writestr(info, data.encode("utf-8"))
        put("mimetype", "application/epub+zip", zipfile.ZIP_STORED)
        put("META-INF/container.xml", container)
        put("OEBPS/content.opf", opf)
        for name in sorted(files):
            put(f"OEBPS/{name}", files[name])
    return buf.getvalue()


# -- PDF ----------------------------------------------------------------------------------------------------

def layout_lines(chaps: list[tuple[str, list[str]]], width: int = 78, hyphenate_every: int = 7) -> list[str]:
    """Chapters as printed lines: headings, paragraphs wrapped at ``width`` characters with every
    ``hyphenate_every``-th line ending in a word hyphenated across the line break, blank lines between."""
    lines: list[str] = []
    count = 0
    for title, paras in chaps:
        lines += [title, ""]
        for p in paras:
            wrapped = textwrap.wrap(p, width)
            out = []
            carry = ""
            for k, line in enumerate(wrapped):
                line = (carry + " " + line).strip() if carry else line
                carry = ""
                count += 1
                if count % hyphenate_every == 0 and k + 1 < len(wrapped):
                    nxt = wrapped[k + 1].split(" ", 1)
                    word = nxt[0]
                    if len(word) >= 8 and word.isalpha():
                        cut = len(word) // 2
                        line = f"{line} {word[:cut]}-"
                        wrapped[k + 1] = word[cut:] + (" " + nxt[1] if len(nxt) > 1 else "")
                out.append(line)
            lines += out + [""]
    return lines


def make_text_pdf(title: str, chaps: list[tuple[str, list[str]]], lines_per_page: int = 30,
                  running_header: bool = True, alternate: bool = False) -> bytes:
    """A PDF with a text layer: numbered pages and a running header (the book title; with ``alternate`` the
    book title on even pages and the chapter on odd ones, as printed books do)."""
    lines = layout_lines(chaps)
    b = PdfBuilder(title=title)
    chapter = chaps[0][0]
    for n, start in enumerate(range(0, len(lines), lines_per_page), start=1):
        chunk = lines[start: start + lines_per_page]
        for line in chunk:
            if any(line == t for t, _ in chaps):
                chapter = line
        header = (title.upper() if (n % 2 == 0 or not alternate) else chapter.upper()) if running_header else None
        b.add_text_page(chunk, header=header, footer=str(n))
    return b.build()


def page_image(lines: list[str], dpi: int = 200, size: tuple[int, int] = (420, 595), font_px: int | None = None,
               noise: float = 0.0, seed: int = 0):
    """A page image (grayscale numpy array) with ``lines`` printed in Pillow's bundled font: the known answer
    of an OCR test. ``noise`` is the share of pixels flipped to random gray levels (a dirty scan)."""
    import numpy as np
    from PIL import Image, ImageDraw, ImageFont

    w, h = int(size[0] * dpi / 72), int(size[1] * dpi / 72)
    img = Image.new("L", (w, h), 255)
    draw = ImageDraw.Draw(img)
    px = font_px or int(11 * dpi / 72)
    font = ImageFont.load_default(size=px)
    y = int(0.08 * h)
    for line in lines:
        draw.text((int(0.1 * w), y), line, fill=0, font=font)
        y += int(px * 1.5)
    arr = np.array(img, dtype=np.uint8)
    if noise:
        rng = np.random.default_rng(seed)
        mask = rng.random(arr.shape) < noise
        arr[mask] = rng.integers(0, 256, int(mask.sum()), dtype=np.uint8)
    return arr


def make_scanned_pdf(pages: list[list[str]], dpi: int = 200, text_pages: list[list[str]] | None = None,
                     size: tuple[int, int] = (420, 595), noise: float = 0.0) -> bytes:
    """Image-only pages (no text layer; ``pages`` are their printed lines), optionally after text pages."""
    from tools.make_demo.pdfwriter import ImagePage

    b = PdfBuilder(title="scanned")
    for lines in text_pages or []:
        b.add_text_page(lines)
    for k, lines in enumerate(pages):
        gray = page_image(lines, dpi, size, noise=noise, seed=k)
        b.pages.append(ImagePage(gray.shape[1], gray.shape[0], gray.tobytes(), size))
    return b.build()


def make_garbage_pdf(n: int = 4, seed: int = 3) -> bytes:
    rng = random.Random(seed)
    b = PdfBuilder(title="garbage")
    for _ in range(n):
        b.add_text_page(["".join(rng.choice("#$%&*+/<=>@^|~{}[]()0123456789") for _ in range(70))
                         for _ in range(40)])
    return b.build()


# -- DjVu ---------------------------------------------------------------------------------------------------

def djvu_tools() -> bool:
    return all(shutil.which(t) for t in ("cjb2", "djvm", "djvused"))


def _sexpr_string(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def make_djvu(pages: list[list[str]], dpi: int = 100) -> bytes:
    """A bundled DjVu book: bitonal page images of ``pages`` with the same text as the hidden text layer."""
    from PIL import Image

    with tempfile.TemporaryDirectory(prefix="kllama-djvu-") as tmp:
        names = []
        script = []
        for i, lines in enumerate(pages):
            gray = page_image(lines, dpi, A4)
            img = Image.fromarray(gray).point(lambda v: 255 if v > 128 else 0).convert("1")
            pbm = os.path.join(tmp, f"p{i}.pbm")
            img.save(pbm)
            out = os.path.join(tmp, f"p{i}.djvu")
            subprocess.run(["cjb2", "-dpi", str(dpi), pbm, out], check=True, capture_output=True)
            names.append(out)
            w, h = gray.shape[1], gray.shape[0]
            script += [f"select {i + 1}", "set-txt", f"(page 0 0 {w} {h} {_sexpr_string(chr(10).join(lines))})",
                       "."]
        book = os.path.join(tmp, "book.djvu")
        subprocess.run(["djvm", "-c", book, *names], check=True, capture_output=True)
        script_path = os.path.join(tmp, "txt.dsed")
        with open(script_path, "w", encoding="utf-8") as f:
            f.write("\n".join(script + ["save"]) + "\n")
        subprocess.run(["djvused", book, "-f", script_path], check=True, capture_output=True)
        with open(book, "rb") as f:
            return f.read()


def paged(lines: list[str], per_page: int = 40) -> list[list[str]]:
    return [lines[i: i + per_page] for i in range(0, len(lines), per_page)]


# -- the demo -------------------------------------------------------------------------------------------------

def _write(folder: Path, data: bytes, ext: str) -> str:
    md5 = hashlib.md5(data).hexdigest()
    (folder / f"{md5}.{ext}").write_bytes(data)
    return md5


def build_demo(folder: Path = DEMO) -> list[dict[str, str]]:
    """The demo collection and its metadata table (see PROVENANCE.md there)."""
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.iterdir():  # earlier books (PROVENANCE.md stays)
        if old.suffix in (".epub", ".pdf", ".djvu") or old.name == "metadata.csv":
            old.unlink()
    rows = []

    def row(md5: str, title: str, topic: str, ext: str, language: str = "English", year: str = "2020") -> None:
        rows.append({"md5": md5, "title": title, "author": "kllama demo", "year": year, "language": language,
                     "extension": ext, "topic": topic})

    heat = chapters(11, n=3, paras=5)
    md5 = _write(folder, make_epub("Heat and Waves", "A. Author", heat, ligatures=True), "epub")
    row(md5, "Heat and Waves", "Physics", "epub")
    # the same book printed to PDF: a near duplicate of the EPUB (dropped by the book rule)
    md5 = _write(folder, make_text_pdf("Heat and Waves", heat), "pdf")
    row(md5, "Heat and Waves (print edition)", "Physics", "pdf")
    algebra = chapters(23, n=3, paras=5)
    md5 = _write(folder, make_text_pdf("Notes on Linear Systems", algebra), "pdf")
    row(md5, "Notes on Linear Systems", "Mathematics\\Algebra", "pdf")
    circuits = chapters(37, n=2, paras=4)
    text_lines = layout_lines(circuits, width=78)
    scan_lines = [textwrap.wrap(paragraph(random.Random(5), 4), 52)]
    md5 = _write(folder, make_scanned_pdf(scan_lines, text_pages=paged(text_lines, 46)), "pdf")
    row(md5, "Electric Circuits", "Technique\\Electronics", "pdf")
    if djvu_tools():
        kinetics = chapters(41, n=2, paras=4)
        md5 = _write(folder, make_djvu(paged(layout_lines(kinetics), 40)), "djvu")
        row(md5, "Chemical Kinetics for Medicine", "Medicine\\Pharmacology", "djvu")
    md5 = _write(folder, make_garbage_pdf(), "pdf")
    row(md5, "Tables of Symbols", "Mathematics", "pdf")
    md5 = _write(folder, make_epub("A Novel of the Sea", "B. Writer", chapters(53, n=2, paras=4)), "epub")
    row(md5, "A Novel of the Sea", "Fiction", "epub")
    md5 = _write(folder, make_epub("Optik", "C. Autor", chapters(59, n=2, paras=4), lang="de"), "epub")
    row(md5, "Optik", "Physics\\Optics", "epub", language="German")
    with open(folder / "metadata.csv", "w", encoding="utf-8", newline="") as f:
        f.write("md5,title,author,year,language,extension,topic\n")
        for r in rows:
            f.write(",".join(f'"{r[k]}"' for k in ("md5", "title", "author", "year", "language", "extension",
                                                   "topic")) + "\n")
    return rows


if __name__ == "__main__":
    for r in build_demo():
        print(r["md5"], r["extension"], r["topic"], r["title"])
