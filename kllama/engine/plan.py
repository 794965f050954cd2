"""The run plan: every reader and step of a recipe, built and checked on the driver before any task runs.

``build_plan`` works in three passes, so that a mistake surfaces in the first second, not in a worker hours later:

1. names and options (no constructor runs): an unknown reader or step, an option that the class's ``__init__``
   does not take (a misspelling; :func:`kllama.core.steps.option_parameters`), a missing required option;
2. construction: each reader and step is built once with the recipe's options (a bad value raises here; the
   steps stay cached for the driver's own use, e.g. a global step's bucket count);
3. inputs: each reader lists its partition units.

Every error is a :class:`PlanError` naming the recipe file, the source and the key. The plan then names the
stages exactly as the runner will (``{source}.NN-{steps}``), and is what ``kllama run --dry-run`` prints and
writes to ``plan.json``. No Dask here: checking a recipe never imports the scheduler.
"""

from __future__ import annotations

import difflib
import inspect
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kllama.config import Recipe
from kllama.core.document import GROUPS
from kllama.core.files import atomic_write_text
from kllama.core.registry import known_sources, known_steps, source_class, step_class
from kllama.core.steps import GlobalStep, Source, option_parameters
from kllama.engine.partition import build_steps

#: ``[run]`` defaults
DEFAULT_BATCH_DOCS = 4096
DEFAULT_DROP_SAMPLES = 5


class PlanError(ValueError):
    """A recipe that cannot run: names the recipe file, the source (or ``[run]``) and the key."""


def split_pipeline(pipeline: list[dict[str, Any]]) -> list[tuple[str, list[dict[str, Any]]]]:
    """Cut a pipeline into stages: ``("map", [specs...])`` runs and ``("global", [spec])`` singletons."""
    stages: list[tuple[str, list[dict[str, Any]]]] = []
    for spec in pipeline:
        if issubclass(step_class(spec["step"]), GlobalStep):
            stages.append(("global", [spec]))
        elif stages and stages[-1][0] == "map":
            stages[-1][1].append(spec)
        else:
            stages.append(("map", [spec]))
    return stages


def stage_names(source: str, stages: list[tuple[str, list[dict[str, Any]]]]) -> list[str]:
    """The runner's names for the stages after a source's read stage (``{source}.NN-{steps}``)."""
    names = []
    for k, (kind, specs) in enumerate(stages, start=1):
        label = specs[0]["step"] if kind == "global" else "+".join(dict.fromkeys(s["step"] for s in specs))
        names.append(f"{source}.{k:02d}-{label}")
    return names


def jsonable(value: Any) -> Any:
    """``value`` as plain JSON data (tuples and sets become lists, other objects their ``repr``)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted(jsonable(v) for v in value)
    return repr(value)


def effective_options(cls: type, given: dict[str, Any]) -> dict[str, Any]:
    """The options a class runs with: the recipe's values over the ``__init__`` defaults."""
    params, _open = option_parameters(cls)
    out = {name: (given[name] if name in given else
                  (None if p.default is inspect.Parameter.empty else p.default))
           for name, p in params.items()}
    out.update({k: v for k, v in given.items() if k not in out})
    return jsonable(out)


@dataclass
class StepPlan:
    """One step of a stage: its recipe entry, where the recipe says it, its options with defaults."""

    step: str
    where: str
    options: dict[str, Any]
    kind: str  # map | global
    drop_reasons: list[str]
    buckets: int | None = None
    combine: bool = False


@dataclass
class StagePlan:
    """One stage as the runner will run it."""

    name: str
    kind: str  # read | map | global | shard
    specs: list[dict[str, Any]] = field(default_factory=list)
    steps: list[StepPlan] = field(default_factory=list)


@dataclass
class SourcePlan:
    """One source: its reader, inputs, partition units and stages."""

    name: str
    reader: str
    group: str
    options: dict[str, Any]
    drop_reasons: list[str]
    inputs: list[str]
    partitions: list[str]
    stages: list[StagePlan]
    #: the map steps run inside the read stage (recipe entries)
    read_specs: list[dict[str, Any]] = field(default_factory=list)
    #: other sources whose final documents a global step of this one compares against (they run first)
    references: list[str] = field(default_factory=list)


