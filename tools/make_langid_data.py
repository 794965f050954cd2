"""Build ``tests/data/langid/``: short real multilingual excerpts with a known language, for the language-id
agreement test (``tests/filters/test_langid_real.py``).

    python -m tools.make_langid_data SAMPLES_DIR      # SAMPLES_DIR = the shared samples folder

* Wikipedia: cleaned articles (kllama's Wikipedia reader) of the gensim enwiki and bgwiki test excerpts
  (LGPL-2.1 repository, Wikipedia text CC BY-SA); the language is the dump's.
* CommonCrawl: the WET record of commoncrawl/whirlwind-python (Apache-2.0; its
  ``WARC-Identified-Content-Language``) and the text of the HTML responses of the real CC-MAIN-2020-34 WARC
  excerpt of chatnoir-eu/chatnoir-resiliparse (Apache-2.0), each with the top language of the crawl's own
  ``languages-cld2`` metadata record (what Common Crawl turns into ``WARC-Identified-Content-Language``).

Each text is cut to at most ``MAX_CHARS`` characters (at a line end). Output: one JSON line per document,
``{"origin", "lang", "text"}``. Files from AGPL or NC-ND repositories are not used.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

MAX_CHARS = 1500
ISO3 = {"spa": "es", "eng": "en", "deu": "de", "fra": "fr", "bul": "bg", "vie": "vi", "rus": "ru", "zho": "zh",
        "nld": "nl"}


def cut(text: str, limit: int = MAX_CHARS) -> str:
    if len(text) <= limit:
        return text
    head = text[:limit]
    return head[: head.rfind("\n")] if "\n" in head[limit // 2:] else head


def wikipedia_rows(samples: Path, per_dump: int = 40) -> list[dict]:
    from kllama.core.ledger import Ledger
    from kllama.sources.wikipedia import WikipediaSource

    rows = []
    for name, lang in (("gensim-enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2", "en"),
                       ("gensim-bgwiki-latest-pages-articles-shortened.xml.bz2", "bg")):
        n = 0
        for doc in WikipediaSource(min_chars=300).read(str(samples / "wikipedia" / name), Ledger()):
            rows.append({"origin": f"wikipedia/{name}#{doc.meta.get('title', doc.id)}", "lang": lang,
                         "text": cut(doc.text)})
            n += 1
            if n >= per_dump:
                break
    return rows


def commoncrawl_rows(samples: Path) -> list[dict]:
    from warcio.archiveiterator import ArchiveIterator

    from kllama.models.classifier import _html_text

    rows = []
    with open(samples / "commoncrawl" / "whirlwind.warc.wet.gz", "rb") as f:
        for rec in ArchiveIterator(f):
            lang = rec.rec_headers.get_header("WARC-Identified-Content-Language")
            if rec.rec_type == "conversion" and lang:
                text = rec.content_stream().read().decode("utf-8")
                rows.append({"origin": f"whirlwind.warc.wet.gz#{rec.rec_headers.get_header('WARC-Target-URI')}",
                             "lang": ISO3.get(lang.split(",")[0], lang.split(",")[0]), "text": cut(text)})
    texts: dict[str, str] = {}
    langs: dict[str, str] = {}
    name = "resiliparse-CC-MAIN-2020-34-excerpt.warc.gz"
    with open(samples / "commoncrawl" / name, "rb") as f:
        for rec in ArchiveIterator(f):
            uri = rec.rec_headers.get_header("WARC-Target-URI")
            if rec.rec_type == "response" and rec.http_headers is not None:
                texts[uri] = _html_text(rec.content_stream().read())
            elif rec.rec_type == "metadata":
                for line in rec.content_stream().read().decode("utf-8", "replace").splitlines():
                    if line.startswith("languages-cld2:"):
                        info = json.loads(line.split(":", 1)[1])
                        if info.get("reliable") and info.get("languages"):
                            langs[uri] = info["languages"][0]["code"]
    for uri in sorted(texts):
        if uri in langs and len(texts[uri]) >= 200:
            rows.append({"origin": f"{name}#{uri}", "lang": langs[uri], "text": cut(texts[uri])})
    return rows


def main(argv: list[str]) -> int:
    samples = Path(argv[0] if argv else "../shared/samples")
    out = Path(__file__).resolve().parents[1] / "tests" / "data" / "langid"
    out.mkdir(parents=True, exist_ok=True)
    for fname, rows in (("wikipedia.jsonl", wikipedia_rows(samples)), ("commoncrawl.jsonl", commoncrawl_rows(samples))):
        with open(out / fname, "w", encoding="utf-8") as f:
            for r in rows:
                f.write(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n")
        print(f"{out / fname}: {len(rows)} documents")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
