"""Task stages: one plain function call per task, with the engine's markers, retries and quarantine.

For work that is not "steps over one Parquet partition" -- tokenizing a shard into the token store, indexing a
Pile shard, gathering one chunk of a shuffled variant -- a :class:`FnTask` names a module-level function (run
inside a worker, never importing Dask) and its keyword arguments. ``StageRunner.task_stage`` runs a list of them
like any other stage, so they show in ``kllama status``.

The function returns a JSON-able dict. Two keys have a meaning for the engine: ``ledger`` (a ``Ledger`` dict:
documents in/out and drops, shown by ``kllama status``) and ``files`` (paths of files it wrote besides the
declared ``outputs``). The completion marker ``{stage_dir}/{name}.done.json`` holds the rest of the result, the
ledger and the sha256 of every output and file, written only after the function returned. On a rerun a task is
skipped while its marker is intact, its declared ``outputs`` exist and every recorded file matches its checksum;
otherwise it runs again. A task that raises is retried once, then quarantined: its error and traceback go into
the marker's ledger, ``docs`` (the documents behind it, when known) are counted as ``quarantined_partition``,
and the stage goes on. A quarantined task with declared outputs runs again on the next call (its outputs are
missing); one without stays quarantined until its marker is deleted, as a partition does.
"""

from __future__ import annotations

import json
import os
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kllama.core.files import atomic_write_text, read_json_marker, sha256_file
from kllama.core.ledger import Ledger


@dataclass
class FnTask:
    """``fn(**kwargs)`` as one task of the stage in ``stage_dir``; ``name`` names its marker (``part-...``)."""

    stage_dir: str
    name: str
    fn: Callable[..., dict[str, Any]]
    kwargs: dict[str, Any] = field(default_factory=dict)
    #: files the task must leave; while one is missing the task is not complete
    outputs: list[str] = field(default_factory=list)
    #: what it reads (named in a quarantine entry)
    inputs: list[str] = field(default_factory=list)
    #: documents behind the task, counted as ``quarantined_partition`` if it fails twice
    docs: int = 0
    #: a digest of what the task reads (e.g. the checksums of an earlier stage's files): a marker made from
    #: other inputs is not trusted
    fingerprint: str = ""
    kind: str = "task"

    @property
    def marker(self) -> Path:
        return Path(self.stage_dir) / f"{self.name}.done.json"

    @property
    def output(self) -> Path:
        return Path(self.outputs[0]) if self.outputs else self.marker


def _rel(path: str | Path, stage_dir: str) -> str:
    """Paths in markers are relative to the stage folder, so a run folder can be moved as a whole."""
    return os.path.relpath(os.path.abspath(path), os.path.abspath(stage_dir))


def _abs(rel: str, stage_dir: str) -> Path:
    return Path(os.path.normpath(os.path.join(os.path.abspath(stage_dir), rel)))


def fn_marker_valid(task: FnTask, verify: bool = True) -> dict[str, Any] | None:
    """The marker of ``task`` if it is complete: marker intact, outputs present, recorded files unchanged."""
    marker = read_json_marker(task.marker)
    if marker is None or marker.get("kind") != task.kind:
        return None
    if marker.get("fingerprint", "") != task.fingerprint:
        return None
    for out in task.outputs:
        if not os.path.exists(out):
            return None
    for f in marker.get("files", []):
        p = _abs(f["path"], task.stage_dir)
        try:
            if p.stat().st_size != f["bytes"]:
                return None
        except OSError:
            return None
        if verify and sha256_file(p) != f["sha256"]:
            return None
    return marker


def _write_marker(task: FnTask, marker: dict[str, Any]) -> dict[str, Any]:
    atomic_write_text(task.marker, json.dumps(marker, sort_keys=True, default=str))
    return marker


def run_fn_task(task: FnTask, verify: bool = True) -> dict[str, Any]:
    """Run ``task`` unless complete; retry once, then quarantine. Returns its marker (``skipped`` when it was
    complete already)."""
    done = fn_marker_valid(task, verify)
    if done is not None:
        done["skipped"] = True
        return done
    error = tb = ""
    for _attempt in range(2):
        t0 = time.process_time()
        try:
            result = dict(task.fn(**task.kwargs))
        except MemoryError as exc:
            error, tb = f"MemoryError: {exc}", ""
            continue
        except Exception as exc:  # noqa: BLE001 - a failing task must not stop the stage
            error = "".join(traceback.format_exception_only(type(exc), exc)).strip()
            tb = traceback.format_exc(limit=6)
            continue
        ledger = result.pop("ledger", None) or Ledger().to_dict()
        paths = list(dict.fromkeys([*task.outputs, *result.pop("files", [])]))
        files = [{"path": _rel(p, task.stage_dir), "sha256": sha256_file(p), "bytes": os.path.getsize(p)}
                 for p in paths if os.path.exists(p)]
        marker = {"name": task.name, "kind": task.kind, "sha256": None, "ledger": ledger, "files": files,
                  "result": result, "fingerprint": task.fingerprint, "cpu_s": round(time.process_time() - t0, 4)}
        return _write_marker(task, marker)
    ledger = Ledger()
    if task.docs:
        ledger.take_in(task.docs)
        ledger.drop("quarantined_partition", task.docs)
    ledger.quarantined.append({"partition": task.name, "inputs": ", ".join(task.inputs[:1]), "error": error,
                               "traceback": tb})
    ledger.count("partitions_quarantined")
    return _write_marker(task, {"name": task.name, "kind": task.kind, "sha256": None, "ledger": ledger.to_dict(),
                                "files": [], "result": {}, "fingerprint": task.fingerprint, "quarantined": True})
