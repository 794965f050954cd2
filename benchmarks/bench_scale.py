"""Scale benchmark: the real CLI on a local cluster at 1x, 4x and 16x a base size; cost and memory growth.

    python benchmarks/bench_scale.py [--scales 1,4,16] [--base-mb 250] [--base-docs 1000000] [--workers 2]
                                     [--stages cc,books,pile,tokenize] [--work DIR] [--json OUT.json]

Stages (each a ``kllama`` command in its own process, exactly as a user runs it):

* ``cc``: ``kllama run`` of the CommonCrawl pipeline (line dedup over the snapshot, fastText's real lid.176,
  the demo LM and wiki classifier, document dedup) on generated WET (``tools/demo_corpus.py`` pages with
  paragraphs repeated to real page lengths, ``tools/wet_writer.py``, as ``bench_commoncrawl.py``), base
  ``--base-mb`` MB of WET text in files of ``--file-mb``;
* ``books``: ``kllama run`` of the books near-dup rule (``minhash_lsh``, containment >= 0.9, 32 x 4) on
  generated long documents (JSON lines; 5% of them excerpts or edited copies of another), ``--base-books``;
* ``pile``: ``kllama pile-index`` of generated Pile shards (``--base-docs`` short documents), then ``kllama
  run`` of the ``pile_label`` step over documents of which 20% are copies or near copies of Pile documents
  (``--label-share`` of the Pile's count);
* ``tokenize``: ``kllama tokenize RUN --variant G1`` of the labelled run (run last: it is the stage another
  change moves onto the engine).

Inputs are generated once for the largest scale; each scale takes the first files (symlinks), so 4x holds 1x.
Generation is not timed. For each run: wall time, CPU seconds of the command and every process it started
(``RUSAGE_CHILDREN``), peak RSS of the driver and of every worker (psutil, sampled every ``--interval`` s),
bytes Dask spilled (the workers' spill folders under ``DASK_TEMPORARY_DIRECTORY``, sampled), and kllama's own
intermediate bytes (``stages/*/_keys``, ``_decisions``, ``_combined``: the shuffle). Printed: CPU per MB and
memory against size, and the growth from the smallest to the largest scale against the goals (CPU/MB within
15%, peak RSS <= 1.5x, CommonCrawl >= 8 MB/s per core at the largest scale; the marginal CPU per MB between
consecutive scales separates a growing cost from the fixed start-up cost). ``--bare`` also times the CC
steps in one process without the engine (``bench_commoncrawl.bench_kllama``) on the 1x input.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

KLLAMA = [sys.executable, "-m", "kllama.cli"]
GOAL_CPU_PER_MB = 0.15
GOAL_RSS = 1.5
GOAL_CC_RATE = 8.0


# -- measuring a command ------------------------------------------------------------------------------------

def _role(proc) -> str:
    try:
        cmd = " ".join(proc.cmdline())
    except Exception:  # noqa: BLE001 - a process that just ended
        return "other"
    if "spawn_main" in cmd or "forkserver" in cmd:
        return "worker" if "resource_tracker" not in cmd else "other"
    return "other"


def _dir_bytes(root: Path) -> int:
    total = 0
    for dirpath, _dirs, files in os.walk(root):
        for f in files:
            try:
                total += os.path.getsize(os.path.join(dirpath, f))
            except OSError:
                pass
    return total


def _spill_bytes(scratch: Path) -> int:
    """Bytes in the Dask workers' spill folders (``*/storage``)."""
    total = 0
    if scratch.exists():
        for storage in scratch.rglob("storage"):
            total += _dir_bytes(storage)
    return total


