"""Build ``tests/data/tokenize/identity.jsonl.gz``: excerpts of every kind of shared sample text, for the test
that the fast encoder gives HF's ids (``python -m tests.tokenize.make_identity_data SAMPLES``).

Each record is ``{"kind", "origin", "text"}``. Only files whose content licence allows committing them are read
(no AGPL repository file, no CC BY-NC-ND paper); provenance is in ``tests/data/PROVENANCE.md``. The
constructed records (deep indentation, sentences in the 20 LLaMA Wikipedia languages) are written here.
"""

from __future__ import annotations

import bz2
import gzip
import io
import json
import re
import sys
import tarfile
import unicodedata
from html import unescape
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "data" / "tokenize" / "identity.jsonl.gz"

#: one or two sentences per LLaMA Wikipedia language, written for kllama (numbers, dates, diacritics)
LANGUAGES = {
    "bg": "София е столицата на България от 1879 г.; населението ѝ е около 1,3 милиона души.",
    "ca": "L'any 1992 Barcelona va acollir els Jocs Olímpics; la Sagrada Família encara s'està construint.",
    "cs": "Vltava je nejdelší česká řeka (430 km); Karlův most byl dokončen v roce 1402.",
    "da": "København har cirka 660.000 indbyggere, og Øresundsbroen åbnede den 1. juli 2000.",
    "de": "Die Zugspitze ist mit 2962 m der höchste Berg Deutschlands; „Straße“ schreibt man mit ß.",
    "en": "The river is 3,742 km long and drains an area of 1.2 million km² (about 463,000 sq mi).",
    "es": "¿Cuántos habitantes tiene Madrid? En 2023 eran unos 3,3 millones; el año pasado, ¡más aún!",
    "fr": "Le 14 juillet 1789, la Bastille est prise ; l'événement est célébré chaque année « en fête ».",
    "hr": "Dubrovnik je 1979. upisan na UNESCO-ov popis; zidine su duge 1940 m, a šetnja traje sat.",
    "hu": "A Duna 2850 km hosszú; Budapesten a Széchenyi lánchíd 1849-ben nyílt meg, ő is ünnepelt.",
    "it": "Il Monte Bianco è alto 4808 m; nel 1965 fu aperto il traforo lungo 11,6 km così com'è.",
    "nl": "De Afsluitdijk (32 km) werd in 1932 voltooid; ’s winters is het er koud en ijzig.",
    "pl": "Wisła ma 1047 km długości; Kraków był stolicą Polski do 1596 roku, zażółć gęślą jaźń.",
    "pt": "O Brasil tem 26 estados e um Distrito Federal; a população passou de 203 milhões em 2022, não?",
    "ro": "Dunărea se varsă în Marea Neagră; Delta are 5.800 km² și găzduiește peste 300 de specii.",
    "ru": "Байкал — самое глубокое озеро мира (1642 м); в нём около 20 % пресной воды планеты.",
    "sl": "Triglav je z 2864 m najvišja gora Slovenije; Ljubljanica teče skozi prestolnico že stoletja.",
    "sr": "Београд лежи на ушћу Саве у Дунав; Beograd ima oko 1,7 miliona stanovnika (2022).",
    "sv": "Vänern är Sveriges största sjö, 5 650 km²; midsommar firas i juni med sill och jordgubbar.",
    "uk": "Дніпро має довжину 2201 км; Київ заснований, за легендою, у 482 році братами й сестрою Либіддю.",
}


def deep_indentation() -> str:
    """Python-, YAML- and Makefile-like code with indentation of 0..124 spaces, tabs, CRLF and trailing blanks."""
    lines = []
    for depth in range(32):
        lines.append("    " * depth + f"if level_{depth} > {depth * 7}:  # depth {depth}")
    for depth in range(31, -1, -3):
        lines.append("    " * depth + f"return value[{depth}]   ")
    lines += ["\t" * d + f"key{d}: {d * 1.5}" for d in range(12)]
    lines += [" \t" * d + "mixed" for d in range(8)]
    lines += ["all:\r", "\tgcc -O2 -o a a.c   \r", " " * 60 + "x = 1\r", " " * 97 + "# far\r", "\r"]
    lines += [" " * n for n in (1, 2, 23, 24, 25, 26, 47, 48, 49, 73)]
    return "\n".join(lines) + "\n"


def _wiki_pages(xml: str, n: int, cut: int) -> list[str]:
    out = []
    for m in re.finditer(r"<text[^>]*>(.*?)</text>", xml, re.S):
        text = unescape(m.group(1))
        if text.lstrip().upper().startswith("#REDIRECT") or len(text) < 500:
            continue
        out.append(text[:cut])
        if len(out) == n:
            break
    return out


