"""Regenerate the arXiv demo inputs (papers written for kllama, Apache-2.0; see ATTRIBUTION.md).

    python -m tools.make_demo.arxiv

Writes two bulk tars in the exact s3://arxiv/src layout and their ``arXiv_src_manifest.xml``, byte-identical
on every run. The papers are invented; their ids are placeholders, not real arXiv papers.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
from pathlib import Path

HERE = Path(__file__).resolve().parents[2] / "kllama" / "data" / "demo" / "arxiv"

# Latin-1 + CRLF single-file paper with macros of every kind, comments and an inline bibliography.
PAPER1 = r"""\documentclass[11pt]{article}
\usepackage[latin1]{inputenc}
\usepackage{amsmath}
% Macros, written the way real papers write them
\newcommand  {\shA}     {\mathcal{A}}
\newcommand{\norm}[1]{\left\| #1 \right\|}
\newcommand{\pnorm}[2][p]{\left\| #2 \right\|_{#1}}
\newcommand*{\R}{\mathbb{R}}
\providecommand{\eps}{\varepsilon}
\renewcommand{\epsilon}{\varepsilon}
\def\pair#1#2{\langle #1, #2 \rangle}
\DeclareMathOperator{\Tr}{Tr}
\title{Bounded expansions in a toy operator algebra}
\author{A. Demo and B. Exemple}
\begin{document}
\maketitle
\begin{abstract}
We study a toy algebra $\shA$ and show that its norm is bounded.
\end{abstract}
\section{Introduction}
Let $\shA \subset \R^n$ be a closed set and $x \in \shA$. % a comment that must go
We write $\norm{x}$ for the Euclidean norm, $\pnorm{x}$ for the $p$-norm and
$\pnorm[\infty]{x}$ for the maximum norm; the trace is $\Tr(M)$ and $\pair{x}{y}$ is the inner product.
Roughly 50\% of the cases are trivial.  % the escaped percent stays
The café near the Universität was where we first met; the result holds for every $\eps > 0$.
%\section{An old section that was commented out}
\begin{comment}
This paragraph was hidden with the comment package.
\end{comment}
\section{Main result}
\begin{equation}
  \norm{\Tr(M)} \le \sum_{i} \pair{e_i}{M e_i} + \epsilon.
\end{equation}
The proof is a direct computation.
\begin{thebibliography}{9}
\bibitem{ref1} A. Author, \emph{A reference}, Journal (2020).
\end{thebibliography}
\end{document}
"""

MAIN2 = r"""\documentclass{article}
\newcommand{\vect}[1]{\mathbf{#1}}
\begin{document}
\title{Inlined sections}
\maketitle
\input{sections/intro}
\include{sections/method}
\bibliographystyle{plain}
\bibliography{refs}
\appendix
\section{Extra proofs}
The appendix is kept: it is paper content, not bibliography. Here $\vect{v}$ is a vector.
\end{document}
"""
INTRO2 = r"""\section{Introduction}
Vectors such as $\vect{u}$ are written in bold.
% \input{sections/missing} is commented out and must not be inlined
"""
METHOD2 = r"""\section{Method}
We sum $\vect{u} + \vect{w}$ component by component.
"""
BBL2 = r"""\begin{thebibliography}{1}
\bibitem{x} X. Author. Title. 2021.
\end{thebibliography}
"""

OLD_STYLE = r"""\documentclass{article}
\begin{document}
\section{A paper with an old-style identifier}
Papers before April 2007 have identifiers such as math/0101001; the bulk tar stores them as math0101001.gz.
\end{document}
"""

FAKE_PDF = b"%PDF-1.4\n% demo PDF-only submission\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"
FAKE_PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(64))


def _tarinfo(name: str, size: int) -> tarfile.TarInfo:
    ti = tarfile.TarInfo(name)
    ti.size = size
    ti.mtime = 1609459200
    ti.mode = 0o644
    ti.uid = ti.gid = 0
    ti.uname = ti.gname = ""
    return ti


def make_tar(members: list[tuple[str, bytes]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tf:
        for name, data in members:
            tf.addfile(_tarinfo(name, len(data)), io.BytesIO(data))
    return buf.getvalue()


def gz(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def build() -> dict[str, bytes]:
    paper1 = PAPER1.replace("\n", "\r\n").encode("latin-1")
    paper2 = make_tar([
        ("main.tex", MAIN2.encode()),
        ("sections/intro.tex", INTRO2.encode()),
        ("sections/method.tex", METHOD2.encode()),
        ("refs.bbl", BBL2.encode()),
        ("figures/plot.png", FAKE_PNG),
    ])
    tar_2101 = make_tar([
        ("2101/2101.00001.gz", gz(paper1)),
        ("2101/2101.00002.gz", gz(paper2)),
        ("2101/2101.00003.pdf", FAKE_PDF),
    ])
    tar_0101 = make_tar([("0101/math0101001.gz", gz(OLD_STYLE.encode()))])
    return {"arXiv_src_0101_001.tar": tar_0101, "arXiv_src_2101_001.tar": tar_2101}


def manifest(tars: dict[str, bytes]) -> str:
    items = {"arXiv_src_0101_001.tar": ("math0101001", "math0101001", 1),
             "arXiv_src_2101_001.tar": ("2101.00001", "2101.00003", 3)}
    parts = ["<?xml version='1.0' standalone='yes'?>\n<arXivSRC>\n"]
    for seq, (name, data) in enumerate(sorted(tars.items()), 1):
        first, last, n = items[name]
        parts.append(
            "  <file>\n"
            f"    <content_md5sum>{hashlib.md5(data).hexdigest()}</content_md5sum>\n"
            f"    <filename>src/{name}</filename>\n"
            f"    <first_item>{first}</first_item>\n"
            f"    <last_item>{last}</last_item>\n"
            f"    <md5sum>{hashlib.md5(data).hexdigest()}</md5sum>\n"
            f"    <num_items>{n}</num_items>\n"
            f"    <seq_num>{seq}</seq_num>\n"
            f"    <size>{len(data)}</size>\n"
            "    <timestamp>2021-01-01 00:00:00</timestamp>\n"
            f"    <yymm>{name.split('_')[2]}</yymm>\n"
            "  </file>\n"
        )
    parts.append("</arXivSRC>\n")
    return "".join(parts)


if __name__ == "__main__":
    tars = build()
    for name, data in tars.items():
        (HERE / name).write_bytes(data)
    (HERE / "arXiv_src_manifest.xml").write_text(manifest(tars), encoding="utf-8")
