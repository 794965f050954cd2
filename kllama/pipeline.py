"""Run a recipe: every source through its stages, then shards by group, the manifest and the run ledger."""

from __future__ import annotations

import hashlib
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from distributed import Client

from kllama import __version__
from kllama.config import Recipe
from kllama.core.files import atomic_write_text
from kllama.core.ledger import Ledger
from kllama.core.variants import replacements, shard_in_variant
from kllama.engine.heartbeat import DriverHeartbeat
from kllama.engine.plan import RunPlan, build_plan
from kllama.engine.runner import StageRunner


@dataclass
class RunSummary:
    """What a finished run produced."""

    run_dir: Path
    stages: dict[str, Ledger] = field(default_factory=dict)
    shards: list[dict[str, Any]] = field(default_factory=list)
    manifest: dict[str, Any] = field(default_factory=dict)


def settings_fingerprint(recipe: Recipe) -> str:
    """Hash of everything that decides a run's output (recipe content and resolved inputs)."""
    payload = {"recipe": recipe.raw, "sources": {n: [s.inputs, s.reader, s.options, s.pipeline, s.group]
                                                 for n, s in sorted(recipe.sources.items())}}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def _check_run_dir(run_dir: Path, recipe: Recipe) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    info_path = run_dir / "run.json"
    fp = settings_fingerprint(recipe)
    if info_path.exists():
        old = json.loads(info_path.read_text())
        if old.get("fingerprint") != fp:
            raise ValueError(
                f"{run_dir} holds a run made with other settings (recipe {old.get('recipe')!r}); "
                "resume needs the same recipe and inputs -- use a new --output folder"
            )
        return
    info = {"recipe": recipe.name, "recipe_path": str(recipe.path), "fingerprint": fp, "kllama": __version__,
            "sources": {n: {"inputs": s.inputs, "reader": s.reader, "group": s.group}
                        for n, s in sorted(recipe.sources.items())},
            "settings": recipe.raw}
    atomic_write_text(info_path, json.dumps(info, indent=1, sort_keys=True, default=str))


def run_recipe(recipe: Recipe, run_dir: Path, client: Client, progress: bool = True,
               plan: RunPlan | None = None) -> RunSummary:
    """Run every source of ``recipe`` into ``run_dir`` on ``client``; resumes a partial run in place.

    The run plan (``plan``, else built here) checks every reader, step, option and input first: a mistake stops
    the run before ``run.json`` is written. The plan is kept as ``plan.json``."""
    run_dir = Path(run_dir)
    plan = plan if plan is not None else build_plan(recipe)
    _check_run_dir(run_dir, recipe)
    with DriverHeartbeat(run_dir):  # DIR/driver.json: kllama status tells a live run from a stopped one
        return _run_checked(recipe, run_dir, client, progress, plan)


def _run_checked(recipe: Recipe, run_dir: Path, client: Client, progress: bool, plan: RunPlan) -> RunSummary:
    """``run_recipe`` once the plan and the run folder are checked."""
    plan.write(run_dir / "plan.json")
    runner = StageRunner(client, run_dir, progress=progress, batch_docs=plan.batch_docs,
                         drop_samples=plan.drop_samples)
    summary = RunSummary(run_dir=run_dir)
    post = list(recipe.run.get("post", []))
    # every shard of the run gets the stage columns of every step of the recipe: one schema for the store
    store_steps = sorted({spec["step"] for s in recipe.sources.values() for spec in [*s.pipeline, *post]})
    # what steps need before any partition, as engine stages (the Pile index of a pile_label given pile_dir)
    setup = runner.setup_stages([spec for _, sp in sorted(plan.sources.items()) for st in sp.stages for spec in st.specs])
    summary.stages.update({stage: res.ledger for stage, res in setup.items()})
    # by name, except that a source runs after the sources its global steps compare against (dedup_against)
    final: dict[str, list[Path]] = {}
    for w in plan.warnings:
        print(f"kllama: warning: {w}", file=sys.stderr)
    for name in plan.order or sorted(plan.sources):
        sp = plan.sources[name]
        read, *middle, shards = sp.stages
        res = runner.read_stage(read.name, name, sp.reader, recipe.sources[name].options, sp.partitions,
                                read.specs, sp.group)
        summary.stages[res.name] = res.ledger
        outputs = res.outputs
        for st in middle:
            if st.kind == "global":
                res = runner.global_stage(st.name, outputs, st.specs[0],
                                          references={r: final[r] for r in sp.references if r in final})
            else:
                res = runner.map_stage(st.name, outputs, st.specs)
            summary.stages[res.name] = res.ledger
            outputs = res.outputs
        final[name] = outputs
        summary.shards.extend(runner.shard_stage(shards.name, name, outputs, store_steps))
    summary.manifest = write_manifest(run_dir, recipe, summary.shards)
    ledger = {name: led.to_dict() for name, led in summary.stages.items()}
    atomic_write_text(run_dir / "ledger.json", json.dumps(ledger, indent=1, sort_keys=True))
    runner.report_skipped()  # a rerun of a finished run: one line for all it skipped
    return summary


def write_manifest(run_dir: Path, recipe: Recipe, shards: list[dict[str, Any]]) -> dict[str, Any]:
    """``manifest.json``: every shard (path, source, group, docs, bytes, sha256) and each variant's groups, Table 1
    sampling weights and replacements (``replace``); its documents and bytes are those of the shards it selects
    (``kllama.core.variants``, the rule export, tokenize and the report apply too)."""
    shards = sorted(shards, key=lambda s: s["path"])
    variants = {}
    for vname, v in sorted(recipe.variants.items()):
        spec: dict[str, Any] = {"groups": list(v.get("groups", [])), "weights": dict(v.get("weights", {}))}
        if v.get("replace"):
            spec["replace"] = replacements(v)
        taken = [s for s in shards if shard_in_variant(s, spec)]
        variants[vname] = {
            "description": v.get("description", ""),
            **spec,
            "docs": sum(s["docs"] for s in taken),
            "bytes": sum(s["bytes"] for s in taken),
        }
    manifest = {"kllama": __version__, "recipe": recipe.name, "shards": shards, "variants": variants}
    atomic_write_text(Path(run_dir) / "manifest.json", json.dumps(manifest, indent=1, sort_keys=True))
    return manifest
