"""The stage runner: submits partition tasks to a distributed cluster, one independent Dask task per partition.

A source's pipeline (recipe) is cut into stages: the reader plus the per-document steps that follow it,
then each global step (keys -> resolve -> [combine] -> apply), then the next run of per-document steps,
and so on. Every task writes its partition atomically with a completion marker; completed partitions are
skipped on a rerun, so a killed run resumes where it stopped and gives the same bytes.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from distributed import Client, as_completed

from kllama.core.files import atomic_write_text
from kllama.core.ledger import Ledger
from kllama.core.steps import GlobalStep
from kllama.engine.partition import PartitionTask, build_steps, marker_valid, run_task
from kllama.engine.plan import split_pipeline
from kllama.engine.samples import write_stage_samples
from kllama.engine.tasks import FnTask, fn_marker_valid, run_fn_task

__all__ = ["StageResult", "StageRunner", "split_pipeline"]


@dataclass
class StageResult:
    """What a finished stage left: its partition files and merged ledger."""

    name: str
    outputs: list[Path]
    ledger: Ledger
    partitions_total: int
    skipped: int = 0
    quarantined: list[dict[str, str]] = field(default_factory=list)
    #: the completion marker of every task, in task order (task stages read their results from them)
    markers: list[dict[str, Any]] = field(default_factory=list)

    def results(self) -> list[dict[str, Any]]:
        """Each task's result with its ``ledger`` (a quarantined task: its ledger only), in task order."""
        return [{**m.get("result", {}), "ledger": m["ledger"]} for m in self.markers]


