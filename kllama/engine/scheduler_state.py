"""What the batch system says about kllama's worker jobs, and whether they can ever start.

Parsers of ``squeue``, ``sinfo``, ``qstat -f`` and ``pbsnodes -a`` output (unit-tested on captured text), the
verdict on a submitted job (running, waiting, or never going to start), a check of a job request against what
the partition offers before anything is submitted, and :class:`StartupWatch`, which polls the scheduler while
``kllama`` waits for its first worker. A job that can never start ends in :class:`JobCannotStart`, whose
message names the scheduler's reason, what was asked, what the partition offers and the flags that change it.
"""

from __future__ import annotations

import math
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

#: SLURM pending reasons that no amount of waiting resolves: the job itself must change (or an administrator).
SLURM_NEVER: dict[str, str] = {
    "PartitionConfig": "the job asks for more CPUs, memory, nodes or time than the partition allows per job",
    "PartitionNodeLimit": "the job's node count is outside the partition's limits",
    "PartitionTimeLimit": "the walltime is longer than the partition's time limit",
    "InvalidAccount": "the account does not exist, or you may not use it on this partition",
    "InvalidQOS": "the QOS does not exist, or your account may not use it",
    "BadConstraints": "no node has the features (constraints) the job asks for",
    "DependencyNeverSatisfied": "the job depends on a job that will never satisfy the dependency",
}
#: ``(QOS|Assoc)Max...PerJob...`` and ``QOSMin...``: the job's own size is outside a per-job limit.
_PER_JOB_LIMIT = re.compile(r"^(QOS|Assoc)(Max\w*PerJob\w*|Min\w+)$")
#: Limits on how many jobs run at once: they free up when other jobs of the same user end.
_COUNT_LIMIT = re.compile(r"^(QOS|Assoc)\w*(MaxJobs|GrpJobs|JobsPerUser|JobsPerAccount)\w*$")
#: SLURM job states of a job that has ended (or is ending) for good.
SLURM_ENDED = {"BOOT_FAIL", "CANCELLED", "COMPLETED", "DEADLINE", "FAILED", "NODE_FAIL", "OUT_OF_MEMORY",
               "PREEMPTED", "REVOKED", "SPECIAL_EXIT", "TIMEOUT"}
#: PBS (Pro, OpenPBS, Torque) job states of a job that has ended: exiting, completed, finished, moved.
PBS_ENDED = {"E", "C", "F", "M", "X"}
#: PBS comments that mean the job can never run as asked.
_PBS_NEVER = re.compile(r"can never run|job violates|exceeds (queue|server|node)", re.IGNORECASE)
#: sinfo node states that can take new jobs (a trailing ``*~#!%$@^-+`` flag is ignored).
_USABLE_NODE = ("idle", "mix", "alloc", "compl", "plan", "resv", "reserved", "power")


class JobCannotStart(RuntimeError):
    """A worker job that the batch system will never start (or refused, or that ended without a worker)."""


@dataclass(frozen=True)
class JobRequest:
    """One worker job as submitted: the sizes kllama asked the batch system for."""

    kind: str
    cores: int
    processes: int
    memory: str               # as configured, e.g. "32GB"
    memory_mb: int            # what the batch system is asked for (dask-jobqueue rounds up to whole GiB/MiB)
    walltime: str | None
    queue: str | None
    account: str | None

    @property
    def walltime_s(self) -> float | None:
        return parse_time_limit(self.walltime) if self.walltime else None

    def describe(self, default_queue: str | None = None) -> str:
        where = "partition" if self.kind == "slurm" else "queue"
        queue = (f"{where} {self.queue}" if self.queue else
                 f"{where} {default_queue} (the default)" if default_queue else f"the default {where}")
        return (f"{self.cores} cores ({self.processes} worker process{'es' if self.processes != 1 else ''}), "
                f"memory {self.memory} ({self.memory_mb} MB), walltime {self.walltime or 'the default'}, "
                f"{queue}, " + (f"account {self.account}" if self.account else "no account"))


@dataclass(frozen=True)
class PartitionOffer:
    """What one partition (PBS: the nodes) offers a single-node job: the largest node, the time limit."""

    name: str
    cpus: int
    memory_mb: int
    time_limit: str = "infinite"
    nodes: int = 0
    usable_nodes: int = 0
    default: bool = False

    @property
    def time_limit_s(self) -> float | None:
        return parse_time_limit(self.time_limit)

    def describe(self, kind: str = "slurm") -> str:
        nodes = f"{self.nodes} node{'s' if self.nodes != 1 else ''} ({self.usable_nodes} up)"
        if self.name == "nodes":  # PBS: pbsnodes
            return f"the largest node has {self.cpus} CPUs and {self.memory_mb} MB; {nodes}"
        where = "partition" if kind == "slurm" else "queue"
        return (f"{where} {self.name}: at most {self.cpus} CPUs and {self.memory_mb} MB per node, time limit "
                f"{self.time_limit}, {nodes}")


