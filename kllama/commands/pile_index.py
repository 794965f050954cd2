"""``kllama pile-index PILE_DIR --output INDEX``: build the Pile reference index (exact hashes + containment
sketches)."""

from __future__ import annotations

import argparse
from pathlib import Path

from kllama.commands._common import add_cluster_options, cluster_options


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("pile-index", help="index Pile jsonl.zst shards for the G3 (kinda-llama) labelling")
    p.add_argument("pile_dir", nargs="+", help="Pile shards: folders, files (.jsonl.zst, .jsonl.zst.tar) or globs")
    p.add_argument("--output", required=True, help="index folder")
    p.add_argument("--ngram", type=int, default=5, help="word n-gram size of the shingles (default 5)")
    p.add_argument("--sketch-min", type=int, default=16,
                   help="keys per document sketch at least (default 16; its whole shingle set when shorter)")
    p.add_argument("--sketch-max-level", type=int, default=7,
                   help="long documents keep one shingle in 2**LEVEL (default 7)")
    p.add_argument("--seed", type=int, default=1, help="shingle hash seed (default 1)")
    p.add_argument("--prefix-bits", type=int, default=8, help="key prefix bits of the partitioning (default 8)")
    p.add_argument("--serial", action="store_true", help="index in this process, without a Dask cluster "
                   "(the same engine stage and markers)")
    add_cluster_options(p)
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from kllama.dedup.pile_index import IndexSettings, finish_index, index_tasks, prepare_index
    from kllama.engine.runner import StageRunner

    if getattr(args, "dry_run", False):  # the job script that --cluster slurm|pbs would submit; nothing runs
        if args.cluster not in ("slurm", "pbs"):
            raise ValueError(f"pile-index --dry-run prints the job script of --cluster slurm|pbs; --cluster "
                             f"{args.cluster} submits no job")
        from kllama.engine.jobqueue import describe_job_script

        options = cluster_options(args)
        print(describe_job_script(args.cluster, options.pop("config", None), options), end="")
        return 0
    if not 1 <= args.prefix_bits <= 16:
        raise ValueError("--prefix-bits must be between 1 and 16")
    if args.sketch_min < 1 or not 0 <= args.sketch_max_level <= 32:
        raise ValueError("--sketch-min must be >= 1 and --sketch-max-level between 0 and 32")
    s = IndexSettings(ngram=args.ngram, seed=args.seed, prefix_bits=args.prefix_bits, sketch_min=args.sketch_min,
                      sketch_max_level=args.sketch_max_level)
    shards = prepare_index(args.pile_dir, args.output, s)
    # an engine task stage (markers, retries, quarantine): `kllama status INDEX` shows it
    if args.serial:
        res = StageRunner(None, Path(args.output), progress=False).spec_stage(
            "pile-index", index_tasks(shards, args.output, s))
    else:
        from kllama.engine.cluster import open_client

        with open_client(args.cluster, args.workers, **cluster_options(args)) as client:
            res = StageRunner(client, Path(args.output), progress=not args.no_progress).spec_stage(
                "pile-index", index_tasks(shards, args.output, s))
    meta = finish_index(args.output, shards, s, res.results())
    drops = ", ".join(f"{k}={v}" for k, v in sorted(meta["ledger"]["dropped"].items())) or "none"
    print(f"indexed {meta['docs']} documents from {len(meta['shards'])} shards into {args.output}: "
          f"{meta['index_bytes'] / 1e6:.2f} MB ({meta['bytes_per_million_docs'] / 1e6:.1f} MB per million documents); "
          f"dropped: {drops}")
    for name, n in meta["sets"].items():
        print(f"  {name}: {n}")
    return 0