class StageRunner:
    """Runs stages of partition tasks on ``client`` under ``run_dir/stages`` (``client=None``: one task after
    another in this process, with the same markers)."""

    def __init__(self, client: Client | None, run_dir: Path, progress: bool = True, verify: bool = True,
                 batch_docs: int = 4096, drop_samples: int = 5):
        self.client = client
        self.batch_docs = int(batch_docs)
        #: dropped documents kept per reason and stage (``[run] drop_samples``)
        self.drop_samples = int(drop_samples)
        self.run_dir = Path(run_dir)
        self.progress = progress
        self.verify = verify

    # -- plumbing ---------------------------------------------------------------------------------
    def _compute(self, tasks: list[PartitionTask] | list[FnTask], label: str, *, check: Any = marker_valid,
                 execute: Any = run_task) -> list[dict[str, Any]]:
        """Run tasks on the cluster, one Dask task per partition; return markers in task order."""
        if not tasks:
            return []
        for t in tasks:
            if isinstance(t, PartitionTask):
                t.batch_docs = self.batch_docs
                t.drop_samples = self.drop_samples
        results: dict[int, dict[str, Any]] = {}
        todo = []
        for i, t in enumerate(tasks):
            m = check(t, self.verify)
            if m is None:
                todo.append(i)
            else:
                m["skipped"] = True
                results[i] = m
        if results:  # told once, in one line, before the next work (or at the end): not one line per stage
            self._skipped_parts += len(results)
            self._skipped_stages += len(results) == len(tasks)
        if todo:
            self.report_skipped()
        if todo and self.client is None:
            for i in todo:
                results[i] = execute(tasks[i], verify=self.verify)
        elif todo:
            verify = self.verify
            # one independent task per partition: a bag's graph (fused tasks behind aliases) leaves task groups
            # whose upstream group the scheduler has forgotten, and the dashboard's task-group page then fails
            futures = self.client.map(execute, [tasks[i] for i in todo], verify=verify, pure=False)
            index_of = {f.key: todo[k] for k, f in enumerate(futures)}
            bar = _progress_bar(label, len(tasks), len(tasks) - len(todo), self.progress)
            for fut in as_completed(futures):
                results[index_of[fut.key]] = fut.result()
                bar.update(1)
            bar.close()
        return [results[i] for i in range(len(tasks))]

    #: partitions (and whole stages) found complete and not yet reported
    _skipped_parts = 0
    _skipped_stages = 0

    def report_skipped(self) -> None:
        """Print one line for the complete partitions skipped since the last report (a resumed run)."""
        if self._skipped_parts:
            n, k = self._skipped_parts, self._skipped_stages
            print(f"kllama: {n} partition{'s' if n > 1 else ''} already complete, skipped (made by an earlier run; "
                  f"{k} stage{'s' if k != 1 else ''} or sub-stage{'s' if k != 1 else ''} entirely)", file=sys.stderr)
        self._skipped_parts = self._skipped_stages = 0

    def _stage_dir(self, name: str) -> Path:
        return self.run_dir / "stages" / name

    def _record(self, name: str, kind: str, tasks: list[PartitionTask], markers: list[dict[str, Any]],
                count_docs: bool = True, helpers: list[dict[str, Any]] | None = None) -> StageResult:
        """Merge the partitions' ledgers (and the CPU time per step of a global stage's ``helpers`` tasks: keys,
        resolve, combine) into the stage ledger; merge the partitions' drop samples per reason."""
        ledger = Ledger()
        for m in markers:
            ledger.merge(Ledger.from_dict(m["ledger"]))
        for m in helpers or []:
            ledger.merge(Ledger(steps=Ledger.from_dict(m["ledger"]).steps))
        write_stage_samples(self._stage_dir(name), [t.name for t in tasks], self.drop_samples)
        result = StageResult(name=name, outputs=[t.output for t in tasks], ledger=ledger,
                             partitions_total=len(tasks), skipped=sum(1 for m in markers if m.get("skipped")),
                             quarantined=ledger.quarantined)
        if count_docs:
            info = {"name": name, "kind": kind, "partitions_total": len(tasks), "ledger": ledger.to_dict()}
            atomic_write_text(self._stage_dir(name) / "_stage.json", json.dumps(info, sort_keys=True, indent=1))
        return result

    # -- stages -----------------------------------------------------------------------------------
    def read_stage(self, name: str, source: str, reader: str, reader_options: dict[str, Any],
                   inputs: list[str], steps: list[dict[str, Any]], group: str) -> StageResult:
        """Raw files -> Parquet partitions, through the reader and the per-document steps after it."""
        d = self._stage_dir(name)
        tasks = [PartitionTask(kind="read", stage_dir=str(d), name=f"part-{i:05d}", inputs=[path], source=source,
                               reader=reader, reader_options=reader_options, steps=steps, group=group)
                 for i, path in enumerate(inputs)]
        self._write_plan(d, tasks)
        return self._record(name, "read", tasks, self._compute(tasks, name))

    def map_stage(self, name: str, inputs: list[Path], steps: list[dict[str, Any]]) -> StageResult:
        d = self._stage_dir(name)
        tasks = [PartitionTask(kind="map", stage_dir=str(d), name=f"part-{i:05d}", inputs=[str(p)], steps=steps)
                 for i, p in enumerate(inputs)]
        self._write_plan(d, tasks)
        return self._record(name, "map", tasks, self._compute(tasks, name))

    def global_stage(self, name: str, inputs: list[Path], spec: dict[str, Any],
                     references: dict[str, list[Path]] | None = None) -> StageResult:
        """keys (per partition) -> resolve (per bucket) -> combine (once) -> apply (per partition).

        ``references``: the final partitions of the other sources the step names (``GlobalStep.references``), in
        its order; their key rows (``_refkeys/ref-NNNNN``) get ``part`` -1, -2, ... and join every bucket, but
        nothing is applied to them."""
        d = self._stage_dir(name)
        step = build_steps([spec])[0]
        assert isinstance(step, GlobalStep)
        key_tasks = [PartitionTask(kind="keys", stage_dir=str(d / "_keys"), name=f"part-{i:05d}", inputs=[str(p)],
                                   steps=[spec], extra={"part": i}) for i, p in enumerate(inputs)]
        ref_paths = [p for src in step.references() for p in (references or {}).get(src, [])]
        key_tasks += [PartitionTask(kind="keys", stage_dir=str(d / "_refkeys"), name=f"ref-{j:05d}", inputs=[str(p)],
                                    steps=[spec], extra={"part": -1 - j}) for j, p in enumerate(ref_paths)]
        helpers = self._compute(key_tasks, f"{name}:keys")
        key_files = [str(t.output) for t in key_tasks]
        res_tasks = [PartitionTask(kind="resolve", stage_dir=str(d / "_decisions"), name=f"bucket-{b:04d}",
                                   inputs=key_files, steps=[spec], extra={"bucket": b})
                     for b in range(step.num_buckets)]
        helpers += self._compute(res_tasks, f"{name}:resolve")
        decision_files = [str(t.output) for t in res_tasks]
        if type(step).combine is not GlobalStep.combine:
            comb = PartitionTask(kind="combine", stage_dir=str(d / "_combined"), name="combined",
                                 inputs=decision_files, steps=[spec])
            helpers += self._compute([comb], f"{name}:combine")
            decision_files = [str(comb.output)]
        tasks = [PartitionTask(kind="apply", stage_dir=str(d), name=f"part-{i:05d}",
                               inputs=[str(p), *decision_files], steps=[spec], extra={"part": i})
                 for i, p in enumerate(inputs)]
        self._write_plan(d, tasks)
        return self._record(name, "global", tasks, self._compute(tasks, name), helpers=helpers)

    def shard_stage(self, name: str, source: str, inputs: list[Path],
                    store_steps: list[str] | None = None) -> list[dict[str, Any]]:
        """Split the final partitions by group into ``run_dir/shards``; returns the shard entries.

        ``store_steps``: every step name of the recipe; each shard gets their declared columns (null where unset),
        so that all shards of a run share one schema."""
        d = self._stage_dir(name)
        extra = {"shard_root": str(self.run_dir / "shards"), "store_steps": sorted(set(store_steps or []))}
        tasks = [PartitionTask(kind="shard", stage_dir=str(d), name=f"part-{i:05d}", inputs=[str(p)], source=source,
                               extra=extra) for i, p in enumerate(inputs)]
        self._write_plan(d, tasks)
        markers = self._compute(tasks, name)
        return [f for m in markers for f in m.get("files", [])]

    def task_stage(self, name: str, tasks: list[FnTask]) -> StageResult:
        """Run function tasks (``kllama.engine.tasks``) as stage ``name``: markers, retries, quarantine and
        ``kllama status`` as for partitions. A stage called again with other tasks (the token store, shared by
        every variant) counts the union of its task names as its total."""
        d = self._stage_dir(name)
        d.mkdir(parents=True, exist_ok=True)
        plan_path = d / "_plan.json"
        plan: dict[str, Any] = {}
        if plan_path.exists():
            try:
                plan = json.loads(plan_path.read_text())
            except (OSError, json.JSONDecodeError):
                plan = {}
        names = sorted(set(plan.get("tasks", [])) | {t.name for t in tasks})
        if names != plan.get("tasks"):
            atomic_write_text(plan_path, json.dumps({"partitions_total": len(names), "tasks": names,
                                                     "created": plan.get("created", time.time())}))
        markers = self._compute(tasks, name, check=fn_marker_valid, execute=run_fn_task)
        result = self._record(name, "task", tasks, markers)
        result.markers = markers
        return result

    def setup_stages(self, specs: list[dict[str, Any]]) -> dict[str, StageResult]:
        """Work that steps need before any partition runs, as one task stage per step (the Pile index of a
        ``pile_label`` given ``pile_dir``). A step asks for it with ``setup_tasks()`` (a list of
        ``{"name", "fn", "kwargs", "inputs"}``; empty: nothing to do), names the stage ``setup_stage_name`` and
        gets the results (each task's result with its ``ledger``) in ``finish_setup``. Returns the stages run."""
        done: dict[str, StageResult] = {}
        seen: set[str] = set()
        for spec in specs:
            key = json.dumps(spec, sort_keys=True, default=str)
            if key in seen:
                continue
            seen.add(key)
            step = build_steps([spec])[0]
            if not hasattr(step, "setup_tasks") or step.setup_stage_name in done:
                continue  # the same stage asked for by a spec that differs elsewhere (a source's Pile policy)
            wanted = step.setup_tasks()
            if not wanted:
                continue
            name = step.setup_stage_name
            res = self.spec_stage(name, wanted)
            step.finish_setup(res.results())
            done[name] = res
        return done

    def spec_stage(self, name: str, specs: list[dict[str, Any]]) -> StageResult:
        """``task_stage`` of tasks given as ``{"name", "fn", "kwargs"[, "inputs", "outputs", "docs"]}``."""
        d = str(self._stage_dir(name))
        return self.task_stage(name, [FnTask(stage_dir=d, name=t["name"], fn=t["fn"], kwargs=t["kwargs"],
                                             inputs=t.get("inputs", []), outputs=t.get("outputs", []),
                                             docs=t.get("docs", 0)) for t in specs])

    def _write_plan(self, d: Path, tasks: list[PartitionTask]) -> None:
        """Record how many partitions the stage has, so that `kllama status` can show progress."""
        d.mkdir(parents=True, exist_ok=True)
        plan = d / "_plan.json"
        if not plan.exists():
            atomic_write_text(plan, json.dumps({"partitions_total": len(tasks), "created": time.time()}))


def _progress_bar(label: str, total: int, initial: int, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, desc=label, unit="part", disable=not enabled or not sys.stderr.isatty(),
                leave=False)
