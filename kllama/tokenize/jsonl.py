"""``kllama tokenize --jsonl``: a JSONL file with a ``text`` field -> one binidx pair, as json2binidx does.

Like json2binidx (``lm_dataformat`` + ``--append-eod``): ``text`` may be a list (joined with ``"\\n\\n"``),
empty texts give no item and no EOD, every other document is one item of its tokens + EOD 0, in file order.
Unlike it, bad records are counted drops (``bad_json``, ``no_text``, ``invalid_utf8``, ``invalid_unicode``)
instead of a crash, and a literal ``<|endoftext|>`` stays text.
"""

from __future__ import annotations

import gzip
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from kllama.core.ledger import Ledger
from kllama.tokenize.binidx import BinidxWriter, best_dtype
from kllama.tokenize.tokenizer import DigitSplitTokenizer


@dataclass
class TokenizeResult:
    """What a tokenization wrote."""

    prefix: str
    docs: int = 0
    tokens: int = 0
    bytes: int = 0
    ledger: Ledger = field(default_factory=Ledger)


def _open_binary(path: Path) -> IO[bytes]:
    name = path.name
    if name.endswith(".gz"):
        return gzip.open(path, "rb")
    if name.endswith(".zst"):
        import zstandard

        return io.BufferedReader(zstandard.ZstdDecompressor().stream_reader(open(path, "rb"), closefd=True))
    return open(path, "rb")


def read_jsonl_texts(path: str | Path, ledger: Ledger, key: str = "text") -> Iterator[str]:
    """Texts of a JSONL(.gz/.zst) file; every bad record is a named drop in ``ledger``; empty texts are
    dropped as ``empty`` (json2binidx writes nothing for them either)."""
    with _open_binary(Path(path)) as f:
        for raw in f:
            if not raw.strip():
                ledger.count("blank_lines")
                continue
            ledger.take_in(1, len(raw))
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                ledger.drop("invalid_utf8", 1, len(raw))
                continue
            try:
                rec = json.loads(line)
            except ValueError:
                ledger.drop("bad_json", 1, len(raw))
                continue
            text = rec.get(key) if isinstance(rec, dict) else None
            if isinstance(text, list) and all(isinstance(t, str) for t in text):
                text = "\n\n".join(text)
            if not isinstance(text, str):
                ledger.drop("no_text", 1, len(raw))
                continue
            if not text:
                ledger.drop("empty", 1, len(raw))
                continue
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:  # lone surrogate from a "\ud800" escape
                ledger.drop("invalid_unicode", 1, len(raw))
                continue
            yield text


def tokenize_jsonl(path: str | Path, out_prefix: str | Path, tokenizer: DigitSplitTokenizer, *,
                   key: str = "text", batch_docs: int = 1024) -> TokenizeResult:
    """Tokenize ``path`` into ``out_prefix.bin/.idx`` (documents in file order)."""
    res = TokenizeResult(prefix=str(out_prefix))
    with BinidxWriter(out_prefix, best_dtype(tokenizer.vocab_size), eod=tokenizer.eod_id) as w:
        batch: list[str] = []

        def flush() -> None:
            for text, ids in zip(batch, tokenizer.encode_batch(batch), strict=True):
                w.add_document(ids)
                res.ledger.put_out(1, len(text.encode("utf-8")))
            batch.clear()

        for text in read_jsonl_texts(path, res.ledger, key):
            batch.append(text)
            if len(batch) >= batch_docs:
                flush()
        flush()
        res.tokens = w.tokens
        res.docs = w.num_items
    res.bytes = res.ledger.bytes_out
    return res
