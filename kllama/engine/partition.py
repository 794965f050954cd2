"""What one Dask task does: run steps over one partition, write it atomically, return its ledger.

Everything here runs inside a worker process and is plain Python (no Dask). A partition's output is
written to a temporary name, renamed into place, and only then is its completion marker written, holding
the output's sha256 and the partition's ledger. A rerun trusts a partition only when its marker exists
and the file's checksum matches.
"""

from __future__ import annotations

import json
import os
import traceback
import uuid
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from kllama.document import CORE_SCHEMA, documents_to_table, schema_with, table_to_documents
from kllama.engine.ledger import Ledger
from kllama.io import atomic_write_text, sha256_file
from kllama.steps import GlobalStep, Step, build_step, source_class

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

    @property
    def output(self) -> Path:
        return Path(self.stage_dir) / f"{self.name}.parquet"

    @property
    def marker(self) -> Path:
        return Path(self.stage_dir) / f"{self.name}.done.json"


def marker_valid(task: PartitionTask, verify: bool = True) -> dict[str, Any] | None:
    """The completion marker of ``task`` if the partition is complete (and its checksum matches)."""
    if not task.marker.exists():
        return None
    try:
        marker = json.loads(task.marker.read_text())
    except (OSError, json.JSONDecodeError):
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
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex}")
    tables = table if isinstance(table, list) else [table]
    try:
        with pq.ParquetWriter(tmp, tables[0].schema, compression=PARQUET_OPTIONS["compression"],
                              compression_level=PARQUET_OPTIONS["compression_level"]) as writer:
            for t in tables:
                writer.write_table(t, row_group_size=PARQUET_OPTIONS["row_group_size"])
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        digest = sha256_file(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return digest


def _finish(task: PartitionTask, table: pa.Table | list[pa.Table] | None, ledger: Ledger,
            extra: dict[str, Any] | None = None) -> dict[str, Any]:
    digest = write_table_atomic(table, task.output) if table is not None else None
    rows = sum(t.num_rows for t in table) if isinstance(table, list) else (table.num_rows if table is not None else 0)
    marker = {"name": task.name, "kind": task.kind, "sha256": digest, "rows": rows, "ledger": ledger.to_dict(),
              **(extra or {})}
    atomic_write_text(task.marker, json.dumps(marker, sort_keys=True))
    return marker


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


def conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """``table`` with exactly ``schema``'s columns (missing ones null), cast to its types."""
    arrays = []
    for f in schema:
        if f.name in table.column_names:
            arrays.append(table.column(f.name).cast(f.type))
        else:
            arrays.append(pa.nulls(table.num_rows, f.type))
    return pa.Table.from_arrays(arrays, schema=schema)


def _run_steps(docs, steps, ledger):
    for step in steps:
        if not docs:
            break
        docs = step.process(docs, ledger)
    return docs


def _read(task: PartitionTask) -> tuple[pa.Table, Ledger]:
    ledger = Ledger()
    source = source_class(task.reader)(**task.reader_options)
    source.source_name = task.source
    docs = []
    for doc in source.read(task.inputs[0], ledger):
        doc.group = task.group
        ledger.take_in(1, doc.nbytes)
        docs.append(doc)
    # reader drops were counted as drops only; count them as inputs too so that in = out + dropped
    ledger.take_in(sum(ledger.dropped.values()), sum(ledger.dropped_bytes.values()))
    steps = build_steps(task.steps)
    docs = _run_steps(docs, steps, ledger)
    schema = stage_schema(steps)
    for d in docs:
        ledger.put_out(1, d.nbytes)
    return documents_to_table(docs, schema), ledger


def _map(task: PartitionTask) -> tuple[pa.Table, Ledger]:
    ledger = Ledger()
    table = pq.read_table(task.inputs[0])
    docs = table_to_documents(table)
    for d in docs:
        ledger.take_in(1, d.nbytes)
    steps = build_steps(task.steps)
    docs = _run_steps(docs, steps, ledger)
    for d in docs:
        ledger.put_out(1, d.nbytes)
    return documents_to_table(docs, stage_schema(steps, table.schema)), ledger


def _keys(task: PartitionTask) -> tuple[list[pa.Table], Ledger]:
    """Key table of one partition, one row group per bucket (so resolve reads only its bucket)."""
    import numpy as np

    step = build_steps(task.steps)[0]
    table = pq.read_table(task.inputs[0])
    keys = step.emit_keys(table)
    part = task.extra["part"]
    keys = keys.append_column("part", pa.array(np.full(keys.num_rows, part, dtype=np.int32)))
    buckets = (keys.column("key").to_numpy() % np.uint64(step.num_buckets)).astype(np.int32)
    keys = keys.append_column("bucket", pa.array(buckets))
    order = np.argsort(buckets, kind="stable")
    keys = keys.take(pa.array(order))
    sorted_buckets = buckets[order]
    pieces = []
    for b in np.unique(sorted_buckets):
        lo, hi = np.searchsorted(sorted_buckets, [b, b + 1])
        pieces.append(keys.slice(lo, hi - lo))
    return pieces or [keys], Ledger()


def _resolve(task: PartitionTask) -> tuple[pa.Table, Ledger]:
    step = build_steps(task.steps)[0]
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
    return decisions, Ledger()


def _combine(task: PartitionTask) -> tuple[pa.Table, Ledger]:
    step = build_steps(task.steps)[0]
    tables = [pq.read_table(p) for p in task.inputs]
    decisions = pa.concat_tables(tables, promote_options="default") if tables else pa.table({"part": pa.array([], pa.int32())})
    return step.combine(decisions), Ledger()


def _apply(task: PartitionTask) -> tuple[pa.Table, Ledger]:
    import pyarrow.compute as pc

    step = build_steps(task.steps)[0]
    table = pq.read_table(task.inputs[0])
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
    ledger = Ledger()
    ledger.take_in(table.num_rows, int(pc.sum(pc.binary_length(table.column("text"))).as_py() or 0))
    out = step.apply(table, decisions, ledger)
    out = conform(out, stage_schema([step], table.schema))
    ledger.put_out(out.num_rows, int(pc.sum(pc.binary_length(out.column("text"))).as_py() or 0) if out.num_rows else 0)
    return out, ledger


def _shard(task: PartitionTask) -> tuple[None, Ledger, dict[str, Any]]:
    """Split one final partition by shard group into ``shards/{group}/{source}/{name}.parquet``."""
    import pyarrow.compute as pc

    table = pq.read_table(task.inputs[0])
    ledger = Ledger()
    files = []
    shard_root = Path(task.extra["shard_root"])
    for group in sorted(set(table.column("group").to_pylist())):
        sub = table.filter(pc.equal(table.column("group"), group))
        path = shard_root / group / task.source / f"{task.name}.parquet"
        digest = write_table_atomic(sub, path)
        nbytes = int(pc.sum(pc.binary_length(sub.column("text"))).as_py() or 0)
        files.append({"path": str(path.relative_to(shard_root.parent)), "source": task.source, "group": group,
                      "docs": sub.num_rows, "bytes": nbytes, "sha256": digest})
    ledger.take_in(table.num_rows)
    ledger.put_out(table.num_rows)
    return None, ledger, {"files": files}


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
            table, ledger, *extra = fn(task)
            return _finish(task, table, ledger, extra[0] if extra else None)
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
    empty = None
    if task.kind in ("read", "map", "apply"):
        schema = stage_schema(build_steps(task.steps)) if task.kind != "apply" else pq.read_schema(task.inputs[0])
        empty = schema.empty_table()
    return _finish(task, empty, ledger)
