"""What one Dask task does: run steps over one partition, write it atomically, return its ledger.

Everything here runs inside a worker process and is plain Python (no Dask). A partition's output is
written to a temporary name, renamed into place, and only then is its completion marker written, holding
the output's sha256 and the partition's ledger. A rerun trusts a partition only when its marker exists
and the file's checksum matches.

The ledger counts per step too (documents in and out, drops by reason, CPU seconds of the worker process while
the step ran; the reader is the step ``read:READER``), and keeps the first dropped documents per reason as
samples, written beside the stage before the marker (:mod:`kllama.engine.samples`).
"""

from __future__ import annotations

import json
import os
import time
import traceback
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from kllama.core.document import CORE_SCHEMA, documents_to_table, schema_with, table_to_documents
from kllama.core.files import atomic_write_text, read_json_marker, sha256_file
from kllama.core.ledger import Ledger
from kllama.core.registry import build_step, source_class
from kllama.core.steps import GlobalStep, Step
from kllama.engine.samples import write_partition_samples

PARQUET_OPTIONS = {"compression": "zstd", "compression_level": 3, "row_group_size": 8192}


@dataclass
class PartitionTask:
    """A unit of work: ``kind`` is read | map | keys | resolve | combine | apply."""

    kind: str
    stage_dir: str
    name: str
    inputs: list[str]
    source: str = ""
    reader: str = ""
    reader_options: dict[str, Any] = field(default_factory=dict)
    steps: list[dict[str, Any]] = field(default_factory=list)
    group: str = "core"
    extra: dict[str, Any] = field(default_factory=dict)
    #: documents per batch: steps run on, and Parquet is read and written in, batches of this size
    batch_docs: int = 4096
    #: dropped documents kept per reason (the smallest ids) as samples
    drop_samples: int = 5

    @property
    def output(self) -> Path:
        return Path(self.stage_dir) / f"{self.name}.parquet"

    @property
    def marker(self) -> Path:
        return Path(self.stage_dir) / f"{self.name}.done.json"


def marker_valid(task: PartitionTask, verify: bool = True) -> dict[str, Any] | None:
    """The completion marker of ``task`` if the partition is complete (and its checksum matches)."""
    marker = read_json_marker(task.marker)
    if marker is None:
        return None
    out = task.output
    if marker.get("sha256") is None:  # quarantined or output-less task (its files, if any, are listed)
        root = Path(task.extra.get("shard_root", task.stage_dir)).parent
        for f in marker.get("files", []):
            p = root / f["path"]
            if not p.exists() or (verify and sha256_file(p) != f["sha256"]):
                return None
        return marker
    if not out.exists():
        return None
    if verify and sha256_file(out) != marker["sha256"]:
        return None
    return marker


def write_table_atomic(table: pa.Table | list[pa.Table], path: Path) -> str:
    """Write Parquet to a temporary name, then rename; returns the file's sha256.

    A list of tables is written as consecutive row groups (one or more per table).
    """
    tables = table if isinstance(table, list) else [table]
    writer = PartitionWriter(path, tables[0].schema)
    try:
        for t in tables:
            writer.write(t)
        return writer.close()
    except BaseException:
        writer.abort()
        raise


class PartitionWriter:
    """Streams tables into one Parquet file at a temporary name; ``close`` fsyncs, renames and returns the
    sha256. Memory stays bounded by one batch, whatever the partition's size."""

    def __init__(self, path: Path, schema: pa.Schema) -> None:
        self.path = Path(path)
        self.schema = schema
        self.rows = 0
        self.nbytes = 0
        self._tmp = self.path.with_name(f".{self.path.name}.tmp-{uuid.uuid4().hex}")
        self._writer: pq.ParquetWriter | None = None

    def _open(self) -> pq.ParquetWriter:
        if self._writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._writer = pq.ParquetWriter(self._tmp, self.schema, compression=PARQUET_OPTIONS["compression"],
                                            compression_level=PARQUET_OPTIONS["compression_level"])
        return self._writer

    def write(self, table: pa.Table) -> None:
        if table.num_rows:
            self._open().write_table(conform(table, self.schema), row_group_size=PARQUET_OPTIONS["row_group_size"])
            self.rows += table.num_rows

    def close(self) -> str:
        if self._writer is None:
            self._open().write_table(self.schema.empty_table())
        self._writer.close()
        with open(self._tmp, "rb") as f:
            os.fsync(f.fileno())
        digest = sha256_file(self._tmp)
        os.replace(self._tmp, self.path)
        return digest

    def abort(self) -> None:
        if self._writer is not None:
            try:
                self._writer.close()
            except Exception:  # noqa: BLE001 - already failing
                pass
        if self._tmp.exists():
            self._tmp.unlink()