@dataclass
class RunPlan:
    """What a run will do; built by :func:`build_plan`."""

    recipe: str
    recipe_path: str
    batch_docs: int
    drop_samples: int
    sources: dict[str, SourcePlan]
    #: the order sources run in: by name, except that a source runs after the sources it references
    order: list[str] = field(default_factory=list)
    #: things worth saying that do not stop the run (a referenced source that is not in this run)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "recipe": self.recipe,
            "recipe_path": self.recipe_path,
            "run": {"batch_docs": self.batch_docs, "drop_samples": self.drop_samples},
            "order": list(self.order or sorted(self.sources)),
            "warnings": list(self.warnings),
            "sources": {
                name: {"reader": s.reader, "group": s.group, "options": s.options, "drop_reasons": s.drop_reasons,
                       "inputs": s.inputs, "partitions": s.partitions, "references": s.references,
                       "stages": [{"name": st.name, "kind": st.kind,
                                   "steps": [{"step": p.step, "where": p.where, "kind": p.kind, "options": p.options,
                                              "drop_reasons": p.drop_reasons,
                                              **({"buckets": p.buckets, "combine": p.combine}
                                                 if p.kind == "global" else {})}
                                             for p in st.steps]}
                                  for st in s.stages]}
                for name, s in sorted(self.sources.items())},
            "partitions_total": sum(len(s.partitions) for s in self.sources.values()),
            "stages_total": sum(len(s.stages) for s in self.sources.values()),
        }

    def write(self, path: str | Path) -> Path:
        """Write the plan as JSON (atomically); returns the path."""
        path = Path(path)
        atomic_write_text(path, json.dumps(self.to_dict(), indent=1, sort_keys=True) + "\n")
        return path

    def format(self, max_partitions: int = 3) -> str:
        """The plan as text: sources, inputs -> partitions, stages with steps and options, global buckets."""
        d = self.to_dict()
        lines = [f"plan of recipe {self.recipe} ({self.recipe_path}): {len(self.sources)} sources, "
                 f"{d['partitions_total']} partitions, {d['stages_total']} stages; "
                 f"batch_docs={self.batch_docs}, drop_samples={self.drop_samples}"]
        lines += [f"warning: {w}" for w in self.warnings]
        for name, s in sorted(self.sources.items()):
            lines.append("")
            lines.append(f"source {name}: reader {s.reader}({_kwargs(s.options)}), group {s.group}")
            if s.references:
                lines.append(f"  runs after {', '.join(s.references)} (compares against their final documents)")
            for i in s.inputs:
                lines.append(f"  input {i}")
            lines.append(f"  -> {len(s.partitions)} partitions")
            for k, p in enumerate(s.partitions[:max_partitions]):
                lines.append(f"     part-{k:05d} {p.replace(chr(10), ' + ')}")  # a unit of several files
            if len(s.partitions) > max_partitions:
                lines.append(f"     ... {len(s.partitions) - max_partitions} more (plan.json lists all)")
            for st in s.stages:
                if st.kind == "shard":
                    lines.append(f"  {st.name}: split by group into shards/{{group}}/{name}/")
                    continue
                head = f"  {st.name} ({st.kind})"
                if st.kind == "read":
                    head += f": {s.reader}"
                if st.kind == "global":
                    p = st.steps[0]
                    head += f": {p.buckets} buckets" + (", then one combine task" if p.combine else "")
                lines.append(head)
                for p in st.steps:
                    lines.append(f"    {p.step}({_kwargs(p.options)})")
        return "\n".join(lines)


def _kwargs(options: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in options.items())


