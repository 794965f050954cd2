"""GitHub and arXiv sources end to end on one core: MB/s of uncompressed input, beside simpler alternatives.

    python benchmarks/bench_code_arxiv.py [--code-mb 40] [--papers 300]

GitHub input: real source files of the installed Python environment (``.py``, ``.c``, ``.h``, ``.js``, ...)
packed as a codeparrot-style ``jsonl.gz`` in a temporary folder. arXiv input: a bulk tar of the three sample
papers in ../shared/samples/arxiv (falls back to the demo papers) repeated under new ids. Nothing is written
outside a temporary folder. Alternatives are written here from the published descriptions (RedPajama's
greedy header stripper and one-line zero-argument macro regex), not copied.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import os
import re
import sys
import tarfile
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from kllama.config import DATA_DIR  # noqa: E402
from kllama.core.ledger import Ledger  # noqa: E402
from kllama.filters.code import (  # noqa: E402
    BinaryFilter,
    CodeHeader,
    CodeQuality,
    ExtensionFilter,
    LicenseFilter,
)
from kllama.filters.latex import LatexClean  # noqa: E402
from kllama.sources.arxiv import ArxivSource  # noqa: E402
from kllama.sources.github import GithubSource  # noqa: E402

TOKENIZER = str(DATA_DIR / "tokenizer" / "20B_tokenizer.json")
SAMPLES = Path(os.environ.get("KLLAMA_SAMPLES", REPO.parent / "shared" / "samples"))


def build_code_input(folder: Path, target_mb: float) -> tuple[Path, int]:
    roots = [Path(p) for p in sys.path if p.endswith("site-packages")]
    exts = (".py", ".c", ".h", ".js", ".cpp", ".md", ".rst", ".html", ".sh")
    out = folder / "code.jsonl.gz"
    total = 0
    with gzip.open(out, "wt", encoding="utf-8", compresslevel=1) as f:
        for root in roots:
            for path in sorted(root.rglob("*")):
                if not path.name.endswith(exts) or not path.is_file():
                    continue
                try:
                    text = path.read_text(encoding="utf-8")
                except (UnicodeDecodeError, OSError):
                    continue
                rel = str(path.relative_to(root))
                f.write(json.dumps({"code": text, "repo_name": "bench/" + rel.split("/")[0], "path": rel,
                                    "language": "", "license": "mit", "size": len(text)}) + "\n")
                total += len(text.encode("utf-8"))
                if total > target_mb * 1e6:
                    return out, total
    return out, total


def build_arxiv_input(folder: Path, papers: int) -> tuple[Path, int]:
    srcs = []
    bulk = SAMPLES / "arxiv" / "constructed-bulk"
    tars = sorted(bulk.glob("arXiv_src_*.tar")) if bulk.exists() else sorted((DATA_DIR / "demo" / "arxiv").glob("*.tar"))
    for t in tars:
        with tarfile.open(t) as tf:
            for m in tf:
                if m.name.endswith(".gz"):
                    srcs.append(tf.extractfile(m).read())
    total = 0
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for i in range(papers):
            data = srcs[i % len(srcs)]
            total += len(gzip.decompress(data))
            ti = tarfile.TarInfo(f"2001/2001.{i:05d}.gz")
            ti.size = len(data)
            tf.addfile(ti, io.BytesIO(data))
    out = folder / "arXiv_src_2001_001.tar"
    out.write_bytes(buf.getvalue())
    return out, total


# ---- alternatives (after RedPajama's published rules)

_CPAT = re.compile("copyright", re.IGNORECASE)
_BLOCK = re.compile(r"/\*[^*]*\*+(?:[^/*][^*]*\*+)*/")


def greedy_header(text: str) -> str:
    lines = text.split("\n")
    k = 0
    while k < len(lines) and (not lines[k] or lines[k].lstrip().startswith(("//", "#", "--"))):
        k += 1
    text = "\n".join(lines[k:])
    m = _BLOCK.search(text)
    if m and _CPAT.search(m.group()):
        text = text[: m.start()] + text[m.end():]
    return text


def redpajama_like_code(path: Path, tokenizer) -> int:
    kept = 0
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for line in f:
            rec = json.loads(line)
            text = greedy_header(rec["code"])
            lines = text.splitlines()
            if not lines:
                continue
            if max(map(len, lines)) > 1000 or len(text) / len(lines) > 100:
                continue
            if sum(c.isalnum() for c in text) / len(text) < 0.25:
                continue
            n_alpha = sum(c.isalpha() for c in text)
            if n_alpha / max(1, len(tokenizer.encode(text).ids)) < 1.5:
                continue
            kept += 1
    return kept


_ZERO_ARG = re.compile(r"\\(?:newcommand|renewcommand)\*?\{(\\[A-Za-z]+)\}\{(.*)\}\s*$", re.MULTILINE)


def redpajama_like_arxiv(path: Path) -> int:
    kept = 0
    with tarfile.open(path) as tf:
        for m in tf:
            raw = gzip.decompress(tf.extractfile(m).read())
            texts = []
            if raw[257:262] == b"ustar":
                with tarfile.open(fileobj=io.BytesIO(raw)) as inner:
                    for im in inner:
                        if im.name.endswith(".tex"):
                            texts.append(inner.extractfile(im).read())
            else:
                texts.append(raw)
            try:
                text = "\n".join(t.decode("utf-8") for t in texts)
            except UnicodeDecodeError:
                continue
            sec = re.search(r"\\(?:chapter|part|section|subsection|subsubsection|paragraph)", text)
            if not sec:
                continue
            macros = dict(_ZERO_ARG.findall(text))
            text = text[sec.start():]
            text = re.sub(r"(?m)^%.*\n?", "", text)
            text = re.sub(r"(?m)([^\\])%.+$", r"\1", text)
            bib = re.search(r"\\appendix|\\begin\{references\}|\\begin\{thebibliography\}|\\bibliography\{", text)
            if bib:
                text = text[: bib.start()]
            for name, value in macros.items():
                text = re.sub(re.escape(name) + r"(?![A-Za-z])", lambda _m, v=value: v, text)
            kept += bool(text)
    return kept


def timed(fn):
    t0 = time.perf_counter()
    result = fn()
    return time.perf_counter() - t0, result


def kllama_code(path: Path, tokens: str) -> int:
    src = GithubSource()
    steps = [LicenseFilter(), ExtensionFilter(), BinaryFilter(), CodeHeader(),
             CodeQuality(tokens=tokens, tokenizer_path=TOKENIZER if tokens == "20b" else None)]
    led = Ledger()
    docs = list(src.read(str(path), led))
    for s in steps:
        docs = s.process(docs, led)
    return len(docs)


def kllama_arxiv(path: Path) -> int:
    led = Ledger()
    docs = list(ArxivSource(verify_md5=False).read(str(path), led))
    return len(LatexClean().process(docs, led))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--code-mb", type=float, default=40.0)
    ap.add_argument("--papers", type=int, default=300)
    args = ap.parse_args()
    os.environ.setdefault("RAYON_NUM_THREADS", "1")  # one core for the tokenizer too
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(TOKENIZER)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        code_path, code_bytes = build_code_input(Path(tmp), args.code_mb)
        ax_path, ax_bytes = build_arxiv_input(Path(tmp), args.papers)
        mb_c, mb_a = code_bytes / 1e6, ax_bytes / 1e6
        t, n = timed(lambda: kllama_code(code_path, "20b"))
        base = mb_c / t
        rows.append(("github", "kllama (20B tokenizer, as recipe)", mb_c, t, n, base))
        t, n = timed(lambda: kllama_code(code_path, "proxy"))
        rows.append(("github", "kllama (token proxy)", mb_c, t, n, base))
        t, n = timed(lambda: redpajama_like_code(code_path, tok))
        rows.append(("github", "RedPajama-style rules (greedy header)", mb_c, t, n, base))
        t, n = timed(lambda: kllama_arxiv(ax_path))
        base = mb_a / t
        rows.append(("arxiv", "kllama (reader + latex_clean)", mb_a, t, n, base))
        t, n = timed(lambda: redpajama_like_arxiv(ax_path))
        rows.append(("arxiv", "RedPajama-style (0-arg macros, UTF-8 only)", mb_a, t, n, base))
    print(f"{'source':8} {'variant':44} {'MB in':>7} {'s':>7} {'MB/s/core':>9} {'ratio':>6} {'docs kept':>9}")
    for src, name, mb, t, n, base in rows:
        print(f"{src:8} {name:44} {mb:7.1f} {t:7.2f} {mb / t:9.2f} {mb / t / base:6.2f} {n:9d}")


if __name__ == "__main__":
    main()
