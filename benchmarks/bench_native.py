"""Benchmark of the kllama C core beside the usual alternatives, on one core.

    python benchmarks/bench_native.py [--mb 100] [--seed 0] [--subset-mb 4]

Generates a corpus of English-like documents (2-20 KB each, Zipf-distributed vocabulary, sentences,
numbers, some non-ASCII; fixed seed), then prints MB/s and docs/s for each task with the ratio of kllama to
each alternative, all measured in the same run (best of 3, CPU time of this process pinned to one core). Slow pure-Python alternatives (datasketch, the cc_net
Python code, rensa with Python shingling, the regex) run on a subset (the first --subset-mb of documents)
and say so; kllama always runs on the whole corpus.
"""

from __future__ import annotations

import os

for _v in (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "RAYON_NUM_THREADS",
):
    os.environ[_v] = "1"

import argparse  # noqa: E402
import hashlib  # noqa: E402
import re  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402

from kllama import native  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests import native_reference as ref  # noqa: E402

WORDS = (
    "the of and to a in is that for it as was with be by on not he I this are or his from at which but have an they"
    " you were her she there been one all we their has would when if so no will more time can its said about "
    "people into only other new some could these two may first then do any like my now over such our man me even "
    "most made after also did many before must through back years where much your way well down should because "
    "each just those how too little state good very make world still own see men work long get here between both "
    "life being under never day same another know while last might us great old year off come since against go "
    "came right used take three himself few house use during without again place around however home small found "
    "Mrs thought went say part once general high upon school every don't does got united left number course war "
    "until always away something fact though water less public put think almost hand enough far took head yet "
    "government system better set told nothing night end why called didn't eyes find going look asked later knew "
    "point next program city business give group toward young days let room president side social present given "
    "several order national possible rather second face per among form important often things looked early white "
    "John case become large big need four within felt along children saw best church ever least power development "
    "light thing seemed family interest want members mind country area others done turned although open God service "
    "certain kind problem began different door thus help sense means whole matter perhaps itself York it's times "
    "law human line above name example action company hands local show whether five history gave today either act "
    "feet across taken past quite anything seen having death experience body word half really week car field "
    "café naïve résumé Zürich São Paulo Ελλάδα Москва 東京"
).split()


