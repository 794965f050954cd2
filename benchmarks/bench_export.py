"""The Pile-like ``jsonl.zst`` export beside an in-memory shuffle: MB/s and peak memory at two corpus sizes.

    python benchmarks/bench_export.py [--mb 80] [--bucket-mb 16] [--workers 1]

A synthetic store (seven sources, Parquet shards in the store's schema, words drawn from a fixed vocabulary so that
it compresses like text) of ``--mb`` and of twice that is exported twice each, every run in a fresh process that
reports its own peak RSS:

* **kllama**: ``export_variant(..., "jsonl.zst")`` with ``--bucket-mb`` shuffle buckets (spill files, then one
  bucket in memory at a time);
* **in-memory**: every line built in a list, ``random.shuffle``, written as one zstd stream (what a simple
  script does; memory grows with the corpus).

Printed: MB/s of JSON lines written and peak RSS per run, and the ratios kllama / in-memory. Nothing is written
outside a temporary folder.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

SOURCES = {"commoncrawl": 1.10, "c4": 1.06, "github": 0.64, "wikipedia": 2.45, "books": 2.23, "arxiv": 1.06,
           "stackexchange": 1.03}
DOC_CHARS = {"commoncrawl": 3000, "c4": 2000, "github": 4000, "wikipedia": 5000, "books": 60000, "arxiv": 30000,
             "stackexchange": 2500}


def make_store(run: Path, mb: float, seed: int = 0) -> None:
    """A run folder with ``mb`` MB of text in store-schema shards and a manifest with LLaMA's weights."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from kllama.core.document import schema_with

    rng = random.Random(seed)
    vocab = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 9))) for _ in range(20000)]
    schema = schema_with({"perplexity": pa.float64(), "bucket": pa.string(), "pile_match": pa.string()})
    shards = []
    per_source = mb * 1e6 / len(SOURCES)
    for src in SOURCES:
        written, part = 0, 0
        while written < per_source:
            rows = {n: [] for n in schema.names}
            nbytes = 0
            while nbytes < min(8e6, per_source - written) or not rows["id"]:
                words = rng.choices(vocab, k=DOC_CHARS[src] // 6)
                text = " ".join(words)
                i = len(rows["id"])
                rows["id"].append(f"{src}/{part:03d}{i:07d}")
                rows["text"].append(text)
                rows["source"].append(src)
                rows["url"].append(f"https://example.org/{src}/{part}/{i}" if src in ("commoncrawl", "c4") else None)
                rows["lang"].append("en")
                rows["meta"].append(json.dumps({"n": i}))
                rows["group"].append("core")
                rows["perplexity"].append(rng.uniform(100, 900) if src == "commoncrawl" else None)
                rows["bucket"].append("head" if src == "commoncrawl" else None)
                rows["pile_match"].append(None)
                nbytes += len(text)
            path = run / "shards" / "core" / src / f"part-{part:05d}.parquet"
            path.parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(pa.table(rows, schema=schema), path, compression="zstd")
            shards.append({"path": str(path.relative_to(run)), "source": src, "group": "core",
                           "docs": len(rows["id"]), "bytes": nbytes, "sha256": None})
            written += nbytes
            part += 1
    manifest = {"shards": shards, "variants": {"G1": {"groups": ["core"], "weights": SOURCES}}}
    (run / "manifest.json").write_text(json.dumps(manifest))


def run_kllama(run: Path, out: Path, bucket_mb: float, workers: int) -> dict:
    from kllama.export import export_variant

    info = export_variant(run, "G1", "jsonl.zst", out, bucket_bytes=int(bucket_mb * 1e6),
                          buffer_bytes=int(bucket_mb * 1e6 / 4), workers=workers, shard_size="100M")
    return {"lines": info["docs"], "json_bytes": sum(f["bytes"] for f in info["files"]),
            "largest_bucket": info["shuffle"]["largest_bucket_in_memory"]}


def run_in_memory(run: Path, out: Path) -> dict:
    """Read everything, build every line, shuffle the list, write one zstd stream."""
    import pyarrow.parquet as pq
    import zstandard

    from kllama.core.sampling import copies_for

    manifest = json.loads((run / "manifest.json").read_text())
    weights = manifest["variants"]["G1"]["weights"]
    lines: list[bytes] = []
    for s in manifest["shards"]:
        t = pq.read_table(run / s["path"])
        for row in t.to_pylist():
            for c in range(copies_for(row["id"], weights[row["source"]], 0)):
                meta = {"pile_set_name": row["source"], "id": row["id"], "copy": c}
                lines.append(json.dumps({"text": row["text"], "meta": meta}, ensure_ascii=False).encode())
    random.Random(0).shuffle(lines)
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "00.jsonl.zst", "wb") as f, zstandard.ZstdCompressor(level=3).stream_writer(f) as w:
        for line in lines:
            w.write(line + b"\n")
    return {"lines": len(lines), "json_bytes": sum(len(x) + 1 for x in lines)}


def child(kind: str, run: str, out: str, bucket_mb: float, workers: int) -> None:
    t0 = time.perf_counter()
    res = run_kllama(Path(run), Path(out), bucket_mb, workers) if kind == "kllama" else \
        run_in_memory(Path(run), Path(out))
    res["seconds"] = time.perf_counter() - t0
    res["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(res))


def measure(kind: str, run: Path, out: Path, bucket_mb: float, workers: int) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--child", kind, str(run), str(out), str(bucket_mb),
                           str(workers)], capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mb", type=float, default=80, help="text MB of the smaller store (the larger is twice)")
    ap.add_argument("--bucket-mb", type=float, default=16, help="kllama's shuffle bucket size")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        kind, run, out, bucket, workers = args.child
        child(kind, run, out, float(bucket), int(workers))
        return
    with tempfile.TemporaryDirectory(prefix="kllama-bench-export-") as tmp:
        rows = []
        for size in (args.mb, 2 * args.mb):
            run = Path(tmp) / f"run-{size:g}"
            make_store(run, size)
            k = measure("kllama", run, Path(tmp) / f"k-{size:g}", args.bucket_mb, args.workers)
            m = measure("in-memory", run, Path(tmp) / f"m-{size:g}", args.bucket_mb, args.workers)
            assert k["lines"] == m["lines"], (k, m)
            for name, r in (("kllama", k), ("in-memory", m)):
                mbs = r["json_bytes"] / 1e6 / r["seconds"]
                rows.append((size, name, r["json_bytes"] / 1e6, r["seconds"], mbs, r["peak_rss_mb"]))
                extra = f", largest bucket {r['largest_bucket'] / 1e6:.1f} MB" if "largest_bucket" in r else ""
                print(f"store {size:g} MB text  {name:10s} {r['json_bytes'] / 1e6:7.1f} MB JSON in "
                      f"{r['seconds']:6.1f} s = {mbs:6.1f} MB/s, peak RSS {r['peak_rss_mb']:7.1f} MB{extra}")
            print(f"  ratio kllama / in-memory: time {k['seconds'] / m['seconds']:.2f}x, "
                  f"peak RSS {k['peak_rss_mb'] / m['peak_rss_mb']:.2f}x")
        k1, k2 = rows[0][5], rows[2][5]
        m1, m2 = rows[1][5], rows[3][5]
        print(f"peak RSS when the store doubles: kllama {k2 / k1:.2f}x, in-memory {m2 / m1:.2f}x")


if __name__ == "__main__":
    main()
