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


def iter_page_texts(paths: list[str]) -> Iterator[str]:
    """Texts of WET conversion records and of WARC HTML responses under ``paths`` (both sides of the training
    data are read by this one function: a WET page's text without its title line, a WARC page's visible text)."""
    from warcio.archiveiterator import ArchiveIterator

    from kllama.core.files import expand_inputs
    from kllama.core.ledger import Ledger
    from kllama.sources.commoncrawl import CommonCrawlSource

    wet = CommonCrawlSource(min_length=0)
    for path in expand_inputs(paths, ("*.wet.gz", "*.wet", "*.warc.gz", "*.warc")):
        if ".wet" in Path(path).name:
            for doc in wet.read(path, Ledger()):
                yield doc.text
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


#: the former name (positives were the only WET/WARC side)
iter_positive_texts = iter_page_texts


def iter_run_texts(run_dir: str, source: str = "commoncrawl") -> Iterator[str]:
    """CommonCrawl texts of a run folder as read, before any filter: the read stage (``{source}.00-*``) when
    present, else the earliest stage, else the final shards."""
    import pyarrow.parquet as pq

    root = Path(run_dir)
    stage_dirs = sorted(d for d in (root / "stages").glob(f"{source}.*") if d.is_dir()
                        and not d.name.endswith("-shards")) if (root / "stages").exists() else []
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


def roc_auc(scores: list[float], labels: list[int]) -> float:
    """Area under the ROC curve (the Mann-Whitney statistic; ties count one half)."""
    import numpy as np

    s = np.asarray(scores, dtype=float)
    y = np.asarray(labels, dtype=bool)
    pos, neg = int(y.sum()), int((~y).sum())
    if not pos or not neg:
        return float("nan")
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(len(s), dtype=float)
    sorted_s = s[order]
    i = 0
    while i < len(s):  # average ranks over ties
        j = i
        while j + 1 < len(s) and sorted_s[j + 1] == sorted_s[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2.0 + 1.0
        i = j + 1
    return float((ranks[y].sum() - pos * (pos + 1) / 2.0) / (pos * neg))


def wiki_probabilities(model_path: str | Path, texts: list[str]) -> list[float]:
    """``P(__label__wiki)`` of each text under a trained classifier (newlines as spaces, as the
    ``wiki_classifier`` step scores documents)."""
    import fasttext

    fasttext.FastText.eprint = lambda *a, **k: None
    model = fasttext.load_model(str(model_path))
    labels, probs = model.predict([t.replace("\n", " ") for t in texts], k=2)
    return [min(1.0, float(dict(zip(labs, ps, strict=False)).get("__label__wiki", 0.0)))
            for labs, ps in zip(labels, probs, strict=True)]


def _line(label: str, text: str) -> str:
    return f"__label__{label} {' '.join(text.split())}"


def train_classifier(positives: list[str], negatives: list[str], output: str, epoch: int = 5,
                     lr: float = 0.1, word_ngrams: int = 2, max_per_class: int = 0, dim: int = 50,
                     bucket: int = 2_000_000, heldout: float = 0.1) -> dict[str, float]:
    """Write a fastText ``__label__wiki``/``__label__cc`` model and evaluate it on a held-out share.

    Both classes are balanced to the smaller one (``max_per_class`` caps them), chosen by hash order; the last
    ``heldout`` share of each class (by the same order) is held out, never trained on. Returns the training
    and held-out counts per label, the held-out ``accuracy`` (``P(wiki) >= 0.5``) and ``auc``. Deterministic:
    one thread, a fixed seed, inputs ordered by hash.
    """
    import random
    import tempfile

    from kllama.models.fasttext_train import train_fasttext_supervised

    n = min(len(positives), len(negatives))
    if max_per_class:
        n = min(n, max_per_class)
    if n == 0:
        raise ValueError(f"need positives and negatives (got {len(positives)} and {len(negatives)})")
    n_test = int(round(n * heldout)) if heldout > 0 else 0
    if heldout > 0 and n_test == 0 and n >= 2:
        n_test = 1
    pos, neg = _pick(positives, n), _pick(negatives, n)
    train_pos, test_pos = pos[: n - n_test], pos[n - n_test:]
    train_neg, test_neg = neg[: n - n_test], neg[n - n_test:]
    rows = [_line("wiki", t) for t in train_pos] + [_line("cc", t) for t in train_neg]
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
    result: dict[str, float] = {"wiki": len(train_pos), "cc": len(train_neg), "heldout_wiki": len(test_pos),
                                "heldout_cc": len(test_neg), "accuracy": float("nan"), "auc": float("nan")}
    if n_test:
        probs = wiki_probabilities(output, test_pos + test_neg)
        labels = [1] * len(test_pos) + [0] * len(test_neg)
        result["accuracy"] = sum((p >= 0.5) == bool(y) for p, y in zip(probs, labels, strict=True)) / len(labels)
        result["auc"] = roc_auc(probs, labels)
    return result


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


