"""Fast encoder (tiktoken) vs HF ``tokenizers``: MB/s per core on the same real text, and what ``kllama tokenize``
gains end to end.

Run: ``python benchmarks/bench_tokenize_fast.py [--mb 4] [--e2e-mb 12] [--rounds 3] [--sweep]``

1. One thread, CPU time of the encoding thread, best of ``--rounds`` interleaved rounds, batches of 1024
   documents: HF ``encode_batch_fast`` (``TOKENIZERS_PARALLELISM=false``) and the fast encoder, each without and
   with kllama's digit splitting; every pair is checked to give identical ids document for document.
2. End to end, CPU seconds converted to core-hours per TB of text: ``kllama tokenize --jsonl`` in this process
   (read JSONL + tokenize + write) and the shard tasks of ``kllama tokenize RUN_DIR --variant`` (read Parquet +
   tokenize + write, the sidecar's ``task_cpu_seconds`` of one worker less its one tokenizer setup, a fixed cost
   per worker process that is printed on its own), with ``--encoder hf`` and ``--encoder fast``.
3. ``--sweep``: every Unicode code point (surrogates excepted) in contexts that show how it is classed and
   composed, through both encoders with and without digit splitting (about 5 minutes); prints the mismatches.

Corpus: ``bench_tokenize.build_corpus`` -- real text from ../shared/samples (English Wikipedia wikitext,
Gutenberg books, StackExchange posts, arXiv LaTeX, Python code) cut into ~4 KB documents.
"""

from __future__ import annotations

import os

os.environ["TOKENIZERS_PARALLELISM"] = "false"  # one thread (read by tokenizers at each call)

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from bench_tokenize import build_corpus, cpu_timed  # noqa: E402

TB = 1e12


def part1(docs: list[str], rounds: int) -> list[tuple[str, ...]]:
    from kllama.tokenize.tokenizer import DigitSplitTokenizer

    mb = sum(len(d.encode()) for d in docs) / 1e6
    toks = {(enc, split): DigitSplitTokenizer(split_digits=split, encoder=enc)
            for enc in ("hf", "fast") for split in (False, True)}
    batch = 1024

    def run(tok: DigitSplitTokenizer) -> list[list[int]]:
        ids: list[list[int]] = []
        for i in range(0, len(docs), batch):
            ids += tok.encode_batch(docs[i:i + batch])
        return ids

    t, ids = cpu_timed({k: (lambda tok=tok: run(tok)) for k, tok in toks.items()}, rounds)
    rows = []
    for split in (False, True):
        hf, fast = t[("hf", split)], t[("fast", split)]
        diff = sum(a != b for a, b in zip(ids[("hf", split)], ids[("fast", split)], strict=True))
        name = "digits split" if split else "no digit split"
        rows.append((name, f"{mb / hf:.2f}", f"{mb / fast:.2f}", f"{hf / fast:.2f}x",
                     "identical" if diff == 0 else f"{diff} docs DIFFER"))
    base = t[("hf", False)]
    rows.append(("digit split vs plain HF", "", "", f"{base / t[('fast', True)]:.2f}x", "(fast+digits vs plain HF)"))
    return rows