def measure(cmd: list[str], scratch: Path, interval: float = 0.25, env: dict | None = None,
            log: Path | None = None) -> dict:
    """Run ``cmd``; its wall time, CPU seconds (all descendants), peak RSS of the driver and of each worker."""
    import psutil

    scratch.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "DASK_TEMPORARY_DIRECTORY": str(scratch), **(env or {})}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    out = open(log, "w") if log else subprocess.DEVNULL  # noqa: SIM115 - closed below
    proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=str(ROOT))
    root = psutil.Process(proc.pid)
    peak: dict[int, int] = {}
    roles: dict[int, str] = {proc.pid: "driver"}
    cpu_seen: dict[int, float] = {}
    spilled = 0
    stop = threading.Event()

    def sample() -> None:
        nonlocal spilled
        k = 0
        while not stop.is_set():
            try:
                procs = [root, *root.children(recursive=True)]
            except psutil.Error:
                procs = []
            for p in procs:
                try:
                    rss = p.memory_info().rss
                    ct = p.cpu_times()
                except psutil.Error:
                    continue
                if p.pid not in roles:
                    roles[p.pid] = _role(p)
                peak[p.pid] = max(peak.get(p.pid, 0), rss)
                cpu_seen[p.pid] = ct.user + ct.system
            if k % 8 == 0:
                spilled = max(spilled, _spill_bytes(scratch))
            k += 1
            stop.wait(interval)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    rc = proc.wait()
    wall = time.perf_counter() - t0
    stop.set()
    th.join()
    if log:
        out.close()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    workers = sorted((peak[p] for p in peak if roles.get(p) == "worker"), reverse=True)
    return {"rc": rc, "wall_s": wall, "cpu_s": cpu, "driver_rss": peak.get(proc.pid, 0),
            "worker_rss": workers, "driver_cpu_s": cpu_seen.get(proc.pid, 0.0),
            "worker_cpu_s": sum(cpu_seen[p] for p in cpu_seen if roles.get(p) == "worker"),
            "spilled_bytes": spilled}


def shuffle_bytes(run: Path) -> int:
    """kllama's intermediate key/decision tables (what the global steps move between tasks)."""
    total = 0
    stages = run / "stages"
    if stages.exists():
        for sub in ("_keys", "_decisions", "_combined"):
            for d in stages.glob(f"*/{sub}"):
                total += sum(f.stat().st_size for f in d.glob("*.parquet"))
    return total


# -- inputs -------------------------------------------------------------------------------------------------

def gen_cc(folder: Path, n_files: int, records: int) -> list[tuple[Path, int]]:
    """WET files of generated pages (as ``bench_commoncrawl.make_corpus``); returns (path, text bytes)."""
    from tools.demo_corpus import demo_pages
    from tools.wet_writer import write_wet

    out = []
    for k in range(n_files):
        path = folder / f"CC-MAIN-bench-{k:05d}.warc.wet.gz"
        meta = path.with_suffix(".bytes")
        if not meta.exists():
            pages = demo_pages(1000 + k, records, f"2024-05-{10 + k % 18:02d}")
            for p in pages:
                if p["kind"] not in ("short", "boiler"):
                    p["lines"] = p["lines"][:3] + p["lines"][3:-2] * 3 + p["lines"][-2:]
            write_wet(path, pages, "CC-MAIN-2024-22", seed=k)
            meta.write_text(str(len(gzip.decompress(path.read_bytes()))))
        out.append((path, int(meta.read_text())))
    return out


def _words(rng: np.random.Generator, n: int, vocab: int = 50_000) -> np.ndarray:
    return np.minimum(rng.zipf(1.3, size=n) - 1, vocab - 1)


_VOCAB = np.array([f"w{i}" for i in range(50_000)])


