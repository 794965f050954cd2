"""SLURM and PBS clusters through dask-jobqueue, configured by ``hpc/kllama-jobqueue.yaml``.

The configuration file is in dask-jobqueue's own format (``jobqueue: {slurm: {...}, pbs: {...}}``) plus a
``kllama: hpc:`` section for what dask-jobqueue does not know: the adaptive range of worker jobs, how long
to wait for the first worker, and the Apptainer image the workers run in. The scheduler runs inside the
``kllama run`` process; dask-jobqueue submits the worker jobs with ``sbatch``/``qsub`` and cancels them on exit.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

#: Environment variable naming the configuration file (else ``hpc/kllama-jobqueue.yaml`` of the source tree).
CONFIG_ENV = "KLLAMA_JOBQUEUE_CONFIG"
KINDS = ("slurm", "pbs")
HPC_DEFAULTS: dict[str, Any] = {
    "minimum-jobs": 1,
    "maximum-jobs": 16,
    "startup-timeout": 900,
    "image": None,
    "apptainer": "apptainer",
    "binds": [],
}
#: dask-jobqueue configuration keys that belong to the cluster (the scheduler side), not to each job.
_CLUSTER_KEYS = {"interface", "scheduler-options", "shared-temp-directory"}
_DEPRECATED = {"extra", "env-extra", "job-extra", "header-skip", "project"}


def source_root() -> Path:
    """The folder that holds the ``kllama`` package (the repository root for a source checkout)."""
    return Path(__file__).resolve().parents[2]


def find_config(path: str | os.PathLike | None = None) -> Path | None:
    """The configuration file: ``path``, else ``$KLLAMA_JOBQUEUE_CONFIG``, else ``hpc/kllama-jobqueue.yaml``
    in the current folder or the source tree; ``None`` when there is none (dask's own config is used then)."""
    for candidate in (path, os.environ.get(CONFIG_ENV)):
        if candidate:
            p = Path(candidate).expanduser()
            if not p.is_file():
                raise FileNotFoundError(f"jobqueue configuration {p} does not exist")
            return p
    for p in (Path.cwd() / "hpc" / "kllama-jobqueue.yaml", source_root() / "hpc" / "kllama-jobqueue.yaml"):
        if p.is_file():
            return p
    return None


def _canon(key: str) -> str:
    return key.replace("_", "-")


def load_config(path: str | os.PathLike | None = None) -> dict[str, Any]:
    """The parsed configuration file (``{}`` when there is none)."""
    p = find_config(path)
    if p is None:
        return {}
    data = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{p}: expected a mapping with a 'jobqueue' section")
    return data


def hpc_settings(config: dict[str, Any]) -> dict[str, Any]:
    """kllama's ``kllama.hpc`` section over its defaults."""
    section = ((config.get("kllama") or {}).get("hpc") or {})
    out = dict(HPC_DEFAULTS)
    out.update({_canon(k): v for k, v in section.items()})
    return out


def apptainer_python(image: str, apptainer: str = "apptainer", binds: list[str] | None = None) -> str:
    """The ``python`` command that runs the image's Python: ``apptainer exec --bind B... IMAGE python``."""
    parts = [apptainer, "exec"]
    for b in binds or []:
        parts += ["--bind", str(b)]
    parts += [str(image), "python"]
    return " ".join(shlex.quote(p) for p in parts)


def job_settings(kind: str, config: dict[str, Any], overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """The ``jobqueue.<kind>`` settings (dask-jobqueue key names) that kllama applies over the defaults.

    Sets ``python`` from the image when ``kllama.hpc.image`` is set, and otherwise makes the workers able to
    import this kllama (this interpreter, and the source tree on ``PYTHONPATH``).
    """
    if kind not in KINDS:
        raise ValueError(f"unknown jobqueue cluster {kind!r} (known: {', '.join(KINDS)})")
    section = ((config.get("jobqueue") or {}).get(kind) or {})
    settings = {_canon(k): v for k, v in section.items()}
    settings.update({_canon(k): v for k, v in (overrides or {}).items()})
    hpc = hpc_settings(config)
    prologue = list(settings.get("job-script-prologue") or [])
    if hpc["image"]:
        settings["python"] = apptainer_python(hpc["image"], hpc["apptainer"], list(hpc["binds"] or []))
    else:
        settings["python"] = settings.get("python") or sys.executable
        root = shlex.quote(str(source_root()))
        prologue.append(f"export PYTHONPATH={root}${{PYTHONPATH:+:$PYTHONPATH}}")
    # say in the job's log which job this worker is, so that a run can be traced to its jobs
    prologue.append('echo "kllama-worker job ${SLURM_JOB_ID:-${PBS_JOBID:-?}} on $(hostname)"')
    settings["job-script-prologue"] = prologue
    if settings.get("log-directory"):
        log_dir = Path(os.path.expandvars(str(settings["log-directory"]))).expanduser()
        log_dir.mkdir(parents=True, exist_ok=True)
        settings["log-directory"] = str(log_dir.resolve())
    return settings


def make_cluster(kind: str, config: dict[str, Any], overrides: dict[str, Any] | None = None):
    """A ``SLURMCluster`` or ``PBSCluster`` built from ``config``; call it inside :func:`jobqueue_config`."""
    from dask_jobqueue import PBSCluster, SLURMCluster

    cls = {"slurm": SLURMCluster, "pbs": PBSCluster}[kind]
    settings = job_settings(kind, config, overrides)
    kwargs: dict[str, Any] = {}
    for key, value in settings.items():
        if key in _DEPRECATED and value is None:
            continue
        if key == "name":
            kwargs["job_name"] = value
        elif key in _CLUSTER_KEYS or key in _DEPRECATED or value is not None:
            kwargs[key.replace("-", "_")] = value
    return cls(**kwargs)


@contextlib.contextmanager
def jobqueue_config(kind: str, config: dict[str, Any]) -> Iterator[None]:
    """Lay the file's ``jobqueue.<kind>`` section over dask-jobqueue's defaults while the cluster lives (jobs
    submitted later by adaptive scaling read the same settings)."""
    import dask
    import dask_jobqueue  # noqa: F401 - loads dask-jobqueue's default configuration

    base = dict(dask.config.get(f"jobqueue.{kind}", {}) or {})
    section = ((config.get("jobqueue") or {}).get(kind) or {})
    unknown = sorted(_canon(k) for k in section if _canon(k) not in base)
    if unknown:
        raise ValueError(f"jobqueue.{kind}: unknown setting(s) {unknown} (dask-jobqueue knows: {sorted(base)})")
    merged = {**base, **{_canon(k): v for k, v in section.items()}}
    with dask.config.set({f"jobqueue.{kind}": merged}):
        yield


def _queue_report(kind: str) -> str:
    import subprocess

    cmd = ["squeue", "-h"] if kind == "slurm" else ["qstat"]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
        return (out.stdout + out.stderr).strip() or "(queue empty)"
    except (OSError, subprocess.SubprocessError) as exc:
        return f"({' '.join(cmd)} failed: {exc})"


@contextlib.contextmanager
def open_jobqueue_client(kind: str, workers: int | None = None, quiet: bool = False, **options: Any
                         ) -> Iterator[Any]:
    """A ``distributed.Client`` on a SLURM (``kind="slurm"``) or PBS (``"pbs"``) cluster of worker jobs.

    Adaptive scaling between ``kllama.hpc.minimum-jobs`` and ``maximum-jobs`` jobs; ``workers`` (``--workers``)
    replaces ``maximum-jobs``. Options: ``config`` (path of the YAML file), ``minimum_jobs``, ``maximum_jobs``,
    ``startup_timeout`` (seconds); any other option is a dask-jobqueue setting (``queue="debug"``).
    """
    from distributed import Client

    options.pop("memory_limit", None)  # a LocalCluster option; jobs get memory from the configuration
    config = load_config(options.pop("config", None))
    hpc = hpc_settings(config)
    for key in ("minimum_jobs", "maximum_jobs", "startup_timeout"):
        if key in options:
            hpc[_canon(key)] = options.pop(key)
    maximum = int(workers) if workers else int(hpc["maximum-jobs"])
    maximum = max(1, maximum)
    minimum = max(1, min(int(hpc["minimum-jobs"]), maximum))  # at least one job: the run waits for a worker
    per_job = (((config.get("jobqueue") or {}).get(kind) or {}).get("processes")) or 1
    with jobqueue_config(kind, config):
        cluster = make_cluster(kind, config, options)
        try:
            cluster.adapt(minimum_jobs=minimum, maximum_jobs=maximum, wait_count=10)
            client = Client(cluster)
            try:
                if not quiet:
                    print(f"kllama: {kind} cluster, {minimum}..{maximum} jobs of {per_job} worker(s); "
                          f"dashboard {client.dashboard_link}", file=sys.stderr)
                try:
                    client.wait_for_workers(1, timeout=float(hpc["startup-timeout"]))
                except TimeoutError as exc:
                    raise RuntimeError(
                        f"no {kind} worker started within {hpc['startup-timeout']} s; queue:\n"
                        f"{_queue_report(kind)}\n(an empty queue means the batch system refused the job: its "
                        f"error is logged above; try submitting this job script by hand)\n"
                        f"job script:\n{cluster.job_script()}") from exc
                yield client
            finally:
                client.close()
        finally:
            try:
                cluster.close()
            except AssertionError:
                # distributed asserts that every job object reached a closed state; one whose submission the
                # batch system refused never started (nothing to cancel), so this is not an error here
                pass