@dataclass(frozen=True)
class JobState:
    """One job as the scheduler lists it: SLURM state and pending reason, or PBS ``job_state`` and comment."""

    job_id: str
    state: str
    reason: str = ""
    partition: str = ""
    via_slurm: bool = False   # PBS under SLURM's Torque wrappers: ``reason`` is squeue's pending reason


def parse_time_limit(text: str | None) -> float | None:
    """Seconds in a SLURM/PBS time (``MM``, ``MM:SS``, ``HH:MM:SS``, ``D-HH[:MM[:SS]]``); ``None`` = no limit."""
    if text is None:
        return None
    text = text.strip()
    if not text or text.lower() in ("infinite", "unlimited", "none", "n/a"):
        return None
    days = 0
    if "-" in text:
        d, text = text.split("-", 1)
        days = int(d)
        parts = [int(p) for p in text.split(":")]
        parts += [0] * (3 - len(parts))  # D-HH, D-HH:MM, D-HH:MM:SS
        h, m, s = parts
    else:
        parts = [int(p) for p in text.split(":")]
        if len(parts) == 1:
            h, m, s = 0, parts[0], 0
        elif len(parts) == 2:
            h, m, s = 0, parts[0], parts[1]
        else:
            h, m, s = parts[-3], parts[-2], parts[-1]
    return float(((days * 24 + h) * 60 + m) * 60 + s)


def parse_squeue(text: str) -> dict[str, JobState]:
    """``squeue -h -o "%i %T %P %r"`` lines (the reason last: it may hold spaces) by job id."""
    out: dict[str, JobState] = {}
    for line in text.splitlines():
        parts = line.split(None, 3)
        if len(parts) < 2:
            continue
        job_id, state = parts[0], parts[1]
        partition = parts[2] if len(parts) > 2 else ""
        reason = parts[3].strip() if len(parts) > 3 else ""
        out[job_id] = JobState(job_id, state, "" if reason == "None" else reason, partition)
    return out


def _number(text: str) -> int:
    m = re.match(r"\d+", text.strip())
    return int(m.group()) if m else 0


def _usable(state: str) -> bool:
    base = state.strip().lower().rstrip("*~#!%$@^-+")
    return base.startswith(_USABLE_NODE)


def parse_sinfo(text: str) -> dict[str, PartitionOffer]:
    """``sinfo -h -o "%P|%c|%m|%l|%D|%T"`` lines by partition (several node groups of one partition merge: the
    largest node, all nodes counted); the default partition, marked ``*`` by sinfo, has ``default=True``."""
    rows: dict[str, dict] = {}
    for line in text.splitlines():
        parts = line.strip().split("|")
        if len(parts) < 6 or not parts[0]:
            continue
        name, default = parts[0].rstrip("*"), parts[0].endswith("*")
        nodes = _number(parts[4])
        row = rows.setdefault(name, {"cpus": 0, "memory_mb": 0, "time_limit": parts[3], "nodes": 0,
                                     "usable_nodes": 0, "default": default})
        row["cpus"] = max(row["cpus"], _number(parts[1]))
        row["memory_mb"] = max(row["memory_mb"], _number(parts[2]))
        row["nodes"] += nodes
        row["usable_nodes"] += nodes if _usable(parts[5]) else 0
    return {name: PartitionOffer(name, **row) for name, row in rows.items()}


def _memory_mb(text: str) -> int:
    """``21694mb``, ``32gb``, ``16777216kb`` (PBS units are binary) in MB."""
    m = re.fullmatch(r"\s*(\d+)\s*([kmgtp]?)(b|w)?\s*", text.lower())
    if not m:
        return 0
    scale = {"": 1 / 2**20, "k": 1 / 1024, "m": 1, "g": 1024, "t": 1024**2, "p": 1024**3}[m.group(2)]
    return int(int(m.group(1)) * scale)


