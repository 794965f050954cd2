"""Near-dup benchmark: kllama MinHash (C core) and MinHash LSH end to end, beside datasketch (and rensa).

    python benchmarks/bench_dedup.py [--docs 1000000] [--subset 20000]

Generates ``--docs`` short documents (~40 words from a Zipf vocabulary; 5% of them near copies of another
document: last word changed or one word appended, Jaccard ~0.95), then measures, each in its own fresh process (so that peak RSS belongs to
one method), on ONE core:

* signatures/s: ``kllama.native.minhash`` (128 permutations, word 5-grams) on all documents; datasketch
  ``MinHash.update_batch`` and rensa ``RMinHash`` on ``--subset`` documents (datasketch is ~100x slower);
* LSH end to end, docs/s: kllama's ``minhash_lsh`` step through the engine's real partition tasks (Parquet
  partitions of 100k documents on disk -> keys -> resolve per bucket -> union-find -> filtered partitions),
  on all documents and on the subset; datasketch ``MinHashLSH`` (insert + query + the same keep rule) on the
  subset only. Both use datasketch's optimal bands x rows for threshold 0.8 and 128 permutations (9 x 13).
* peak memory: the process's peak RSS above its RSS after generating the documents.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

NUM_PERM, NGRAM, BANDS, ROWS, THRESHOLD = 128, 5, 9, 13, 0.8


def gen_docs(n: int, seed: int = 1) -> tuple[list[str], np.ndarray]:
    """``n`` short documents; ``src[i] >= 0`` when doc ``i`` is a planted near copy of doc ``src[i]``."""
    rng = np.random.default_rng(seed)
    vocab = np.array([f"w{i}" for i in range(50_000)])
    lengths = rng.integers(30, 50, size=n)
    words = vocab[np.minimum(rng.zipf(1.3, size=int(lengths.sum())) - 1, len(vocab) - 1)]
    offs = np.r_[0, np.cumsum(lengths)]
    docs = [" ".join(words[offs[i]:offs[i + 1]]) for i in range(n)]
    src = np.full(n, -1, dtype=np.int64)
    for i in rng.choice(np.arange(1, n), size=n // 20, replace=False):
        j = int(rng.integers(0, i))
        w = docs[j].split(" ")
        if i % 2:
            w[-1] = "changed"  # one 5-gram of ~40 differs: Jaccard ~0.95
        else:
            w.append("added")
        docs[i] = " ".join(w)
        src[i] = j
    return docs, src


def _status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _measure(fn, *args):
    try:  # reset the peak-RSS mark (Linux), so that the peak is the method's, not the data generation's
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass
    base = _status_mb("VmRSS")
    t = time.perf_counter()
    extra = fn(*args)
    dt = time.perf_counter() - t
    return {"seconds": dt, "peak_mb": _status_mb("VmHWM") - base, **(extra or {})}


# -- methods (each runs in a child process) ----------------------------------------------------------
def sig_kllama(docs, _src):
    import pyarrow as pa

    from kllama import native

    for i in range(0, len(docs), 10_000):
        native.minhash(pa.array(docs[i:i + 10_000], pa.large_string()), NUM_PERM, NGRAM, 1)


def _shingles(doc):
    w = doc.split(" ")
    return [" ".join(w[i:i + NGRAM]).encode() for i in range(max(1, len(w) - NGRAM + 1))]


def sig_datasketch(docs, _src):
    from datasketch import MinHash

    for d in docs:
        m = MinHash(num_perm=NUM_PERM, seed=1)
        m.update_batch(_shingles(d))


def sig_rensa(docs, _src):
    from rensa import RMinHash

    for d in docs:
        m = RMinHash(num_perm=NUM_PERM, seed=1)
        m.update([" ".join(x) for x in zip(*[d.split(" ")[k:] for k in range(NGRAM)], strict=False)])
        m.digest()


def lsh_kllama(docs, src):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from kllama.core.document import CORE_SCHEMA
    from kllama.engine.partition import PartitionTask, run_task

    spec = {"step": "minhash_lsh", "ngram": NGRAM, "bands": BANDS, "rows": ROWS, "num_perm": NUM_PERM,
            "threshold": THRESHOLD, "num_buckets": 16}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        parts = []
        n = len(docs)
        for p, i in enumerate(range(0, n, 100_000)):
            chunk = docs[i:i + 100_000]
            t = pa.table({"id": [f"d{k:08d}" for k in range(i, i + len(chunk))],
                          "text": pa.array(chunk, pa.large_string()), "source": ["bench"] * len(chunk),
                          "url": pa.nulls(len(chunk), pa.string()), "lang": ["en"] * len(chunk),
                          "meta": ["{}"] * len(chunk), "group": ["core"] * len(chunk)}, schema=CORE_SCHEMA)
            path = tmp / "in" / f"part-{p:05d}.parquet"
            path.parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(t, path)
            parts.append(str(path))
        t0 = time.perf_counter()
        d = tmp / "stage"
        keys = [PartitionTask("keys", str(d / "_keys"), f"part-{i:05d}", [p], steps=[spec], extra={"part": i})
                for i, p in enumerate(parts)]
        for k in keys:
            run_task(k)
        res = [PartitionTask("resolve", str(d / "_decisions"), f"bucket-{b:04d}", [str(k.output) for k in keys],
                             steps=[spec], extra={"bucket": b}) for b in range(16)]
        for r in res:
            run_task(r)
        comb = PartitionTask("combine", str(d / "_combined"), "combined", [str(r.output) for r in res], steps=[spec])
        run_task(comb)
        dropped = set()
        for i, p in enumerate(parts):
            a = PartitionTask("apply", str(d), f"part-{i:05d}", [p, str(comb.output)], steps=[spec], extra={"part": i})
            run_task(a)
        dec = pq.read_table(comb.output)
        dropped = {int(x[1:]) for x in dec.column("id").to_pylist()}
        elapsed = time.perf_counter() - t0
    return {"seconds_dedup_only": elapsed, **_quality(dropped, src)}


def lsh_datasketch(docs, src):
    from datasketch import MinHash, MinHashLSH

    lsh = MinHashLSH(num_perm=NUM_PERM, params=(BANDS, ROWS))
    sigs = []
    for i, d in enumerate(docs):
        m = MinHash(num_perm=NUM_PERM, seed=1)
        m.update_batch(_shingles(d))
        sigs.append(m)
        lsh.insert(i, m)
    parent = list(range(len(docs)))

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for i, m in enumerate(sigs):
        for j in lsh.query(m):
            if j != i and m.jaccard(sigs[j]) >= THRESHOLD:
                a, b = find(i), find(j)
                if a != b:
                    parent[max(a, b)] = min(a, b)
    lengths = [len(d.encode()) for d in docs]
    best: dict[int, int] = {}
    for i in range(len(docs)):
        r = find(i)
        if r not in best or (-lengths[i], i) < (-lengths[best[r]], best[r]):
            best[r] = i
    dropped = {i for i in range(len(docs)) if best[find(i)] != i}
    return _quality(dropped, src)


def _quality(dropped, src):
    planted = {int(i) for i in np.flatnonzero(src >= 0)}
    # a planted pair counts as found when one of its two documents is dropped
    found = sum(1 for i in planted if i in dropped or int(src[i]) in dropped)
    return {"dropped": len(dropped), "planted_found": found / max(1, len(planted))}


METHODS = {"sig_kllama": sig_kllama, "sig_datasketch": sig_datasketch, "sig_rensa": sig_rensa,
           "lsh_kllama": lsh_kllama, "lsh_datasketch": lsh_datasketch}


def child(method: str, n: int) -> None:
    docs, src = gen_docs(n)
    import datasketch  # noqa: F401  (imports and the C library load are not timed)
    import pyarrow as pa

    from kllama import native
    from kllama.dedup import minhash_lsh  # noqa: F401

    native.minhash(pa.array(docs[:5000], pa.large_string()), NUM_PERM, NGRAM, 1)  # first call: ~0.5 s setup
    res = _measure(METHODS[method], docs, src)
    res.update(method=method, docs=n)
    print("RESULT " + json.dumps(res))


def run_child(method: str, n: int) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    proc = subprocess.run(["taskset", "-c", "0", sys.executable, __file__, "--child", method, "--docs", str(n)],
                          capture_output=True, text=True, env=env)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    raise RuntimeError(f"{method} failed: {proc.stderr[-2000:]}")


PILE_SETS = ["Pile-CC", "PubMed Central", "Books3", "OpenWebText2", "ArXiv", "Github", "FreeLaw", "StackExchange",
             "USPTO Backgrounds", "PubMed Abstracts", "Gutenberg (PG-19)", "OpenSubtitles", "Wikipedia (en)",
             "DM Mathematics", "Ubuntu IRC", "BookCorpus2", "EuroParl", "HackerNews", "YoutubeSubtitles",
             "PhilPapers", "NIH ExPorter", "Enron Emails"]


def index_size(n: int) -> None:
    """Build a Pile reference index of ``n`` generated documents; print its bytes per million documents and
    the naive estimate for ~210M such documents. These documents are short (~40 words: 16-31 sketch keys each);
    the size of the sketch grows with document length, so the projection to the real Pile (its documents'
    lengths per component) is ``benchmarks/bench_pile_containment.py``'s."""
    import io

    import zstandard

    from kllama.dedup.pile_index import IndexSettings, build_index

    docs, _ = gen_docs(n, seed=2)
    rng = np.random.default_rng(3)
    names = rng.choice(PILE_SETS, size=n)
    with tempfile.TemporaryDirectory() as tmp:
        shard = Path(tmp) / "pile" / "train" / "00.jsonl.zst"
        shard.parent.mkdir(parents=True)
        buf = io.BytesIO()
        with zstandard.ZstdCompressor(level=3).stream_writer(buf, closefd=False) as w:
            for d, name in zip(docs, names, strict=True):
                w.write((json.dumps({"text": d, "meta": {"pile_set_name": str(name)}}) + "\n").encode())
        shard.write_bytes(buf.getvalue())
        t = time.perf_counter()
        meta = build_index([str(shard.parent)], Path(tmp) / "idx", IndexSettings())
        dt = time.perf_counter() - t
        per_m = meta["index_bytes"] / n * 1e6
        exact = sum(f.stat().st_size for f in (Path(tmp) / "idx" / "exact").rglob("*.parquet"))
        print(f"| index of {n} docs (sketches of >= 16 keys, 8 prefix bits) | {meta['index_bytes'] / 1e6:.1f} MB | "
              f"{per_m / 1e6:.1f} MB per million docs (exact part {exact / n * 1e6 / 1e6:.1f} MB) | "
              f"210M such docs: {per_m * 210 / 1e9:.1f} GB | {n / dt:,.0f} docs/s indexing on 1 core |")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=1_000_000)
    ap.add_argument("--subset", type=int, default=20_000)
    ap.add_argument("--child", default=None)
    ap.add_argument("--index-docs", type=int, default=0, help="only measure the Pile index size on N documents")
    args = ap.parse_args()
    if args.index_docs:
        index_size(args.index_docs)
        return
    if args.child:
        child(args.child, args.docs)
        return
    runs = [("sig_kllama", args.docs), ("sig_kllama", args.subset), ("sig_datasketch", args.subset),
            ("sig_rensa", args.subset), ("lsh_kllama", args.docs), ("lsh_kllama", args.subset),
            ("lsh_datasketch", args.subset)]
    results = []
    for method, n in runs:
        try:
            r = run_child(method, n)
        except RuntimeError as exc:
            print(f"# {exc}", file=sys.stderr)
            continue
        results.append(r)
        print(f"# {method} on {n}: {r['seconds']:.1f} s", file=sys.stderr, flush=True)
    for r in results:
        print("# " + json.dumps(r), file=sys.stderr)
    base = {(r["method"].split("_")[0], r["docs"]): r for r in results if r["method"].endswith("kllama")}
    print(f"\n1 core (taskset -c 0); {NUM_PERM} permutations, word {NGRAM}-grams, LSH {BANDS} bands x {ROWS} rows, "
          f"threshold {THRESHOLD}; documents ~40 words, 5% planted near copies\n")
    print("| method | docs | docs/s | kllama is x faster | peak MB above data | planted pairs found |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in results:
        # LSH: time from the partitions on disk to the filtered partitions (writing the inputs is not counted)
        r["seconds"] = r.get("seconds_dedup_only", r["seconds"])
    for r in results:
        rate = r["docs"] / r["seconds"]
        kind = r["method"].split("_")[0]
        ref = base.get((kind, r["docs"]))
        ratio = f"{(ref['docs'] / ref['seconds']) / rate:.1f}" if ref and ref is not r else "-"
        found = f"{r['planted_found']:.3f}" if "planted_found" in r else "-"
        print(f"| {r['method']} | {r['docs']} | {rate:,.0f} | {ratio} | {r['peak_mb']:.0f} | {found} |")


if __name__ == "__main__":
    main()
