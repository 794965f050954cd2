"""LLaMA's Wikipedia-reference classifier: its training data (cited pages vs CommonCrawl pages of a run),
its training, and the ``<ref>`` URLs of a Wikipedia dump."""

from __future__ import annotations

import hashlib
import re
import sys
from collections.abc import Iterator
from pathlib import Path

# -- training data and training --------------------------------------------------------------------------------------------------

def _html_text(html: bytes) -> str:
    import lxml.html

    try:
        root = lxml.html.fromstring(html)
    except Exception:  # noqa: BLE001 - an unparsable page is skipped
        return ""
    for bad in root.xpath("//script|//style|//noscript"):
        bad.drop_tree()
    lines = [ln.strip() for ln in root.text_content().splitlines()]
    return "\n".join(ln for ln in lines if ln)


def iter_positive_texts(paths: list[str]) -> Iterator[str]:
    """Texts of WET conversion records and of WARC HTML responses under ``paths``."""
    from warcio.archiveiterator import ArchiveIterator

    from kllama.core.files import expand_inputs
    from kllama.core.ledger import Ledger
    from kllama.sources.commoncrawl import CommonCrawlSource

    wet = CommonCrawlSource(min_length=0)
    for path in expand_inputs(paths, ("*.wet.gz", "*.wet", "*.warc.gz", "*.warc")):
        if ".wet" in Path(path).name:
            for doc in wet.read(path, Ledger()):
                yield doc.meta.get("title", "") + "\n" + doc.text
            continue
        with open(path, "rb") as f:
            try:
                for rec in ArchiveIterator(f):
                    if rec.rec_type != "response" or rec.http_headers is None:
                        continue
                    ctype = rec.http_headers.get_header("Content-Type") or ""
                    if "html" not in ctype:
                        continue
                    text = _html_text(rec.content_stream().read(16 << 20))
                    if text:
                        yield text
            except Exception as exc:  # noqa: BLE001 - a broken WARC stops at the broken record
                print(f"warning: {path}: {exc}", file=sys.stderr)


def iter_run_texts(run_dir: str, source: str = "commoncrawl") -> Iterator[str]:
    """CommonCrawl texts of a run folder: the line-dedup stage (random pages before the quality filters)
    when present, else the final shards."""
    import pyarrow.parquet as pq

    root = Path(run_dir)
    stage_dirs = sorted((root / "stages").glob(f"{source}.*line_dedup*")) if (root / "stages").exists() else []
    files = sorted(stage_dirs[0].glob("part-*.parquet")) if stage_dirs else sorted(
        (root / "shards").rglob("*.parquet") if (root / "shards").exists() else root.rglob("*.parquet"))
    if not files:
        raise FileNotFoundError(f"no CommonCrawl parquet files under {run_dir}")
    for f in files:
        t = pq.read_table(f, columns=["text", "source"])
        for text, src in zip(t.column("text").to_pylist(), t.column("source").to_pylist(), strict=True):
            if src == source:
                yield text


def _pick(texts: list[str], n: int) -> list[str]:
    """``n`` texts chosen by hash order (deterministic, independent of input order)."""
    return sorted(texts, key=lambda t: hashlib.sha1(t.encode("utf-8", "surrogatepass")).digest())[:n]


def train_classifier(positives: list[str], negatives: list[str], output: str, epoch: int = 5,
                     lr: float = 0.1, word_ngrams: int = 2, max_per_class: int = 0, dim: int = 50,
                     bucket: int = 2_000_000) -> dict[str, int]:
    """Write a fastText ``__label__wiki``/``__label__cc`` model; returns the per-label training counts."""
    import random
    import tempfile

    from kllama.models.fasttext_train import train_fasttext_supervised

    n = min(len(positives), len(negatives))
    if max_per_class:
        n = min(n, max_per_class)
    if n == 0:
        raise ValueError(f"need positives and negatives (got {len(positives)} and {len(negatives)})")
    rows = [f"__label__wiki {' '.join(t.split())}" for t in _pick(positives, n)]
    rows += [f"__label__cc {' '.join(t.split())}" for t in _pick(negatives, n)]
    random.Random(0).shuffle(rows)
    with tempfile.NamedTemporaryFile("w", suffix=".txt", encoding="utf-8", delete=False) as f:
        f.write("\n".join(rows) + "\n")
        train_file = Path(f.name)
    try:
        Path(output).parent.mkdir(parents=True, exist_ok=True)
        train_fasttext_supervised(train_file, Path(output), epoch=epoch, lr=lr, wordNgrams=word_ngrams,
                                  minn=0, maxn=0, dim=dim, bucket=bucket)
    finally:
        train_file.unlink()
    return {"wiki": n, "cc": n}


# -- urls ---------------------------------------------------------------------------------------------------

_REF_RE = re.compile(r"<ref\b[^>/]*>(.*?)</ref\s*>", re.S | re.I)
_URL_RE = re.compile(r"""https?://[^\s|\]\[}{<>"']+""", re.I)


def ref_urls(wikitext: str) -> list[str]:
    """URLs inside ``<ref>...</ref>`` of a page's wikitext, in order (trailing punctuation trimmed)."""
    out = []
    for ref in _REF_RE.findall(wikitext):
        for url in _URL_RE.findall(ref):
            out.append(url.rstrip(".,;:)"))
    return out


def iter_dump_texts(path: str, max_pages: int = 0) -> Iterator[str]:
    """Wikitext of each page of a pages-articles dump, streamed with lxml (no DTD, no entity expansion;
    a prolog that declares entities is refused, see :mod:`kllama.formats.safexml`)."""
    import bz2

    from lxml import etree

    from kllama.formats.safexml import PROLOG_BYTES, check_prolog

    opener = bz2.open if path.endswith(".bz2") else open
    with opener(path, "rb") as f:
        check_prolog(f.read(PROLOG_BYTES))
    n = 0
    with opener(path, "rb") as f:
        for _event, elem in etree.iterparse(f, events=("end",), resolve_entities=False, load_dtd=False,
                                            no_network=True, huge_tree=True, recover=True):
            tag = etree.QName(elem).localname if isinstance(elem.tag, str) else ""
            if tag == "text":
                yield elem.text or ""
                n += 1
                if max_pages and n >= max_pages:
                    return
            elif tag == "page":
                elem.clear()