def parse_pbsnodes(text: str) -> PartitionOffer | None:
    """``pbsnodes -a`` (PBS Pro ``resources_available.ncpus``/``.mem``, Torque ``np`` and ``status=...physmem``
    or ``availmem``): the largest node as an offer named ``nodes``; ``None`` when nothing parses."""
    nodes: list[dict] = []
    for line in text.splitlines():
        if line and not line[0].isspace():
            nodes.append({"cpus": 0, "memory_mb": 0, "usable": True})
            continue
        if not nodes or "=" not in line:
            continue
        key, value = (s.strip() for s in line.split("=", 1))
        node = nodes[-1]
        if key in ("np", "resources_available.ncpus", "pcpus"):
            node["cpus"] = max(node["cpus"], _number(value))
        elif key == "resources_available.mem":
            node["memory_mb"] = max(node["memory_mb"], _memory_mb(value))
        elif key == "status":
            for item in value.split(","):
                k, _, v = item.partition("=")
                if k in ("physmem", "totmem", "availmem"):
                    node["memory_mb"] = max(node["memory_mb"], _memory_mb(v))
        elif key == "state":
            node["usable"] = not re.search(r"down|offline|unknown|unresolvable", value)
    nodes = [n for n in nodes if n["cpus"]]
    if not nodes:
        return None
    return PartitionOffer("nodes", max(n["cpus"] for n in nodes), max(n["memory_mb"] for n in nodes),
                          nodes=len(nodes), usable_nodes=sum(n["usable"] for n in nodes))


def parse_qstat_full(text: str) -> dict[str, JobState]:
    """``qstat -f`` blocks (``Job Id: N``, then ``key = value`` lines, long values continued on indented lines)
    by job id, with ``job_state``, ``comment`` and ``queue``."""
    out: dict[str, JobState] = {}
    job_id, fields, last = None, {}, None

    def flush() -> None:
        if job_id:
            out[job_id] = JobState(job_id, fields.get("job_state", "").strip(), fields.get("comment", "").strip(),
                                   fields.get("queue", "").strip())

    for line in text.splitlines():
        m = re.match(r"\s*Job Id:\s*(\S+)", line)
        if m:
            flush()
            job_id, fields, last = m.group(1), {}, None
            continue
        if job_id is None or not line.strip():
            continue
        if line.startswith("\t") and last and not line.startswith("\t\t") and "=" not in line[:40]:
            fields[last] += line[1:].rstrip("\n")  # PBS Pro wraps long values: a tab, then the rest
        elif re.match(r"\s*[\w.]+\s*=", line):
            key, value = line.split("=", 1)
            key = key.strip()
            fields[key], last = value.lstrip().rstrip("\n"), key
        elif last:
            fields[last] += line.strip()
    flush()
    return out


def short_id(job_id: str) -> str:
    """``1234.server`` -> ``1234`` (how PBS ids compare across ``qsub`` and ``qstat``)."""
    return job_id.split(".")[0]


# --------------------------------------------------------------------------------------------------------- verdicts

def slurm_never_reason(state: JobState, offer: PartitionOffer | None = None,
                       user_running: int | None = None) -> str | None:
    """Why a SLURM job in ``state`` can never start, or ``None`` while it may still start.

    ``offer`` (its partition) decides ``ReqNodeNotAvail`` (never only when no node of the partition is up);
    ``user_running`` (the user's running jobs) decides job-count limits (never only when none of the user's jobs
    runs, so nothing will free a slot)."""
    if state.state != "PENDING":
        return None
    reason = state.reason.split(",")[0].strip()
    if reason in SLURM_NEVER:
        return SLURM_NEVER[reason]
    if _PER_JOB_LIMIT.match(reason):
        return "the job is larger (or smaller) than a per-job limit of its QOS or association"
    if _COUNT_LIMIT.match(reason) and user_running == 0:
        return "a limit on running jobs holds it, and none of your jobs runs that could free a slot"
    if reason == "ReqNodeNotAvail" and offer is not None and offer.usable_nodes == 0:
        return f"no node of partition {offer.name} is up (all down, drained or failing)"
    return None


def pbs_never_reason(state: JobState) -> str | None:
    """Why a PBS job can never run (its scheduler comment says so), or ``None``."""
    if state.state in PBS_ENDED:
        return None
    if state.reason and _PBS_NEVER.search(state.reason):
        return "the scheduler says it can never run as asked"
    return None


def ended(kind: str, state: JobState) -> bool:
    """Whether the job has ended (then a worker that never connected never will)."""
    return state.state in (SLURM_ENDED if kind == "slurm" else PBS_ENDED)


