"""Parquet export: the store's own shards of a variant, hard-linked (copied across file systems).

Every shard of a run shares one schema (the core columns, then every stage column any step of the recipe declares,
null where a source does not set it; see docs/export.md), so the linked files load as one table with
``datasets.load_dataset("parquet")``, ``pandas.read_parquet(DIR)`` and ``pyarrow.dataset.dataset(DIR)``. A shard
of an older run whose schema differs is rewritten to the variant's common schema instead of linked.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from kllama.core.document import CORE_FIELDS, CORE_NAMES, schema_with


def common_schema(schemas: list[pa.Schema]) -> pa.Schema:
    """The core columns, then the union of every stage column (sorted by name); the first type seen wins."""
    extra: dict[str, pa.DataType] = {}
    for schema in schemas:
        for f in schema:
            if f.name not in CORE_NAMES:
                extra.setdefault(f.name, f.type)
    return schema_with(extra)


def _rewrite(src: Path, dst: Path, schema: pa.Schema) -> str:
    """``src`` conformed to ``schema`` (missing columns null), written atomically to ``dst``; its sha256."""
    from kllama.engine.partition import PartitionWriter, input_batches

    writer = PartitionWriter(dst, schema)
    try:
        for table in input_batches(str(src), 1024):
            writer.write(table)
        return writer.close()
    except BaseException:
        writer.abort()
        raise


def export_parquet(run_dir: Path, shards: list[dict[str, Any]], output: Path) -> tuple[list[dict[str, Any]],
                                                                                         dict[str, Any]]:
    """Link (or, for an odd schema, rewrite) ``shards`` under ``output/{group}/{source}/``; returns the file
    entries and format details for the manifest."""
    from kllama.core.files import sha256_file

    schemas = {s["path"]: pq.read_schema(run_dir / s["path"]).remove_metadata() for s in shards}
    target = common_schema(list(schemas.values())) if shards else schema_with({})
    files: list[dict[str, Any]] = []
    rewritten = 0
    for shard in shards:
        src = run_dir / shard["path"]
        dst = output / Path(shard["path"]).relative_to("shards")
        dst.parent.mkdir(parents=True, exist_ok=True)
        entry = {"path": dst.relative_to(output).as_posix(), "source": shard["source"], "group": shard["group"],
                 "docs": shard["docs"], "bytes": shard["bytes"]}
        if schemas[shard["path"]].equals(target):
            try:
                os.link(src, dst)
                entry["linked"] = True
            except OSError:
                shutil.copyfile(src, dst)
                entry["linked"] = False
            entry["sha256"] = shard.get("sha256") or sha256_file(dst)
        else:
            entry.update(linked=False, sha256=_rewrite(src, dst, target))
            rewritten += 1
        files.append(entry)
    details = {"schema": [f"{f.name}: {f.type}" for f in target], "core_columns": [f.name for f in CORE_FIELDS],
               "rewritten": rewritten,
               "note": "the store's selection: every document once, in store order; the variant's weights are "
                       "not applied (use --format jsonl.zst or kllama tokenize for the weighted, shuffled mix)"}
    return files, details