def _text_bytes(table: pa.Table) -> int:
    import pyarrow.compute as pc

    return int(pc.sum(pc.binary_length(table.column("text"))).as_py() or 0) if table.num_rows else 0


def input_batches(path: str | Path, batch_rows: int = 4096) -> Iterator[pa.Table]:
    """The rows of a Parquet partition as a sequence of small tables (bounded memory)."""
    pf = pq.ParquetFile(path)
    if pf.metadata.num_rows == 0:
        yield pf.schema_arrow.empty_table()
        return
    for batch in pf.iter_batches(batch_size=batch_rows):
        yield pa.Table.from_batches([batch])


def _finish(task: PartitionTask, digest: str | None, rows: int, ledger: Ledger,
            extra: dict[str, Any] | None = None) -> dict[str, Any]:
    if task.kind in ("read", "map", "apply"):
        write_partition_samples(task.stage_dir, task.name, ledger)
    marker = {"name": task.name, "kind": task.kind, "sha256": digest, "rows": rows, "ledger": ledger.to_dict(),
              **(extra or {})}
    atomic_write_text(task.marker, json.dumps(marker, sort_keys=True))
    return marker


def _written(table: pa.Table | list[pa.Table], path: Path) -> tuple[str, int]:
    rows = sum(t.num_rows for t in table) if isinstance(table, list) else table.num_rows
    return write_table_atomic(table, path), rows


@lru_cache(maxsize=64)
def _cached_steps(spec_json: str) -> list[Step | GlobalStep]:
    """Steps are built once per worker process (models load once), keyed by their recipe entries."""
    return [build_step(s) for s in json.loads(spec_json)]


def build_steps(specs: list[dict[str, Any]]) -> list[Step | GlobalStep]:
    return _cached_steps(json.dumps(specs, sort_keys=True))


def stage_schema(steps: list[Step | GlobalStep], base: pa.Schema | None = None) -> pa.Schema:
    cols: dict[str, pa.DataType] = {}
    if base is not None:
        cols.update({f.name: f.type for f in base if f.name not in CORE_SCHEMA.names})
    for s in steps:
        cols.update(s.columns)
    return schema_with(cols)


def store_schema(step_names: list[str], base: pa.Schema | None = None) -> pa.Schema:
    """The one schema of every shard of a run: the core columns, then every stage column that any step of the
    recipe declares (``Step.columns``), null where a source's pipeline does not set it."""
    from kllama.core.registry import step_class

    cols: dict[str, pa.DataType] = {}
    if base is not None:
        cols.update({f.name: f.type for f in base if f.name not in CORE_SCHEMA.names})
    for name in sorted(set(step_names)):
        cols.update(getattr(step_class(name), "columns", {}) or {})
    return schema_with(cols)


def conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """``table`` with exactly ``schema``'s columns (missing ones null), cast to its types."""
    arrays = []
    for f in schema:
        if f.name in table.column_names:
            arrays.append(table.column(f.name).cast(f.type))
        else:
            arrays.append(pa.nulls(table.num_rows, f.type))
    return pa.Table.from_arrays(arrays, schema=schema)


def step_keys(specs: list[dict[str, Any]]) -> list[str]:
    """Names of a stage's steps in its ledger: the step name, ``NAME#2`` ... for a repeat within the stage."""
    seen: dict[str, int] = {}
    keys = []
    for spec in specs:
        n = seen[spec["step"]] = seen.get(spec["step"], 0) + 1
        keys.append(spec["step"] if n == 1 else f"{spec['step']}#{n}")
    return keys


def _task_ledger(task: PartitionTask) -> Ledger:
    return Ledger(sample_limit=task.drop_samples)