class _Checker:
    """Pass 1: names and options, for the whole recipe, before any constructor runs."""

    def __init__(self, recipe: Recipe) -> None:
        self.recipe = recipe

    def error(self, where: str, message: str) -> PlanError:
        return PlanError(f"recipe {self.recipe.path}: {where}: {message}")

    def options(self, cls: type, given: dict[str, Any], where: str, what: str) -> None:
        params, open_ = option_parameters(cls)
        if not open_:
            for key in sorted(given):
                if key not in params:
                    close = difflib.get_close_matches(key, list(params), n=1)
                    hint = f"; did you mean {close[0]!r}?" if close else ""
                    raise self.error(f"{where} {key!r}", f"{what} takes no option {key!r}{hint} "
                                     f"(options: {', '.join(params) or 'none'})")
        missing = [n for n, p in params.items() if p.default is inspect.Parameter.empty and n not in given]
        if missing:
            raise self.error(where, f"{what} needs option(s) {', '.join(missing)}")

    def step(self, spec: Any, where: str) -> type:
        if not isinstance(spec, dict) or "step" not in spec:
            raise self.error(where, f"a pipeline entry is a table with a 'step' key, not {spec!r}")
        name = spec["step"]
        try:
            cls = step_class(name)
        except KeyError:
            close = difflib.get_close_matches(str(name), known_steps(), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else f" (known: {', '.join(known_steps())})"
            raise self.error(f"{where} step", f"unknown step {name!r}{hint}") from None
        self.options(cls, {k: v for k, v in spec.items() if k != "step"}, where, f"step {name!r}")
        return cls

    def source(self, name: str) -> type[Source]:
        src = self.recipe.sources[name]
        where = f"[sources.{name}]"
        try:
            cls = source_class(src.reader)
        except KeyError:
            close = difflib.get_close_matches(str(src.reader), known_sources(), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else f" (known: {', '.join(known_sources())})"
            raise self.error(f"{where} reader", f"unknown reader {src.reader!r}{hint}") from None
        if not isinstance(src.options, dict):
            raise self.error(f"{where} options", "options is a table of the reader's keyword arguments")
        self.options(cls, src.options, f"{where} options", f"reader {src.reader!r}")
        if src.group not in GROUPS:
            raise self.error(f"{where} group", f"unknown shard group {src.group!r} (groups: {', '.join(GROUPS)})")
        if not isinstance(src.pipeline, list):
            raise self.error(f"{where} pipeline", "pipeline is a list of steps")
        for i, spec in enumerate(src.pipeline):
            self.step(spec, f"{where} pipeline[{i}]")
        return cls


def _run_setting(recipe: Recipe, key: str, default: int, minimum: int) -> int:
    value = recipe.run.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise PlanError(f"recipe {recipe.path}: [run] {key!r}: must be an integer >= {minimum}, not {value!r}")
    return value


def check_recipe(recipe: Recipe) -> None:
    """Pass 1 only: every reader, step and option name of ``recipe`` (fast: no constructor runs)."""
    checker = _Checker(recipe)
    _run_setting(recipe, "batch_docs", DEFAULT_BATCH_DOCS, 1)
    _run_setting(recipe, "drop_samples", DEFAULT_DROP_SAMPLES, 0)
    post = recipe.run.get("post", [])
    if not isinstance(post, list):
        raise checker.error("[run] post", "post is a list of steps")
    for i, spec in enumerate(post):
        checker.step(spec, f"[run] post[{i}]")
    for name in sorted(recipe.sources):
        checker.source(name)


def _where_of(recipe: Recipe, source: str, n_own: int, index: int) -> str:
    return f"[sources.{source}] pipeline[{index}]" if index < n_own else f"[run] post[{index - n_own}]"


def source_order(references: dict[str, list[str]]) -> list[str]:
    """Source names in run order: by name, except that every source comes after the sources it references
    (names not among the keys are ignored). A cycle is an error naming its sources."""
    names = sorted(references)
    waiting = {n: {r for r in references[n] if r in references and r != n} for n in names}
    order: list[str] = []
    while waiting:
        ready = [n for n in sorted(waiting) if not waiting[n]]
        if not ready:
            raise ValueError("sources reference each other in a cycle: " + ", ".join(sorted(waiting)))
        first = ready[0]
        order.append(first)
        del waiting[first]
        for deps in waiting.values():
            deps.discard(first)
    return order


def build_plan(recipe: Recipe, list_inputs: bool = True) -> RunPlan:
    """Check and build every reader and step of ``recipe`` on this process, then list each source's inputs.

    Raises :class:`PlanError` (a ``ValueError``) naming the recipe file, the source and the key; a missing input
    is a ``FileNotFoundError`` naming them too. ``list_inputs=False`` skips pass 3 (no partitions)."""
    check_recipe(recipe)
    checker = _Checker(recipe)
    sources: dict[str, SourcePlan] = {}
    warnings: list[str] = []
    for name in sorted(recipe.sources):
        src = recipe.sources[name]
        cls = source_class(src.reader)
        try:
            reader = cls(**src.options)
        except Exception as exc:  # noqa: BLE001 - any constructor failure is a bad value in the recipe
            raise checker.error(f"[sources.{name}] options", f"reader {src.reader!r}: {exc}") from exc
        reader.source_name = name
        pipeline = recipe.pipeline_for(name)  # [run] post with the source's Pile policy
        step_plans = []
        for i, spec in enumerate(pipeline):
            where = _where_of(recipe, name, len(src.pipeline), i)
            try:
                step = build_steps([spec])[0]
            except Exception as exc:  # noqa: BLE001
                raise checker.error(where, f"step {spec['step']!r}: {exc}") from exc
            is_global = isinstance(step, GlobalStep)
            step_plans.append(StepPlan(
                step=spec["step"], where=where, kind="global" if is_global else "map",
                options=effective_options(type(step), {k: v for k, v in spec.items() if k != "step"}),
                drop_reasons=list(step.declared_reasons()),
                buckets=int(step.num_buckets) if is_global else None,
                combine=is_global and type(step).combine is not GlobalStep.combine))
        partitions: list[str] = []
        if list_inputs:
            try:
                partitions = reader.list_inputs(src.inputs)
            except FileNotFoundError as exc:
                raise FileNotFoundError(f"recipe {recipe.path}: [sources.{name}] inputs: {exc} -- point the source "
                                        f"at your copy with --input {name}=PATH (`kllama download` fetches "
                                        f"the public dumps)") from exc
            except ValueError as exc:
                raise checker.error(f"[sources.{name}] inputs", str(exc)) from exc
        stages = split_pipeline(pipeline)
        plans_iter = iter(step_plans)
        read_specs = stages.pop(0)[1] if stages and stages[0][0] == "map" else []
        stage_list = [StagePlan(name=f"{name}.00-read", kind="read", specs=read_specs,
                                steps=[next(plans_iter) for _ in read_specs])]
        for stage_name, (kind, specs) in zip(stage_names(name, stages), stages, strict=True):
            stage_list.append(StagePlan(name=stage_name, kind=kind, specs=specs,
                                        steps=[next(plans_iter) for _ in specs]))
        stage_list.append(StagePlan(name=f"{name}.99-shards", kind="shard"))
        refs: list[str] = []
        for i, spec in enumerate(pipeline):
            step = build_steps([spec])[0]
            for ref in step.references() if isinstance(step, GlobalStep) else ():
                if ref == name:
                    raise checker.error(f"{_where_of(recipe, name, len(src.pipeline), i)} sources",
                                        f"step {spec['step']!r} cannot reference its own source {name!r}")
                if ref not in recipe.sources:
                    warnings.append(f"[sources.{name}] step {spec['step']!r}: source {ref!r} is not in this run, so "
                                    f"{name} is not compared against it")
                elif ref not in refs:
                    refs.append(ref)
        sources[name] = SourcePlan(
            name=name, reader=src.reader, group=src.group, options=effective_options(cls, src.options),
            drop_reasons=list(reader.declared_reasons()), inputs=list(src.inputs), partitions=partitions,
            stages=stage_list, read_specs=read_specs, references=refs)
    try:
        order = source_order({n: s.references for n, s in sources.items()})
    except ValueError as exc:
        raise PlanError(f"recipe {recipe.path}: {exc}") from None
    return RunPlan(recipe=recipe.name, recipe_path=str(recipe.path),
                   batch_docs=_run_setting(recipe, "batch_docs", DEFAULT_BATCH_DOCS, 1),
                   drop_samples=_run_setting(recipe, "drop_samples", DEFAULT_DROP_SAMPLES, 0), sources=sources,
                   order=order, warnings=warnings)
