"""The token store: every shard of a run tokenized once, kept in the run folder and shared by every variant.

::

    RUN/tokens/<tokenizer sha256[:16]>-<digits|nodigits>/store.json          tokenizer, digit rule, format
    RUN/tokens/<...>/<shard sha256>.bin / .idx                                one item per kept document + EOD
    RUN/tokens/<...>/<shard sha256>.docs.parquet                              id, source of each item, in order

An entry is keyed by the shard file's sha256 (from the manifest), the tokenizer file's sha256 and the digit
rule: the only things its ids depend on (every encoder must give identical ids, so the encoder is not part of
the key). Every valid document of the shard is tokenized, whatever a variant's epochs; a variant then only
samples, shuffles and gathers (``kllama.tokenize.shuffle``). Invalid documents are counted, never stored:
``invalid_utf8``, ``empty``, ``no_id``, and a shard that cannot be read (``unreadable_shard``, also mid-file:
what was read is kept) or whose sha256 differs from the manifest (``shard_checksum_mismatch``: nothing is
stored, so the next call tries again).
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from kllama.core.files import atomic_write_text, sha256_file
from kllama.core.ledger import Ledger
from kllama.tokenize.binidx import BinidxWriter, best_dtype
from kllama.tokenize.tokenizer import cached_tokenizer, single_thread

STORE_FORMAT = 1
_DOCS_SCHEMA = pa.schema([("id", pa.string()), ("source", pa.string())])


def store_key(tokenizer_sha256: str, split_digits: bool) -> str:
    """``<tokenizer sha256[:16]>-digits`` (or ``-nodigits``): one store per tokenizer file and digit rule."""
    return f"{tokenizer_sha256[:16]}-{'digits' if split_digits else 'nodigits'}"


def store_dir(run_dir: str | Path, key: str) -> Path:
    return Path(run_dir) / "tokens" / key


def entry_prefix(store: str | Path, shard_sha256: str) -> Path:
    """The binidx prefix of a shard's entry (``.bin``, ``.idx``, ``.docs.parquet`` beside it)."""
    return Path(store) / shard_sha256


def entry_files(prefix: str | Path) -> list[str]:
    p = str(prefix)
    return [p + ".bin", p + ".idx", p + ".docs.parquet"]


def open_store(run_dir: str | Path, tokenizer_path: str | Path, tokenizer_sha256: str, split_digits: bool) -> Path:
    """The store folder for this tokenizer and digit rule, with its ``store.json`` (created once)."""
    d = store_dir(run_dir, store_key(tokenizer_sha256, split_digits))
    d.mkdir(parents=True, exist_ok=True)
    info = d / "store.json"
    if not info.exists():
        atomic_write_text(info, json.dumps({"format": STORE_FORMAT, "tokenizer": str(tokenizer_path),
                                            "tokenizer_sha256": tokenizer_sha256, "split_digits": split_digits},
                                           indent=1, sort_keys=True))
    return d


def _texts(col: Any) -> list[str | None]:
    """Python strings of an Arrow text column; ``None`` for a null or an invalid-UTF-8 value."""
    if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
        try:
            col.validate(full=True)
            return col.to_pylist()
        except (pa.ArrowInvalid, UnicodeDecodeError):
            col = col.cast(pa.large_binary())
    out: list[str | None] = []
    for b in col.to_pylist():
        if b is None:
            out.append(None)
            continue
        try:
            out.append(b.decode("utf-8") if isinstance(b, bytes) else str(b))
        except UnicodeDecodeError:
            out.append(None)
    return out


def _guarded(it: Any, on_error: Any) -> Any:
    """Items of ``it`` until it ends or raises; an exception while reading goes to ``on_error``."""
    it = iter(it)
    while True:
        try:
            item = next(it)
        except StopIteration:
            return
        except Exception as exc:  # noqa: BLE001 - a corrupt page ends the shard, counted
            on_error(exc)
            return
        yield item


