"""``kllama classifier train|urls``: LLaMA's Wikipedia-reference classifier (logic in
:mod:`kllama.models.classifier`).

``train`` fits a fastText linear classifier: positives are pages cited by Wikipedia (given as WET or WARC
files, e.g. fetched from the URLs that ``urls`` lists), negatives are random CommonCrawl pages from a kllama
run folder. Both sides keep documents of at least ``--min-chars`` (1000) characters; labels are
``__label__wiki`` / ``__label__cc``; the larger side is subsampled (deterministically) to the smaller one.
"""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("classifier", help="train the Wikipedia-reference classifier, list a dump's <ref> URLs")
    csub = p.add_subparsers(dest="classifier_command", metavar="ACTION", required=True)
    t = csub.add_parser("train", help="fastText __label__wiki vs __label__cc")
    t.add_argument("--positives", nargs="+", required=True, help="WET/WARC files (or folders) of cited pages")
    t.add_argument("--negatives", required=True, help="a kllama run folder with CommonCrawl documents")
    t.add_argument("--output", required=True, help="model file to write")
    t.add_argument("--min-chars", type=int, default=1000)
    t.add_argument("--epoch", type=int, default=5)
    t.add_argument("--lr", type=float, default=0.1)
    t.add_argument("--word-ngrams", type=int, default=2)
    t.add_argument("--max-per-class", type=int, default=0, help="cap per label (0 = balance only)")
    t.add_argument("--dim", type=int, default=50)
    t.add_argument("--bucket", type=int, default=2_000_000, help="fastText hash buckets for word n-grams")
    t.set_defaults(func=_train)
    u = csub.add_parser("urls", help="print the URLs inside <ref> tags of a pages-articles dump")
    u.add_argument("dump", help="pages-articles XML (.xml or .xml.bz2)")
    u.add_argument("--max-pages", type=int, default=0)
    u.set_defaults(func=_urls)


def _train(args: argparse.Namespace) -> int:
    from kllama.models.classifier import iter_positive_texts, iter_run_texts, train_classifier

    pos = [t for t in iter_positive_texts(args.positives) if len(t) >= args.min_chars]
    neg = [t for t in iter_run_texts(args.negatives) if len(t) >= args.min_chars]
    counts = train_classifier(pos, neg, args.output, args.epoch, args.lr, args.word_ngrams, args.max_per_class,
                              args.dim, args.bucket)
    print(f"positives: {len(pos)} usable, negatives: {len(neg)} usable; trained on "
          f"{counts['wiki']} + {counts['cc']} -> {args.output}")
    return 0


def _urls(args: argparse.Namespace) -> int:
    from kllama.models.classifier import iter_dump_texts, ref_urls

    seen: set[str] = set()
    for text in iter_dump_texts(args.dump, args.max_pages):
        for url in ref_urls(text):
            if url not in seen:
                seen.add(url)
                print(url)
    return 0
