"""Tokenization speed: plain 20B tokenizer vs kllama's digit-split tokenizer, and ``kllama tokenize`` end to end.

Run: ``python benchmarks/bench_tokenize.py [--mb 4] [--e2e-mb 12] [--rounds 3]``

1. One thread (``TOKENIZERS_PARALLELISM=false``), same corpus, same run, best of ``--rounds``:
   plain ``Tokenizer.encode_batch_fast`` vs kllama (digit-split pre-tokenizer inside the tokenizer) vs the
   alternative digit rule (split in Python -- or with ``kllama.native.split_digits`` when it is built -- then
   ``encode_batch_fast(is_pretokenized=True)``), with a check that the alternatives give identical ids.
2. End to end, MB of text per second per core: ``kllama tokenize --jsonl`` (one process) and
   ``kllama tokenize RUN_DIR --variant`` on a LocalCluster with 1 and 2 workers (cluster start included).

Corpus: real text from ../shared/samples (English Wikipedia wikitext, Gutenberg books, StackExchange posts,
arXiv LaTeX, Python code), cut into ~4 KB documents; falls back to tools.synthetic when the samples are absent.
"""

from __future__ import annotations

import os

os.environ["TOKENIZERS_PARALLELISM"] = "false"  # one thread for part 1 (read by tokenizers at each call)

import argparse  # noqa: E402
import bz2  # noqa: E402
import json  # noqa: E402
import re  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def _samples() -> Path | None:
    p = Path(os.environ.get("KLLAMA_SAMPLES") or REPO / ".." / "shared" / "samples")
    return p if p.is_dir() else None


def _chunks(text: str, size: int = 4096) -> list[str]:
    out, cur, n = [], [], 0
    for line in text.splitlines(keepends=True):
        cur.append(line)
        n += len(line)
        if n >= size:
            out.append("".join(cur))
            cur, n = [], 0
    if cur:
        out.append("".join(cur))
    return out


def build_corpus(target_mb: float) -> tuple[list[str], str]:
    """About ``target_mb`` MB of documents, taken round-robin from each kind of real text."""
    s = _samples()
    kinds: list[list[str]] = []
    origin = "tools.synthetic"
    if s is not None:
        wiki = [d for f in sorted((s / "wikipedia").glob("*enwiki*articles1*.bz2"))
                for d in _chunks(bz2.decompress(f.read_bytes()).decode("utf-8", "replace"))]
        books = [d for f in sorted((s / "gutenberg").glob("*-clean-expected.txt"))
                 for d in _chunks(f.read_text("utf-8", "replace"))]
        posts = [d for f in sorted((s / "stackexchange").glob("*Posts.xml"))
                 for d in _chunks(f.read_text("utf-8", "replace"))]
        tex = [d for f in sorted((s / "arxiv" / "src").rglob("*.tex")) for d in _chunks(f.read_text("utf-8", "replace"))]
        code = [d for f in sorted((s / "code" / "files").rglob("*.py"))
                for d in _chunks(f.read_text("utf-8", "replace"))]
        kinds = [k for k in (wiki, books, posts, tex, code) if k]
        origin = "../shared/samples (enwiki wikitext, gutenberg, stackexchange, arxiv latex, python code)"
    if not kinds:
        import random

        from tools.synthetic import paragraph

        rng = random.Random(0)
        kinds = [["\n\n".join(paragraph(rng) for _ in range(8)) for _ in range(2000)]]
    docs: list[str] = []
    total, i = 0, 0
    while total < target_mb * 1e6:
        k = kinds[i % len(kinds)]
        j = i // len(kinds)
        d = k[j % len(k)] if j < len(k) else f"[{j // len(k)}] {k[j % len(k)]}"  # repeats carry a marker
        docs.append(d)
        total += len(d.encode())
        i += 1
    return docs, origin


