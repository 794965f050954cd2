"""A labelled evaluation set for the Pile-overlap labelling (G3): real documents of kllama's test data, each
rendered twice -- the way kllama's pipeline renders it ("ours") and the way the Pile v1 rendered it ("theirs") --
plus documents that the Pile side does not hold.

How the Pile rendered each source (and how it is imitated here):

- **Wikipedia**: TFDS ``wikipedia/20200301.en``, i.e. mwparserfromhell's ``strip_code`` after removing file/image
  links, ``<ref>`` and tables (``pile_wikipedia``); ours is kllama's own wikitext cleaner. Every third article is
  also **revised** on our side (``revise``: ~45% of its sentences deleted, some changed, a few new ones inserted),
  as a newer dump differs from the Pile's 2020 one: containment stays >= 0.8 while Jaccard falls to ~0.5. The
  Bulgarian articles and every third English one are not in the Pile side (the Pile has English only).
- **arXiv**: the Pile converted LaTeX to Markdown with pandoc (``pandoc -f latex -t markdown --wrap=none``, needs
  the ``pandoc`` binary: Debian's package); ours is the source after kllama's ``latex_clean`` (LaTeX kept).
- **StackExchange**: the Pile's pairer kept the accepted answer and answers of score >= 3, at most 3 by score,
  HTML through BeautifulSoup's ``get_text``, ``Q:``/``A:`` blocks; ours keeps every answer. Half the questions are
  not in the Pile side.
- **GitHub**: the Pile kept files whole, licence headers included; ours has them removed (``code_header``). Beside
  the test data's files, ``full`` adds kllama's own modules (the Pile side gets them under an Apache-2.0 header);
  half of those are not in the Pile side (code shares many 5-grams: a test of false labels).
- **Books**: plain text on both sides (PG-19's clean text vs kllama's Gutenberg stripping), and the demo's
  Books3-style excerpts of those books.
- **C4**: the test data's C4 pages were made from the same CommonCrawl pages as dolma's cc_net sample, which the
  Pile side holds as Pile-CC: copies in another rendering.
- **Unrelated**: PubMed abstracts and CommonCrawl pages that the Pile side does not hold; the Pile side also holds
  PMC articles that ours does not.

Truth is exact: each document's containment in every Pile-side document is computed from full shingle sets
(word 5-grams, the C core's ``shingle_hashes``), and a document counts as contained when its best containment is
>= 0.8. Deterministic for a given test-data folder.
"""

from __future__ import annotations

import bz2
import gzip
import json
import random
import re
import shutil
import subprocess
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
TEST_DATA = ROOT / "tests" / "data"
DEMO = ROOT / "kllama" / "data" / "demo"
ENWIKI = "gensim-enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"
BGWIKI = "gensim-bgwiki-latest-pages-articles-shortened.xml.bz2"
APACHE_HEADER = ("# Copyright 2024 The kllama Authors\n#\n# Licensed under the Apache License, Version 2.0 (the "
                 "\"License\");\n# you may not use this file except in compliance with the License.\n# You may "
                 "obtain a copy of the License at\n#\n#     http://www.apache.org/licenses/LICENSE-2.0\n#\n# Unless "
                 "required by applicable law or agreed to in writing, software\n# distributed under the License is "
                 "distributed on an \"AS IS\" BASIS,\n# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express "
                 "or implied.\n# See the License for the specific language governing permissions and\n# limitations "
                 "under the License.\n\n")
PILE_SETS = {"wikipedia": "Wikipedia (en)", "arxiv": "ArXiv", "stackexchange": "StackExchange", "github": "Github",
             "books": "Gutenberg (PG-19)", "commoncrawl": "Pile-CC", "pmc": "PubMed Central"}


@dataclass
class EvalDoc:
    """One document of our side; ``theirs`` is its Pile rendering when the Pile side holds one."""

    source: str
    kind: str  # copy | revised | excerpt | unrelated
    key: str
    ours: str
    theirs: str | None = None
    containment: float = 0.0  # exact: best containment of ours in one Pile-side document
    jaccard: float = 0.0  # exact Jaccard with that document
    best: int = -1  # index of that document in EvalSet.pile


