"""``kllama download SOURCE --output DIR [--limit N]``: fetch a source's raw public dumps."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    from kllama.download import sources as s
    from kllama.download.sources import PLANNERS, URL_LIST_SOURCES

    p = sub.add_parser(
        "download", help="fetch raw public dumps (resumable, checksummed)",
        description="Fetch a source's raw dumps into DIR/<source>/ following its public layout. Resumable "
                    "(HTTP Range), checksums verified where published, retries with backoff; rerun to resume.")
    p.add_argument("source", choices=sorted([*PLANNERS, *URL_LIST_SOURCES]))
    p.add_argument("--output", required=True, help="download folder")
    p.add_argument("--limit", type=int, default=None,
                   help="at most N data files (per snapshot / language / split) -- for trials")
    p.add_argument("--urls", help="URL list file (URL [sha256:HEX] [SIZE] per line); required for github/code/books")
    p.add_argument("--base-url", help="a mirror with the same layout as the public host")
    p.add_argument("--snapshot", action="append", help="commoncrawl: CC-MAIN-YYYY-WW (repeatable; overrides "
                                                       "--snapshots)")
    p.add_argument("--snapshots", default="llama", choices=sorted(s.CC_SNAPSHOT_SETS),
                   help="commoncrawl: a named set of five snapshots: llama (default: "
                        + ", ".join(s.LLAMA_CC_SNAPSHOTS) + ", within LLaMA's 2017-2020) or redpajama ("
                        + ", ".join(s.REDPAJAMA_CC_SNAPSHOTS) + ")")
    p.add_argument("--languages", help="wikipedia: comma-separated codes (default: LLaMA's 20)")
    p.add_argument("--date", default="llama", help="wikipedia: llama (default: the June-August 2022 dumps LLaMA "
                                                   "used), latest, or a dump date YYYYMMDD")
    p.add_argument("--site", action="append", help="stackexchange: a site such as math.stackexchange.com "
                                                   "(repeatable; default: the 28 largest)")
    p.add_argument("--top-sites", type=int, default=28, help="stackexchange: how many of the largest sites")
    p.add_argument("--split", action="append", choices=["train", "validation"], help="c4: split(s) (default train)")
    p.add_argument("--variant", default="en", help="c4: en (default), en.noblocklist or realnewslike")
    p.add_argument("--yymm-from", help="arxiv: first month YYMM")
    p.add_argument("--yymm-to", help="arxiv: last month YYMM")
    p.add_argument("--manifest", help="arxiv: a local copy of arXiv_src_manifest.xml")
    p.add_argument("--concurrency", type=int, default=4, help="parallel transfers (default 4)")
    p.add_argument("--retries", type=int, default=5, help="retries per file with exponential backoff (default 5)")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds without data before a retry")
    p.add_argument("--dry-run", action="store_true", help="list the files, fetch nothing")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=main)


def plan(args: argparse.Namespace) -> list:
    """The files ``args`` asks for."""
    from kllama.download import sources as s

    http = {"retries": args.retries, "timeout": args.timeout}
    base = {"base_url": args.base_url} if args.base_url else {}
    if args.urls:
        return s.url_list_files(args.urls, args.source, limit=args.limit)
    if args.source in s.URL_LIST_SOURCES:
        raise ValueError(f"{args.source}: its dumps have no single public layout; list them with --urls FILE "
                         "(one URL [sha256:HEX] [SIZE] per line)")
    if args.source == "commoncrawl":
        snaps = args.snapshot or s.CC_SNAPSHOT_SETS[getattr(args, "snapshots", None) or "llama"]
        return s.commoncrawl_files(snaps, limit=args.limit, **base, **http)
    if args.source == "wikipedia":
        langs = [x.strip() for x in args.languages.split(",") if x.strip()] if args.languages else None
        return s.wikipedia_files(langs, args.date, limit=args.limit, **base, **http)
    if args.source == "stackexchange":
        return s.stackexchange_files(args.top_sites, args.site, limit=args.limit, **base, **http)
    if args.source == "c4":
        return s.c4_files(args.variant, tuple(args.split or ["train"]), limit=args.limit, **base)
    if args.source == "arxiv":
        return s.arxiv_files(limit=args.limit, yymm_from=args.yymm_from, yymm_to=args.yymm_to,
                             manifest=args.manifest)
    raise ValueError(f"unknown source {args.source!r}")


def main(args: argparse.Namespace) -> int:
    import json
    import sys
    from pathlib import Path

    from kllama.core.files import atomic_write_text
    from kllama.download import DownloadError, download_files

    try:
        files = plan(args)
    except DownloadError as exc:
        print(f"kllama download: error: {exc}", file=sys.stderr)
        return 2
    out = Path(args.output)
    known = sum(f.size for f in files if f.size)
    print(f"{args.source}: {len(files)} files" + (f", {known / 1e9:.2f} GB known" if known else ""), file=sys.stderr)
    if args.dry_run:
        for f in files:
            print(f"{f.url}\t{f.path}\t{f.size or '-'}\t" + ",".join(f"{k}:{v}" for k, v in f.checksums.items()))
        return 0
    report = download_files(files, out, concurrency=args.concurrency, retries=args.retries, timeout=args.timeout,
                            progress=not args.no_progress, desc=args.source)
    record = {"source": args.source,
              "files": [{"url": f.url, "path": f.path, "size": f.size, "checksums": f.checksums,
                         "ok": f.path not in report.failed} for f in files],
              "failed": report.failed}
    atomic_write_text(out / f"{args.source}.download.json", json.dumps(record, indent=1, sort_keys=True))
    print(f"{args.source}: {len(report.done)} files complete under {out}", file=sys.stderr)
    for path, why in sorted(report.failed.items()):
        print(f"  FAILED {path}: {why}", file=sys.stderr)
    return 0 if report.ok else 1
