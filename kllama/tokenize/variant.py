"""``kllama tokenize RUN_DIR --variant G1|G2|G3``: one shuffled, weighted binidx pair per variant.

1. ``RUN_DIR/manifest.json`` names the shards (Parquet, columns id/text/source/...) and, per variant, the groups
   it takes and the per-source sampling weights in epochs (LLaMA Table 1).
2. Every shard of the variant is tokenized by its own Dask task (a bag over the shards) into a per-shard binidx
   pair; the task also decides each document's number of copies: ``floor(epochs)`` plus one more when a hash of
   (seed, doc id) falls under the fraction (2.45 = two full passes + a deterministic 45% sample).
3. The driver builds the list of (shard, item) copies, permutes it with a seeded generator and writes the output
   by gathering token slices from the memory-mapped shard files, chunk by chunk -- never all tokens at once.

The output depends only on the manifest, the tokenizer, the seed and the options, never on the worker count.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import tempfile
import time
from array import array
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from kllama.core.files import atomic_write_text, sha256_file
from kllama.core.ledger import Ledger
from kllama.tokenize.binidx import BinidxReader, BinidxWriter, best_dtype, paths, write_index
from kllama.tokenize.tokenizer import cached_tokenizer, single_thread

#: epochs for a source that the variant's weights do not name
DEFAULT_EPOCHS = 1.0


def copies_for(doc_id: str, epochs: float, seed: int) -> int:
    """How many times a document enters the stream: ``floor(epochs)`` + 1 if ``hash(seed, id) < frac``."""
    if epochs <= 0:
        return 0
    whole = math.floor(epochs)
    frac = epochs - whole
    if frac <= 1e-12:
        return whole
    h = hashlib.blake2b(f"{seed}\x00{doc_id}".encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return whole + (1 if int.from_bytes(h, "little") < frac * 2.0**64 else 0)


@dataclass
class ShardTask:
    """One shard to tokenize into its own binidx pair (runs on a Dask worker)."""

    index: int
    path: str
    source: str
    group: str
    sha256: str | None
    manifest_docs: int
    part_prefix: str
    tokenizer_path: str | None
    split_digits: bool
    weights: dict[str, float]
    seed: int
    batch_docs: int = 512
    encoder: str = "auto"


def _texts(col: Any) -> list[str | None]:
    """Python strings of an Arrow text column; ``None`` for a null or an invalid-UTF-8 value."""
    import pyarrow as pa

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
        except Exception as exc:
            on_error(exc)
            return
        yield item


def tokenize_shard(task: ShardTask) -> dict[str, Any]:
    """Tokenize one Parquet shard into ``task.part_prefix``; returns copies and source per item plus counts."""
    import pyarrow.parquet as pq

    single_thread()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    tok = cached_tokenizer(task.tokenizer_path, task.split_digits, task.encoder)
    ledger = Ledger()
    sources: list[str] = []
    src_index: dict[str, int] = {}
    per_source: dict[str, Counter] = {}
    copies = array("H")
    item_source = array("H")

    def source_id(name: str) -> int:
        if name not in src_index:
            src_index[name] = len(sources)
            sources.append(name)
            per_source[name] = Counter()
        return src_index[name]

    result: dict[str, Any] = {"index": task.index, "part_prefix": task.part_prefix, "path": task.path}
    if task.sha256 and sha256_file(task.path) != task.sha256:
        ledger.take_in(task.manifest_docs)
        ledger.drop("shard_checksum_mismatch", task.manifest_docs)
        ledger.quarantined.append({"path": task.path, "reason": "shard_checksum_mismatch"})
        per_source[sources[source_id(task.source)]].update(docs_in=task.manifest_docs,
                                                           shard_checksum_mismatch=task.manifest_docs)
    else:
        try:
            pf = pq.ParquetFile(task.path)
            names = set(pf.schema_arrow.names)
            if not {"id", "text"} <= names:
                raise ValueError("shard lacks the id/text columns")
            cols = [c for c in ("id", "text", "source") if c in names]
            batches = pf.iter_batches(batch_size=task.batch_docs, columns=cols)
        except Exception as exc:  # unreadable shard: quarantined and counted, the run goes on
            batches = iter(())
            ledger.take_in(task.manifest_docs)
            ledger.drop("unreadable_shard", task.manifest_docs)
            ledger.quarantined.append({"path": task.path, "reason": f"unreadable_shard: {exc}"})
            per_source[sources[source_id(task.source)]].update(docs_in=task.manifest_docs,
                                                               unreadable_shard=task.manifest_docs)
        with BinidxWriter(task.part_prefix, best_dtype(tok.vocab_size), eod=tok.eod_id) as w:
            def read_failed(exc: Exception) -> None:  # a corrupt page in the middle of the shard
                rest = max(0, task.manifest_docs - ledger.docs_in)
                ledger.take_in(rest)
                ledger.drop("unreadable_shard", rest)
                ledger.quarantined.append({"path": task.path, "reason": f"unreadable_shard: {exc}"})
                per_source[sources[source_id(task.source)]].update(docs_in=rest, unreadable_shard=rest)

            for batch in _guarded(batches, read_failed):
                ids = batch.column("id").to_pylist()
                srcs = batch.column("source").to_pylist() if "source" in batch.schema.names else [None] * len(ids)
                texts = _texts(batch.column("text"))
                keep_text: list[str] = []
                keep_meta: list[tuple[int, int, int]] = []
                for doc_id, src, text in zip(ids, srcs, texts, strict=True):
                    s = source_id(src or task.source)
                    counts = per_source[sources[s]]
                    nbytes = len(text.encode("utf-8")) if text else 0
                    ledger.take_in(1, nbytes)
                    counts["docs_in"] += 1
                    reason = None
                    if text is None:
                        reason = "invalid_utf8"
                    elif not text:
                        reason = "empty"
                    elif doc_id is None:
                        reason = "no_id"
                    if reason is None:
                        k = copies_for(doc_id, task.weights.get(sources[s], DEFAULT_EPOCHS), task.seed)
                        if k == 0:
                            reason = "sampled_out"
                    if reason is not None:
                        ledger.drop(reason, 1, nbytes)
                        counts[reason] += 1
                        continue
                    keep_text.append(text)
                    keep_meta.append((s, k, nbytes))
                if not keep_text:
                    continue
                for (s, k, nbytes), tids in zip(keep_meta, tok.encode_batch(keep_text), strict=True):
                    w.add_document(tids)
                    copies.append(k)
                    item_source.append(s)
                    ledger.put_out(1, nbytes)
                    counts = per_source[sources[s]]
                    counts["docs_tokenized"] += 1
                    counts["tokens_tokenized"] += len(tids) + 1
                    counts["bytes_tokenized"] += nbytes
    result.update(
        copies=np.frombuffer(copies, dtype=np.uint16).copy(),
        item_source=np.frombuffer(item_source, dtype=np.uint16).copy(),
        sources=sources,
        per_source={k: dict(v) for k, v in per_source.items()},
        ledger=ledger.to_dict(),
        has_part=paths(task.part_prefix)[1].exists(),
        cpu_s=time.process_time() - cpu0,
        wall_s=time.perf_counter() - wall0,
    )
    return result


def _ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Concatenation of ``arange(s, s + n)`` for every (s, n)."""
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    before = np.zeros(len(lengths), dtype=np.int64)
    np.cumsum(lengths[:-1], out=before[1:])
    return np.repeat(starts.astype(np.int64) - before, lengths) + np.arange(total, dtype=np.int64)


