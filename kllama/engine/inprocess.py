"""A GlobalStep's protocol (keys -> buckets -> resolve -> combine -> apply) in one process, without Dask.

For tests, benchmarks and small inputs; the engine's ``StageRunner.global_stage`` does the same across
partitions and workers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from kllama.core.ledger import Ledger
from kllama.core.steps import GlobalStep


@dataclass
class InProcessResult:
    """Each stage of the protocol's output: ``resolved`` (all buckets), ``decisions`` (after combine),
    ``tables`` (one per input table) and the ``ledger`` (in = out + dropped)."""

    resolved: pa.Table
    decisions: pa.Table
    tables: list[pa.Table]
    ledger: Ledger


def run_global_in_process(step: GlobalStep, tables: list[pa.Table], ledger: Ledger | None = None,
                          references: list[pa.Table] | None = None) -> InProcessResult:
    """Run ``step`` over ``tables`` (each one partition) as the engine would; ``references``: the final partitions
    of the sources the step names in ``references()`` (their key rows get ``part`` -1, -2, ...)."""
    ledger = ledger if ledger is not None else Ledger()
    keys = []
    for part, t in [*enumerate(tables), *((-1 - j, r) for j, r in enumerate(references or []))]:
        k = step.emit_keys(t)
        keys.append(k.append_column("part", pa.array(np.full(k.num_rows, part, dtype=np.int32))))
    allk = pa.concat_tables(keys)
    bucket = allk.column("key").to_numpy() % np.uint64(step.num_buckets)
    resolved = pa.concat_tables([step.resolve(allk.filter(pa.array(bucket == b)))
                                 for b in range(step.num_buckets)])
    decisions = step.combine(resolved)
    out = []
    for part, t in enumerate(tables):
        ledger.take_in(t.num_rows)
        applied = step.apply(t, decisions.filter(pc.equal(decisions.column("part"), part)), ledger)
        ledger.put_out(applied.num_rows)
        out.append(applied)
    return InProcessResult(resolved, decisions, out, ledger)