def tokenize_shard(path: str, sha256: str | None, manifest_docs: int, source: str, prefix: str,
                   tokenizer_path: str | None, split_digits: bool, batch_docs: int = 512,
                   encoder: str = "auto") -> dict[str, Any]:
    """Tokenize every valid document of one Parquet shard into the store entry ``prefix`` (a worker task).

    ``encoder``: which encoder makes the ids (``auto``, ``hf``, ``fast``: identical ids, so not in the key).
    Returns ``ledger`` (in = tokenized + dropped), ``per_source`` counters (``docs_in``, drops by reason,
    ``docs_tokenized``, ``tokens_tokenized`` -- EODs included --, ``bytes_tokenized``), ``docs``, ``tokens``."""
    single_thread()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    ledger = Ledger()
    per_source: dict[str, Counter] = {}

    def counts(name: str | None) -> Counter:
        return per_source.setdefault(name or source, Counter())

    def result(docs: int = 0, tokens: int = 0) -> dict[str, Any]:
        return {"ledger": ledger.to_dict(), "per_source": {k: dict(v) for k, v in sorted(per_source.items())},
                "docs": docs, "tokens": tokens, "cpu_s": round(time.process_time() - cpu0, 4),
                "wall_s": round(time.perf_counter() - wall0, 4)}

    def lost(reason: str, n: int, detail: str) -> None:
        ledger.take_in(n)
        ledger.drop(reason, n)
        ledger.quarantined.append({"path": path, "reason": detail})
        counts(None).update(docs_in=n, **{reason: n})

    if sha256 and sha256_file(path) != sha256:
        lost("shard_checksum_mismatch", manifest_docs, "shard_checksum_mismatch")
        return result()  # nothing stored: the next call checks the shard again
    tok = cached_tokenizer(tokenizer_path, split_digits, encoder)
    try:
        pf = pq.ParquetFile(path)
        names = set(pf.schema_arrow.names)
        if not {"id", "text"} <= names:
            raise ValueError("shard lacks the id/text columns")
        cols = [c for c in ("id", "text", "source") if c in names]
        batches = pf.iter_batches(batch_size=batch_docs, columns=cols)
    except Exception as exc:  # noqa: BLE001 - unreadable shard: counted, an empty entry stored
        batches = iter(())
        lost("unreadable_shard", manifest_docs, f"unreadable_shard: {exc}")
    doc_ids: list[str] = []
    doc_sources: list[str] = []
    docs_path = Path(prefix + ".docs.parquet")
    docs_tmp = docs_path.with_name(f".{docs_path.name}.tmp-{uuid.uuid4().hex}")
    Path(prefix).parent.mkdir(parents=True, exist_ok=True)
    with BinidxWriter(prefix, best_dtype(tok.vocab_size), eod=tok.eod_id) as w:
        def read_failed(exc: Exception) -> None:  # a corrupt page in the middle of the shard
            lost("unreadable_shard", max(0, manifest_docs - ledger.docs_in), f"unreadable_shard: {exc}")

        for batch in _guarded(batches, read_failed):
            ids = batch.column("id").to_pylist()
            srcs = batch.column("source").to_pylist() if "source" in batch.schema.names else [None] * len(ids)
            texts = _texts(batch.column("text"))
            keep: list[tuple[str, str, str, int]] = []
            for doc_id, src, text in zip(ids, srcs, texts, strict=True):
                c = counts(src)
                nbytes = len(text.encode("utf-8")) if text else 0
                ledger.take_in(1, nbytes)
                c["docs_in"] += 1
                reason = "invalid_utf8" if text is None else "empty" if not text else "no_id" if doc_id is None \
                    else None
                if reason is not None:
                    ledger.drop(reason, 1, nbytes)
                    c[reason] += 1
                    continue
                keep.append((doc_id, src or source, text, nbytes))
            if not keep:
                continue
            for (doc_id, src, _text, nbytes), tids in zip(keep, tok.encode_batch([k[2] for k in keep]), strict=True):
                w.add_document(tids)
                doc_ids.append(doc_id)
                doc_sources.append(src)
                ledger.put_out(1, nbytes)
                c = counts(src)
                c["docs_tokenized"] += 1
                c["tokens_tokenized"] += len(tids) + 1
                c["bytes_tokenized"] += nbytes
        try:
            pq.write_table(pa.table({"id": pa.array(doc_ids, pa.string()),
                                     "source": pa.array(doc_sources, pa.string())}, schema=_DOCS_SCHEMA),
                           docs_tmp, compression="zstd")
            os.replace(docs_tmp, docs_path)
        finally:
            docs_tmp.unlink(missing_ok=True)
        n_docs, n_tokens = w.num_items, w.tokens
    return result(n_docs, n_tokens)