@dataclass
class VariantResult:
    """What ``tokenize_variant`` wrote."""

    prefix: str
    tokens: int
    docs: int
    per_source: dict[str, dict[str, Any]] = field(default_factory=dict)
    ledger: Ledger = field(default_factory=Ledger)
    sidecar: dict[str, Any] = field(default_factory=dict)


def load_variant(run_dir: Path, variant: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The variant's shards (sorted by path, paths made absolute inside ``run_dir``) and its manifest entry."""
    manifest_path = run_dir / "manifest.json"
    if not manifest_path.exists():
        raise FileNotFoundError(f"{manifest_path} not found (is {run_dir} a finished kllama run?)")
    manifest = json.loads(manifest_path.read_text())
    variants = manifest.get("variants", {})
    if variant not in variants:
        raise ValueError(f"variant {variant!r} not in {manifest_path}; known: {', '.join(sorted(variants))}")
    spec = variants[variant]
    groups = set(spec.get("groups", []))
    root = run_dir.resolve()
    shards = []
    for s in sorted(manifest.get("shards", []), key=lambda s: s["path"]):
        if s.get("group") not in groups:
            continue
        p = (root / s["path"]).resolve()
        if root not in p.parents:
            raise ValueError(f"manifest shard path {s['path']!r} leaves {run_dir}")
        shards.append({**s, "abs_path": str(p)})
    return shards, spec


def write_permuted(results: list[dict[str, Any]], out_prefix: str | Path, dtype: np.dtype, seed: int, *,
                   chunk_tokens: int = 1 << 24) -> tuple[np.ndarray, np.ndarray]:
    """Write every (shard item x copies) in a seeded random order; returns (global item per output item,
    sizes per global item)."""
    readers = [BinidxReader(r["part_prefix"]) if r["has_part"] else None for r in results]
    n_items = np.array([len(rd) if rd is not None else 0 for rd in readers], dtype=np.int64)
    item_offset = np.zeros(len(results) + 1, dtype=np.int64)
    np.cumsum(n_items, out=item_offset[1:])
    empty64 = np.zeros(0, dtype=np.int64)
    sizes = np.concatenate([np.asarray(rd.sizes, dtype=np.int64) if rd is not None else empty64
                            for rd in readers]) if results else empty64
    starts = np.concatenate([np.asarray(rd.pointers, dtype=np.int64) // rd.dtype.itemsize if rd is not None
                             else empty64 for rd in readers]) if results else empty64
    shard_of = np.repeat(np.arange(len(results), dtype=np.int32), n_items)
    copies = np.concatenate([r["copies"].astype(np.int64) for r in results]) if results else empty64
    order = np.repeat(np.arange(len(sizes), dtype=np.int64), copies)
    np.random.default_rng(seed).shuffle(order)
    out_sizes = sizes[order].astype(np.int32)
    bin_path, idx_path = paths(out_prefix)
    tmp_bin = bin_path.with_name(f".{bin_path.name}.tmp-{os.getpid()}")
    tmp_idx = idx_path.with_name(f".{idx_path.name}.tmp-{os.getpid()}")
    cum = np.cumsum(out_sizes, dtype=np.int64)
    try:
        with open(tmp_bin, "wb") as out:
            a = 0
            while a < len(order):
                base = int(cum[a - 1]) if a else 0
                b = max(a + 1, int(np.searchsorted(cum, base + chunk_tokens, side="right")))
                g = order[a:b]
                lengths = sizes[g]
                dst0 = np.zeros(len(g), dtype=np.int64)
                np.cumsum(lengths[:-1], out=dst0[1:])
                buf = np.empty(int(lengths.sum()), dtype=dtype)
                sh = shard_of[g]
                by_shard = np.argsort(sh, kind="stable")
                cuts = np.flatnonzero(np.diff(sh[by_shard])) + 1
                for sel in np.split(by_shard, cuts):
                    tokens = readers[int(sh[sel[0]])].tokens
                    buf[_ranges(dst0[sel], lengths[sel])] = tokens[_ranges(starts[g[sel]], lengths[sel])]
                out.write(buf.astype(np.dtype(dtype).newbyteorder("<"), copy=False).tobytes())
                a = b
        del cum
        write_index(tmp_idx, dtype, out_sizes)
        os.replace(tmp_bin, bin_path)
        os.replace(tmp_idx, idx_path)
    except BaseException:
        tmp_bin.unlink(missing_ok=True)
        tmp_idx.unlink(missing_ok=True)
        raise
    return order, sizes


def tokenize_variant(run_dir: str | Path, variant: str, out_prefix: str | Path, *,
                     tokenizer_path: str | Path | None = None, split_digits: bool = True, seed: int = 0,
                     workers: int | None = None, cluster: str = "local", client: Any = None,
                     ctx_len: int | None = None, quiet: bool = False, encoder: str = "auto") -> VariantResult:
    """Tokenize variant ``variant`` of the run in ``run_dir`` into ``out_prefix.bin/.idx`` and
    ``out_prefix.json`` (documents and tokens per source). ``encoder`` (auto, hf, fast) is decided here, once;
    the workers then use that one (``fast`` fails a task whose worker cannot reproduce HF's ids)."""
    import dask.bag as db

    from kllama.engine.cluster import open_client
    from kllama.tokenize.rwkv import magic_prime
    from kllama.tokenize.tokenizer import DigitSplitTokenizer

    run_dir = Path(run_dir)
    out_prefix = str(out_prefix)
    shards, spec = load_variant(run_dir, variant)
    weights = {str(k): float(v) for k, v in spec.get("weights", {}).items()}
    tok = DigitSplitTokenizer(tokenizer_path, split_digits=split_digits, encoder=encoder)
    dtype = best_dtype(tok.vocab_size)
    bin_path, _ = paths(out_prefix)
    bin_path.parent.mkdir(parents=True, exist_ok=True)
    parts_dir = Path(tempfile.mkdtemp(prefix=f".{bin_path.stem}.parts-", dir=bin_path.parent))
    tok_path = str(Path(tokenizer_path).resolve()) if tokenizer_path is not None else None
    tasks = [ShardTask(index=i, path=s["abs_path"], source=s.get("source", ""), group=s["group"],
                       sha256=s.get("sha256"), manifest_docs=int(s.get("docs", 0)),
                       part_prefix=str(parts_dir / f"{i:06d}"), tokenizer_path=tok_path,
                       split_digits=split_digits, weights=weights, seed=seed, encoder=tok.encoder_name)
             for i, s in enumerate(shards)]
    try:
        if tasks:
            bag = db.from_sequence(tasks, npartitions=len(tasks)).map(tokenize_shard)
            if client is not None:
                results = client.compute(bag).result()
            else:
                with open_client(cluster, workers=workers, quiet=quiet):
                    results = bag.compute()
        else:
            results = []
        results = sorted(results, key=lambda r: r["index"])
        order, sizes = write_permuted(results, out_prefix, dtype, seed)
        n_out = len(order)
        del order
    finally:
        shutil.rmtree(parts_dir, ignore_errors=True)

    ledger = Ledger()
    per_source: dict[str, dict[str, Any]] = {}
    src_names: list[str] = []
    item_src = []
    for r in results:
        ledger.merge(Ledger.from_dict(r["ledger"]))
        local_to_global = []
        for name in r["sources"]:
            if name not in src_names:
                src_names.append(name)
            local_to_global.append(src_names.index(name))
        item_src.append(np.asarray(local_to_global, dtype=np.int64)[r["item_source"]] if len(r["item_source"])
                        else np.zeros(0, dtype=np.int64))
        for name, counts in r["per_source"].items():
            agg = per_source.setdefault(name, {})
            for k, v in counts.items():
                agg[k] = agg.get(k, 0) + int(v)
    item_src_all = np.concatenate(item_src) if item_src else np.zeros(0, dtype=np.int64)
    copies_all = (np.concatenate([r["copies"].astype(np.int64) for r in results]) if results
                  else np.zeros(0, dtype=np.int64))
    for i, name in enumerate(src_names):
        sel = item_src_all == i
        agg = per_source.setdefault(name, {})
        agg["epochs"] = weights.get(name, DEFAULT_EPOCHS)
        agg["docs"] = int(copies_all[sel].sum())
        agg["tokens"] = int((sizes[sel] * copies_all[sel]).sum())
    total = int((sizes * copies_all).sum())
    sidecar: dict[str, Any] = {
        "variant": variant, "run_dir": str(run_dir.resolve()), "groups": list(spec.get("groups", [])),
        "seed": seed, "split_digits": split_digits, "tokenizer": str(tok.path), "tokenizer_sha256": tok.sha256,
        "encoder": tok.encoder_name, "encoder_note": tok.encoder_note,
        "dtype": str(np.dtype(dtype)), "eod": tok.eod_id, "docs": n_out, "tokens": total,
        "shards": len(shards), "per_source": {k: per_source[k] for k in sorted(per_source)},
        "ledger": ledger.to_dict(),
        "task_cpu_seconds": round(sum(r["cpu_s"] for r in results), 3),
        "task_wall_seconds": round(sum(r["wall_s"] for r in results), 3),
    }
    if ctx_len:
        sidecar["ctx_len"] = ctx_len
        sidecar["magic_prime"] = magic_prime(total, ctx_len)
    atomic_write_text(out_prefix + ".json", json.dumps(sidecar, indent=1, sort_keys=True, default=str))
    return VariantResult(prefix=out_prefix, tokens=total, docs=n_out, per_source=sidecar["per_source"],
                         ledger=ledger, sidecar=sidecar)