def _run_step(step: Step | GlobalStep, key: str, position: int, ledger: Ledger, fn, n_in: int):
    """Run ``fn()`` (one step on one batch) and count it as step ``key``: documents in/out (``len`` of the result,
    or ``num_rows``), the drops it added to ``ledger`` and the CPU seconds it took."""
    before = dict(ledger.dropped)
    ledger.current_step = key
    t0 = time.process_time()
    out = fn()
    cpu = time.process_time() - t0
    ledger.current_step = ""
    n_out = out.num_rows if isinstance(out, pa.Table) else len(out)
    dropped = {r: n - before.get(r, 0) for r, n in ledger.dropped.items() if n != before.get(r, 0)}
    ledger.count_step(key, n_in, n_out, dropped, cpu, position)
    return out


def _run_steps(docs, steps, ledger, keys, first_position=0):
    for i, (step, key) in enumerate(zip(steps, keys, strict=True)):
        n_in = len(docs)
        if not docs:  # counted, not called: the step sees no empty batch
            ledger.count_step(key, 0, 0, {}, 0.0, first_position + i)
            continue
        docs = _run_step(step, key, first_position + i, ledger, lambda s=step, d=docs: s.process(d, ledger), n_in)
    return docs


#: a read task also runs its steps and writes once this many bytes of text have gathered
BATCH_BYTES = 64 << 20


def _read(task: PartitionTask) -> tuple[str, int, Ledger]:
    """Reader -> per-document steps -> Parquet, in batches: memory is bounded by one batch, not the file."""
    ledger = _task_ledger(task)
    reader_ledger = _task_ledger(task)
    reader_ledger.current_step = reader_key = f"read:{task.reader}"
    steps = build_steps(task.steps)
    keys = step_keys(task.steps)
    t_start = time.process_time()
    source = source_class(task.reader)(**task.reader_options)
    source.source_name = task.source
    writer = PartitionWriter(task.output, stage_schema(steps))
    batch: list = []
    batch_bytes = 0
    not_reading = 0.0  # CPU seconds spent in the steps and the writer, not in the reader

    def flush() -> None:
        nonlocal not_reading
        t0 = time.process_time()
        docs = _run_steps(batch, steps, ledger, keys, first_position=1)
        for d in docs:
            ledger.put_out(1, d.nbytes)
        writer.write(documents_to_table(docs, writer.schema))
        not_reading += time.process_time() - t0

    try:
        for doc in source.read(task.inputs[0], reader_ledger):
            doc.group = task.group
            nbytes = doc.nbytes
            ledger.take_in(1, nbytes)
            batch.append(doc)
            batch_bytes += nbytes
            if len(batch) >= task.batch_docs or batch_bytes >= BATCH_BYTES:
                flush()
                batch, batch_bytes = [], 0
        flush()
        # the reader's drops (malformed records) are inputs too, so that in = out + dropped
        read_docs = ledger.docs_in
        ledger.take_in(sum(reader_ledger.dropped.values()), sum(reader_ledger.dropped_bytes.values()))
        reader_cpu = time.process_time() - t_start - not_reading
        ledger.merge(Ledger(dropped=reader_ledger.dropped, dropped_bytes=reader_ledger.dropped_bytes,
                            stats=reader_ledger.stats, quarantined=reader_ledger.quarantined,
                            samples=reader_ledger.samples, sample_limit=reader_ledger.sample_limit))
        ledger.count_step(reader_key, ledger.docs_in, read_docs, dict(reader_ledger.dropped), reader_cpu, 0)
        return writer.close(), writer.rows, ledger
    except BaseException:
        writer.abort()
        raise


def _map(task: PartitionTask) -> tuple[str, int, Ledger]:
    ledger = _task_ledger(task)
    steps = build_steps(task.steps)
    keys = step_keys(task.steps)
    writer = PartitionWriter(task.output, stage_schema(steps, pq.read_schema(task.inputs[0])))
    try:
        for table in input_batches(task.inputs[0], task.batch_docs):
            docs = table_to_documents(table)
            for d in docs:
                ledger.take_in(1, d.nbytes)
            docs = _run_steps(docs, steps, ledger, keys)
            for d in docs:
                ledger.put_out(1, d.nbytes)
            writer.write(documents_to_table(docs, writer.schema))
        return writer.close(), writer.rows, ledger
    except BaseException:
        writer.abort()
        raise


