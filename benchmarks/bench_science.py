"""G2 science extras: PubMed and PMC readers in MB/s per core; science books in pages/s per core (text-layer PDF,
EPUB, OCR); projected CPU-hours for the whole PubMed baseline and for a 100k-book collection.

    python benchmarks/bench_science.py [--samples DIR] [--repeat N] [--ocr-pages N] [--skip-books]

PubMed: the real 2020 baseline file ``pubmed20n0014.xml.gz`` (30,000 records) when ``--samples`` has it, else the
test excerpt; kllama's reader (safe streaming XML, all fields, drops) against a plain ``xml.etree.ElementTree``
iterparse that takes only the title and the abstract text (no meta, no safety checks). PMC: the four test
articles (and the fifth sample when present) read 20 times; kllama's JATS reader against ``lxml.etree.fromstring``
+ ``itertext()`` of ``<body>`` (no structure, references and captions mixed in). MB are MB of uncompressed XML.
Books: generated EPUB, text PDF and scanned (image-only) PDF books (tools/make_demo/science_books.py); pages/s of
kllama's reader against a plain extraction (pypdfium2 ``get_text_range`` per page; zipfile + lxml ``itertext`` per
spine item; tesseract on the same page images). One process, CPU seconds of this process *and* its children
(tesseract runs as a subprocess), so the rates are per core.
"""

from __future__ import annotations

import argparse
import gzip
import io
import os
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from lxml import etree  # noqa: E402

from kllama.core.ledger import Ledger  # noqa: E402
from kllama.sources.pmc import PMCSource  # noqa: E402
from kllama.sources.pubmed import PubMedSource  # noqa: E402

TESTS = REPO / "tests" / "data" / "pubmed"
#: records in the full PubMed baseline (2024: ~36M)
PUBMED_RECORDS = 36_000_000


def cpu_now() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def cpu(fn, repeat: int):
    best, result = float("inf"), None
    for _ in range(repeat):
        t = cpu_now()
        result = fn()
        best = min(best, cpu_now() - t)
    return best, result


def per_call(fn, min_s: float = 1.0, max_calls: int = 200):
    """CPU seconds per call of ``fn`` (called until ``min_s`` CPU seconds have passed), and its last result."""
    calls, start, result = 0, cpu_now(), None
    while True:
        result = fn()
        calls += 1
        spent = cpu_now() - start
        if spent >= min_s or calls >= max_calls:
            return max(spent, 1e-6) / calls, result


def pubmed_kllama(path: Path) -> int:
    return sum(1 for _ in PubMedSource().read(str(path), Ledger()))


def pubmed_etree(path: Path) -> int:
    """Title + abstract with the standard library, nothing else (the usual quick script)."""
    n = 0
    with gzip.open(path, "rb") as f:
        for _ev, el in ET.iterparse(f, events=("end",)):
            if el.tag == "PubmedArticle":
                title = "".join(el.find("MedlineCitation/Article/ArticleTitle").itertext())
                abstract = " ".join("".join(a.itertext()) for a in el.iter("AbstractText"))
                if abstract:
                    n += 1
                    _ = title + "\n\n" + abstract
                el.clear()
    return n


def pmc_kllama(blobs: list[bytes]) -> int:
    src = PMCSource()
    return sum(1 for b in blobs if src.article(b, "x.nxml", "", Ledger()) is not None)


def pmc_lxml(blobs: list[bytes]) -> int:
    n = 0
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    for b in blobs:
        root = etree.fromstring(b, parser)
        body = root.find("body")
        text = " ".join(body.itertext()) if body is not None else ""
        n += bool(text)
    return n


