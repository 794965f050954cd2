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


def bench_books(repeat: int, ocr_pages: int) -> None:
    try:
        from tools.make_demo import science_books as gen
    except ImportError as exc:  # pragma: no cover - before A.2 exists
        print(f"\n(books skipped: {exc})")
        return
    gen.run_benchmark(repeat=repeat, ocr_pages=ocr_pages, cpu=cpu)


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
