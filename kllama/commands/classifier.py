"""``kllama classifier train|urls``: LLaMA's Wikipedia-reference classifier (logic in
:mod:`kllama.models.classifier`).

``train`` fits a fastText linear classifier: positives are pages cited by Wikipedia (given as WET or WARC
files, e.g. fetched from the URLs that ``urls`` lists), negatives are random CommonCrawl pages (WET/WARC
files, or a kllama run folder's pages as read, before any filter). **Both sides go through the same steps**
(:func:`prepare_texts`: the same reader, cc_net's line dedup within each side, at least ``--min-chars``
(1000) characters, language id keeping ``--lang``), so the classifier cannot tell them apart by their
processing. Labels are ``__label__wiki`` / ``__label__cc``; the larger side is subsampled (by hash order) to
the smaller one; ``--heldout`` (10%) of each is kept out of training, and the held-out accuracy and AUC are
printed. Deterministic: one thread, a fixed seed, inputs ordered by hash.
"""

from __future__ import annotations

import argparse
import os


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("classifier", help="train the Wikipedia-reference classifier, list a dump's <ref> URLs")
    csub = p.add_subparsers(dest="classifier_command", metavar="ACTION", required=True)
    t = csub.add_parser("train", help="fastText __label__wiki vs __label__cc")
    t.add_argument("--positives", nargs="+", required=True, help="WET/WARC files (or folders) of cited pages")
    t.add_argument("--negatives", nargs="+", required=True,
                   help="WET/WARC files (or folders) of random CommonCrawl pages, or a kllama run folder")
    t.add_argument("--output", required=True, help="model file to write")
    t.add_argument("--min-chars", type=int, default=1000)
    t.add_argument("--epoch", type=int, default=5)
    t.add_argument("--lr", type=float, default=0.1)
    t.add_argument("--word-ngrams", type=int, default=2)
    t.add_argument("--max-per-class", type=int, default=0, help="cap per label (0 = balance only)")
    t.add_argument("--dim", type=int, default=50)
    t.add_argument("--bucket", type=int, default=2_000_000, help="fastText hash buckets for word n-grams")
    t.add_argument("--lang", action="append", default=None, help="languages kept on both sides (default: en)")
    t.add_argument("--no-line-dedup", action="store_true", help="skip cc_net's line dedup on both sides")
    t.add_argument("--heldout", type=float, default=0.1, help="share of each side held out for evaluation")
    t.set_defaults(func=_train)
    u = csub.add_parser("urls", help="print the URLs inside <ref> tags of a pages-articles dump")
    u.add_argument("dump", help="pages-articles XML (.xml or .xml.bz2)")
    u.add_argument("--max-pages", type=int, default=0)
    u.set_defaults(func=_urls)


def _negative_texts(paths: list[str]) -> list[str]:
    from kllama.models.classifier import iter_page_texts, iter_run_texts

    if len(paths) == 1 and os.path.isdir(paths[0]) and (
            os.path.isdir(os.path.join(paths[0], "stages")) or os.path.isdir(os.path.join(paths[0], "shards"))):
        return list(iter_run_texts(paths[0]))
    return list(iter_page_texts(paths))


def prepare_texts(texts: list[str], min_chars: int = 1000, languages: tuple[str, ...] | list[str] = ("en",),
                  line_dedup: bool = True, lid_model: str = "models:lid.176.bin",
                  lid_threshold: float = 0.5) -> tuple[list[str], dict[str, int]]:
    """The steps both sides of the training data go through, in the order a CommonCrawl run applies them:
    cc_net's line dedup within the set (``line_dedup``), at least ``min_chars`` characters, and cc_net's
    language id keeping ``languages``. Returns the texts left and the count each step removed."""
    from kllama.core.document import Document, documents_to_table, schema_with, table_to_documents
    from kllama.core.ledger import Ledger
    from kllama.dedup.ccnet_lines import CCNetLineDedup
    from kllama.engine.inprocess import run_global_in_process
    from kllama.filters.ccnet import CCNetLangId

    counts = {"in": len(texts), "line_dedup_empty": 0, "short": 0, "lang": 0}
    docs = [Document(id=f"t{i:08d}", text=t, source="classifier") for i, t in enumerate(texts) if t]
    if line_dedup and docs:
        table = run_global_in_process(CCNetLineDedup(scope="all", num_buckets=1),
                                      [documents_to_table(docs, schema_with({}))]).tables[0]
        counts["line_dedup_empty"] = len(docs) - table.num_rows
        docs = table_to_documents(table)
    long_docs = [d for d in docs if len(d.text) >= min_chars]
    counts["short"] = len(docs) - len(long_docs)
    kept = CCNetLangId(model=lid_model, threshold=lid_threshold, keep=list(languages)).process(long_docs, Ledger()) \
        if long_docs and languages else long_docs
    counts["lang"] = len(long_docs) - len(kept)
    counts["out"] = len(kept)
    return [d.text for d in kept], counts


def _train(args: argparse.Namespace) -> int:
    from kllama.models.classifier import iter_page_texts, train_classifier

    langs = tuple(args.lang or ["en"])
    sides = {}
    for side, texts in (("positives", list(iter_page_texts(args.positives))),
                        ("negatives", _negative_texts(args.negatives))):
        kept, counts = prepare_texts(texts, args.min_chars, langs, line_dedup=not args.no_line_dedup)
        sides[side] = kept
        print(f"{side}: {counts['in']} read, -{counts['line_dedup_empty']} empty after line dedup, "
              f"-{counts['short']} shorter than {args.min_chars}, -{counts['lang']} not {'/'.join(langs)}: "
              f"{counts['out']} usable")
    res = train_classifier(sides["positives"], sides["negatives"], args.output, args.epoch, args.lr,
                           args.word_ngrams, args.max_per_class, args.dim, args.bucket, heldout=args.heldout)
    print(f"trained on {res['wiki']:.0f} + {res['cc']:.0f} -> {args.output}")
    print(f"held out {res['heldout_wiki']:.0f} + {res['heldout_cc']:.0f}: accuracy {res['accuracy']:.3f}, "
          f"AUC {res['auc']:.3f}")
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
