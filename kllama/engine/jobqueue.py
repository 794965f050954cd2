"""SLURM and PBS clusters through dask-jobqueue, configured by ``hpc/kllama-jobqueue.yaml``.

The configuration file is in dask-jobqueue's own format (``jobqueue: {slurm: {...}, pbs: {...}}``) plus a
``kllama: hpc:`` section for what dask-jobqueue does not know: the adaptive range of worker jobs, how long
to wait for the first worker, and the Apptainer image the workers run in. The scheduler runs inside the
``kllama run`` process; dask-jobqueue submits the worker jobs with ``sbatch``/``qsub`` and cancels them on exit.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import re
import shlex
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from kllama.engine.scheduler_state import (
    JobCannotStart,
    JobRequest,
    SchedulerProbe,
    StartupWatch,
    check_request,
)

__all__ = ["JobCannotStart", "describe_job_script", "job_request", "job_settings", "make_cluster",
           "open_jobqueue_client"]

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
    "precheck": True,
}
#: Seconds between two looks at the scheduler while waiting for the first worker, and between two reports.
POLL_S = 3.0
REPORT_S = 60.0
#: Job settings that the command line may override for one run (dask-jobqueue names).
OVERRIDABLE = ("cores", "processes", "memory", "walltime", "queue", "account")
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
    settings.update(_sized(kind, settings, {_canon(k): v for k, v in (overrides or {}).items()}))
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
        settings["log-directory"] = str(log_dir.resolve())
    return settings


def _sized(kind: str, base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """``overrides`` plus what follows from them: a new core count without a process count keeps the file's
    threads per worker process; PBS ``resource-spec`` and SLURM ``job-cpu``/``job-mem`` follow the new size."""
    out = dict(overrides)
    if "cores" in out and "processes" not in out:
        threads = max(1, int(base.get("cores") or 1) // max(1, int(base.get("processes") or 1)))
        out["processes"] = max(1, int(out["cores"]) // threads)
    cores = int(out.get("cores") or base.get("cores") or 1)
    processes = int(out.get("processes") or base.get("processes") or 1)
    if processes > cores:
        raise ValueError(f"{processes} worker processes per job need at least {processes} cores, not {cores}")
    if kind == "slurm":  # job-cpu/job-mem replace cores/memory in #SBATCH lines: they follow the new size
        if "cores" in out and base.get("job-cpu") and "job-cpu" not in out:
            out["job-cpu"] = cores
        if "memory" in out and base.get("job-mem") and "job-mem" not in out:
            from dask.utils import parse_bytes
            from dask_jobqueue.slurm import slurm_format_bytes_ceil

            out["job-mem"] = slurm_format_bytes_ceil(parse_bytes(str(out["memory"])))
    spec = base.get("resource-spec")
    if kind == "pbs" and spec and ("cores" in out or "memory" in out) and "resource-spec" not in out:
        from dask.utils import parse_bytes
        from dask_jobqueue.pbs import pbs_format_bytes_ceil

        if "cores" in out:
            spec = re.sub(r"\b(ncpus|ppn)=\d+", lambda m: f"{m.group(1)}={cores}", spec)
        if "memory" in out:
            mem = pbs_format_bytes_ceil(parse_bytes(str(out["memory"])))
            spec = re.sub(r"\bmem=[^:,+]+", f"mem={mem}", spec)
        out["resource-spec"] = spec
    return out


def job_request(kind: str, settings: dict[str, Any]) -> JobRequest:
    """The size of one worker job as the batch system will see it (for the checks and the messages)."""
    import dask
    from dask.utils import parse_bytes
    from dask_jobqueue.pbs import pbs_format_bytes_ceil
    from dask_jobqueue.slurm import slurm_format_bytes_ceil

    def get(key: str) -> Any:
        return settings[key] if key in settings else dask.config.get(f"jobqueue.{kind}.{key}", None)

    memory = str(get("memory") or "0")
    size = parse_bytes(memory) if memory != "0" else 0
    requested = get("job-mem") if kind == "slurm" and get("job-mem") else (
        slurm_format_bytes_ceil(size) if kind == "slurm" else pbs_format_bytes_ceil(size))
    cores = int(get("job-cpu") or 0) if kind == "slurm" else 0
    return JobRequest(kind=kind, cores=cores or int(get("cores") or 1), processes=int(get("processes") or 1),
                      memory=memory, memory_mb=_mb(str(requested)), walltime=get("walltime"),
                      queue=get("queue"), account=get("account"))


def _mb(text: str) -> int:
    """SLURM/PBS memory (``30G``, ``1177MB``, ``512K``; binary units) in MB."""
    m = re.fullmatch(r"(\d+)\s*([KMGT]?)B?", text.strip(), re.IGNORECASE)
    if not m:
        return 0
    return math.ceil(int(m.group(1)) * {"": 2**-20, "K": 2**-10, "M": 1, "G": 2**10, "T": 2**20}[m.group(2).upper()])


def _job_kwargs(settings: dict[str, Any]) -> dict[str, Any]:
    kwargs: dict[str, Any] = {}
    for key, value in settings.items():
        if key in _DEPRECATED and value is None:
            continue
        if key == "name":
            kwargs["job_name"] = value
        elif key in _CLUSTER_KEYS or key in _DEPRECATED or value is not None:
            kwargs[key.replace("-", "_")] = value
    return kwargs


def describe_job_script(kind: str, config: dict[str, Any] | str | os.PathLike | None,
                        overrides: dict[str, Any] | None = None) -> str:
    """The job script that ``--cluster kind`` would submit for each worker job (dask-jobqueue's
    ``job_script()``), with the scheduler's address left as a placeholder; nothing is started or submitted.

    ``config``: the parsed YAML, or its path (``None``: the usual search); ``overrides``: job settings by
    dask-jobqueue name (``cores``, ``memory``, ...), as the command line gives them.
    """
    from dask_jobqueue import PBSCluster, SLURMCluster

    if not isinstance(config, dict):
        config = load_config(config)
    job_cls = {"slurm": SLURMCluster, "pbs": PBSCluster}[kind].job_cls if kind in KINDS else None
    settings = job_settings(kind, config, _job_overrides(overrides))
    kwargs = {k: v for k, v in _job_kwargs(settings).items()
              if k not in ("scheduler_options", "shared_temp_directory")}
    log_dir = kwargs.get("log_directory")
    with jobqueue_config(kind, config), tempfile.TemporaryDirectory() as scratch:
        if log_dir:  # dask-jobqueue creates the log folder; a dry run must not
            kwargs["log_directory"] = scratch
        job = job_cls("tcp://<scheduler-address>:8786", name="kllama-worker", config_name=kind, **kwargs)
        script = job.job_script()
    return script.replace(scratch, log_dir) if log_dir else script


def _job_overrides(options: dict[str, Any] | None) -> dict[str, Any]:
    return {k: v for k, v in (options or {}).items() if k not in _KLLAMA_OPTIONS}


def make_cluster(kind: str, config: dict[str, Any], overrides: dict[str, Any] | None = None):
    """A ``SLURMCluster`` or ``PBSCluster`` built from ``config``; call it inside :func:`jobqueue_config`."""
    from dask_jobqueue import PBSCluster, SLURMCluster

    cls = {"slurm": SLURMCluster, "pbs": PBSCluster}[kind]
    settings = job_settings(kind, config, overrides)
    if settings.get("log-directory"):
        Path(settings["log-directory"]).mkdir(parents=True, exist_ok=True)
    journal = SubmissionJournal()
    cluster = cls(job_cls=journal.job_class(cls.job_cls), **_job_kwargs(settings))
    cluster.kllama_journal = journal
    return cluster


class SubmissionJournal:
    """The job ids that dask-jobqueue submitted for one cluster, and what refused submissions said (written from
    the cluster's event loop, read by the waiting thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ids: list[str] = []
        self._errors: list[str] = []

    def job_class(self, base: type) -> type:
        """A subclass of dask-jobqueue's ``base`` job class that reports to this journal."""
        journal = self

        class JournaledJob(base):  # type: ignore[misc, valid-type]
            async def start(self) -> None:
                try:
                    await super().start()
                except Exception as exc:
                    journal.add_error(str(exc))
                    said = [ln for ln in str(exc).splitlines() if "error" in ln.lower()] or [str(exc)]
                    print(f"kllama: {self.submit_command} refused a worker job: {said[-1].strip()}",
                          file=sys.stderr, flush=True)
                    raise
                finally:
                    if getattr(self, "job_id", None):
                        journal.add_id(str(self.job_id))

        JournaledJob.__name__ = f"Journaled{base.__name__}"
        return JournaledJob

    def filter(self, record: logging.LogRecord) -> bool:
        """A ``logging`` filter: drop the traceback that tornado logs for a refused submission (the journal has
        it, and one line was printed)."""
        exc = record.exc_info[1] if record.exc_info else None
        return not (isinstance(exc, RuntimeError) and str(exc) in self.errors)

    def add_id(self, job_id: str) -> None:
        with self._lock:
            if job_id not in self._ids:
                self._ids.append(job_id)

    def add_error(self, text: str) -> None:
        with self._lock:
            self._errors.append(text)

    @property
    def ids(self) -> list[str]:
        with self._lock:
            return list(self._ids)

    @property
    def errors(self) -> list[str]:
        with self._lock:
            return list(self._errors)


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


#: Options of :func:`open_jobqueue_client` that are kllama's, not dask-jobqueue settings.
_KLLAMA_OPTIONS = {"config", "minimum_jobs", "maximum_jobs", "startup_timeout", "precheck", "memory_limit"}


def _wait_for_first_worker(client: Any, cluster: Any, kind: str, request: JobRequest, probe: SchedulerProbe,
                           timeout: float, log_directory: str | None, quiet: bool) -> None:
    """Wait until one worker connects; poll the scheduler meanwhile and raise :class:`JobCannotStart` as soon as
    the submitted jobs can never start; report the queue every minute while they merely wait."""
    watch = StartupWatch(request, probe, log_directory)
    journal: SubmissionJournal = cluster.kllama_journal
    start = time.monotonic()
    next_report = start + REPORT_S
    while True:
        try:
            client.wait_for_workers(1, timeout=POLL_S)
            return
        except TimeoutError:
            pass
        now = time.monotonic()
        ids = journal.ids
        watch.check(ids, journal.errors)
        if now - start >= timeout:
            raise TimeoutError
        if now >= next_report:
            next_report = now + REPORT_S
            if not quiet:
                print(watch.status(ids, now - start), file=sys.stderr, flush=True)


@contextlib.contextmanager
def open_jobqueue_client(kind: str, workers: int | None = None, quiet: bool = False, **options: Any
                         ) -> Iterator[Any]:
    """A ``distributed.Client`` on a SLURM (``kind="slurm"``) or PBS (``"pbs"``) cluster of worker jobs.

    Adaptive scaling between ``kllama.hpc.minimum-jobs`` and ``maximum-jobs`` jobs; ``maximum_jobs``
    (``--max-jobs``), else ``workers`` (``--workers``), replaces ``maximum-jobs``. Options: ``config`` (path of
    the YAML file), ``minimum_jobs``, ``maximum_jobs``, ``startup_timeout`` (seconds), ``precheck`` (compare the
    job with ``sinfo``/``pbsnodes`` before submitting); any other option is a dask-jobqueue setting
    (``cores=2``, ``memory="8GB"``, ``queue="debug"``) that overrides the file for this run.

    A job that can never start (SLURM pending reasons such as ``PartitionConfig`` or ``InvalidAccount``, a PBS
    ``Can Never Run`` comment, a refused submission, a job that ended without a worker) raises
    :class:`JobCannotStart` within a few seconds, naming the reason, the request and what the partition offers.
    """
    from distributed import Client

    options.pop("memory_limit", None)  # a LocalCluster option; jobs get memory from the configuration
    config = load_config(options.pop("config", None))
    hpc = hpc_settings(config)
    max_jobs = options.get("maximum_jobs")  # --max-jobs wins over --workers
    for key in ("minimum_jobs", "maximum_jobs", "startup_timeout", "precheck"):
        if options.get(key) is not None:
            hpc[_canon(key)] = options[key]
        options.pop(key, None)
    maximum = int(max_jobs or 0) or (int(workers) if workers else int(hpc["maximum-jobs"]))
    maximum = max(1, maximum)
    minimum = max(1, min(int(hpc["minimum-jobs"]), maximum))  # at least one job: the run waits for a worker
    probe = SchedulerProbe(kind)
    with jobqueue_config(kind, config):
        settings = job_settings(kind, config, options)
        request = job_request(kind, settings)
        if hpc["precheck"]:
            check_request(request, probe)
        cluster = make_cluster(kind, config, options)
        tornado_log = logging.getLogger("tornado.application")
        tornado_log.addFilter(cluster.kllama_journal)
        try:
            cluster.adapt(minimum_jobs=minimum, maximum_jobs=maximum, wait_count=10)
            client = Client(cluster)
            try:
                if not quiet:
                    print(f"kllama: {kind} cluster, {minimum}..{maximum} jobs of {request.processes} worker(s) "
                          f"({request.cores} cores, {request.memory}, walltime {request.walltime}); "
                          f"dashboard {client.dashboard_link}", file=sys.stderr)
                try:
                    _wait_for_first_worker(client, cluster, kind, request, probe, float(hpc["startup-timeout"]),
                                           settings.get("log-directory"), quiet)
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
            finally:
                tornado_log.removeFilter(cluster.kllama_journal)