def make_corpus(total_mb: float, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    vocab = np.array(WORDS, dtype=object)
    ranks = np.arange(1, len(vocab) + 1)
    p = 1.0 / ranks**1.1
    p /= p.sum()
    docs, size, target = [], 0, int(total_mb * 1e6)
    while size < target:
        doc_len = int(rng.integers(2000, 20000))
        n_words = doc_len // 5 + 8
        ws = vocab[rng.choice(len(vocab), size=n_words, p=p)].tolist()
        nums = rng.integers(0, 100000, size=n_words // 40 + 1)
        for k, i in enumerate(rng.integers(0, n_words, size=len(nums))):
            ws[i] = str(nums[k])
        parts, line, out_len = [], [], 0
        sentence_start = True
        for w in ws:
            if sentence_start:
                w = w[:1].upper() + w[1:]
                sentence_start = False
            line.append(w)
            r = rng.random()
            if r < 0.07:
                line[-1] += "."
                sentence_start = True
            elif r < 0.11:
                line[-1] += ","
            if len(line) > 12 and rng.random() < 0.08:
                s = " ".join(line)
                parts.append(s)
                out_len += len(s) + 1
                line = []
            if out_len >= doc_len:
                break
        if line:
            parts.append(" ".join(line))
        doc = "\n".join(parts)
        docs.append(doc)
        size += len(doc.encode())
    return docs


def timeit(fn, repeat: int = 3) -> float:
    """Best of ``repeat`` runs, in CPU seconds of this process (one core; on a shared machine wall time
    would measure the neighbours)."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.process_time()
        fn()
        best = min(best, time.process_time() - t0)
    return best


ROWS: list[tuple[str, str, str, float, float, str]] = []


def report(
    task: str, impl: str, data: str, nbytes: int, ndocs: int, seconds: float, base: float | None
) -> float:
    mbs = nbytes / seconds / 1e6
    dps = ndocs / seconds
    ratio = "" if base is None else f"{base / mbs:,.1f}x"
    ROWS.append((task, impl, data, mbs, dps, ratio))
    print(
        f"  {task:<22} {impl:<44} {data:<8} {mbs:>10,.1f} MB/s {dps:>12,.0f} docs/s {ratio:>10}", flush=True
    )
    return mbs


def python_shingles(text: str, ngram: int = 5) -> list[str]:
    """The same word 5-grams as kllama (words = runs of str.isalnum() chars, lowercased), as strings."""
    return [" ".join(s) for s in ref.shingles(text, ngram)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mb", type=float, default=100.0, help="corpus size in MB (default 100)")
    ap.add_argument(
        "--subset-mb", type=float, default=4.0, help="subset for the slow alternatives (default 4)"
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--batch", type=int, default=1000, help="documents per C call (Arrow chunk)")
    args = ap.parse_args()
    if hasattr(os, "sched_setaffinity"):
        cpu = sorted(os.sched_getaffinity(0))[0]
        os.sched_setaffinity(0, {cpu})

    t0 = time.perf_counter()
    docs = make_corpus(args.mb, args.seed)
    nbytes = sum(len(d.encode()) for d in docs)
    print(
        f"corpus: {len(docs):,} docs, {nbytes / 1e6:,.1f} MB (seed {args.seed}, generated in "
        f"{time.perf_counter() - t0:.1f}s); one core; MinHash kernel: {native.SIMD_KERNEL}"
    )
    arr = pa.chunked_array(
        [pa.array(docs[i : i + args.batch], pa.large_string()) for i in range(0, len(docs), args.batch)]
    )
    sub, sub_bytes = [], 0
    for d in docs:
        if sub_bytes >= args.subset_mb * 1e6:
            break
        sub.append(d)
        sub_bytes += len(d.encode())
    full, subs = "full", "subset"
    print(f"subset for slow alternatives: {len(sub):,} docs, {sub_bytes / 1e6:.1f} MB\n")
    print(f"  {'task':<22} {'implementation':<44} {'data':<8} {'throughput':>15} {'':>19} {'kllama is':>10}")

    # ---------------------------------------------------------------- MinHash
    dt = timeit(lambda: native.minhash(arr, num_perm=128, ngram=5, seed=1))
    k_mh = report("minhash 128x5-shingle", "kllama.native.minhash (Arrow)", full, nbytes, len(docs), dt, None)
    dt = timeit(lambda: native.minhash(sub, num_perm=128, ngram=5, seed=1))
    report("minhash 128x5-shingle", "kllama.native.minhash (list[str])", subs, sub_bytes, len(sub), dt, None)
    try:
        from rensa import RMinHash

        def rensa_all() -> None:
            for d in sub:
                m = RMinHash(num_perm=128, seed=1)
                m.update(python_shingles(d))
                m.digest()

        dt = timeit(rensa_all)
        report(
            "minhash 128x5-shingle",
            "rensa RMinHash (+ Python shingling)",
            subs,
            sub_bytes,
            len(sub),
            dt,
            k_mh,
        )
        pre = [python_shingles(d) for d in sub]

        def rensa_only() -> None:
            for s in pre:
                m = RMinHash(num_perm=128, seed=1)
                m.update(s)
                m.digest()

        dt = timeit(rensa_only)
        report(
            "minhash 128x5-shingle",
            "rensa RMinHash (shingles given, update only)",
            subs,
            sub_bytes,
            len(sub),
            dt,
            k_mh,
        )
    except ImportError:
        print("  rensa not installed: skipped")
    try:
        from datasketch import MinHash

        dsub = sub[: max(1, len(sub) // 4)]
        dsub_bytes = sum(len(d.encode()) for d in dsub)

        def datasketch_all() -> None:
            MinHash.bulk([[s.encode() for s in python_shingles(d)] for d in dsub], num_perm=128, seed=1)

        dt = timeit(datasketch_all)
        report(
            "minhash 128x5-shingle",
            "datasketch MinHash.bulk (+ Python shingling)",
            "subset/4",
            dsub_bytes,
            len(dsub),
            dt,
            k_mh,
        )
    except ImportError:
        print("  datasketch not installed: skipped")

    # ---------------------------------------------------------------- exact hash
    dt = timeit(lambda: native.hash64(arr))
    k_h = report(
        "exact hash", "kllama.native.hash64 XXH64 (Arrow buffers)", full, nbytes, len(docs), dt, None
    )
    dt = timeit(lambda: native.hash128(arr))
    report("exact hash", "kllama.native.hash128 XXH3-128 (Arrow)", full, nbytes, len(docs), dt, None)
    enc = [d.encode() for d in docs]
    dt = timeit(lambda: [hashlib.sha256(b).digest() for b in enc])
    report("exact hash", "hashlib.sha256 (bytes given)", full, nbytes, len(docs), dt, k_h)

    # ---------------------------------------------------------------- cc_net line hashes
    dt = timeit(lambda: native.ccnet_line_hashes_batch(arr))
    k_cc = report(
        "cc_net line norm+hash",
        "kllama.native.ccnet_line_hashes_batch (Arrow)",
        full,
        nbytes,
        len(docs),
        dt,
        None,
    )
    dt = timeit(lambda: [ref.ccnet_line_hashes(d) for d in sub])
    report(
        "cc_net line norm+hash",
        "cc_net Python (normalize_for_dedup + sha1)",
        subs,
        sub_bytes,
        len(sub),
        dt,
        k_cc,
    )

    # ---------------------------------------------------------------- digit splitting
    dt = timeit(lambda: native.digit_split_offsets(arr))
    k_ds = report(
        "digit splitting", "kllama.native.digit_split_offsets (Arrow)", full, nbytes, len(docs), dt, None
    )
    dt = timeit(lambda: native.split_digits(sub))
    report(
        "digit splitting", "kllama.native.split_digits (list[list[str]])", subs, sub_bytes, len(sub), dt, k_ds
    )
    rx = re.compile(r"\d|\D+")
    dt = timeit(lambda: [rx.findall(d) for d in sub])
    report("digit splitting", "Python regex re.findall(r'\\d|\\D+')", subs, sub_bytes, len(sub), dt, k_ds)

    print("\nmarkdown:\n")
    print("| task | implementation | data | MB/s | docs/s | kllama is |")
    print("|---|---|---|---:|---:|---:|")
    for task, impl, data, mbs, dps, ratio in ROWS:
        print(f"| {task} | {impl} | {data} | {mbs:,.1f} | {dps:,.0f} | {ratio} |")


if __name__ == "__main__":
    main()
