"""``kllama export RUN --variant G1|G2|G3 [--format jsonl.zst|parquet] --output DIR``

jsonl.zst (default): Pile-like 00.jsonl.zst, 01.jsonl.zst, ... of every source mixed and shuffled with --seed, each
document repeated by the variant's epochs (manifest.json variants[G].weights; a fractional epoch is a deterministic
sample), lines {"text", "meta": {"pile_set_name", "source", "group", "variant", "id", "copy", "url", "lang",
"source_meta", "stages"}}. Memory stays bounded (a seeded external shuffle through spill files under DIR).

parquet: the variant's store shards, hard-linked, every document once.

Both write DIR/_export.json (files, counts per source, sha256 per file). Digits are split in the tokens
(kllama tokenize), not in exported text.

example:
  kllama export demo-out --variant G3 --output g3-pile --shard-size 500M --seed 1
"""

from __future__ import annotations

import argparse


def _workers(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="write one variant of a finished run (Pile-like jsonl.zst or Parquet)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run_dir", help="a finished run folder (holds manifest.json)")
    p.add_argument("--variant", required=True, help="G1, G2 or G3 (as named in the run's manifest)")
    p.add_argument("--format", default="jsonl.zst", choices=["jsonl.zst", "parquet"],
                   help="default: %(default)s")
    p.add_argument("--output", required=True, help="output folder (must be empty unless --force)")
    p.add_argument("--force", action="store_true",
                   help="replace an earlier export in --output (its files are removed first; a folder holding "
                        "other files is still refused)")
    p.add_argument("--shard-size", default=None, metavar="SIZE",
                   help="jsonl.zst: uncompressed bytes per file (500M, 1G, 1GiB) or documents per file "
                        "(100000docs); default 1G")
    p.add_argument("--seed", type=int, default=0, help="jsonl.zst: seed of the sample and the shuffle (default 0)")
    p.add_argument("--no-repeat", action="store_true",
                   help="jsonl.zst: write each document once instead of repeating it by the variant's epochs")
    p.add_argument("--workers", type=_workers, default=1,
                   help="jsonl.zst: processes for the scatter and zstd threads (default 1; the output does not "
                        "depend on it)")
    p.add_argument("--level", type=int, default=3, help="jsonl.zst: zstd level (default 3)")
    p.add_argument("--bucket-size", default="256M", metavar="SIZE",
                   help="jsonl.zst: the largest shuffle bucket held in memory (default 256M); bounds memory")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    import sys

    from kllama.export import export_variant, parse_shard_size

    if args.format == "parquet":
        ignored = [f for f, given in (("--shard-size", args.shard_size is not None), ("--seed", args.seed != 0),
                                      ("--no-repeat", args.no_repeat)) if given]
        if ignored:
            print(f"kllama export: {', '.join(ignored)} apply to jsonl.zst; the Parquet export is the store's "
                  "shards as they are", file=sys.stderr)
    bucket = parse_shard_size(args.bucket_size)
    if "bytes" not in bucket:
        raise ValueError(f"--bucket-size takes bytes (e.g. 256M), not {args.bucket_size!r}")
    info = export_variant(args.run_dir, args.variant, args.format, args.output, force=args.force, seed=args.seed,
                          repeat=not args.no_repeat, shard_size=args.shard_size, workers=args.workers,
                          level=args.level, bucket_bytes=bucket["bytes"])
    secs = max(info["seconds_total"], 1e-9)
    if args.format == "parquet":
        print(f"{args.variant}: {info['docs']} documents in {len(info['files'])} Parquet files under {args.output} "
              f"({sum(1 for f in info['files'] if f.get('linked'))} hard-linked)")
    else:
        mb = sum(f["bytes"] for f in info["files"]) / 1e6
        for name, s in info["sources"].items():
            print(f"  {name}: epochs {s['epochs']}, {s['docs']} documents -> {s['copies']} lines"
                  + (f" ({s['sampled_out']} sampled out)" if s["sampled_out"] else ""))
        print(f"{args.variant}: {info['docs']} lines in {len(info['files'])} files under {args.output}, "
              f"{mb:.1f} MB of JSON in {secs:.1f} s ({mb / secs:.1f} MB/s), "
              f"largest bucket in memory {info['shuffle']['largest_bucket_in_memory'] / 1e6:.1f} MB")
    print(f"manifest: {args.output}/_export.json")
    return 0