def gen_docs(n: int, seed: int, min_words: int, max_words: int, dup_share: float = 0.05) -> list[str]:
    """``n`` documents of Zipf words; ``dup_share`` of them are near copies (an excerpt of 95% of another
    document, or one with a word changed) of an earlier one."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(min_words, max_words, size=n)
    words = _VOCAB[_words(rng, int(lengths.sum()))]
    offs = np.r_[0, np.cumsum(lengths)]
    per_line = 12
    docs = []
    for i in range(n):
        w = words[offs[i]:offs[i + 1]]
        docs.append("\n".join(" ".join(w[j:j + per_line]) for j in range(0, len(w), per_line)))
    for i in rng.choice(np.arange(1, n), size=int(n * dup_share), replace=False):
        j = int(rng.integers(0, i))
        src = docs[j].split("\n")
        if i % 2:
            docs[i] = "\n".join(src[: max(1, int(len(src) * 0.95))])
        else:
            docs[i] = docs[j].replace(" ", " edited ", 1)
    return docs


def write_jsonl(path: Path, docs: list[str], zstd: bool = False) -> int:
    lines = "".join(json.dumps({"text": d, "meta": {"pile_set_name": "Pile-CC"}}) + "\n" for d in docs)
    data = lines.encode("utf-8")
    if zstd:
        import zstandard

        path.write_bytes(zstandard.ZstdCompressor(level=1).compress(data))
    else:
        path.write_bytes(data)
    return sum(len(d.encode("utf-8")) for d in docs)


def gen_files(folder: Path, n_files: int, docs_per_file: int, seed: int, min_words: int, max_words: int,
              suffix: str, zstd: bool = False, mutate_from: Path | None = None) -> list[tuple[Path, int]]:
    out = []
    for k in range(n_files):
        path = folder / f"part-{k:05d}{suffix}"
        meta = path.with_name(path.name + ".bytes")
        if not meta.exists():
            docs = gen_docs(docs_per_file, seed * 100_003 + k, min_words, max_words)
            if mutate_from is not None:  # 20% of the documents to label come from the Pile (half of them edited)
                import zstandard

                src = zstandard.ZstdDecompressor().stream_reader(open(mutate_from / f"part-{k:05d}.jsonl.zst", "rb"))
                pile = [json.loads(ln)["text"] for ln in src.read().decode("utf-8").splitlines()]
                for i in range(0, len(docs), 5):
                    t = pile[i % len(pile)]
                    docs[i] = t if i % 10 else t.replace(" ", " edited ", 1)
            meta.write_text(str(write_jsonl(path, docs, zstd)))
        out.append((path, int(meta.read_text())))
    return out


def link_subset(files: list[tuple[Path, int]], folder: Path, n: int) -> int:
    folder.mkdir(parents=True, exist_ok=True)
    for p, _ in files[:n]:
        dest = folder / p.name
        if not dest.exists():
            dest.symlink_to(p)
    return sum(b for _, b in files[:n])


# -- recipes ------------------------------------------------------------------------------------------------

CC_RECIPE = """
name = "bench-cc"
[sources.commoncrawl]
reader = "commoncrawl"
inputs = []
group = "core"
options = {{ min_length = 300 }}
pipeline = [
  {{ step = "ccnet_line_dedup", scope = "snapshot", num_buckets = {buckets} }},
  {{ step = "ccnet_langid", model = "models:lid.176.bin", threshold = 0.5, keep = ["en"] }},
  {{ step = "ccnet_perplexity", lm_dir = "demo:lm", cutoffs = {{ en = [340.0, 520.0] }}, keep_buckets = ["head", "middle"] }},
  {{ step = "wiki_classifier", model = "demo:wiki", threshold = 0.5 }},
  {{ step = "ccnet_doc_dedup", num_buckets = {buckets} }},
]
[variants.G1]
groups = ["core"]
weights = {{ commoncrawl = 1.0 }}
"""

BOOKS_RECIPE = """
name = "bench-books"
[sources.books]
reader = "jsonl"
inputs = []
group = "core"
pipeline = [
  {{ step = "minhash_lsh", ngram = 5, bands = 32, rows = 4, seed = 1, measure = "containment", threshold = 0.9, reason = "book_near_duplicate", num_buckets = {buckets} }},
]
[variants.G1]
groups = ["core"]
weights = {{ books = 1.0 }}
"""

LABEL_RECIPE = """
name = "bench-label"
[run]
post = [ {{ step = "pile_label", index_path = "{index}", threshold = 0.8, num_buckets = {buckets} }} ]
[sources.c4]
reader = "jsonl"
inputs = []
group = "core"
pipeline = []
[variants.G1]
groups = ["core", "pile-overlap"]
weights = {{ c4 = 1.0 }}
"""


# -- stages -------------------------------------------------------------------------------------------------

def run_scales(name: str, scales: list[int], prepare, command, mb_of, work: Path, results: list[dict],
               interval: float) -> None:
    for s in scales:
        folder = work / f"{name}-{s}x"
        if folder.exists():
            subprocess.run(["rm", "-rf", str(folder)], check=True)
        folder.mkdir(parents=True)
        info = prepare(s, folder)
        cmd = command(s, folder, info)
        print(f"[{time.strftime('%H:%M:%S')}] {name} {s}x: {' '.join(cmd[2:])}", flush=True)
        m = measure(cmd, folder / "scratch", interval=interval, log=folder / "log.txt")
        m.update(stage=name, scale=s, mb=mb_of(info), shuffle_bytes=shuffle_bytes(folder / "run"), **{
            k: v for k, v in info.items() if isinstance(v, int | float | str)})
        results.append(m)
        status = "ok" if m["rc"] == 0 else f"FAILED rc={m['rc']} (see {folder / 'log.txt'})"
        print(f"    {status}: {m['mb']:.1f} MB, wall {m['wall_s']:.1f} s, CPU {m['cpu_s']:.1f} s (sampled: driver "
              f"{m['driver_cpu_s']:.1f}, workers {m['worker_cpu_s']:.1f}) "
              f"({m['cpu_s'] / max(m['mb'], 1e-9):.3f} CPU-s/MB), driver {m['driver_rss'] / 2**20:.0f} MiB, "
              f"workers {[round(w / 2**20) for w in m['worker_rss']]} MiB, spilled {m['spilled_bytes']}, "
              f"shuffle {m['shuffle_bytes'] / 1e6:.1f} MB", flush=True)
        # keep the run folder only when later stages need it
        if name not in ("label", "pile-index"):
            for sub in ("run", "scratch"):
                subprocess.run(["rm", "-rf", str(folder / sub)], check=False)


def _workers(args) -> list[str]:
    return ["--workers", str(args.workers), "--no-progress"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scales", default="1,4,16")
    ap.add_argument("--base-mb", type=float, default=250.0, help="CC: MB of WET text at 1x")
    ap.add_argument("--file-mb", type=float, default=16.0, help="CC: MB of WET text per file (one partition)")
    ap.add_argument("--base-books", type=int, default=20_000, help="books: documents at 1x (2-8 kB each)")
    ap.add_argument("--base-docs", type=int, default=1_000_000, help="pile: Pile documents indexed at 1x")
    ap.add_argument("--label-share", type=float, default=0.5, help="documents labelled, as a share of the Pile's")
    ap.add_argument("--docs-per-file", type=int, default=5_000, help="books: documents per file")
    ap.add_argument("--pile-docs-per-file", type=int, default=50_000, help="pile: documents per shard")
    ap.add_argument("--buckets", type=int, default=16, help="num_buckets of the global steps")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--stages", default="cc,books,pile,tokenize")
    ap.add_argument("--work", default=None, help="work folder (default: a temporary one, removed)")
    ap.add_argument("--json", default=None, help="write the measurements here")
    ap.add_argument("--interval", type=float, default=0.25, help="seconds between RSS samples")
    ap.add_argument("--bare", action="store_true", help="also time the CC steps without the engine on 1x")
    args = ap.parse_args()
    scales = sorted(int(x) for x in args.scales.split(","))
    stages = args.stages.split(",")
    top = max(scales)
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="kllama-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    gen = work / "inputs"
    results: list[dict] = []
    from kllama.models import resolve_model

    for n in ("lm", "wiki"):
        resolve_model(f"demo:{n}")  # built once, outside the timings
    print(f"work folder {work}; scales {scales}; {args.workers} workers", flush=True)

    if "cc" in stages:
        records = max(50, int(args.file_mb * 1e6 / 3200))  # ~3.2 kB of WET text per generated page
        files_1x = max(1, round(args.base_mb / args.file_mb))
        t = time.perf_counter()
        (gen / "cc").mkdir(parents=True, exist_ok=True)
        cc_files = gen_cc(gen / "cc", files_1x * top, records)
        print(f"cc inputs: {len(cc_files)} files x {records} pages, "
              f"{sum(b for _, b in cc_files) / 1e6:.0f} MB ({time.perf_counter() - t:.0f} s)", flush=True)

        def cc_prepare(s, folder):
            mb = link_subset(cc_files, folder / "in" / "CC-MAIN-2024-22", files_1x * s) / 1e6
            (folder / "cc.toml").write_text(CC_RECIPE.format(buckets=args.buckets))
            return {"text_mb": mb, "files": files_1x * s}

        run_scales("cc", scales, cc_prepare,
                   lambda s, f, i: [*KLLAMA, "run", str(f / "cc.toml"), "--input", f"commoncrawl={f / 'in'}",
                                    "--output", str(f / "run"), *_workers(args)],
                   lambda i: i["text_mb"], work, results, args.interval)
        if args.bare:
            from bench_commoncrawl import bench_kllama

            paths = [p for p, _ in cc_files[:files_1x]]
            t0 = time.process_time()
            bench_kllama(paths)
            bare = time.process_time() - t0
            mb = sum(b for _, b in cc_files[:files_1x]) / 1e6
            results.append({"stage": "cc-bare", "scale": 1, "mb": mb, "cpu_s": bare, "wall_s": bare, "rc": 0,
                            "driver_rss": 0, "worker_rss": [], "spilled_bytes": 0, "shuffle_bytes": 0})
            print(f"cc bare steps (one process, no engine) 1x: {mb / bare:.2f} MB/s/core", flush=True)

    if "books" in stages:
        per_file = min(args.docs_per_file, args.base_books)
        files_1x = max(1, args.base_books // per_file)
        (gen / "books").mkdir(parents=True, exist_ok=True)
        t = time.perf_counter()
        book_files = gen_files(gen / "books", files_1x * top, per_file, 7, 300, 1200, ".jsonl")
        print(f"books inputs: {len(book_files)} files x {per_file} docs "
              f"({time.perf_counter() - t:.0f} s)", flush=True)

        def books_prepare(s, folder):
            mb = link_subset(book_files, folder / "in", files_1x * s) / 1e6
            (folder / "books.toml").write_text(BOOKS_RECIPE.format(buckets=args.buckets))
            return {"text_mb": mb, "docs": per_file * files_1x * s}

        run_scales("books", scales, books_prepare,
                   lambda s, f, i: [*KLLAMA, "run", str(f / "books.toml"), "--input", f"books={f / 'in'}",
                                    "--output", str(f / "run"), *_workers(args)],
                   lambda i: i["text_mb"], work, results, args.interval)

    if "pile" in stages or "tokenize" in stages:
        per_file = min(args.pile_docs_per_file, args.base_docs)
        files_1x = max(1, args.base_docs // per_file)
        label_per_file = max(1, int(per_file * args.label_share))
        (gen / "pile").mkdir(parents=True, exist_ok=True)
        (gen / "label").mkdir(parents=True, exist_ok=True)
        t = time.perf_counter()
        pile_files = gen_files(gen / "pile", files_1x * top, per_file, 11, 30, 60, ".jsonl.zst", zstd=True)
        label_files = gen_files(gen / "label", files_1x * top, label_per_file, 13, 30, 60, ".jsonl",
                                mutate_from=gen / "pile")
        print(f"pile inputs: {len(pile_files)} shards x {per_file} docs; {len(label_files)} files x "
              f"{label_per_file} docs to label ({time.perf_counter() - t:.0f} s)", flush=True)

        def index_prepare(s, folder):
            mb = link_subset(pile_files, folder / "pile", files_1x * s) / 1e6
            return {"text_mb": mb, "docs": per_file * files_1x * s}

        run_scales("pile-index", scales, index_prepare,
                   lambda s, f, i: [*KLLAMA, "pile-index", str(f / "pile"), "--output", str(f / "run" / "index"),
                                    *_workers(args)],
                   lambda i: i["text_mb"], work, results, args.interval)
        # the labelling at each scale uses the index built (and measured) at that scale
        indexes = {s: work / f"pile-index-{s}x" / "run" / "index" for s in scales}

        def label_prepare(s, folder):
            mb = link_subset(label_files, folder / "in", files_1x * s) / 1e6
            (folder / "label.toml").write_text(LABEL_RECIPE.format(index=indexes[s], buckets=args.buckets))
            return {"text_mb": mb, "docs": label_per_file * files_1x * s}

        run_scales("label", scales, label_prepare,
                   lambda s, f, i: [*KLLAMA, "run", str(f / "label.toml"), "--input", f"c4={f / 'in'}",
                                    "--output", str(f / "run"), *_workers(args)],
                   lambda i: i["text_mb"], work, results, args.interval)

    if "tokenize" in stages:
        def tok_prepare(s, folder):
            mb = sum(r["mb"] for r in results if r["stage"] == "label" and r["scale"] == s)
            return {"text_mb": mb, "run_dir": str(work / f"label-{s}x" / "run")}

        run_scales("tokenize", scales, tok_prepare,
                   lambda s, f, i: [*KLLAMA, "tokenize", i["run_dir"], "--variant", "G1", "--output",
                                    str(f / "run" / "g1"), "--workers", str(args.workers)],
                   lambda i: i["text_mb"], work, results, args.interval)

    report(results, scales)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0 if all(r["rc"] == 0 for r in results) else 1


def report(results: list[dict], scales: list[int]) -> None:
    print("\n| stage | scale | MB in | wall s | CPU s | CPU s/MB | MB/s/core | driver peak MiB | worker peak MiB "
          "(each) | spilled MB | shuffle MB |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|")
    for r in results:
        if r.get("rc"):
            print(f"| {r['stage']} | {r['scale']}x | FAILED rc={r['rc']} |")
            continue
        mb, cpu = r["mb"], r["cpu_s"]
        workers = " / ".join(f"{w / 2**20:.0f}" for w in r["worker_rss"]) or "-"
        print(f"| {r['stage']} | {r['scale']}x | {mb:.1f} | {r['wall_s']:.1f} | {cpu:.1f} | {cpu / mb:.3f} | "
              f"{mb / cpu:.2f} | {r['driver_rss'] / 2**20:.0f} | {workers} | {r['spilled_bytes'] / 1e6:.1f} | "
              f"{r['shuffle_bytes'] / 1e6:.1f} |")
    lo, hi = min(scales), max(scales)
    if lo == hi:
        return
    print(f"\ngrowth {lo}x -> {hi}x (goals: CPU/MB grows <= {GOAL_CPU_PER_MB:.0%}, peak RSS <= {GOAL_RSS}x; "
          f"CC >= {GOAL_CC_RATE} MB/s/core at {hi}x). 'marginal' = extra CPU-s per extra MB between consecutive "
          "scales (the fixed start-up cost -- cluster, imports, models -- removed)")
    for stage in dict.fromkeys(r["stage"] for r in results):
        rows = sorted((r for r in results if r["stage"] == stage and not r.get("rc")), key=lambda r: r["scale"])
        if len(rows) < 2 or rows[0]["scale"] != lo or rows[-1]["scale"] != hi:
            continue
        a, b = rows[0], rows[-1]
        cpu_g = (b["cpu_s"] / b["mb"]) / (a["cpu_s"] / a["mb"])
        marg = [(y["cpu_s"] - x["cpu_s"]) / max(y["mb"] - x["mb"], 1e-9) for x, y in zip(rows, rows[1:], strict=False)]
        marg_g = marg[-1] / marg[0] if len(marg) > 1 and marg[0] > 0 else 1.0
        drv_g = b["driver_rss"] / max(a["driver_rss"], 1)
        wrk_g = max(b["worker_rss"] or [0]) / max(max(a["worker_rss"] or [1]), 1)
        ok = cpu_g <= 1 + GOAL_CPU_PER_MB and marg_g <= 1 + GOAL_CPU_PER_MB and drv_g <= GOAL_RSS and wrk_g <= GOAL_RSS
        line = (f"  {stage:<11} CPU/MB x{cpu_g:.2f} (marginal CPU-s/MB {' -> '.join(f'{m:.3f}' for m in marg)}, "
                f"x{marg_g:.2f}), driver RSS x{drv_g:.2f}, worker RSS x{wrk_g:.2f} -> {'met' if ok else 'NOT met'}")
        if stage == "cc":
            rate = b["mb"] / b["cpu_s"]
            line += (f"; {rate:.2f} MB/s/core at {hi}x, marginal {1 / marg[-1]:.2f} "
                     f"({'met' if rate >= GOAL_CC_RATE else 'NOT met'})")
        print(line)


if __name__ == "__main__":
    sys.exit(main())