def _keys(task: PartitionTask) -> tuple[str, int, Ledger]:
    """Key table of one partition, one row group per bucket (so resolve reads only its bucket).

    The step sees the partition batch by batch; a ``row`` column it emits is made partition-wide here.
    """
    import numpy as np

    step = build_steps(task.steps)[0]
    t0 = time.process_time()
    pieces = []
    offset = 0
    for table in input_batches(task.inputs[0], task.batch_docs):
        keys = step.emit_keys(table)
        if "row" in keys.column_names and offset:
            i = keys.column_names.index("row")
            keys = keys.set_column(i, "row", pa.array(keys.column("row").to_numpy() + offset, pa.int64()))
        pieces.append(keys)
        offset += table.num_rows
    keys = pa.concat_tables(pieces) if len(pieces) > 1 else pieces[0]
    part = task.extra["part"]
    keys = keys.append_column("part", pa.array(np.full(keys.num_rows, part, dtype=np.int32)))
    buckets = (keys.column("key").to_numpy() % np.uint64(step.num_buckets)).astype(np.int32)
    keys = keys.append_column("bucket", pa.array(buckets))
    order = np.argsort(buckets, kind="stable")
    keys = keys.take(pa.array(order))
    sorted_buckets = buckets[order]
    groups = []
    for b in np.unique(sorted_buckets):
        lo, hi = np.searchsorted(sorted_buckets, [b, b + 1])
        groups.append(keys.slice(lo, hi - lo))
    return *_written(groups or [keys], task.output), _cpu_ledger(task, t0)


def _cpu_ledger(task: PartitionTask, t0: float) -> Ledger:
    """A ledger holding only the CPU seconds since ``t0`` of a global step's helper task (keys, resolve,
    combine); the runner adds them to the step's ``cpu_s``."""
    ledger = Ledger()
    ledger.count_step(task.steps[0]["step"], 0, 0, {}, time.process_time() - t0)
    return ledger


def _resolve(task: PartitionTask) -> tuple[pa.Table, Ledger]:
    step = build_steps(task.steps)[0]
    t0 = time.process_time()
    bucket = task.extra["bucket"]
    pieces = []
    for path in task.inputs:
        t = pq.read_table(path, filters=[("bucket", "=", bucket)])
        if t.num_rows:
            pieces.append(t)
    if not pieces:
        pieces = [pq.read_schema(task.inputs[0]).empty_table()] if task.inputs else []
    keys = pa.concat_tables(pieces).drop_columns(["bucket"]) if pieces else pa.table({})
    decisions = step.resolve(keys)
    if "part" in decisions.column_names and decisions.num_rows:
        decisions = decisions.sort_by([("part", "ascending")])
    return *_written(decisions, task.output), _cpu_ledger(task, t0)


def _combine(task: PartitionTask) -> tuple[pa.Table, Ledger]:
    step = build_steps(task.steps)[0]
    t0 = time.process_time()
    tables = [pq.read_table(p) for p in task.inputs]
    decisions = pa.concat_tables(tables, promote_options="default") if tables else pa.table({"part": pa.array([], pa.int32())})
    return *_written(step.combine(decisions), task.output), _cpu_ledger(task, t0)


