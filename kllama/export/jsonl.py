"""Pile-like ``jsonl.zst`` export: ``00.jsonl.zst``, ``01.jsonl.zst``, ... of one variant, every source mixed and
shuffled with a seed, each document repeated by the variant's epochs.

Each line is ``{"text": ..., "meta": {...}}``; ``meta`` has the same keys and types for every source
(:data:`META_FIELDS`), so that the files load as one table with ``datasets.load_dataset("json")``. The
source-specific fields are JSON strings inside it: ``source_meta`` (the reader's fields, the store's ``meta``
column) and ``stages`` (the store's stage columns that are set for this document: perplexity, Pile match, ...).

Copies: ``floor(epochs)`` of every document, plus one more for a deterministic sample of the fractional part (the
same rule and seed as ``kllama tokenize``); ``repeat=False`` writes each document once. The order is a seeded
random key per copy, shuffled with bounded memory by :mod:`kllama.export.shuffle`; it depends on the store, the
variant, the seed and the options, never on the worker count.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import zstandard

from kllama.export.common import TMP_PREFIX
from kllama.export.shuffle import FANOUT_BITS, Gather, SpillWriter, bucket_file, level_bits

#: the keys of every line's ``meta``, in order (all strings but ``copy``; never null)
META_FIELDS = ("pile_set_name", "source", "group", "variant", "id", "copy", "url", "lang", "source_meta", "stages")
#: store columns that are not stage columns
_CORE = ("id", "text", "source", "url", "lang", "meta", "group")
#: estimated JSON bytes per line beyond the text (meta and escapes), to size the first scatter
_LINE_OVERHEAD = 400


def copy_key(seed: int, doc_id: str, copy: int) -> int:
    """The shuffle key of one copy of a document: a seeded 64-bit hash (its order is the output order)."""
    h = hashlib.blake2b(f"{seed}\x00{doc_id}\x00{copy}".encode("utf-8", "surrogatepass"), digest_size=8,
                        person=b"kllama-shuffle")
    return int.from_bytes(h.digest(), "big")


def _stages_json(values: dict[str, Any]) -> str:
    """The set stage columns as a JSON object (nulls and non-finite numbers left out)."""
    kept = {k: v for k, v in values.items()
            if v is not None and not (isinstance(v, float) and not math.isfinite(v))}
    return json.dumps(kept, ensure_ascii=False, sort_keys=True, default=str) if kept else "{}"


@dataclass
class ScatterTask:
    """Phase 1 for a few store shards: every copy of every document, keyed and spilled to buckets."""

    index: int
    shards: list[tuple[str, str]]  # (path, source)
    spill_dir: str
    variant: str
    epochs: dict[str, float]
    seed: int
    sources: list[str]
    shift: int
    bits: int
    buffer_bytes: int
    spill_level: int = 1
    batch_rows: int = 256


def scatter(task: ScatterTask) -> dict[str, Any]:
    """Run one :class:`ScatterTask`; returns per-source counts and per-bucket ``[records, bytes]``."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from kllama.core.sampling import DEFAULT_EPOCHS, copies_for

    tags = {s: i for i, s in enumerate(task.sources)}
    writer = SpillWriter(task.spill_dir, task.shift, task.bits, task.buffer_bytes, task.spill_level)
    counts: dict[str, Counter] = {}
    for path, shard_source in task.shards:
        pf = pq.ParquetFile(path)
        stage_cols = [n for n in pf.schema_arrow.names if n not in _CORE]
        float32 = {n for n in stage_cols if pa.types.is_float32(pf.schema_arrow.field(n).type)}
        for batch in pf.iter_batches(batch_size=task.batch_rows):
            cols = {n: batch.column(n).to_pylist() for n in batch.schema.names}
            for n in float32:  # 0.99 as stored, not the 0.9900000095367432 of its float64 widening
                cols[n] = [None if v is None else float(str(np.float32(v))) for v in cols[n]]
            n_rows = batch.num_rows
            for i in range(n_rows):
                src = (cols["source"][i] if "source" in cols else None) or shard_source
                doc_id, text = cols["id"][i], cols["text"][i]
                c = counts.setdefault(src, Counter())
                c["docs_in"] += 1
                if text is None or doc_id is None:
                    c["invalid"] += 1
                    continue
                k = copies_for(doc_id, task.epochs.get(src, DEFAULT_EPOCHS), task.seed)
                if k == 0:
                    c["sampled_out"] += 1
                    continue
                encoded = text.encode("utf-8")
                nbytes = len(encoded)
                # the text's JSON once per document (only meta differs between copies)
                head = b'{"text": ' + json.dumps(text, ensure_ascii=False).encode("utf-8") + b', "meta": '

                meta = {"pile_set_name": src, "source": src, "group": cols.get("group", [None] * n_rows)[i] or "",
                        "variant": task.variant, "id": doc_id, "copy": 0,
                        "url": cols.get("url", [None] * n_rows)[i] or "",
                        "lang": cols.get("lang", [None] * n_rows)[i] or "",
                        "source_meta": cols.get("meta", [None] * n_rows)[i] or "{}",
                        "stages": _stages_json({n: cols[n][i] for n in stage_cols})}
                for copy in range(k):
                    meta["copy"] = copy
                    tail = json.dumps(meta, ensure_ascii=False).encode("utf-8") + b"}"
                    writer.add(copy_key(task.seed, doc_id, copy), tags[src], head, tail)
                c["docs"] += 1
                c["copies"] += k
                c["text_bytes"] += nbytes * k
    buckets = writer.close()
    return {"index": task.index, "counts": {s: dict(c) for s, c in counts.items()},
            "buckets": {str(b): v for b, v in buckets.items()}}