@dataclass
class EvalSet:
    docs: list[EvalDoc]
    pile: list[tuple[str, str]]  # (text, pile_set_name)
    notes: list[str] = field(default_factory=list)


# -- renderings ------------------------------------------------------------------------------------------------
def pile_wikipedia(wikitext: str) -> str:
    """The TFDS/Pile rendering of an article: file/image links, refs and tables removed, then ``strip_code``,
    section by section."""
    import mwparserfromhell

    code = mwparserfromhell.parse(wikitext)
    drop_link = re.compile(r"^\s*(?:file|image|media):", re.I)
    out = []
    for section in code.get_sections(flat=True, include_lead=True, include_headings=True):
        for obj in list(section.ifilter_wikilinks(recursive=True)):
            if drop_link.match(str(obj.title)):
                _remove(section, obj)
        for obj in list(section.ifilter_tags(recursive=True)):
            if str(obj.tag).lower() in ("ref", "table"):
                _remove(section, obj)
        text = section.strip_code().strip()
        if text:
            out.append(text)
    return "\n\n".join(out)


def _remove(section: Any, obj: Any) -> None:
    try:
        section.remove(obj)
    except ValueError:
        pass


def wikitext_pages(path: Path) -> dict[str, str]:
    """title -> raw wikitext of the main-namespace pages of a (trusted, test-data) dump."""
    from lxml import etree

    pages = {}
    with bz2.open(path, "rb") as f:
        for _, el in etree.iterparse(f, events=("end",), tag="{*}page", resolve_entities=False, no_network=True):
            title = el.findtext("{*}title") or ""
            ns = el.findtext("{*}ns") or "0"
            text = el.findtext("{*}revision/{*}text") or ""
            if ns == "0" and el.find("{*}redirect") is None:
                pages[title] = text
            el.clear()
    return pages


def pile_stackexchange(posts_xml: Path, min_score: int = 3, max_answers: int = 3) -> dict[int, str]:
    """question id -> the Pile pairer's text (``Q:`` title and body, ``A:`` the kept answers), for questions with
    at least one kept answer."""
    from bs4 import BeautifulSoup
    from lxml import etree

    questions: dict[int, dict[str, Any]] = {}
    answers: dict[int, list[tuple[int, str, int]]] = {}
    for _, el in etree.iterparse(str(posts_xml), events=("end",), tag="row", resolve_entities=False,
                                 no_network=True):
        a = el.attrib
        if a.get("PostTypeId") == "1":
            questions[int(a["Id"])] = {"title": a.get("Title") or "", "body": a.get("Body") or "",
                                       "accepted": a.get("AcceptedAnswerId")}
        elif a.get("PostTypeId") == "2" and a.get("ParentId"):
            answers.setdefault(int(a["ParentId"]), []).append((int(a.get("Score") or 0), a.get("Body") or "",
                                                               int(a["Id"])))
        el.clear()

    def text(html: str) -> str:
        return BeautifulSoup(html, "html.parser").get_text()

    out = {}
    for qid, q in sorted(questions.items()):
        kept = [x for x in answers.get(qid, []) if x[0] >= min_score or str(x[2]) == q["accepted"]]
        kept = sorted(kept, key=lambda x: -x[0])[:max_answers]
        if not kept:
            continue
        parts = [f"Q:\n\n{q['title']}\n\n{text(q['body'])}"] + [f"A:\n\n{text(b)}" for _, b, _ in kept]
        out[qid] = re.sub("\n{3,}", "\n\n", "\n\n".join(parts))
    return out


