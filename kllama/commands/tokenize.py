"""``kllama tokenize``: RWKV-ready binidx files with single-digit numbers.

Two forms:

* ``kllama tokenize --jsonl FILE --output PREFIX``: a JSONL file with a ``text`` field (like json2binidx);
* ``kllama tokenize RUN_DIR --variant G1|G2|G3 --output PREFIX``: a run's shards for one variant, weighted by
  the variant's epochs per source (or, with ``--tokens N``, by the epochs that give LLaMA's Table 1 mix of N
  tokens), shuffled with ``--seed``. Each shard is tokenized once into the run's token store (RUN_DIR/tokens)
  and reused by every later variant; the work runs as engine stages shown by ``kllama status RUN_DIR``.

Both print the RWKV-LM flags ``--my_exit_tokens`` and ``--magic_prime`` for ``--ctx-len``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("tokenize", help="tokenize to RWKV binidx (20B tokenizer, digits split)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run_dir", nargs="?", help="a finished run folder (holds manifest.json)")
    p.add_argument("--jsonl", help="tokenize this JSONL(.gz/.zst) file instead of a run")
    p.add_argument("--variant", help="G1, G2 or G3 (a variant named in the run's manifest)")
    p.add_argument("--output", required=True, help="output prefix: writes PREFIX.bin and PREFIX.idx")
    p.add_argument("--tokenizer", default=None, help="tokenizer.json (default: the bundled 20B_tokenizer.json)")
    p.add_argument("--no-split-digits", action="store_true", help="keep the tokenizer's own digit merges")
    p.add_argument("--encoder", choices=("auto", "hf", "fast"), default="auto",
                   help="auto (default): the fast tiktoken encoder when its identity self-check passes for the "
                        "tokenizer file, else HF tokenizers; hf or fast forces one (same ids)")
    p.add_argument("--ctx-len", type=int, default=4096, help="context length for --magic_prime (default 4096)")
    p.add_argument("--seed", type=int, default=0, help="seed of the sampling and the shuffle (default 0)")
    p.add_argument("--workers", type=_positive, default=None,
                   help="Dask worker processes, RUN_DIR form (default: the number of CPUs)")
    p.add_argument("--cluster", default="local", help="local (default), slurm, pbs or a scheduler address")
    p.add_argument("--force", action="store_true", help="overwrite an existing output")
    p.add_argument("--tokens", type=float, default=None, metavar="N",
                   help="token budget (RUN_DIR form): each source's epochs from the store's token counts so that "
                        "the variant matches --proportions (e.g. 1e9)")
    p.add_argument("--proportions", default="llama",
                   help="with --tokens: 'llama' (Table 1: commoncrawl 67, c4 15, github/wikipedia/books 4.5, "
                        "arxiv 2.5, stackexchange 2 %%) or NAME=PERCENT,...")
    # G2 A.6 (kllama/tokenize/work_tokens.py): Galactica's <work> tags as plain text or as two new ids
    p.add_argument("--work-tokens", choices=("text", "added"), default="text",
                   help="text (default): <work> and </work> stay plain text for the unchanged tokenizer; added: "
                        "two new ids after the vocabulary, the extended tokenizer written to PREFIX.tokenizer.json")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from kllama.tokenize.binidx import exists
    from kllama.tokenize.rwkv import magic_prime_warning, rwkv_settings

    if bool(args.jsonl) == bool(args.run_dir):
        raise ValueError("give either RUN_DIR (with --variant) or --jsonl FILE")
    if args.run_dir and not args.variant:
        raise ValueError("RUN_DIR needs --variant (G1, G2 or G3)")
    if args.jsonl and os.path.isdir(args.jsonl):
        raise ValueError(f"--jsonl takes one JSON-lines file (.jsonl, .jsonl.gz, .jsonl.zst), and {args.jsonl} is a "
                         "folder; for a finished run folder use: kllama tokenize RUN_DIR --variant G1|G2|G3 "
                         "--output PREFIX")
    if args.jsonl and not os.path.exists(args.jsonl):
        raise FileNotFoundError(f"--jsonl {args.jsonl}: no such file")
    if exists(args.output) and not args.force:
        raise FileExistsError(f"{args.output}.bin/.idx exists; pass --force to overwrite")
    split = not args.no_split_digits
    work = None
    if args.work_tokens == "added":  # G2 A.6: tokenize with a copy of the tokenizer that has the <work> tags
        from kllama.tokenize.work_tokens import write_work_tokenizer

        work = write_work_tokenizer(args.tokenizer, args.output)
        args.tokenizer = str(work.path)
    t0 = time.perf_counter()
    if args.jsonl:
        from kllama.tokenize.jsonl import tokenize_jsonl
        from kllama.tokenize.tokenizer import DigitSplitTokenizer

        tok = DigitSplitTokenizer(args.tokenizer, split_digits=split, encoder=args.encoder)
        print(f"encoder: {tok.encoder_name} ({tok.encoder_note})")
        res = tokenize_jsonl(args.jsonl, args.output, tok)
        tokens, docs, led = res.tokens, res.docs, res.ledger
    else:
        from kllama.tokenize.variant import tokenize_variant

        vres = tokenize_variant(args.run_dir, args.variant, args.output, tokenizer_path=args.tokenizer,
                                split_digits=split, seed=args.seed, workers=args.workers, cluster=args.cluster,
                                ctx_len=args.ctx_len, encoder=args.encoder,
                                tokens=int(args.tokens) if args.tokens else None, proportions=args.proportions)
        tokens, docs, led = vres.tokens, vres.docs, vres.ledger
        print(f"encoder: {vres.sidecar['encoder']} ({vres.sidecar['encoder_note']})")
        for name, s in vres.per_source.items():
            print(f"  {name}: epochs {s.get('epochs')}, {s.get('docs', 0)} documents, {s.get('tokens', 0)} tokens")
        st = vres.sidecar["store"]
        print(f"token store {st['key']}: {st['shards']} shards, {st['tokenized_now']} tokenized now, "
              f"{st['reused']} reused")
        if vres.mix is not None:
            from kllama.tokenize.mix import format_mix

            print(format_mix(vres.sidecar["mix"]))
        print(f"sidecar: {args.output}.json")
    dt = time.perf_counter() - t0
    drops = ", ".join(f"{k}={v}" for k, v in sorted(led.dropped.items())) or "none"
    print(f"wrote {args.output}.bin/.idx: {docs} documents, {tokens} tokens in {dt:.1f} s "
          f"({led.bytes_out / 1e6 / max(dt, 1e-9):.2f} MB/s); read {led.docs_in}, dropped: {drops}")
    if led.quarantined:
        print(f"quarantined shards: {led.quarantined}", file=sys.stderr)
    print(rwkv_settings(tokens, args.ctx_len))
    if work is not None:
        from kllama.tokenize.work_tokens import embedding_note

        print(embedding_note(work))
    warning = magic_prime_warning(tokens, args.ctx_len)
    if warning:
        print(warning, file=sys.stderr)
    return 0