def _apply(task: PartitionTask) -> tuple[str, int, Ledger]:
    """Apply a global step's decisions to one partition, batch by batch. Decisions with a ``row`` column are
    handed to each batch with rows relative to it; others (e.g. keys to remove) go to every batch whole."""
    import numpy as np
    import pyarrow.compute as pc

    step = build_steps(task.steps)[0]
    part = task.extra["part"]
    dec_tables = []
    for path in task.inputs[1:]:
        d = pq.read_table(path, filters=[("part", "=", part)])
        if d.num_rows:
            dec_tables.append(d)
    if dec_tables:
        decisions = pa.concat_tables(dec_tables, promote_options="default")
    else:
        decisions = pq.read_table(task.inputs[1]).slice(0, 0) if len(task.inputs) > 1 else pa.table({})
    rows = decisions.column("row").to_numpy() if "row" in decisions.column_names else None
    ledger = _task_ledger(task)
    key = step_keys(task.steps)[0]
    writer = PartitionWriter(task.output, stage_schema([step], pq.read_schema(task.inputs[0])))
    offset = 0
    try:
        for table in input_batches(task.inputs[0], task.batch_docs):
            n = table.num_rows
            mine = decisions
            if rows is not None:
                sel = np.flatnonzero((rows >= offset) & (rows < offset + n))
                mine = decisions.take(pa.array(sel))
                mine = mine.set_column(mine.column_names.index("row"), "row",
                                       pc.subtract(mine.column("row"), pa.scalar(offset, pa.int64())))
            ledger.take_in(n, _text_bytes(table))
            out = _run_step(step, key, 0, ledger, lambda t=table, m=mine: step.apply(t, m, ledger), n)
            ledger.put_out(out.num_rows, _text_bytes(out))
            writer.write(out)
            offset += n
        return writer.close(), writer.rows, ledger
    except BaseException:
        writer.abort()
        raise


def _shard(task: PartitionTask) -> tuple[None, int, Ledger, dict[str, Any]]:
    """Split one final partition by shard group into ``shards/{group}/{source}/{name}.parquet``."""
    import pyarrow.compute as pc

    ledger = Ledger()
    shard_root = Path(task.extra["shard_root"])
    schema = store_schema(task.extra.get("store_steps", []), pq.read_schema(task.inputs[0]))
    writers: dict[str, PartitionWriter] = {}
    try:
        for table in input_batches(task.inputs[0], task.batch_docs):
            ledger.take_in(table.num_rows)
            ledger.put_out(table.num_rows)
            for group in sorted(set(table.column("group").to_pylist())):
                sub = table.filter(pc.equal(table.column("group"), group))
                if group not in writers:
                    writers[group] = PartitionWriter(shard_root / group / task.source / f"{task.name}.parquet",
                                                     schema)
                writers[group].write(sub)
                writers[group].nbytes += _text_bytes(sub)
        files = []
        for group in sorted(writers):
            w = writers[group]
            digest = w.close()
            files.append({"path": str(w.path.relative_to(shard_root.parent)), "source": task.source,
                          "group": group, "docs": w.rows, "bytes": w.nbytes, "sha256": digest})
        return None, ledger.docs_in, ledger, {"files": files}
    except BaseException:
        for w in writers.values():
            w.abort()
        raise


_KINDS = {"shard": _shard, "read": _read, "map": _map, "keys": _keys, "resolve": _resolve, "combine": _combine, "apply": _apply}


def run_task(task: PartitionTask, verify: bool = True) -> dict[str, Any]:
    """Run one partition task unless it is already complete; retry once, then quarantine.

    Returns the completion marker (with the partition's ledger).
    """
    done = marker_valid(task, verify)
    if done is not None:
        done["skipped"] = True
        return done
    fn = _KINDS[task.kind]
    error = tb = ""
    for _attempt in range(2):
        try:
            digest, rows, ledger, *extra = fn(task)
            return _finish(task, digest, rows, ledger, extra[0] if extra else None)
        except MemoryError as exc:  # same as any failure, but say it plainly
            error = f"MemoryError: {exc}"
        except Exception as exc:  # noqa: BLE001 - a failing partition must not stop the run
            error = "".join(traceback.format_exception_only(type(exc), exc)).strip()
            tb = traceback.format_exc(limit=6)
    ledger = Ledger()
    rows = 0
    if task.kind in ("map", "apply"):
        try:
            rows = pq.ParquetFile(task.inputs[0]).metadata.num_rows
        except Exception:  # noqa: BLE001
            rows = 0
        ledger.take_in(rows)
        ledger.drop("quarantined_partition", rows)
    ledger.quarantined.append({"partition": task.name, "inputs": ", ".join(task.inputs[:1]), "error": error,
                               "traceback": tb})
    ledger.count("partitions_quarantined")
    digest = None
    if task.kind in ("read", "map", "apply"):
        schema = stage_schema(build_steps(task.steps)) if task.kind == "read" else \
            stage_schema(build_steps(task.steps), pq.read_schema(task.inputs[0]))
        digest = write_table_atomic(schema.empty_table(), task.output)
    return _finish(task, digest, 0, ledger)
