"""Dropped-document samples: the first K dropped documents per reason and stage, kept in the run folder.

Each partition task keeps, per reason, the K dropped documents with the smallest ids (``Ledger.keep_sample``)
and writes them atomically to ``stages/<stage>/_samples/parts/<partition>.jsonl`` before its completion marker.
When the stage is complete the driver merges them into ``stages/<stage>/_samples/<reason>.jsonl``: again the K
smallest ids, so the files do not depend on the partitioning, the worker count or a resume.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from kllama.core.files import atomic_write_text
from kllama.core.ledger import Ledger

SAMPLES_DIR = "_samples"


def reason_file_name(reason: str) -> str:
    """A file name for ``reason`` (characters other than letters, digits, ``_.-`` become ``_``)."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", reason) + ".jsonl"


def _parts_dir(stage_dir: Path) -> Path:
    return Path(stage_dir) / SAMPLES_DIR / "parts"


def write_partition_samples(stage_dir: str | Path, name: str, ledger: Ledger) -> None:
    """Write a partition's samples (or remove a stale file when it has none)."""
    path = _parts_dir(Path(stage_dir)) / f"{name}.jsonl"
    records = [rec for reason in sorted(ledger.samples) for _id, rec in ledger.samples[reason]]
    if not records:
        if path.exists():
            path.unlink()
        return
    atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in records))


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    try:
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except (OSError, json.JSONDecodeError):
        return []


def merge_partition_samples(stage_dir: str | Path, names: list[str] | None, k: int) -> dict[str, list[dict]]:
    """Per reason, the ``k`` samples with the smallest ids over the partitions ``names`` (None: all present)."""
    parts = _parts_dir(Path(stage_dir))
    paths = ([parts / f"{n}.jsonl" for n in names] if names is not None else sorted(parts.glob("*.jsonl")))
    merged = Ledger(sample_limit=k)
    for path in paths:
        if not path.exists():
            continue
        for rec in _read_jsonl(path):
            merged.add_sample(rec)
    return {reason: [rec for _id, rec in kept] for reason, kept in sorted(merged.samples.items())}


def write_stage_samples(stage_dir: str | Path, names: list[str], k: int) -> None:
    """Merge the partitions' samples into one file per reason (atomically); remove reason files left over."""
    d = Path(stage_dir) / SAMPLES_DIR
    if not d.exists():
        return
    merged = merge_partition_samples(stage_dir, names, k) if k else {}
    keep = set()
    for reason, records in merged.items():
        path = d / reason_file_name(reason)
        keep.add(path.name)
        atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in records))
    for old in d.glob("*.jsonl"):
        if old.name not in keep:
            old.unlink()


def stage_samples(stage_dir: str | Path, reason: str, k: int | None = None) -> list[dict[str, Any]]:
    """The samples of ``reason`` in one stage: the merged file, or (stage still running) the partitions' files."""
    path = Path(stage_dir) / SAMPLES_DIR / reason_file_name(reason)
    if path.exists():
        records = _read_jsonl(path)
        return records[:k] if k else records
    merged = merge_partition_samples(stage_dir, None, k or 1 << 30)
    return merged.get(reason, [])