def build(samples: Path) -> list[dict[str, str]]:
    """The records, in a fixed order."""
    recs: list[dict[str, str]] = []

    def add(kind: str, origin: str, texts: list[str]) -> None:
        recs.extend({"kind": kind, "origin": origin, "text": t} for t in texts if t)

    code = samples / "code" / "files"
    for rel in ("facebookresearch__cc_net/cc_net/flat_hash_set.py", "chatnoir-eu__chatnoir-resiliparse/fastwarc/src/lib.rs",
                "chatnoir-eu__chatnoir-resiliparse/resiliparse-py/resiliparse/parse/encoding.h",
                "leogao2__lm_dataformat/lm_dataformat/__init__.py", "piskvorky__gensim/gensim/examples/dmlcz/runall.sh"):
        add("code", f"code/files/{rel}", [(code / rel).read_text("utf-8")])
    js = (code / "piskvorky__gensim/docs/src/_static/js/scripts.js").read_text("utf-8")
    add("code", "code/files/piskvorky__gensim/docs/src/_static/js/scripts.js (two 3,000-character slices)",
        [js[:3000], js[100000:103000]])
    add("code", "constructed (deep indentation)", [deep_indentation(), deep_indentation().replace("\n", "\r\n")])

    wiki = samples / "wikipedia"
    en = bz2.decompress((wiki / "gensim-enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2")
                        .read_bytes()).decode("utf-8")
    pages = _wiki_pages(en, 6, 5000)
    add("wikipedia", "wikipedia/gensim-enwiki-…-shortened.bz2 (6 pages, ≤ 5,000 characters)", pages)
    add("wikipedia", "the same pages in NFD (decomposed)", [unicodedata.normalize("NFD", p) for p in pages[:3]])
    tables = bz2.decompress((wiki / "gensim-enwiki-table-markup.xml.bz2").read_bytes()).decode("utf-8")
    add("wikipedia", "wikipedia/gensim-enwiki-table-markup.xml.bz2 (2 pages, ≤ 5,000 characters)",
        _wiki_pages(tables, 2, 5000))
    bg = bz2.decompress((wiki / "gensim-bgwiki-latest-pages-articles-shortened.xml.bz2").read_bytes()).decode("utf-16")
    add("wikipedia", "wikipedia/gensim-bgwiki-…-shortened.xml.bz2 (3 pages, ≤ 5,000 characters)",
        _wiki_pages(bg, 3, 5000))
    add("wikipedia", "constructed (one sentence per LLaMA language)", list(LANGUAGES.values()))
    add("wikipedia", "constructed (the same sentences in NFD)",
        [unicodedata.normalize("NFD", " ".join(LANGUAGES.values()))])

    arxiv = samples / "arxiv" / "src"
    t1 = (arxiv / "1707.08043" / "main.tex").read_bytes().decode("latin-1")
    t2 = (arxiv / "1708.00137" / "main.tex").read_text("utf-8")
    add("latex", "arxiv/src/1707.08043/main.tex (ISO-8859-1, CRLF; first 12,000 characters)", [t1[:12000]])
    add("latex", "arxiv/src/1708.00137/main.tex (characters 20,000-32,000)", [t2[20000:32000]])

    posts = (samples / "stackexchange" / "coffee.stackexchange.com-2015-Posts.xml").read_text("utf-8-sig")
    rows = re.findall(r'<row [^>]*?Body="([^"]*)"[^>]*?/>', posts)[:25]
    add("stackexchange", "stackexchange/coffee.stackexchange.com-2015-Posts.xml (first 25 bodies)",
        [unescape(b) for b in rows])

    gsm = (samples / "reasoning" / "gsm8k-test.jsonl").read_text("utf-8").splitlines()[:25]
    add("gsm8k", "reasoning/gsm8k-test.jsonl (first 25 problems)",
        [f"{r['question']}\n{r['answer']}" for r in map(json.loads, gsm)])
    soc = (samples / "reasoning" / "gsm8k-test_socratic.jsonl").read_text("utf-8").splitlines()[:5]
    add("gsm8k", "reasoning/gsm8k-test_socratic.jsonl (first 5 problems)",
        [f"{r['question']}\n{r['answer']}" for r in map(json.loads, soc)])

    with gzip.open(samples / "c4" / "constructed" / "en" / "c4-train.00000-of-01024.json.gz", "rt") as f:
        add("c4", "c4/constructed/en/c4-train.00000-of-01024.json.gz (10 documents, ≤ 6,000 characters)",
            [json.loads(line)["text"][:6000] for line in f])

    gut = samples / "gutenberg"
    add("books", "gutenberg/pg35190-raw.txt (CRLF, Middle English; characters 4,000-12,000)",
        [(gut / "pg35190-raw.txt").read_text("utf-8")[4000:12000]])
    add("books", "gutenberg/pg10026-clean-expected.txt (first 5,000 characters)",
        [(gut / "pg10026-clean-expected.txt").read_text("utf-8")[:5000]])

    import zstandard

    with tarfile.open(samples / "pile" / "lm_dataformat-test-blns.jsonl.zst.tar") as tar:
        raw = tar.extractfile("test_dir/1.zst").read()  # type: ignore[union-attr]
    lines = io.TextIOWrapper(zstandard.ZstdDecompressor().stream_reader(io.BytesIO(raw)), "utf-8").read()
    blns = []
    for line in lines.splitlines():
        t = json.loads(line)["text"]
        blns.append("\n\n".join(t) if isinstance(t, list) else t)
    add("naughty", "pile/lm_dataformat-test-blns.jsonl.zst.tar (Big List of Naughty Strings, 4 records)", blns)

    irc = (samples / "dialogue" / "ubuntu-irc" / "2016-02-22_17.raw.txt").read_text("utf-8")
    add("dialogue", "dialogue/ubuntu-irc/2016-02-22_17.raw.txt (first 3,000 characters)", [irc[:3000]])
    return recs


def main(argv: list[str]) -> int:
    samples = Path(argv[0] if argv else "../shared/samples")
    recs = build(samples)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    body = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in recs).encode("utf-8")
    with open(OUT, "wb") as f, gzip.GzipFile(fileobj=f, mode="wb", mtime=0) as gz:
        gz.write(body)
    kinds = sorted({r["kind"] for r in recs})
    print(f"{OUT}: {len(recs)} records, {len(body)} bytes of JSON ({', '.join(kinds)})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