def request_problems(request: JobRequest, offer: PartitionOffer) -> list[str]:
    """Where a job request exceeds what ``offer`` can ever give (empty when it fits)."""
    problems = []
    if request.cores > offer.cpus > 0:
        problems.append(f"{request.cores} cores per job, but the largest node has {offer.cpus} CPUs")
    if request.memory_mb > offer.memory_mb > 0:
        problems.append(f"{request.memory_mb} MB of memory per job ({request.memory}), but the largest node has "
                        f"{offer.memory_mb} MB")
    limit, wall = offer.time_limit_s, request.walltime_s
    if limit is not None and wall is not None and wall > limit:
        problems.append(f"walltime {request.walltime}, but the time limit is {offer.time_limit}")
    return problems


def how_to_change(request: JobRequest, offer: PartitionOffer | None) -> str:
    """The flags (and YAML keys) that change the request, with values that fit ``offer`` where one is known."""
    flags = []
    if offer is not None and offer.cpus and request.cores > offer.cpus:
        flags.append(f"--job-cores {offer.cpus}")
    if offer is not None and offer.memory_mb and request.memory_mb > offer.memory_mb:
        flags.append(f"--job-memory {max(1, offer.memory_mb // 1024)}GiB")
    if offer is not None and request.walltime_s and offer.time_limit_s and request.walltime_s > offer.time_limit_s:
        flags.append(f"--walltime {offer.time_limit}")
    suggestion = " ".join(flags) if flags else "--job-cores N --job-memory SIZE --walltime HH:MM:SS"
    return (f"kllama ... --cluster {request.kind} {suggestion}\n"
            f"          (also --job-processes, --walltime, --queue, --account, --max-jobs; or the same keys under "
            f"jobqueue.{request.kind} in the jobqueue YAML; --dry-run prints the job script)")


def cannot_start_message(headline: str, request: JobRequest, offer: PartitionOffer | None,
                         offers: Iterable[PartitionOffer] = ()) -> str:
    """The error text: what happened, what was asked, what is offered, how to change it."""
    default = next((o.name for o in offers if o.default), None)
    lines = [headline, f"  asked:  {request.describe(default)}"]
    if offer is not None:
        lines.append(f"  offers: {offer.describe(request.kind)}")
    else:
        others = [o.describe(request.kind) for o in offers]
        if others:
            lines.append("  offers: " + "; ".join(others))
    lines.append(f"  change: {how_to_change(request, offer)}")
    return "\n".join(lines)


# -------------------------------------------------------------------------------------------------- the scheduler

Runner = Callable[[Sequence[str]], "tuple[int, str]"]


def run_command(cmd: Sequence[str], timeout: float = 20) -> tuple[int, str]:
    """Run ``cmd``; its exit status and stdout (stderr appended); ``(127, why)`` when it cannot run."""
    if shutil.which(cmd[0]) is None:
        return 127, f"{cmd[0]}: not found"
    try:
        p = subprocess.run(list(cmd), capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.SubprocessError) as exc:
        return 127, f"{cmd[0]}: {exc}"
    return p.returncode, p.stdout + (p.stderr if p.returncode else "")