class _HashingFile:
    """A write-only file that hashes what it writes (the sha256 of a compressed file without a re-read)."""

    def __init__(self, path: Path) -> None:
        self._f = open(path, "wb")  # noqa: SIM115 - closed in close()
        self.sha = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.sha.update(data)
        self.size += len(data)
        return self._f.write(data)

    def flush(self) -> None:
        self._f.flush()

    def close(self) -> None:
        self._f.flush()
        os.fsync(self._f.fileno())
        self._f.close()


class ShardedWriter:
    """JSON lines into consecutive zstd files of at most ``max_bytes`` (uncompressed) or ``max_docs`` lines, at
    temporary names; ``finish`` renames them ``00.jsonl.zst``, ``01.jsonl.zst``, ... (wider when there are more
    than 100). Compression uses zstd's multithreaded mode with ``threads`` >= 1, whose output is the same for any
    thread count."""

    def __init__(self, folder: Path, sources: list[str], max_bytes: int | None = None, max_docs: int | None = None,
                 level: int = 3, threads: int = 1) -> None:
        self.folder = folder
        self.sources = sources
        self.max_bytes, self.max_docs = max_bytes, max_docs
        self.cctx = zstandard.ZstdCompressor(level=level, threads=max(1, threads))
        self.files: list[dict[str, Any]] = []
        self._raw: _HashingFile | None = None
        self._zw: Any = None

    def _open(self) -> None:
        tmp = self.folder / f"{TMP_PREFIX}{len(self.files):06d}.jsonl.zst.tmp"
        self._raw = _HashingFile(tmp)
        self._zw = self.cctx.stream_writer(self._raw, closefd=False)
        self.files.append({"tmp": tmp, "docs": 0, "bytes": 0, "sources": Counter()})

    def _close_current(self) -> None:
        if self._zw is None:
            return
        self._zw.close()
        self._raw.close()
        cur = self.files[-1]
        cur.update(sha256=self._raw.sha.hexdigest(), compressed_bytes=self._raw.size)
        self._zw = self._raw = None

    def write(self, line: bytes | memoryview, tag: int) -> None:
        n = len(line) + 1
        if self._zw is not None:
            cur = self.files[-1]
            if (self.max_docs is not None and cur["docs"] >= self.max_docs) or \
                    (self.max_bytes is not None and cur["bytes"] + n > self.max_bytes):
                self._close_current()
        if self._zw is None:
            self._open()
        self._zw.write(line)
        self._zw.write(b"\n")
        cur = self.files[-1]
        cur["docs"] += 1
        cur["bytes"] += n
        cur["sources"][self.sources[tag]] += 1

    def finish(self) -> list[dict[str, Any]]:
        self._close_current()
        width = max(2, len(str(len(self.files) - 1)))
        out = []
        for i, f in enumerate(self.files):
            dst = self.folder / f"{i:0{width}d}.jsonl.zst"
            os.replace(f["tmp"], dst)
            out.append({"path": dst.name, "docs": f["docs"], "bytes": f["bytes"],
                        "compressed_bytes": f["compressed_bytes"], "sha256": f["sha256"],
                        "sources": dict(sorted(f["sources"].items()))})
        return out


def _task_groups(shards: list[dict[str, Any]], task_bytes: int) -> list[list[dict[str, Any]]]:
    """Consecutive shards grouped into tasks of about ``task_bytes`` (any grouping gives the same output)."""
    groups: list[list[dict[str, Any]]] = []
    size = task_bytes
    for s in shards:
        if size >= task_bytes:
            groups.append([])
            size = 0
        groups[-1].append(s)
        size += int(s.get("bytes") or 0)
    return groups