def part2(docs: list[str]) -> list[tuple[str, ...]]:
    from kllama.tokenize.jsonl import tokenize_jsonl
    from kllama.tokenize.tokenizer import DigitSplitTokenizer
    from kllama.tokenize.variant import tokenize_variant
    from tests.tokenize.helpers import write_shard

    mb = sum(len(d.encode()) for d in docs) / 1e6
    rows = []
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        with open(d / "c.jsonl", "w") as f:
            for t in docs:
                f.write(json.dumps({"text": t}) + "\n")
        shards = []
        for k in range(4):
            rel = f"shards/core/web/part-{k:05d}.parquet"
            rows_ = [{"id": f"web/{k}-{i}", "text": t, "source": "web", "group": "core"}
                     for i, t in enumerate(docs[k::4])]
            shards.append({"path": rel, "source": "web", "group": "core", **write_shard(d / "run" / rel, rows_)})
        (d / "run" / "manifest.json").write_text(json.dumps(
            {"shards": shards, "variants": {"G1": {"groups": ["core"], "weights": {}}}}))
        cost: dict[tuple[str, str], float] = {}
        setup: dict[str, float] = {}
        outputs: dict[tuple[str, str], bytes] = {}
        for enc in ("hf", "fast"):
            c0 = time.process_time()
            tok = DigitSplitTokenizer(encoder=enc)  # what every worker process does once (load, self-check)
            setup[enc] = time.process_time() - c0
            c0 = time.process_time()
            tokenize_jsonl(d / "c.jsonl", d / f"j-{enc}", tok)
            cost[("jsonl", enc)] = time.process_time() - c0
            outputs[("jsonl", enc)] = (d / f"j-{enc}.bin").read_bytes()
            res = tokenize_variant(d / "run", "G1", d / f"v-{enc}", workers=1, quiet=True, encoder=enc)
            # one worker process: its tasks' CPU time holds one tokenizer setup, a fixed cost per worker
            cost[("variant", enc)] = res.sidecar["task_cpu_seconds"] - setup[enc]
            outputs[("variant", enc)] = (d / f"v-{enc}.bin").read_bytes()
    for form, label in (("jsonl", "kllama tokenize --jsonl (read JSONL + tokenize + write)"),
                        ("variant", "kllama tokenize RUN_DIR --variant, shard tasks (Parquet + tokenize + write)*")):
        hf, fast = cost[(form, "hf")], cost[(form, "fast")]
        same = outputs[(form, "hf")] == outputs[(form, "fast")]
        rows.append((label, f"{mb / hf:.2f}", f"{mb / fast:.2f}", f"{hf / mb * TB / 1e6 / 3600:.1f}",
                     f"{fast / mb * TB / 1e6 / 3600:.1f}", f"{hf / fast:.2f}x", "same bytes" if same else "BYTES DIFFER"))
    rows.append(("tokenizer setup, once per process (s): load + fast encoder's self-check", f"{setup['hf']:.2f}",
                 f"{setup['fast']:.2f}", "", "", "", "*subtracted above"))
    return rows


def sweep() -> list[str]:
    from kllama.tokenize.tokenizer import DigitSplitTokenizer

    cps = [c for c in range(0x110000) if not 0xD800 <= c < 0xE000]
    out = []
    for split in (False, True):
        fast = DigitSplitTokenizer(split_digits=split, encoder="fast")
        hf = DigitSplitTokenizer(split_digits=split, encoder="hf")
        bad = 0
        for i in range(0, len(cps), 256):
            chunk = cps[i:i + 256]
            texts = [f"x{chr(c)}y 1{chr(c)}2 .{chr(c)}. {chr(c)}\n{chr(c)}{chr(c)}z  {chr(c)} {chr(c)}\u0301"
                     for c in chunk]
            for c, a, b in zip(chunk, fast.encode_batch(texts), hf.encode_batch(texts), strict=True):
                if a != b:
                    bad += 1
                    if bad <= 20:
                        out.append(f"  split_digits={split}: U+{c:04X} differs")
        out.append(f"split_digits={split}: {len(cps)} code points, {bad} differ")
    return out


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for r in [header, *rows]:
        print("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=float, default=4.0, help="corpus size for part 1 in MB (default 4)")
    ap.add_argument("--e2e-mb", type=float, default=12.0, help="corpus size for part 2 in MB (default 12)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--sweep", action="store_true", help="also compare every Unicode code point (slow)")
    args = ap.parse_args()
    import tiktoken
    import tokenizers

    docs, origin = build_corpus(args.mb)
    mb = sum(len(d.encode()) for d in docs) / 1e6
    print(f"corpus: {len(docs)} documents, {mb:.2f} MB from {origin}; cpu count {os.cpu_count()}; "
          f"tokenizers {tokenizers.__version__}, tiktoken {tiktoken.__version__}")
    print(f"\n1. MB/s per core (CPU time of one thread), best of {args.rounds} interleaved rounds")
    _table(("", "HF MB/s", "fast MB/s", "speed-up", "ids"), part1(docs, args.rounds))
    docs, _ = build_corpus(args.e2e_mb)
    mb = sum(len(d.encode()) for d in docs) / 1e6
    print(f"\n2. end to end on {mb:.2f} MB (CPU seconds of everything, one worker)")
    _table(("", "HF MB/s", "fast MB/s", "HF core-h/TB", "fast core-h/TB", "gain", "output"), part2(docs))
    if args.sweep:
        print("\n3. every Unicode code point")
        for line in sweep():
            print(line)


if __name__ == "__main__":
    main()