@dataclass
class SchedulerProbe:
    """Asks SLURM (``kind="slurm"``) or PBS (``"pbs"``) about jobs and partitions; ``run`` is replaceable in
    tests. Under SLURM's Torque wrappers (numeric ids, ``squeue`` present) PBS jobs are also read with squeue,
    since the wrapper's ``qstat -f`` carries no pending reason."""

    kind: str
    run: Runner = run_command
    _user: str | None = field(default=None, repr=False)

    def offers(self) -> dict[str, PartitionOffer]:
        """SLURM partitions from ``sinfo``; PBS: the largest node from ``pbsnodes -a`` (key ``nodes``). Empty
        when the scheduler does not answer."""
        if self.kind == "slurm":
            rc, out = self.run(["sinfo", "-h", "-o", "%P|%c|%m|%l|%D|%T"])
            return parse_sinfo(out) if rc == 0 else {}
        rc, out = self.run(["pbsnodes", "-a"])
        offer = parse_pbsnodes(out) if rc == 0 else None
        return {offer.name: offer} if offer else {}

    def _squeue(self, job_ids: Sequence[str]) -> dict[str, JobState]:
        rc, out = self.run(["squeue", "-h", "-o", "%i %T %P %r", "-j", ",".join(job_ids)])
        if rc == 127 and self.kind == "pbs":
            return {}
        if rc != 0 and "Invalid job id" not in out:
            raise OSError(out.strip() or f"squeue exit status {rc}")
        return parse_squeue(out if rc == 0 else "")

    def job_states(self, job_ids: Sequence[str]) -> dict[str, JobState]:
        """Each listed job's state by id (as given); a job the scheduler no longer lists is absent.
        Raises ``OSError`` when the scheduler cannot be asked."""
        if not job_ids:
            return {}
        if self.kind == "slurm":
            return self._squeue(job_ids)
        rc, out = self.run(["qstat", "-f", *job_ids])
        if rc != 0 and not out.strip().startswith("Job Id"):
            if not re.search(r"[Uu]nknown [Jj]ob|Invalid job", out):
                raise OSError(out.strip() or f"qstat exit status {rc}")
        parsed = {short_id(k): v for k, v in parse_qstat_full(out).items()}
        states = {j: parsed[short_id(j)] for j in job_ids if short_id(j) in parsed}
        if all(j.isdigit() for j in job_ids):  # SLURM's qsub wrapper: plain ids (a PBS server adds .SERVER)
            try:
                slurm = self._squeue(job_ids)
            except OSError:
                slurm = {}
            for j, st in states.items():
                if not st.reason and j in slurm and slurm[j].reason:
                    states[j] = JobState(j, st.state, slurm[j].reason, st.partition, via_slurm=True)
        return states

    def user_running(self) -> int | None:
        """How many of this user's jobs run (``None`` when unknown)."""
        import getpass

        if self.kind != "slurm":
            return None
        rc, out = self.run(["squeue", "-h", "-u", self._user or getpass.getuser(), "-t", "RUNNING", "-o", "%i"])
        return len(out.split()) if rc == 0 else None

    def queue_position(self, job_id: str, partition: str) -> tuple[int, int] | None:
        """``(position, pending)``: the job's place among the pending jobs of its partition in priority order."""
        if self.kind != "slurm":
            return None
        cmd = ["squeue", "-h", "-t", "PENDING", "--sort=-p,i", "-o", "%i"]
        if partition:
            cmd += ["-p", partition]
        rc, out = self.run(cmd)
        ids = out.split() if rc == 0 else []
        return (ids.index(job_id) + 1, len(ids)) if job_id in ids else None


def check_request(request: JobRequest, probe: SchedulerProbe) -> None:
    """Raise :class:`JobCannotStart` before anything is submitted when the request can never fit: the partition
    (or queue) does not exist, or the job needs more cores, memory or time than any of its nodes offers. Says
    nothing when the scheduler cannot be asked."""
    offers = probe.offers()
    if not offers:
        return
    if request.kind == "slurm":
        if request.queue and request.queue not in offers:
            raise JobCannotStart(cannot_start_message(
                f"slurm jobs can never start: partition {request.queue!r} does not exist "
                f"(partitions: {', '.join(sorted(offers))})", request, None, offers.values()))
        offer = offers.get(request.queue or "") or next((o for o in offers.values() if o.default), None)
    else:
        offer = offers.get("nodes")
    if offer is None:
        return
    problems = request_problems(request, offer)
    if problems:
        where = "any node" if offer.name == "nodes" else f"partition {offer.name}"
        raise JobCannotStart(cannot_start_message(
            f"{request.kind} jobs of this size can never start on {where}: " + "; ".join(problems)
            + " (checked with " + ("sinfo" if offer.name != "nodes" else "pbsnodes") + " before submitting)",
            request, offer, offers.values()))


