"""Wikipedia and Stack Exchange readers + cleaners: MB/s per core, beside the usual alternatives.

    python benchmarks/bench_wiki_se.py [--samples DIR] [--repeat N]

Wikipedia (enwiki/viwiki/bgwiki samples): kllama's reader + WikitextCleaner, against the same XML pass with
plain ``mwparserfromhell.parse(text).strip_code()`` per page (what the HF ``wikipedia`` builder / RedPajama
do, minus their section handling), and the XML pass alone. Markup leftovers of each are counted too.
Stack Exchange (coffee + history.meta Posts.xml): kllama's reader (Parquet spill, grouping, numeric sort,
html_to_text) against an in-memory grouping with BeautifulSoup(lxml).get_text() (the Pile/RedPajama way).
MB are MB of uncompressed XML; one process, CPU seconds (``time.process_time``), so MB/s is per core.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from kllama.core.ledger import Ledger  # noqa: E402
from kllama.formats.safexml import XmlStream, local_name, stream_file_events  # noqa: E402
from kllama.sources.stackexchange import StackExchangeSource  # noqa: E402
from kllama.sources.wikipedia import WikipediaSource, open_dump  # noqa: E402

WIKI_FILES = ["gensim-enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2",
              "wikiextractor-viwiki-test.xml", "gensim-bgwiki-latest-pages-articles-shortened.xml.bz2"]
SE_FILES = ["coffee.stackexchange.com-2015-Posts.xml", "history.meta.stackexchange.com-2018/Posts.xml"]
LEFTOVER = re.compile(r"thumb\||Category:|Thể loại:|Tập tin:|Категория:|File:|\{\||<ref|\[\[|\{\{")


def xml_mb(path: Path) -> float:
    with open_dump(str(path)) as f:
        return len(f.read()) / 1e6


def cpu(fn, repeat: int):
    best, result = float("inf"), None
    for _ in range(repeat):
        t = time.process_time()
        result = fn()
        best = min(best, time.process_time() - t)
    return best, result


def wiki_kllama(paths):
    texts = []
    for p in paths:
        texts += [d.text for d in WikipediaSource().read(str(p), Ledger())]
    return texts


def _pages(path):
    """(ns, redirect, text) of every page, via the same safe streaming XML pass."""
    out = []
    with open_dump(str(path)) as f:
        page = {}
        for _ev, el in stream_file_events(f, XmlStream(events=("end",)), []):
            name = local_name(el.tag)
            if name == "ns":
                page["ns"] = el.text
            elif name == "redirect":
                page["redirect"] = True
            elif name == "text":
                page["text"] = el.text or ""
            elif name == "page":
                out.append(page)
                page = {}
                XmlStream.release(el)
    return out


def wiki_xml_only(paths):
    return [p.get("text", "") for path in paths for p in _pages(path) if p.get("ns") == "0" and not p.get("redirect")]


def wiki_strip_code(paths):
    import mwparserfromhell

    return [mwparserfromhell.parse(t).strip_code().strip() for t in wiki_xml_only(paths)]


def se_kllama(paths):
    texts = []
    for p in paths:
        texts += [d.text for d in StackExchangeSource(include_meta=True).read(str(p), Ledger())]
    return texts


def se_bs4(paths):
    from bs4 import BeautifulSoup
    from lxml import etree

    texts = []
    for p in paths:
        questions, answers = {}, {}
        for _ev, el in etree.iterparse(str(p), tag="row", resolve_entities=False, load_dtd=False, no_network=True):
            a = dict(el.attrib)
            el.clear()
            if a.get("PostTypeId") == "1":
                questions[a["Id"]] = a
            elif a.get("PostTypeId") == "2":
                answers.setdefault(a.get("ParentId"), []).append(a)
        for qid, q in questions.items():
            parts = [q.get("Title", ""), BeautifulSoup(q.get("Body", ""), "lxml").get_text()]
            for a in sorted(answers.get(qid, []), key=lambda a: -int(a.get("Score", "0"))):
                parts.append(BeautifulSoup(a.get("Body", ""), "lxml").get_text())
            texts.append(re.sub(r"\n{3,}", "\n\n", "\n\n".join(parts)))
    return texts


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", default=os.environ.get("KLLAMA_SAMPLES", str(REPO.parent / "shared" / "samples")))
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    samples = Path(args.samples)
    wiki = [samples / "wikipedia" / f for f in WIKI_FILES]
    se = [samples / "stackexchange" / f for f in SE_FILES]
    if not all(p.exists() for p in wiki + se):
        print(f"samples missing under {samples}", file=sys.stderr)
        return 1
    wiki_mb = sum(xml_mb(p) for p in wiki)
    se_mb = sum(p.stat().st_size for p in se) / 1e6

    rows = []
    t_ours, ours = cpu(lambda: wiki_kllama(wiki), args.repeat)
    t_strip, strip = cpu(lambda: wiki_strip_code(wiki), args.repeat)
    t_xml, _ = cpu(lambda: wiki_xml_only(wiki), args.repeat)
    rows.append(("wikipedia", "kllama reader + WikitextCleaner", wiki_mb, t_ours, t_ours, ours))
    rows.append(("wikipedia", "same XML pass + mwparserfromhell strip_code", wiki_mb, t_strip, t_ours, strip))
    rows.append(("wikipedia", "XML pass only (no cleaning)", wiki_mb, t_xml, t_ours, None))
    t_se, se_ours = cpu(lambda: se_kllama(se), args.repeat)
    t_bs, se_bs = cpu(lambda: se_bs4(se), args.repeat)
    rows.append(("stackexchange", "kllama reader (spill, numeric sort, html_to_text)", se_mb, t_se, t_se, se_ours))
    rows.append(("stackexchange", "in-memory iterparse + BeautifulSoup get_text", se_mb, t_bs, t_se, se_bs))

    print(f"{'source':<14} {'method':<52} {'MB':>6} {'cpu s':>7} {'MB/s/core':>10} {'x kllama':>9} {'docs':>5} "
          f"{'leftovers':>9}")
    for src, method, mb, t, t_ref, texts in rows:
        docs = len(texts) if texts is not None else "-"
        left = sum(len(LEFTOVER.findall(x)) for x in texts) if texts is not None and src == "wikipedia" else "-"
        print(f"{src:<14} {method:<52} {mb:>6.2f} {t:>7.2f} {mb / t:>10.2f} {t_ref / t:>9.2f} {docs!s:>5} {left!s:>9}")
    print("\nx kllama = speed relative to kllama's row of the same source (>1 = faster than kllama);"
          " leftovers = 'thumb|', 'Category:', localized file/category prefixes, '{|', '<ref', '[[', '{{' in the output")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
