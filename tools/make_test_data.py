"""Build ``tests/data/`` from the project's shared sample folder (``python -m tools.make_test_data SAMPLES``).

The test suite reads only ``tests/data``, so a fresh clone runs it whole. Files are copied byte for byte where
their licence allows it; AGPL files and the CC BY-NC-ND arXiv paper are *not* copied, and the constructed
containers that held them are rebuilt with replacements written for kllama (see ``tests/data/PROVENANCE.md``).
Run it again only when the samples change; the result is committed.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import shutil
import sys
import tarfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "tests" / "data"
MTIME = 1700000000  # 2023-11-14 22:13:20 UTC, as the constructed sample containers

COPY = [
    "binidx/sample.jsonl", "binidx/sample_data_text_document.bin", "binidx/sample_data_text_document.idx",
    "c4/constructed/en/c4-train.00000-of-01024.json.gz",
    "commoncrawl/ccnet-sample.warc.wet.txt", "commoncrawl/dolma-ccnet-cc_en_head-0091.jsonl.gz",
    "commoncrawl/dolma-wget-sample-0000.warc.gz", "commoncrawl/resiliparse-CC-MAIN-2020-34-excerpt.warc.gz",
    "commoncrawl/ungoliant-test.wet.paths", "commoncrawl/whirlwind.warc.gz", "commoncrawl/whirlwind.warc.wet",
    "commoncrawl/whirlwind.warc.wet.gz", "commoncrawl/whirlwind.warc.wat.gz",
    "gutenberg/pg10026-raw.txt", "gutenberg/pg10026-clean-expected.txt", "gutenberg/pg33956-raw.txt",
    "gutenberg/pg33956-clean-expected.txt", "gutenberg/pg35190-raw.txt", "gutenberg/pg35190-clean-expected.txt",
    "pile/lm_dataformat-test-blns.jsonl.zst.tar", "pile/constructed/train/00.jsonl.zst",
    "stackexchange/coffee.stackexchange.com-2015-Posts.xml",
    "stackexchange/constructed-7z/coffee.stackexchange.com.7z",
    "stackexchange/history.meta.stackexchange.com-2018/Posts.xml",
    "wikipedia/gensim-enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2",
    "wikipedia/gensim-enwiki-table-markup.xml.bz2",
    "wikipedia/gensim-bgwiki-latest-pages-articles-shortened.xml.bz2",
    "arxiv/src/1707.08043/main.tex", "arxiv/src/1707.08043/README.md",
    "arxiv/src/1708.00137/main.tex", "arxiv/src/1708.00137/README.md",
]
CODE_FILES = [
    "chatnoir-eu__chatnoir-resiliparse/LICENSE",
    "chatnoir-eu__chatnoir-resiliparse/resiliparse-py/resiliparse/parse/encoding.h",
    "chatnoir-eu__chatnoir-resiliparse/fastwarc/src/lib.rs",
    "facebookresearch__cc_net/LICENSE", "facebookresearch__cc_net/cc_net/flat_hash_set.py",
    "piskvorky__gensim/COPYING", "piskvorky__gensim/gensim/models/fast_line_sentence.h",
    "piskvorky__gensim/gensim/examples/dmlcz/runall.sh", "piskvorky__gensim/docs/src/_static/js/scripts.js",
    "leogao2__lm_dataformat/LICENSE", "leogao2__lm_dataformat/lm_dataformat/__init__.py",
    "EleutherAI__stackexchange-dataset/LICENSE", "EleutherAI__stackexchange-dataset/utils.py",
]

#: written for kllama: a copyleft-licensed file for the licence filter (replaces the AGPL sample file)
AGPL_EXAMPLE = '''# kllama test fixture: a file whose repository is AGPL-licensed.
#
# This program is free software: you can redistribute it and/or modify
# it under the terms of the GNU Affero General Public License as published
# by the Free Software Foundation, either version 3 of the License, or
# (at your option) any later version.
#
# This program is distributed in the hope that it will be useful,
# but WITHOUT ANY WARRANTY; without even the implied warranty of
# MERCHANTABILITY or FITNESS FOR A PARTICULAR PURPOSE.  See the
# GNU Affero General Public License for more details.

"""Collapse runs of blank lines in extracted text."""

import re

_BLANKS = re.compile(r"\\n{3,}")


def collapse_blank_lines(text: str) -> str:
    """At most one empty line between paragraphs."""
    return _BLANKS.sub("\\n\\n", text).strip() + "\\n"


def clean_lines(lines):
    """Strip trailing spaces and drop lines made only of punctuation."""
    out = []
    for line in lines:
        line = line.rstrip()
        if line and all(not c.isalnum() for c in line):
            continue
        out.append(line)
    return out
'''

#: written for kllama: a paper that cites through ``\\bibliography{}`` + ``.bbl`` and renews commands
PAPER_TEX = r"""\documentclass[11pt]{article}
\usepackage{amsmath}
% a kllama test fixture (constructed, not an arXiv submission)
\newcommand{\R}{\mathbb{R}}
\newcommand{\norm}[1]{\left\lVert #1 \right\rVert}
\renewcommand{\vec}[1]{\mathbf{#1}}
\title{Bounded Streams of Counting Sketches}
\author{A. Fixture}
\begin{document}
\maketitle
\begin{abstract}
We describe a toy sketch.
\end{abstract}
\section{Introduction}
Counting sketches summarise a stream $x \in \R^n$ with small memory \cite{cm05}.
For a vector $\vec{v}$ we bound $\norm{\vec{v}}$ by the sum of its counters.
\section{Method}
Each item is hashed into $w$ counters; the estimate is the minimum over $d$ rows, so that
the error is at most $\epsilon \norm{x}_1$ with probability $1-\delta$ \cite{ams96}.
\section{Conclusion}
Small sketches suffice for heavy hitters.
\bibliographystyle{plain}
\bibliography{refs}
\end{document}
"""
PAPER_BBL = r"""\begin{thebibliography}{2}
\bibitem{ams96} N. Alon, Y. Matias, M. Szegedy. The space complexity of approximating the frequency moments. 1996.
\bibitem{cm05} G. Cormode, S. Muthukrishnan. An improved data stream summary: the count-min sketch. 2005.
\end{thebibliography}
"""
PAPER_ID = "1803.00001"


def _tar_bytes(members: list[tuple[str, bytes]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tf:
        for name, data in members:
            ti = tarfile.TarInfo(name)
            ti.size, ti.mtime, ti.mode = len(data), MTIME, 0o644
            tf.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def _md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def build_arxiv(samples: Path) -> None:
    """Bulk tars 1707 and 1708 copied; 1803 rebuilt around the constructed paper; the manifest recomputed."""
    src, out = samples / "arxiv" / "constructed-bulk", OUT / "arxiv" / "constructed-bulk"
    out.mkdir(parents=True, exist_ok=True)
    inner = _tar_bytes([("main.tex", PAPER_TEX.encode()), ("main.bbl", PAPER_BBL.encode())])
    paper_gz = gzip.compress(inner, mtime=MTIME)
    tars = {
        "1707": (src / "arXiv_src_1707_001.tar").read_bytes(),
        "1708": (src / "arXiv_src_1708_001.tar").read_bytes(),
        "1803": _tar_bytes([(f"1803/{PAPER_ID}.gz", paper_gz)]),
    }
    firsts = {"1707": "1707.08043", "1708": "1708.00137", "1803": PAPER_ID}
    entries = []
    for yymm, data in tars.items():
        (out / f"arXiv_src_{yymm}_001.tar").write_bytes(data)
        with tarfile.open(fileobj=io.BytesIO(data)) as tf:
            content = b"".join(tf.extractfile(m).read() for m in tf.getmembers() if m.isfile())
        entries.append(
            f"  <file>\n    <content_md5sum>{_md5(content)}</content_md5sum>\n"
            f"    <filename>src/arXiv_src_{yymm}_001.tar</filename>\n    <first_item>{firsts[yymm]}</first_item>\n"
            f"    <last_item>{firsts[yymm]}</last_item>\n    <md5sum>{_md5(data)}</md5sum>\n"
            f"    <num_items>1</num_items>\n    <seq_num>1</seq_num>\n    <size>{len(data)}</size>\n"
            f"    <timestamp>2023-11-14 22:13:20</timestamp>\n    <yymm>{yymm}</yymm>\n  </file>\n")
    (out / "arXiv_src_manifest.xml").write_text(
        "<?xml version='1.0' standalone='yes'?>\n<arXivSRC>\n" + "".join(entries) + "</arXivSRC>\n")
    paper = OUT / "arxiv" / "src" / PAPER_ID
    paper.mkdir(parents=True, exist_ok=True)
    (paper / "main.tex").write_text(PAPER_TEX)
    (paper / "main.bbl").write_text(PAPER_BBL)


def build_code(samples: Path) -> None:
    """The codeparrot-style jsonl.gz/parquet with the AGPL sample row replaced by :data:`AGPL_EXAMPLE`."""
    out = OUT / "code" / "constructed"
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    with gzip.open(samples / "code" / "constructed" / "github-code-style.jsonl.gz", "rt", encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            if row["license"] == "agpl-3.0":
                row = {"code": AGPL_EXAMPLE, "repo_name": "kllama-fixtures/copyleft-example",
                       "path": "textutil/clean.py", "language": "Python", "license": "agpl-3.0",
                       "size": len(AGPL_EXAMPLE.encode())}
            rows.append(row)
    raw = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode()
    (out / "github-code-style.jsonl.gz").write_bytes(gzip.compress(raw, mtime=MTIME))
    table = pa.table({k: [r[k] for r in rows] for k in ("code", "repo_name", "path", "language", "license", "size")})
    pq.write_table(table, out / "github-code-style-train-00000-of-00001.parquet")
    files = OUT / "code" / "files"
    for rel in CODE_FILES:
        dst = files / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(samples / "code" / "files" / rel, dst)
    agpl = files / "kllama-fixtures__copyleft-example" / "textutil" / "clean.py"
    agpl.parent.mkdir(parents=True, exist_ok=True)
    agpl.write_text(AGPL_EXAMPLE)


def build_truncated_wiki() -> None:
    """The table-markup enwiki dump, uncompressed and cut inside its last page (a truncated download)."""
    import bz2

    data = bz2.decompress((OUT / "wikipedia" / "gensim-enwiki-table-markup.xml.bz2").read_bytes())
    last = data.rindex(b"<page>")
    cut = data.index(b"<text", last) + 200
    (OUT / "wikipedia" / "enwiki-table-markup-truncated.xml").write_bytes(data[:cut])


def main(samples: Path) -> None:
    for rel in COPY:
        dst = OUT / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(samples / rel, dst)
    build_arxiv(samples)
    build_code(samples)
    build_truncated_wiki()


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else REPO.parent / "shared" / "samples"))