class StartupWatch:
    """Polls the scheduler about the submitted worker jobs while kllama waits for the first worker.

    :meth:`check` raises :class:`JobCannotStart` when every job can never start (a fatal pending reason, a
    refused submission, or a job that ended without a worker); :meth:`status` is the one-line report shown every
    minute while jobs merely wait."""

    def __init__(self, request: JobRequest, probe: SchedulerProbe, log_directory: str | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self.request = request
        self.probe = probe
        self.log_directory = log_directory
        self.clock = clock
        self.states: dict[str, JobState] = {}
        self._missing: dict[str, int] = {}
        self._offers: dict[str, PartitionOffer] | None = None

    def offers(self) -> dict[str, PartitionOffer]:
        if self._offers is None:
            self._offers = self.probe.offers()
        return self._offers

    def offer_for(self, partition: str) -> PartitionOffer | None:
        offers = self.offers()
        if "nodes" in offers and self.request.kind == "pbs" and partition not in offers:
            return offers["nodes"]
        return offers.get(partition) or offers.get(self.request.queue or "") or next(
            (o for o in offers.values() if o.default), None)

    def _fail(self, headline: str, partition: str = "") -> JobCannotStart:
        offer = self.offer_for(partition)
        return JobCannotStart(cannot_start_message(headline, self.request, offer, self.offers().values()))

    def check(self, job_ids: Sequence[str], submit_errors: Sequence[str] = ()) -> None:
        """One poll. ``job_ids``: the jobs submitted so far; ``submit_errors``: what refused submissions said."""
        kind = self.request.kind
        if submit_errors and not job_ids:
            said = submit_errors[-1].strip()
            raise self._fail(f"{kind} refused the worker job at submission:\n    "
                             + "\n    ".join(_submit_output(said).splitlines()))
        if not job_ids:
            return
        try:
            self.states = self.probe.job_states(job_ids)
        except OSError:
            return  # the scheduler did not answer this time; ask again at the next poll
        verdicts: list[tuple[str, str]] = []
        for job_id in job_ids:
            state = self.states.get(job_id)
            if state is None:
                # gone from the queue: ended (and purged) before its worker connected; twice, to be sure
                self._missing[job_id] = self._missing.get(job_id, 0) + 1
                if self._missing[job_id] >= 2:
                    verdicts.append((job_id, "ended"))
                continue
            self._missing.pop(job_id, None)
            if ended(kind, state):
                verdicts.append((job_id, "ended"))
                continue
            why = self._never(state)
            if why is None:
                return  # at least one job may still start: keep waiting
            verdicts.append((job_id, why))
        if len(verdicts) < len(job_ids):
            return
        job_id, why = next(((j, w) for j, w in verdicts if w != "ended"), verdicts[0])
        state = self.states.get(job_id)
        partition = state.partition if state else ""
        if why == "ended":
            what = f"{state.state} {state.reason}".strip() if state else "no longer in the queue"
            logs = f"; its log is in {self.log_directory}" if self.log_directory else ""
            raise self._fail(f"{kind} job {job_id} ended ({what}) before its Dask worker connected{logs}",
                             partition)
        reason = state.reason if state else ""
        if kind == "slurm" or (state and state.via_slurm):
            who = "SLURM" if kind == "slurm" else "SLURM (behind the Torque qsub wrapper)"
            said = f"{who} keeps it pending with reason {reason}: {why}"
        else:
            said = f"the PBS scheduler's comment is {reason!r}"
        raise self._fail(f"{kind} job {job_id} can never start: {said}", partition)

    def _never(self, state: JobState) -> str | None:
        if self.request.kind == "pbs":
            why = pbs_never_reason(state)
            if why is None and state.via_slurm:
                why = slurm_never_reason(JobState(state.job_id, "PENDING", state.reason, state.partition),
                                         self.offer_for(state.partition))
            return why
        reason = state.reason.split(",")[0].strip()
        offer = self.offer_for(state.partition) if reason == "ReqNodeNotAvail" else None
        running = self.probe.user_running() if _COUNT_LIMIT.match(reason) else None
        return slurm_never_reason(state, offer, running)

    def status(self, job_ids: Sequence[str], waited_s: float) -> str:
        """``kllama: waiting 2 min for a slurm worker: job 12 PENDING (Priority), 3rd of 7 pending in debug``."""
        parts = []
        for job_id in list(job_ids)[:4]:
            state = self.states.get(job_id)
            if state is None:
                parts.append(f"job {job_id} (not listed yet)")
                continue
            text = f"job {job_id} {state.state}" + (f" ({state.reason})" if state.reason else "")
            pos = self.probe.queue_position(job_id, state.partition) if state.state == "PENDING" else None
            if pos:
                text += f", {_ordinal(pos[0])} of {pos[1]} pending in {state.partition or 'the queue'}"
            parts.append(text)
        if len(job_ids) > 4:
            parts.append(f"{len(job_ids) - 4} more")
        if not parts:
            parts.append("no job submitted yet")
        return (f"kllama: waiting {_duration(waited_s)} for a {self.request.kind} worker: " + "; ".join(parts))


def _submit_output(text: str) -> str:
    """The interesting part of dask-jobqueue's submission error (the command's stdout/stderr)."""
    keep = [ln for ln in text.splitlines() if ln.strip() and not ln.startswith(("Command exited", "Exit code",
                                                                                 "Command:", "stdout:", "stderr:"))]
    return "\n".join(keep[-8:]) or text


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{int(seconds)} s"
    return f"{math.floor(seconds / 60)} min"