def bench_papers(samples: Path | None, repeat: int) -> list[tuple]:
    rows = []
    full = samples / "pubmed" / "pubmed20n0014.xml.gz" if samples else None
    path = full if full and full.exists() else TESTS / "pubmed20n0014-excerpt.xml.gz"
    raw = gzip.decompress(path.read_bytes())
    mb = len(raw) / 1e6
    records = raw.count(b"<PubmedArticle>")
    t_k, docs = cpu(lambda: pubmed_kllama(path), repeat)
    t_e, docs_e = cpu(lambda: pubmed_etree(path), repeat)
    rows.append(("pubmed", f"{path.name} ({records} records, {mb:.1f} MB)", mb / t_k, mb / t_e, docs, docs_e))
    hours = PUBMED_RECORDS * (len(raw) / records) / 1e6 / (mb / t_k) / 3600
    nxml = sorted((TESTS / "pmc").glob("*.nxml"))
    if samples and (samples / "pubmed").exists():
        nxml = sorted((samples / "pubmed").glob("*.nxml"))
    blobs = [p.read_bytes() for p in nxml] * 20
    mb = sum(len(b) for b in blobs) / 1e6
    t_k, docs = cpu(lambda: pmc_kllama(blobs), repeat)
    t_l, docs_l = cpu(lambda: pmc_lxml(blobs), repeat)
    rows.append(("pmc", f"{len(nxml)} articles x 20 ({mb:.1f} MB)", mb / t_k, mb / t_l, docs, docs_l))
    print("\n## Papers (MB/s of uncompressed XML per core)\n")
    print("| reader | input | kllama MB/s | plain MB/s | ratio | docs kllama / plain |")
    print("|---|---|---:|---:|---:|---|")
    for name, what, k, p, dk, dp in rows:
        print(f"| {name} | {what} | {k:.1f} | {p:.1f} | {k / p:.2f}x | {dk} / {dp} |")
    per_record = len(raw) / records
    print(f"\nPubMed projection: {PUBMED_RECORDS / 1e6:.0f}M records x {per_record / 1e3:.1f} KB = "
          f"{PUBMED_RECORDS * per_record / 1e9:.0f} GB of XML -> {hours:.1f} CPU-hours for the reader")
    return rows


#: the projection's book: pages per book, and the format mix of a libgen-like science collection (assumed)
BOOK_PAGES = 300
BOOKS = 100_000
MIX = {"pdf_text": 0.70, "epub": 0.15, "djvu": 0.05, "pdf_ocr": 0.10}
EPUB_PAGE_CHARS = 2000  # an EPUB has no pages: 2,000 characters of text count as one page


def plain_pdf(path: Path) -> int:
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(str(path))
    n = 0
    for i in range(len(pdf)):
        tp = pdf[i].get_textpage()
        n += len(tp.get_text_range())
        tp.close()
    pdf.close()
    return n


def plain_epub(path: Path) -> int:
    import zipfile

    import lxml.html

    n = 0
    with zipfile.ZipFile(path) as z:
        for name in z.namelist():
            if name.endswith(".xhtml"):
                n += len(" ".join(lxml.html.document_fromstring(z.read(name)).itertext()))
    return n


def plain_ocr(path: Path, dpi: int) -> int:
    import subprocess
    import tempfile

    from kllama.formats.ocr import pgm_bytes
    from kllama.formats.pdf import open_pdf, render_gray

    pdf = open_pdf(str(path))
    n = 0
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(len(pdf)):
            img = os.path.join(tmp, "p.pgm")
            with open(img, "wb") as f:
                f.write(pgm_bytes(render_gray(pdf[i], dpi)))
            out = subprocess.run(["tesseract", img, "stdout", "-l", "eng"], capture_output=True, text=True,
                                 env={**os.environ, "OMP_THREAD_LIMIT": "1"})
            n += len(out.stdout)
    pdf.close()
    return n