def cpu_timed(fns: dict[str, object], rounds: int) -> tuple[dict[str, float], dict[str, object]]:
    """Best CPU time of this thread per function over ``rounds`` interleaved rounds (the order rotates each
    round), so that other load on the machine and cache warm-up hit every contender alike."""
    best = {k: float("inf") for k in fns}
    outs: dict[str, object] = {}
    names = list(fns)
    for r in range(rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            t0 = time.thread_time()
            outs[name] = fns[name]()
            best[name] = min(best[name], time.thread_time() - t0)
    return best, outs


def part1(docs: list[str], rounds: int) -> list[tuple[str, float, str]]:
    from kllama.tokenize.tokenizer import DigitSplitTokenizer

    mb = sum(len(d.encode()) for d in docs) / 1e6
    kl = DigitSplitTokenizer(encoder="hf")  # the HF pre-tokenizers; the fast encoder: bench_tokenize_fast.py
    kl_nosplit = DigitSplitTokenizer(split_digits=False, encoder="hf")
    base = kl.base
    batch = 1024
    # alternatives: split digits outside the tokenizer, then encode pre-tokenized words
    alt_tok = DigitSplitTokenizer(split_digits=False).tokenizer
    splitters = _digit_splitters()
    reference = DigitSplitTokenizer(fused=False, encoder="hf")

    def run(encode):
        ids = []
        for i in range(0, len(docs), batch):
            ids += encode(docs[i:i + batch])
        return ids

    def alt(split):
        return lambda b: [e.ids for e in alt_tok.encode_batch_fast(split(b), is_pretokenized=True)]

    t, ids = cpu_timed({
        "plain": lambda: run(lambda b: [e.ids for e in base.encode_batch_fast(b)]),
        "kllama": lambda: run(kl.encode_batch),
        "nosplit": lambda: run(kl_nosplit.encode_batch),
        "reference": lambda: run(reference.encode_batch),
        **{name: (lambda f=f: run(alt(f))) for name, f in splitters.items()},
    }, rounds)

    def same(name: str) -> str:
        if ids[name] == ids["kllama"]:
            return "ids identical to kllama"
        return f"ids DIFFER from kllama in {sum(a != b for a, b in zip(ids[name], ids['kllama'], strict=True))} docs"

    p = t["plain"]
    rows = [
        ("plain 20B encode_batch_fast", p, f"{mb / p:.2f} MB/s  1.00x"),
        ("kllama, digits split (pre-tokenizer)", t["kllama"],
         f"{mb / t['kllama']:.2f} MB/s  {p / t['kllama']:.2f}x  overhead {100 * (t['kllama'] / p - 1):+.1f}%"),
        ("kllama, --no-split-digits", t["nosplit"], f"{mb / t['nosplit']:.2f} MB/s  {p / t['nosplit']:.2f}x"),
        ("Split([0-9]) then ByteLevel (two-step reference)", t["reference"],
         f"{mb / t['reference']:.2f} MB/s  {p / t['reference']:.2f}x  {same('reference')}"),
    ]
    for name in splitters:
        rows.append((f"{name} + is_pretokenized", t[name], f"{mb / t[name]:.2f} MB/s  {p / t[name]:.2f}x  {same(name)}"))
    ntok = sum(len(x) for x in ids["plain"])
    ntok_kl = sum(len(x) for x in ids["kllama"])
    rows.append(("tokens (plain -> digit split)", 0.0, f"{ntok} -> {ntok_kl} ({100 * (ntok_kl / ntok - 1):+.1f}%)"))
    return rows


def _digit_splitters() -> dict[str, object]:
    """Batch functions texts -> pieces with every digit isolated: the C core's rule (if built) and Python's re."""
    out: dict[str, object] = {}
    try:
        from kllama import native

        out["C core native.split_digits (Unicode Nd)"] = native.split_digits
    except Exception as exc:  # not built here
        print(f"(kllama.native not available: {exc})")
    rx = re.compile(r"([0-9])")
    out["Python re.split on [0-9]"] = lambda b: [[w for w in rx.split(t) if w] or [""] for t in b]
    return out


def _children_cpu() -> float:
    """CPU seconds of finished child processes and their descendants (the CLI, its nannies and workers)."""
    import resource

    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def part2(docs: list[str], workers_list: list[int]) -> list[tuple[str, float, str]]:
    import subprocess

    from kllama.tokenize.jsonl import tokenize_jsonl
    from kllama.tokenize.tokenizer import DigitSplitTokenizer

    rows = []
    mb = sum(len(d.encode()) for d in docs) / 1e6
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        with open(d / "c.jsonl", "w") as f:
            for t in docs:
                f.write(json.dumps({"text": t}) + "\n")
        t0, c0 = time.perf_counter(), time.process_time()
        tokenize_jsonl(d / "c.jsonl", d / "j", DigitSplitTokenizer())
        dt, cpu = time.perf_counter() - t0, time.process_time() - c0
        rows.append(("kllama tokenize --jsonl (1 process, 1 thread)", cpu,
                     f"{mb / cpu:.2f} MB/s per CPU-second (wall {dt:.1f} s)"))

        # a run folder of 8 Parquet shards (two sources, weights 1.0) for the RUN_DIR form
        from tests.tokenize.helpers import write_shard

        shards = []
        n = 8
        for k in range(n):
            part = docs[k::n]
            src = "wikipedia" if k % 2 else "books"
            rel = f"shards/core/{src}/part-{k:05d}.parquet"
            rows_ = [{"id": f"{src}/{k}-{i}", "text": t, "source": src, "group": "core"} for i, t in enumerate(part)]
            shards.append({"path": rel, "source": src, "group": "core", **write_shard(d / "run" / rel, rows_)})
        manifest = {"shards": shards, "variants": {"G1": {"groups": ["core"], "weights": {}}}}
        (d / "run" / "manifest.json").write_text(json.dumps(manifest))
        for w in workers_list:
            cmd = [sys.executable, "-m", "kllama.cli", "tokenize", str(d / "run"), "--variant", "G1", "--output",
                   str(d / f"v{w}"), "--workers", str(w)]
            t0, c0 = time.perf_counter(), _children_cpu()
            subprocess.run(cmd, check=True, capture_output=True, env={**os.environ, "PYTHONPATH": str(REPO)})
            dt, cpu = time.perf_counter() - t0, _children_cpu() - c0
            rows.append((f"kllama tokenize RUN_DIR --workers {w} (CLI, all processes)", cpu,
                         f"{mb / cpu:.2f} MB/s per CPU-second; wall {dt:.1f} s = {mb / dt:.2f} MB/s"))
            task_cpu = json.loads((d / f"v{w}.json").read_text())["task_cpu_seconds"]
            rows.append((f"  of which shard tasks (read + tokenize + write), {w} workers", task_cpu,
                         f"{mb / task_cpu:.2f} MB/s per CPU-second in the workers"))
        same = (d / "v1.bin").read_bytes() == (d / f"v{workers_list[-1]}.bin").read_bytes()
        rows.append((f"same bytes with 1 and {workers_list[-1]} workers", 0.0, str(same)))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=float, default=4.0, help="corpus size in MB (default 4)")
    ap.add_argument("--e2e-mb", type=float, default=12.0, help="corpus size for part 2 (default 12)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = ap.parse_args()
    docs, origin = build_corpus(args.mb)
    mb = sum(len(d.encode()) for d in docs) / 1e6
    print(f"corpus: {len(docs)} documents, {mb:.2f} MB from {origin}; cpu count {os.cpu_count()}")
    print(f"\n1. one thread, CPU time of the encoding thread, best of {args.rounds} interleaved rounds")
    rows = part1(docs, args.rounds)
    w = max(len(r[0]) for r in rows)
    print(f"{'what'.ljust(w)}  {'CPU s':>8}  result")
    for name, t, res in rows:
        print(f"{name.ljust(w)}  {t:8.2f}  {res}" if t else f"{name.ljust(w)}  {'':>8}  {res}")
    print("\n2. end to end")
    docs, _ = build_corpus(args.e2e_mb)
    print(f"corpus: {len(docs)} documents, {sum(len(d.encode()) for d in docs) / 1e6:.2f} MB")
    rows = part2(docs, args.workers)
    w = max(len(r[0]) for r in rows)
    for name, t, res in rows:
        print(f"{name.ljust(w)}  {t:8.2f}  {res}" if t else f"{name.ljust(w)}  {'':>8}  {res}")


if __name__ == "__main__":
    main()