def export_jsonl(run_dir: Path, manifest: dict[str, Any], variant: str, shards: list[dict[str, Any]],
                 output: Path, *, seed: int = 0, repeat: bool = True, shard_size: dict[str, int] | None = None,
                 workers: int = 1, level: int = 3, bucket_bytes: int = 256 << 20, buffer_bytes: int = 64 << 20,
                 task_bytes: int = 2 << 30, spill_level: int = 1) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Write ``variant`` as shuffled, weighted ``NN.jsonl.zst`` files into ``output``; returns the file entries and
    the details for the export's manifest (per-source counts, the shuffle's figures)."""
    from kllama.core.variants import select_variant

    t0 = time.perf_counter()
    shard_size = shard_size or {"bytes": 10**9}
    sources = sorted({s["source"] for s in shards})
    weights = select_variant(manifest, variant).weights  # a replacement source takes its slot's epochs
    epochs = {s: (float(weights.get(s, 1.0)) if repeat else 1.0) for s in sources}
    estimate = sum(int((s.get("bytes") or 0) + (s.get("docs") or 0) * _LINE_OVERHEAD) * max(epochs[s["source"]], 1.0)
                   for s in shards)
    bits = level_bits(int(estimate), bucket_bytes)
    shift = 64 - bits
    spill = output / f"{TMP_PREFIX}spill"
    tasks = [ScatterTask(index=i, shards=[(str(run_dir / s["path"]), s["source"]) for s in group],
                         spill_dir=str(spill / f"t{i:05d}"), variant=variant, epochs=epochs, seed=seed,
                         sources=sources, shift=shift, bits=bits, buffer_bytes=buffer_bytes, spill_level=spill_level)
             for i, group in enumerate(_task_groups(shards, task_bytes))]
    try:
        if workers > 1 and len(tasks) > 1:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            ctx = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(max_workers=min(workers, len(tasks)), mp_context=ctx) as pool:
                results = list(pool.map(scatter, tasks))
        else:
            results = [scatter(t) for t in tasks]
        t1 = time.perf_counter()
        counts: dict[str, Counter] = {s: Counter() for s in sources}
        buckets: dict[int, int] = {}
        for r in results:
            for s, c in r["counts"].items():
                counts.setdefault(s, Counter()).update(c)
            for b, (_recs, nbytes) in r["buckets"].items():
                buckets[int(b)] = buckets.get(int(b), 0) + nbytes
        spilled = sum(f.stat().st_size for f in spill.rglob("*.zst")) if spill.exists() else 0
        writer = ShardedWriter(output, sources, max_bytes=shard_size.get("bytes"), max_docs=shard_size.get("docs"),
                               level=level, threads=workers)
        gather = Gather(spill / "regather", bucket_bytes, buffer_bytes, spill_level)
        for b in sorted(buckets):
            files = [p for t in tasks if (p := bucket_file(Path(t.spill_dir), b)).exists()]
            for _key, tag, line in gather.records(files, buckets[b], shift):
                writer.write(line, tag)
        files = writer.finish()
    finally:
        shutil.rmtree(spill, ignore_errors=True)
        for tmp in output.glob(f"{TMP_PREFIX}*.tmp"):
            tmp.unlink()
    t2 = time.perf_counter()
    per_source = {s: {"epochs": epochs[s], "docs_in": c.get("docs_in", 0), "docs": c.get("docs", 0),
                      "copies": c.get("copies", 0), "sampled_out": c.get("sampled_out", 0),
                      "invalid": c.get("invalid", 0), "text_bytes": c.get("text_bytes", 0)}
                  for s, c in sorted(counts.items())}
    details = {
        "seed": seed, "repeat": repeat, "shard_size": shard_size, "meta_fields": list(META_FIELDS),
        "sources": per_source, "lines": sum(f["docs"] for f in files),
        "shuffle": {"first_level_buckets": 1 << bits, "bucket_bytes": bucket_bytes, "buffer_bytes": buffer_bytes,
                    "fanout_bits": FANOUT_BITS, "largest_bucket_in_memory": gather.largest,
                    "rescatter_levels": gather.levels, "rescattered_bytes": gather.rescattered,
                    "spill_bytes_compressed": spilled, "tasks": len(tasks), "workers": workers},
        "seconds": {"scatter": round(t1 - t0, 3), "gather": round(t2 - t1, 3)},
    }
    return files, details