def pandoc_markdown(tex: Path, timeout: float = 120) -> str | None:
    """LaTeX -> Markdown as the Pile's arXiv was made; None when pandoc is missing or fails."""
    exe = shutil.which("pandoc")
    if exe is None:
        return None
    try:
        proc = subprocess.run([exe, "-f", "latex", "-t", "markdown", "--wrap=none", tex.name], cwd=tex.parent,
                              capture_output=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout.decode("utf-8", "replace") if proc.returncode == 0 else None


def revise(text: str, seed: str, delete: float = 0.45, change: float = 0.06, insert: float = 0.04) -> str:
    """A later revision of an article: ``delete`` of its sentences removed (a contiguous block and scattered
    ones), ``change`` of the rest get one word replaced, and new sentences of ``insert`` x its words added."""
    rng = random.Random(seed)
    sents = [s for s in re.split(r"(?<=[.!?])\s+", text) if s.strip()]
    n = len(sents)
    gone = set()
    block = int(n * delete * 0.6)
    start = rng.randrange(0, max(1, n - block))
    gone.update(range(start, start + block))
    rest = [i for i in range(n) if i not in gone]
    gone.update(rng.sample(rest, min(len(rest), int(n * delete) - block)))
    kept = [sents[i] for i in range(n) if i not in gone]
    for i in rng.sample(range(len(kept)), int(len(kept) * change)):
        words = kept[i].split(" ")
        j = rng.randrange(len(words))
        words[j] = f"revised{rng.randrange(10**6)}"
        kept[i] = " ".join(words)
    n_new = int(sum(len(s.split()) for s in kept) * insert / 12) + 1
    for _ in range(n_new):
        new = " ".join(f"edit{rng.randrange(10**6)}" for _ in range(12)) + "."
        kept.insert(rng.randrange(len(kept) + 1), new)
    return " ".join(kept)


# -- the sources -----------------------------------------------------------------------------------------------
def _read(reader: str, paths: list[Path], **options: Any) -> list[Any]:
    from kllama.core.ledger import Ledger
    from kllama.core.registry import source_class

    src = source_class(reader)(**options)
    ledger = Ledger()
    return [d for u in src.list_inputs([str(p) for p in paths]) for d in src.read(u, ledger)]


def wikipedia_docs(data: Path, limit: int | None) -> tuple[list[EvalDoc], list[tuple[str, str]]]:
    ours = sorted(_read("wikipedia", [data / "wikipedia" / ENWIKI], min_chars=1), key=lambda d: d.meta["title"])
    raw = wikitext_pages(data / "wikipedia" / ENWIKI)
    docs, pile = [], []
    for i, d in enumerate(ours[:limit] if limit else ours):
        title = d.meta["title"]
        theirs = f"{title}\n\n{pile_wikipedia(raw[title])}"
        if i % 3 == 2:
            docs.append(EvalDoc("wikipedia", "unrelated", title, d.text))
            continue
        pile.append((theirs, PILE_SETS["wikipedia"]))
        if i % 3 == 0:
            docs.append(EvalDoc("wikipedia", "copy", title, d.text, theirs))
        else:
            docs.append(EvalDoc("wikipedia", "revised", title, revise(d.text, title), theirs))
    bg = _read("wikipedia", [data / "wikipedia" / BGWIKI], min_chars=1)
    for d in sorted(bg, key=lambda d: d.meta["title"])[: (limit or len(bg)) // 3 or None]:
        docs.append(EvalDoc("wikipedia", "unrelated", f"bg:{d.meta['title']}", d.text))
    return docs, pile


def arxiv_docs(data: Path, limit: int | None) -> tuple[list[EvalDoc], list[tuple[str, str]], list[str]]:
    from kllama.core.ledger import Ledger
    from kllama.core.registry import build_step

    if shutil.which("pandoc") is None:
        return [], [], ["pandoc not installed (Debian: apt-get install pandoc): arXiv left out"]
    papers = _read("arxiv", [data / "arxiv" / "constructed-bulk"], verify_md5=False)
    clean = build_step({"step": "latex_clean", "keep_abstract": False, "keep_appendix": True,
                        "expand_macros": True})
    papers = clean.process(papers, Ledger())
    docs, pile, notes = [], [], []
    for d in sorted(papers, key=lambda d: d.id):
        if limit and len(docs) >= limit:
            break
        aid = d.meta.get("arxiv_id") or d.meta.get("id") or ""
        tex = data / "arxiv" / "src" / aid / "main.tex"
        md = pandoc_markdown(tex) if tex.exists() else None
        if md is None:  # as in the Pile, a paper pandoc cannot convert is not in it
            notes.append(f"arXiv {aid}: pandoc gave no Markdown (the Pile left such papers out); left out")
            continue
        pile.append((md, PILE_SETS["arxiv"]))
        docs.append(EvalDoc("arxiv", "copy", aid, d.text, md))
    return docs, pile, notes


def stackexchange_docs(data: Path, limit: int | None) -> tuple[list[EvalDoc], list[tuple[str, str]]]:
    posts = data / "stackexchange" / "coffee.stackexchange.com-2015-Posts.xml"
    theirs = pile_stackexchange(posts)
    ours = sorted(_read("stackexchange", [posts]), key=lambda d: int(d.meta["question_id"]))
    docs, pile = [], []
    for d in ours[:limit] if limit else ours:
        qid = int(d.meta["question_id"])
        if qid % 2 == 0 and qid in theirs:
            pile.append((theirs[qid], PILE_SETS["stackexchange"]))
            docs.append(EvalDoc("stackexchange", "copy", str(qid), d.text, theirs[qid]))
        elif qid % 2 == 1:
            docs.append(EvalDoc("stackexchange", "unrelated", str(qid), d.text))
    return docs, pile


def github_docs(data: Path, limit: int | None, own_code: bool) -> tuple[list[EvalDoc], list[tuple[str, str]]]:
    from kllama.core.ledger import Ledger
    from kllama.core.registry import build_step

    header = build_step({"step": "code_header", "max_blocks": 3})
    files = _read("github", [data / "code" / "constructed" / "github-code-style.jsonl.gz"])
    docs, pile = [], []
    for d in sorted(files, key=lambda d: d.meta["path"])[:limit]:
        raw = d.text
        out = header.process([d], Ledger())
        if not out:
            continue
        pile.append((raw, PILE_SETS["github"]))
        docs.append(EvalDoc("github", "copy", d.meta["path"], out[0].text, raw))
    if own_code:
        mods = sorted(p for p in (ROOT / "kllama").rglob("*.py") if p.stat().st_size > 2000)
        for i, p in enumerate(mods[:limit * 4] if limit else mods):
            text = p.read_text(encoding="utf-8")
            key = str(p.relative_to(ROOT))
            if i % 2 == 0:
                pile.append((APACHE_HEADER + text, PILE_SETS["github"]))
                docs.append(EvalDoc("github", "copy", key, text, APACHE_HEADER + text))
            else:
                docs.append(EvalDoc("github", "unrelated", key, text))
    return docs, pile


def books_docs(data: Path, limit: int | None) -> tuple[list[EvalDoc], list[tuple[str, str]]]:
    docs, pile = [], []
    with tempfile.TemporaryDirectory() as tmp:
        g = Path(tmp) / "gutenberg"
        g.mkdir()
        for raw in sorted((data / "gutenberg").glob("pg*-raw.txt"))[:limit]:
            shutil.copy(raw, g / raw.name.replace("-raw", ""))
        ours = {d.meta["pg_id"]: d for d in _read("books", [g])}
    for pg_id, d in sorted(ours.items()):
        clean = (data / "gutenberg" / f"pg{pg_id}-clean-expected.txt").read_text(encoding="utf-8")
        pile.append((clean, PILE_SETS["books"]))
        docs.append(EvalDoc("books", "copy", f"pg{pg_id}", d.text, clean))
    for p in sorted((DEMO / "books" / "books3").glob("*.txt")):
        docs.append(EvalDoc("books", "excerpt", p.stem, p.read_text(encoding="utf-8")))
    return docs, pile


def unrelated_docs(data: Path, limit: int | None) -> tuple[list[EvalDoc], list[tuple[str, str]]]:
    docs = []
    abstracts = sorted(_read("pubmed", [data / "pubmed" / "pubmed20n0014-excerpt.xml.gz"]), key=lambda d: d.id)
    for d in abstracts[:limit]:
        docs.append(EvalDoc("pubmed", "unrelated", d.id, d.text))
    with gzip.open(data / "c4" / "constructed" / "en" / "c4-train.00000-of-01024.json.gz", "rt") as f:
        for i, line in enumerate(f):
            if limit and i >= limit:
                break
            # the test data's C4 pages were made from dolma's CommonCrawl pages, which the Pile side holds as
            # Pile-CC (below): copies in another rendering
            docs.append(EvalDoc("c4", "copy", f"c4:{i}", json.loads(line)["text"]))
    with open(data / "langid" / "commoncrawl.jsonl", encoding="utf-8") as f:
        for i, line in enumerate(f):
            rec = json.loads(line)
            if rec.get("lang") == "en" and (not limit or i < limit):
                docs.append(EvalDoc("commoncrawl", "unrelated", rec.get("origin", str(i)), rec["text"]))
    pile = []
    with gzip.open(data / "commoncrawl" / "dolma-ccnet-cc_en_head-0091.jsonl.gz", "rt") as f:
        pile += [(json.loads(line)["text"], PILE_SETS["commoncrawl"]) for line in f]
    pile += [(d.text, PILE_SETS["pmc"]) for d in _read("pmc", [data / "pubmed" / "pmc"], licenses=None)]
    return docs, pile


# -- truth -------------------------------------------------------------------------------------------------------
def shingle_set(text: str, ngram: int = 5) -> np.ndarray:
    from kllama import native

    return np.unique(np.asarray(native.shingle_hashes(" ".join(text.split()), ngram), dtype=np.uint64))


def exact_truth(docs: list[EvalDoc], pile: list[tuple[str, str]]) -> None:
    """Each document's best exact containment in one Pile-side document (and that pair's Jaccard)."""
    pile_sets = [shingle_set(t) for t, _ in pile]
    owner: dict[int, list[int]] = {}
    for j, s in enumerate(pile_sets):
        for h in s.tolist():
            owner.setdefault(h, []).append(j)
    for d in docs:
        s = shingle_set(d.ours)
        if len(s) == 0:
            continue
        counts = Counter(j for h in s.tolist() for j in owner.get(h, ()))
        if not counts:
            continue
        j, shared = max(counts.items(), key=lambda kv: (kv[1], -kv[0]))
        d.best = j
        d.containment = shared / len(s)
        d.jaccard = shared / (len(s) + len(pile_sets[j]) - shared)


def build(size: str = "full", data: Path = TEST_DATA) -> EvalSet:
    """The evaluation set: ``full`` (every usable document of the test data, and kllama's own modules as code) or
    ``small`` (a few of each, for a test)."""
    limit = {"full": None, "small": 12}[size]
    docs: list[EvalDoc] = []
    pile: list[tuple[str, str]] = []
    notes: list[str] = []
    for part in (wikipedia_docs(data, limit), stackexchange_docs(data, limit and 3 * limit),
                 github_docs(data, limit and 4, own_code=size == "full"), books_docs(data, limit and 2),
                 unrelated_docs(data, limit and 2 * limit)):
        docs += part[0]
        pile += part[1]
    a_docs, a_pile, a_notes = arxiv_docs(data, limit and 1)
    docs, pile, notes = docs + a_docs, pile + a_pile, notes + a_notes
    exact_truth(docs, pile)
    return EvalSet(docs=docs, pile=pile, notes=notes)


def write_pile(pile: list[tuple[str, str]], folder: Path, docs_per_shard: int = 1000) -> list[Path]:
    """The Pile side as Pile-format shards ``NN.jsonl.zst`` (``{"text", "meta": {"pile_set_name"}}``)."""
    import zstandard

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for k in range(0, len(pile), docs_per_shard):
        lines = "".join(json.dumps({"text": t, "meta": {"pile_set_name": s}}) + "\n"
                        for t, s in pile[k: k + docs_per_shard])
        p = folder / f"{k // docs_per_shard:02d}.jsonl.zst"
        p.write_bytes(zstandard.ZstdCompressor(level=3).compress(lines.encode("utf-8")))
        paths.append(p)
    return paths


if __name__ == "__main__":
    es = build()
    by = Counter((d.source, d.kind, d.containment >= 0.8) for d in es.docs)
    for k, v in sorted(by.items()):
        print(k, v)
    print(len(es.pile), "Pile-side documents;", *es.notes)


# -- running the labelling on the set --------------------------------------------------------------------------
@dataclass
class Outcome:
    """Per document of the set: the label the real ``pile_label`` step gave (``exact``/``near``/None) and its
    containment estimate; plus the index's figures."""

    labels: list[str | None]
    estimates: list[float | None]
    index_meta: dict[str, Any]
    index_seconds: float
    label_seconds: float
    query_rows: int  # sketch keys our documents emitted
    query_row_bytes: float  # Arrow bytes per emitted key row (with the engine's part column)


def run_labelling(es: EvalSet, workdir: Path, docs_per_partition: int = 200, **options: Any) -> Outcome:
    """Index the set's Pile side (``kllama.dedup.pile_index``) and label our side with the real step through the
    GlobalStep protocol (``kllama.engine.inprocess``)."""
    import time

    import pyarrow as pa

    from kllama.dedup.pile_index import build_index
    from kllama.dedup.pile_label import PileLabel
    from kllama.engine.inprocess import run_global_in_process

    write_pile(es.pile, workdir / "pile")
    t0 = time.perf_counter()
    meta = build_index([str(workdir / "pile")], workdir / "index")
    t1 = time.perf_counter()
    ids = [f"d{i}" for i in range(len(es.docs))]
    table = pa.table({"id": ids, "text": pa.array([d.ours for d in es.docs], pa.large_string()),
                      "source": [d.source for d in es.docs], "group": ["core"] * len(es.docs)})
    parts = [table.slice(i, docs_per_partition) for i in range(0, table.num_rows, docs_per_partition)]
    step = PileLabel(index_path=str(workdir / "index"), **{"num_buckets": 8, **options})
    res = run_global_in_process(step, parts)
    t2 = time.perf_counter()
    out = pa.concat_tables(res.tables)
    order = {k: i for i, k in enumerate(out.column("id").to_pylist())}
    labels = out.column("pile_match").to_pylist()
    est = out.column("pile_containment").to_pylist()
    emitted = [step.emit_keys(p) for p in parts]
    query_rows = sum(int((k.column("kind").to_numpy() == 1).sum()) for k in emitted)
    row_bytes = sum(k.nbytes for k in emitted) / max(1, sum(k.num_rows for k in emitted)) + 4
    return Outcome([labels[order[i]] for i in ids], [est[order[i]] for i in ids], meta, t1 - t0, t2 - t1,
                   query_rows, row_bytes)


def band_labels(es: EvalSet, bands: int = 20, rows: int = 6, min_bands: int = 2) -> list[bool]:
    """The test this replaced: at least ``min_bands`` of 20 MinHash band keys (6 rows) shared with one Pile
    document (Jaccard 0.8 -> 98%, 0.5 -> 4%), or the same normalized text."""
    import pyarrow as pa

    from kllama.dedup.minhash_lsh import band_keys, signatures
    from kllama.dedup.pile_index import normalize_text

    pile = [normalize_text(t) for t, _ in es.pile]
    ours = [normalize_text(d.ours) for d in es.docs]
    owner: dict[int, list[int]] = {}
    for j, row in enumerate(band_keys(signatures(pa.array(pile, pa.large_string()), bands * rows, 5, 1), bands, rows)):
        for k in row.tolist():
            owner.setdefault(k, []).append(j)
    exact = set(pile)
    out = []
    for text, row in zip(ours, band_keys(signatures(pa.array(ours, pa.large_string()), bands * rows, 5, 1),
                                         bands, rows), strict=True):
        c = Counter(j for k in row.tolist() for j in owner.get(k, ()))
        out.append(text in exact or (bool(c) and max(c.values()) >= min_bands))
    return out


@dataclass
class Scores:
    """Recall on contained documents per source, false labels on unrelated ones, label rate on partial ones."""

    recall: dict[str, tuple[int, int]]  # source -> (labelled, documents with containment >= 0.8)
    false: tuple[int, int]  # (labelled, unrelated documents: containment < 0.5)
    partial: tuple[int, int]  # (labelled, documents with 0.5 <= containment < 0.8)


def score(es: EvalSet, labelled: list[bool], threshold: float = 0.8, by_kind: bool = False) -> Scores:
    recall: dict[str, list[int]] = {}
    false, partial = [0, 0], [0, 0]
    for d, lab in zip(es.docs, labelled, strict=True):
        if d.containment >= threshold:
            r = recall.setdefault(f"{d.source}:{d.kind}" if by_kind else d.source, [0, 0])
            r[0] += bool(lab)
            r[1] += 1
        elif d.containment < 0.5:
            false[0] += bool(lab)
            false[1] += 1
        else:
            partial[0] += bool(lab)
            partial[1] += 1
    return Scores({k: (v[0], v[1]) for k, v in sorted(recall.items())}, (false[0], false[1]),
                  (partial[0], partial[1]))