def bench_books(repeat: int, ocr_pages: int) -> None:
    import random
    import tempfile
    import textwrap

    from kllama.sources.science_books import ScienceBooksSource
    from tools.make_demo import science_books as gen

    tmp = Path(tempfile.mkdtemp(prefix="kllama-bench-books-"))
    chaps = gen.chapters(3, n=10, paras=12)
    (tmp / "book.pdf").write_bytes(gen.make_text_pdf("Bench", chaps, lines_per_page=46))
    (tmp / "book.epub").write_bytes(gen.make_epub("Bench", "A", chaps))
    rng = random.Random(4)
    scans = [textwrap.wrap(gen.paragraph(rng, 12), 70)[:40] for _ in range(ocr_pages)]
    (tmp / "scan.pdf").write_bytes(gen.make_scanned_pdf(scans, dpi=200, size=(595, 842)))
    has_djvu = gen.djvu_tools()
    if has_djvu:
        (tmp / "book.djvu").write_bytes(gen.make_djvu(gen.paged(gen.layout_lines(chaps), 46)))
    src = ScienceBooksSource(min_book_chars=100)
    from kllama.core.ledger import Ledger
    from kllama.formats.pdf import open_pdf

    def pages_of(path: Path) -> int:
        pdf = open_pdf(str(path))
        n = len(pdf)
        pdf.close()
        return n

    rows = []
    n_pdf = pages_of(tmp / "book.pdf")
    t_k, doc = per_call(lambda: src.read_book(str(tmp / "book.pdf"), Ledger()))
    t_p, _ = per_call(lambda: plain_pdf(tmp / "book.pdf"))
    rows.append(("pdf_text", f"text-layer PDF, {n_pdf} A4 pages", n_pdf / t_k, n_pdf / t_p,
                 "pypdfium2 get_text_range per page, no cleaning"))
    t_k, doc = per_call(lambda: src.read_book(str(tmp / "book.epub"), Ledger()))
    n_epub = len(doc.text) / EPUB_PAGE_CHARS
    t_p, _ = per_call(lambda: plain_epub(tmp / "book.epub"))
    rows.append(("epub", f"EPUB, {len(chaps)} chapters ({n_epub:.0f} pages of 2,000 chars)", n_epub / t_k,
                 n_epub / t_p, "zipfile + lxml itertext of every XHTML, no spine, no front-matter drop"))
    if has_djvu:
        t_k, _ = per_call(lambda: src.read_book(str(tmp / "book.djvu"), Ledger()))
        n_dj = len(gen.paged(gen.layout_lines(chaps), 46))
        rows.append(("djvu", f"DjVu text layer, {n_dj} pages", n_dj / t_k, float("nan"), "-"))
    if ocr_pages and shutil_which("tesseract"):
        t_k, doc = per_call(lambda: src.read_book(str(tmp / "scan.pdf"), Ledger()), 0)
        t_p, _ = per_call(lambda: plain_ocr(tmp / "scan.pdf", 300), 0)
        rows.append(("pdf_ocr", f"scanned PDF, {ocr_pages} A4 pages, OCR at 300 dpi", ocr_pages / t_k,
                     ocr_pages / t_p, "render + tesseract plain text on the same images"))
        from kllama.formats.ocr import character_error_rate

        cer = character_error_rate("\n".join("\n".join(p) for p in scans), doc.text)
        print(f"\n(OCR check: character error rate {cer:.4f}, mean confidence {doc.meta['ocr_confidence']})")
    print("\n## Books (pages/s per core)\n")
    print("| format | input | kllama pages/s | plain pages/s | ratio | plain alternative |")
    print("|---|---|---:|---:|---:|---|")
    rate = {}
    for name, what, k, p, how in rows:
        rate[name] = k
        ratio = f"{k / p:.2f}x" if p == p else "-"
        plain = f"{p:.1f}" if p == p else "-"
        print(f"| {name} | {what} | {k:.1f} | {plain} | {ratio} | {how} |")
    print(f"\nProjection for {BOOKS:,} books of {BOOK_PAGES} pages ({BOOKS * BOOK_PAGES / 1e6:.0f}M pages):")
    for name in rate:
        print(f"- all {name}: {BOOKS * BOOK_PAGES / rate[name] / 3600:,.0f} CPU-hours")
    if all(k in rate for k in MIX):
        hours = sum(BOOKS * BOOK_PAGES * share / rate[k] / 3600 for k, share in MIX.items())
        mix = ", ".join(f"{int(v * 100)}% {k}" for k, v in MIX.items())
        print(f"- mix ({mix}): {hours:,.0f} CPU-hours")


def shutil_which(name: str) -> str | None:
    import shutil

    return shutil.which(name)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--samples", type=Path, default=REPO.parent / "shared" / "samples")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--ocr-pages", type=int, default=4)
    ap.add_argument("--skip-books", action="store_true")
    args = ap.parse_args()
    samples = args.samples if args.samples.exists() else None
    bench_papers(samples, args.repeat)
    if not args.skip_books:
        bench_books(args.repeat, args.ocr_pages)


if __name__ == "__main__":
    io.DEFAULT_BUFFER_SIZE = 1 << 16
    main()
