"""Options and printing shared by the run-like commands."""

from __future__ import annotations

import argparse
import re
from typing import Any

#: Job-size flags (``--job-cores`` ...) and the dask-jobqueue setting each overrides.
JOB_FLAGS = {"job_cores": "cores", "job_processes": "processes", "job_memory": "memory", "walltime": "walltime",
             "queue": "queue", "account": "account"}
JOBQUEUE_CLUSTERS = ("slurm", "pbs")


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _memory(text: str) -> str:
    from dask.utils import parse_bytes

    try:
        if parse_bytes(text) <= 0:
            raise ValueError
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a memory size: {text!r} (e.g. 8GB, 16GiB)") from None
    return text


def _walltime(text: str) -> str:
    if not re.fullmatch(r"(\d+-)?\d+(:\d\d){0,2}", text):
        raise argparse.ArgumentTypeError(f"not a walltime: {text!r} (HH:MM:SS or D-HH:MM:SS)")
    return text


def add_cluster_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--workers", type=_positive, default=None,
                   help="worker processes (local; default: the number of CPUs) or jobs (slurm/pbs; default: the "
                        "jobqueue YAML's maximum)")
    p.add_argument("--cluster", default="local",
                   help="local (default), slurm, pbs, a scheduler address tcp://HOST:PORT or a scheduler file")
    p.add_argument("--jobqueue-config", default=None, metavar="YAML",
                   help="dask-jobqueue settings for --cluster slurm|pbs (default: $KLLAMA_JOBQUEUE_CONFIG, "
                        "else hpc/kllama-jobqueue.yaml)")
    g = p.add_argument_group("worker jobs (--cluster slurm|pbs; override the jobqueue YAML for this run)")
    g.add_argument("--job-cores", type=_positive, metavar="N", help="cores per job (cores)")
    g.add_argument("--job-processes", type=_positive, metavar="N",
                   help="worker processes per job (processes; default: keeps the YAML's threads per process)")
    g.add_argument("--job-memory", type=_memory, metavar="SIZE", help="memory per job, e.g. 8GB (memory)")
    g.add_argument("--walltime", type=_walltime, metavar="HH:MM:SS", help="time limit per job (walltime)")
    g.add_argument("--queue", metavar="NAME", help="SLURM partition / PBS queue (queue)")
    g.add_argument("--account", metavar="NAME", help="account to charge (account)")
    g.add_argument("--max-jobs", type=_positive, metavar="N",
                   help="at most N worker jobs at once (kllama.hpc.maximum-jobs)")
    if "--dry-run" not in p._option_string_actions:
        p.add_argument("--dry-run", action="store_true",
                       help="print what would run and run nothing: the checked run plan of a recipe (also written "
                            "to OUTPUT/plan.json; no run.json, no cluster) and, with --cluster slurm|pbs, the job "
                            "script that would be submitted")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def cluster_options(args: argparse.Namespace) -> dict[str, Any]:
    """Extra keyword arguments for ``open_client`` from the command line: the YAML path and the job-size
    overrides (dask-jobqueue names; ``maximum_jobs`` for ``--max-jobs``). Job flags need ``--cluster
    slurm|pbs``."""
    options: dict[str, Any] = {}
    if getattr(args, "jobqueue_config", None):
        options["config"] = args.jobqueue_config
    for flag, key in JOB_FLAGS.items():
        if getattr(args, flag, None) is not None:
            options[key] = getattr(args, flag)
    if getattr(args, "max_jobs", None) is not None:
        options["maximum_jobs"] = args.max_jobs
    given = [k for k in options if k != "config"]
    if given and getattr(args, "cluster", "local") not in JOBQUEUE_CLUSTERS:
        flags = ", ".join("--" + f.replace("_", "-")
                          for f, key in [*JOB_FLAGS.items(), ("max_jobs", "maximum_jobs")] if key in given)
        raise ValueError(f"{flags}: these size the worker jobs of --cluster slurm|pbs, not --cluster "
                         f"{args.cluster}")
    return options


def job_script(args: argparse.Namespace) -> str | None:
    """The job script that ``--cluster slurm|pbs`` would submit (None for other clusters)."""
    options = cluster_options(args)  # job-size flags without slurm/pbs are an error here too
    if getattr(args, "cluster", None) not in JOBQUEUE_CLUSTERS:
        return None
    from kllama.engine.jobqueue import describe_job_script

    return describe_job_script(args.cluster, options.pop("config", None), options)


def dry_run(args: argparse.Namespace, plan: Any) -> bool:
    """For ``--dry-run``: print the run plan, write it to ``OUTPUT/plan.json`` (no ``run.json``, no cluster), then
    with ``--cluster slurm|pbs`` print the job script that would be submitted; True when the command stops."""
    if not getattr(args, "dry_run", False):
        return False
    from pathlib import Path

    script = job_script(args)  # a bad job size fails before anything is written
    path = plan.write(Path(args.output) / "plan.json")
    print(plan.format())
    print(f"\nplan: {path}")
    if script is not None:
        print(f"\njob script (--cluster {args.cluster}; one per worker job):")
        print(script, end="")
    return True


def summary_table(summary: Any) -> str:
    """Per-stage documents in/out and drops, inputs cut short or quarantined, then documents per variant."""
    from kllama.engine.status import input_problems

    rows = [("stage", "docs in", "docs out", "dropped (reason=n)")]
    for name, led in summary.stages.items():
        drops = ", ".join(f"{k}={v}" for k, v in sorted(led.dropped.items())) or "-"
        rows.append((name, str(led.docs_in), str(led.docs_out), drops))
    w = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = ["  ".join([r[0].ljust(w[0]), r[1].rjust(w[1]), r[2].rjust(w[2]), r[3]]) for r in rows]
    problems = input_problems(summary.stages)
    if problems:
        lines += ["", "inputs cut short or failed:", *(f"  {p}" for p in problems)]
    lines.append("")
    for vname, v in summary.manifest.get("variants", {}).items():
        lines.append(f"{vname}: {v['docs']} documents, {v['bytes'] / 1e6:.2f} MB in groups {', '.join(v['groups'])}")
    groups: dict[str, int] = {}
    for s in summary.shards:
        groups[s["group"]] = groups.get(s["group"], 0) + s["docs"]
    lines.append("shard groups: " + ", ".join(f"{g}={n}" for g, n in sorted(groups.items())))
    return "\n".join(lines)
