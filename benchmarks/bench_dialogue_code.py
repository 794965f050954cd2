"""G2 dialogue, reasoning and code extras: each reader in MB/s per core, and the memory of the Pushshift thread
rebuild for a month-sized input scaled down.

    python benchmarks/bench_dialogue_code.py [--scale N] [--buckets B]

Readers (one process, CPU seconds, so the rates are per core; MB = MB of uncompressed input), each beside a floor
that does only the parsing any reader must do, printed as a ratio:

* ``irc``: the three real #ubuntu test excerpts repeated into one day file; floor: decode + one regex per line;
* ``reddit``: a generated Pushshift-like comment month (zstd, 2 GiB window); floor: the same stream, ``json.loads``
  per line;
* ``oasst``: generated message trees (gzip); floor: ``json.loads`` per line;
* ``reasoning``: the real GSM8K test excerpt repeated; floor: ``json.loads`` per line;
* ``code_extra`` (the github reader) on code files of tests/data repeated, and its ``dedup_against`` keys
  (exact + 16 LSH bands) against ``exact_dedup`` + ``minhash_lsh`` keys (what the same checks cost within a source).

Thread rebuild: ``--scale`` comments (default 200,000; a big month has ~300 million) on ~10 comments per
submission, keyed by ``reddit_threads.emit_keys``; the key rows are cut into ``--buckets`` buckets as the engine
does and the peak memory (tracemalloc: Python and numpy allocations) of ``resolve`` on the largest bucket is
compared with a one-dictionary rebuild that holds every record of the month (ids, parents, scores and texts), as a
script without the engine would. Both then scale linearly: the engine's per-task peak with records / buckets, the
dictionary's with the whole month.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
import tempfile
import time
import tracemalloc
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402

from kllama.core.document import documents_to_table, schema_with  # noqa: E402
from kllama.core.ledger import Ledger  # noqa: E402
from kllama.dedup.dedup_against import DedupAgainst  # noqa: E402
from kllama.dedup.exact import ExactDedup  # noqa: E402
from kllama.dedup.minhash_lsh import MinHashLSH  # noqa: E402
from kllama.dedup.reddit_threads import RedditThreads  # noqa: E402
from kllama.formats.jsonlines import PUSHSHIFT_WINDOW_SIZE, open_decompressed  # noqa: E402
from kllama.sources.github import GithubSource  # noqa: E402
from kllama.sources.irc import IrcSource  # noqa: E402
from kllama.sources.oasst import OasstSource  # noqa: E402
from kllama.sources.reasoning import ReasoningSource  # noqa: E402
from kllama.sources.reddit import RedditSource  # noqa: E402
from tools.make_demo.dialogue import oasst_trees, pushshift_month, zst_pushshift  # noqa: E402

TESTS = REPO / "tests" / "data"
#: comments in a big Pushshift month (RC_2023-01 holds about 300 million)
MONTH_COMMENTS = 300_000_000


def timed(fn, min_s: float = 1.0):
    """CPU seconds per call of ``fn`` (repeated until ``min_s`` CPU seconds have passed) and its result."""
    calls, t0 = 0, time.process_time()
    while True:
        out = fn()
        calls += 1
        spent = time.process_time() - t0
        if spent >= min_s:
            return max(spent / calls, 1e-9), out


def read_all(src, path: Path) -> int:
    src.source_name = src.name
    return sum(1 for _ in src.read(str(path), Ledger()))


def json_floor(path: Path, window: int | None = None) -> int:
    n = 0
    with open(path, "rb") as raw:
        stream = open_decompressed(raw, str(path), **({"max_window_size": window} if window else {}))
        for line in stream:
            if line.strip():
                json.loads(line)
                n += 1
    return n


_IRC = re.compile(r"^\[(\d{1,2}):(\d{2})\] <([^>]+)> (.*)$")


def irc_floor(path: Path) -> int:
    n = 0
    with open(path, "rb") as f:
        for line in f:
            if _IRC.match(line.decode("utf-8", "replace")):
                n += 1
    return n


def row(name: str, mb: float, cpu_s: float, floor_s: float, note: str) -> None:
    print(f"{name:<12} {mb:8.1f} MB {mb / cpu_s:9.2f} MB/s/core   floor {mb / floor_s:9.2f} MB/s/core   "
          f"reader/floor {cpu_s / floor_s:5.2f}x   {note}")


def bench_readers(tmp: Path) -> None:
    print("reader        input      kllama                floor (parse only)          cost ratio")
    # irc: the real excerpts, repeated into one day file (times run on, one conversation per silence)
    day = tmp / "irc" / "2016" / "02" / "22" / "#ubuntu.txt"
    day.parent.mkdir(parents=True)
    text = b"".join(p.read_bytes() for p in sorted((TESTS / "dialogue" / "ubuntu-irc").rglob("*.txt")))
    day.write_bytes(text * max(1, (8 << 20) // len(text)))
    mb = day.stat().st_size / 1e6
    t, n = timed(lambda: read_all(IrcSource(nicks="pseudonym"), day))
    f, _ = timed(lambda: irc_floor(day))
    row("irc", mb, t, f, f"{n} conversations, pseudonyms on")
    t, n = timed(lambda: read_all(IrcSource(nicks="keep"), day))
    row("irc (keep)", mb, t, f, "nicks kept")
    # reddit: a generated comment month
    _, coms = pushshift_month(seed=1, submissions=4000, comments_per=25)
    rc = tmp / "RC_2006-01.zst"
    rc.write_bytes(zst_pushshift(coms))
    mb = sum(len(json.dumps(c)) + 1 for c in coms) / 1e6
    t, n = timed(lambda: read_all(RedditSource(), rc))
    f, _ = timed(lambda: json_floor(rc, PUSHSHIFT_WINDOW_SIZE))
    row("reddit", mb, t, f, f"{n} of {len(coms)} comments kept (zstd --long=31 stream)")
    # oasst
    trees = oasst_trees(seed=1, n=6000)
    data = "".join(json.dumps(x) + "\n" for x in trees).encode()
    path = tmp / "trees.jsonl.gz"
    path.write_bytes(gzip.compress(data, 1))
    t, n = timed(lambda: read_all(OasstSource(), path))
    f, _ = timed(lambda: json_floor(path))
    row("oasst", len(data) / 1e6, t, f, f"{n} conversations")
    # reasoning
    gsm = (TESTS / "reasoning" / "gsm8k-test-excerpt.jsonl").read_bytes()
    path = tmp / "gsm8k.jsonl"
    path.write_bytes(gsm * max(1, (6 << 20) // len(gsm)))
    t, n = timed(lambda: read_all(ReasoningSource(calculator="work"), path))
    f, _ = timed(lambda: json_floor(path))
    row("reasoning", path.stat().st_size / 1e6, t, f, f"{n} problems, calculator=work")
    # code_extra: the github reader under the name code_extra, then the dedup_against keys
    files = [p for p in (TESTS / "code" / "files").rglob("*") if p.is_file() and p.stat().st_size < 200_000]
    recs = [{"code": p.read_text("utf-8", "replace"), "repo_name": "r", "path": p.name, "license": "mit"}
            for p in files]
    lines = "".join(json.dumps(r) + "\n" for r in recs).encode()
    path = tmp / "code.jsonl"
    path.write_bytes(lines * max(1, (8 << 20) // len(lines)))
    src = GithubSource()
    src.source_name = "code_extra"
    t, docs = timed(lambda: list(src.read(str(path), Ledger())))
    f, _ = timed(lambda: json_floor(path))
    row("code_extra", path.stat().st_size / 1e6, t, f, f"{len(docs)} files (github reader)")
    table = documents_to_table(docs, schema_with({}))
    mb = sum(len(d.text.encode()) for d in docs) / 1e6
    against = DedupAgainst(sources=["github"], near={"threshold": 0.85})
    t, _ = timed(lambda: against.emit_keys(table))
    within = [ExactDedup(), MinHashLSH(ngram=5, bands=16, rows=8, threshold=0.85)]
    f, _ = timed(lambda: [s.emit_keys(table) for s in within])
    row("  keys", mb, t, f, "dedup_against keys vs exact_dedup + minhash_lsh keys (MB of code text)")


def _one_dict(subs: list[dict], coms: list[dict]) -> int:
    """The rebuild without the engine: every record of the month in dictionaries, texts included."""
    by_link: dict[str, list] = defaultdict(list)
    posts = {f"t3_{s['id']}": (s["title"], s["selftext"], s["score"]) for s in subs}
    for c in coms:
        by_link[c["link_id"]].append((f"t1_{c['id']}", c["parent_id"], c["score"], c["created_utc"], c["body"]))
    kept = 0
    for link, items in by_link.items():
        if link not in posts:
            continue
        children: dict[str, list] = defaultdict(list)
        for it in sorted(items, key=lambda x: (-x[2], x[3])):
            children[it[1]].append(it)
        kept += len(children.get(link, [])[:3])
    return kept


def bench_threads(scale: int, buckets: int) -> None:
    per = 10
    subs, coms = pushshift_month(seed=3, submissions=max(1, scale // per), comments_per=per)
    src = RedditSource(min_score=-100, bot_pattern=None, bots=())
    src.source_name = "reddit"
    docs = []
    for kind, records in (("submission", subs), ("comment", coms)):
        for r in records:
            d = src.record_document(r, kind)
            if not isinstance(d, str):
                docs.append(d)
    table = documents_to_table(docs, schema_with({}))
    step = RedditThreads(num_buckets=buckets)
    t_keys, keys = timed(lambda: step.emit_keys(table), 0.0)
    keys = keys.append_column("part", pa.array(np.zeros(keys.num_rows, np.int32)))
    bucket_of = keys.column("key").to_numpy() % np.uint64(buckets)
    sizes = np.bincount(bucket_of.astype(np.int64), minlength=buckets)
    big = int(np.argmax(sizes))
    part = keys.filter(pa.array(bucket_of == big))
    tracemalloc.start()
    t0 = time.process_time()
    step.resolve(part)
    t_resolve = time.process_time() - t0
    _, peak_bucket = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    tracemalloc.start()
    _one_dict(subs, coms)
    _, peak_dict = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    n = len(docs)
    print(f"\nthread rebuild, {len(coms):,} comments + {len(subs):,} submissions ({n:,} records kept by the reader),"
          f" {buckets} buckets")
    print(f"  keys: {keys.nbytes / n:.0f} bytes per record, {n / t_keys:,.0f} records/s/core; "
          f"largest bucket {sizes.max():,} rows, {part.nbytes / 1e6:.1f} MB of key rows, resolve "
          f"{part.num_rows / max(t_resolve, 1e-9):,.0f} rows/s/core")
    print(f"  peak memory: one bucket task {peak_bucket / 1e6:.1f} MB (+ its key rows), one dictionary of the month "
          f"{peak_dict / 1e6:.1f} MB: {peak_dict / max(peak_bucket + part.nbytes, 1):.1f}x")
    factor = MONTH_COMMENTS / max(len(coms), 1)
    print(f"  a {MONTH_COMMENTS / 1e6:.0f} M-comment month ({factor:.0f}x): one dictionary ~{peak_dict * factor / 1e9:.0f}"
          f" GB; the engine with 1024 buckets ~{(peak_bucket + part.nbytes) * factor * buckets / 1024 / 1e6:.0f} MB "
          f"per bucket task, key tables ~{keys.nbytes * factor / 1e9:.0f} GB on disk in all")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", type=int, default=200_000, help="comments in the scaled-down month")
    ap.add_argument("--buckets", type=int, default=16, help="buckets of the thread rebuild")
    ap.add_argument("--skip-readers", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if not args.skip_readers:
            bench_readers(Path(tmp))
    bench_threads(args.scale, args.buckets)


if __name__ == "__main__":
    main()
