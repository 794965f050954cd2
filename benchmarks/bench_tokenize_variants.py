"""Tokens made once per shard: three variants in a row against one, and against three separate tokenizations;
the driver's memory against the number of output documents.

Run: ``python benchmarks/bench_tokenize_variants.py [--mb 64] [--workers 2] [--docs 100000 400000]``

1. **CPU**: a run folder shaped like ``kinda-llama`` (core sources, a pile-overlap source, G2 extras at ~8% of the
   text) of synthetic prose (``tools.synthetic``). On one LocalCluster, CPU seconds of the driver process (the
   scheduler included) plus every worker:
   * one variant: ``kllama tokenize --variant G1`` on a run without a token store;
   * three in a row: G1, then G2, then G3 on another fresh copy (the store is filled by G1, G2 adds its extras);
   * the alternative, three separate tokenizations: G1, G2, G3 each on a fresh copy (what every variant cost
     before the store: its shards tokenized again). Goal: three in a row <= 1.3x one.
2. **Driver memory**: the driver's Python heap peak (``tracemalloc``: numpy arrays included) while it tokenizes a
   variant of many tiny documents on the cluster, for two document counts; the growth per million output
   documents. The former driver-side permutation held ~20 bytes per output document (order int64, sizes int32,
   running sum int64), ~20 MB per million.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.tokenize.helpers import write_shard  # noqa: E402
from tools.synthetic import corpus  # noqa: E402

#: (source, group, share of the text)
LAYOUT = [("commoncrawl", "core", 0.50), ("c4", "core", 0.14), ("github", "core", 0.06), ("wikipedia", "core", 0.06),
          ("books", "pile-overlap", 0.06), ("arxiv", "pile-overlap", 0.05), ("stackexchange", "core", 0.05),
          ("maths", "extra", 0.05), ("dialogue", "extra", 0.03)]
WEIGHTS = {"commoncrawl": 1.10, "c4": 1.06, "github": 0.64, "wikipedia": 2.45, "books": 2.23, "arxiv": 1.06,
           "stackexchange": 1.03}


def make_run(root: Path, mb: float, docs_per_shard: int = 1000, shape: tuple[int, int] = (2000, 6000)) -> Path:
    """A run folder of ``mb`` MB of synthetic text in shards of ``docs_per_shard`` documents."""
    shards = []
    seed = 0
    for source, group, share in LAYOUT:
        left = int(mb * 1e6 * share)
        k = 0
        while left > 0:
            seed += 1
            texts = corpus(docs_per_shard, seed=seed, min_bytes=shape[0], max_bytes=shape[1])
            rows = [{"id": f"{source}/{k:03d}{j:05d}", "text": t, "source": source, "group": group}
                    for j, t in enumerate(texts)]
            rel = f"shards/{group}/{source}/part-{k:05d}.parquet"
            shards.append({"path": rel, "source": source, "group": group, **write_shard(root / rel, rows)})
            left -= sum(len(t) for t in texts)
            k += 1
    manifest = {"shards": shards, "variants": {
        "G1": {"groups": ["core", "pile-overlap"], "weights": WEIGHTS},
        "G2": {"groups": ["core", "pile-overlap", "extra"], "weights": {**WEIGHTS, "maths": 1.0, "dialogue": 1.0}},
        "G3": {"groups": ["core"], "weights": WEIGHTS}}}
    (root / "manifest.json").write_text(json.dumps(manifest))
    return root


def fresh_copy(run: Path, dest: Path) -> Path:
    shutil.copytree(run, dest, ignore=shutil.ignore_patterns("tokens", "stages"))
    return dest


def _worker_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def cpu_of(client, fn) -> tuple[float, object]:
    """CPU seconds of the driver process and every worker while ``fn()`` runs."""
    before = sum(client.run(_worker_cpu).values()) + _worker_cpu()
    out = fn()
    after = sum(client.run(_worker_cpu).values()) + _worker_cpu()
    return after - before, out


def part_cpu(client, run: Path, tmp: Path) -> list[str]:
    from kllama.tokenize.variant import tokenize_variant

    def variants(folder: Path, names: list[str], tag: str) -> list:
        return [tokenize_variant(folder, v, tmp / f"{tag}-{v}", client=client, seed=1, quiet=True) for v in names]

    variants(fresh_copy(run, tmp / "warm"), ["G3"], "warm")  # imports, tokenizer load, worker caches
    one_s, one = cpu_of(client, lambda: variants(fresh_copy(run, tmp / "one"), ["G1"], "one"))
    row_s, row = cpu_of(client, lambda: variants(fresh_copy(run, tmp / "row"), ["G1", "G2", "G3"], "row"))
    sep_s, _ = cpu_of(client, lambda: [variants(fresh_copy(run, tmp / f"sep{v}"), [v], f"sep{v}")[0]
                                       for v in ("G1", "G2", "G3")])
    same = all(Path(f"{tmp}/row-{v}.{e}").read_bytes() == Path(f"{tmp}/sep{v}-{v}.{e}").read_bytes()
               for v in ("G1", "G2", "G3") for e in ("bin", "idx"))
    mb = sum(s["bytes_tokenized"] for s in one[0].per_source.values()) / 1e6
    lines = [f"corpus: {mb:.1f} MB of text in G1 ({len(json.loads((run / 'manifest.json').read_text())['shards'])} "
             f"shards in all; G2 adds the extras, G3 drops the pile-overlap group); CPU s = driver + workers",
             f"{'what':<58}{'CPU s':>8}  ratio to one variant"]
    lines.append(f"{'one variant (G1, empty store)':<58}{one_s:>8.2f}  1.00x")
    store = [r.sidecar["store"] for r in row]
    detail = ", ".join(f"{v} {s['tokenized_now']} tokenized/{s['reused']} reused" for v, s in zip(
        ("G1", "G2", "G3"), store, strict=True))
    lines.append(f"{'three in a row, one store (G1, G2, G3)':<58}{row_s:>8.2f}  {row_s / one_s:.2f}x  ({detail})")
    lines.append(f"{'three separate tokenizations (before the store)':<58}{sep_s:>8.2f}  {sep_s / one_s:.2f}x")
    cpu = [r.sidecar["task_cpu_seconds"] for r in row]
    lines.append("  task CPU of the three in a row: " + "; ".join(
        f"{v} tokenize {c['tokenize']:.2f} + scatter {c['scatter']:.2f} + gather {c['gather']:.2f}"
        for v, c in zip(("G1", "G2", "G3"), cpu, strict=True)))
    lines.append(f"  same bytes, in a row vs separate: {same}")
    usage = json.loads(Path(f"{tmp}/row-G3.json").read_text())["store"]
    lines.append(f"  token store {usage['bytes'] / 1e6:.2f} MB, stored once")
    return lines


def part_memory(client, tmp: Path, counts: list[int]) -> list[str]:
    from kllama.tokenize.variant import tokenize_variant

    lines = [f"{'output documents':>18}{'driver heap peak MB':>22}{'chunks':>8}"]
    peaks = []
    for n in counts:
        root = tmp / f"mem{n}"
        shards = []
        per_shard = 20000
        for k in range(max(1, n // per_shard // 2)):
            rows = [{"id": f"tiny/{k:04d}{j:06d}", "text": f"d{j} w", "source": "tiny", "group": "core"}
                    for j in range(per_shard)]
            rel = f"shards/core/tiny/part-{k:05d}.parquet"
            shards.append({"path": rel, "source": "tiny", "group": "core", **write_shard(root / rel, rows)})
        docs = len(shards) * per_shard
        (root / "manifest.json").write_text(json.dumps({"shards": shards, "variants": {
            "G1": {"groups": ["core"], "weights": {"tiny": n / docs}}}}))
        tokenize_variant(root, "G1", tmp / f"mem{n}-warm", client=client, seed=1, quiet=True)  # the store
        tracemalloc.start()
        res = tokenize_variant(root, "G1", tmp / f"mem{n}-out", client=client, seed=2, quiet=True,
                               chunk_docs=1 << 18)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        peaks.append((res.docs, peak))
        lines.append(f"{res.docs:>18,}{peak / 1e6:>22.1f}{res.sidecar['chunks']:>8}")
    (n1, p1), (n2, p2) = peaks[0], peaks[-1]
    per_m = (p2 - p1) / max(1, n2 - n1) * 1e6
    lines.append(f"growth: {per_m / 1e6:.2f} MB per million output documents ({per_m / 1e6:.2f} B per document); "
                 "the former driver-side permutation: 20 MB per million")
    return lines


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mb", type=float, default=64.0, help="MB of text in the run (default 64)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--docs", type=int, nargs=2, default=[250_000, 1_000_000],
                    help="output document counts of the memory part (default 250000 1000000)")
    ap.add_argument("--skip-cpu", action="store_true")
    ap.add_argument("--skip-memory", action="store_true")
    args = ap.parse_args()
    from kllama.engine.cluster import open_client

    t0 = time.time()
    with tempfile.TemporaryDirectory(prefix="kllama-bench-variants-") as d, \
            open_client("local", workers=args.workers, quiet=True) as client:
        tmp = Path(d)
        out = []
        if not args.skip_cpu:
            run = make_run(tmp / "run", args.mb)
            out += part_cpu(client, run, tmp)
            out.append("")
        if not args.skip_memory:
            out += part_memory(client, tmp, args.docs)
    print("\n".join(out))
    print(f"(wall {time.time() - t0:.0f} s, {os.cpu_count()} CPUs, {args.workers} workers)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
