"""Parsers and verdicts of ``kllama.engine.scheduler_state`` on captured scheduler output (no scheduler needed).

The SLURM and Torque-wrapper texts were captured on the single-node SLURM 22.05 of ``hpc/ci-slurm.sh`` (2 CPUs);
the PBS Pro and Torque ``qstat -f``/``pbsnodes`` texts follow those schedulers' documented layouts.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from kllama.engine.scheduler_state import (
    JobCannotStart,
    JobRequest,
    JobState,
    PartitionOffer,
    SchedulerProbe,
    StartupWatch,
    check_request,
    parse_pbsnodes,
    parse_qstat_full,
    parse_sinfo,
    parse_squeue,
    parse_time_limit,
    pbs_never_reason,
    slurm_never_reason,
)

SQUEUE = """13 PENDING debug PartitionConfig
15 PENDING debug Resources
16 PENDING debug JobHeldUser
14 RUNNING debug None
21 PENDING gpu ReqNodeNotAvail, UnavailableNodes:gpu[01-04]
"""
SINFO = "debug*|2|21694|infinite|1|idle\n"
SINFO_MULTI = """cpu*|32|128000|2-00:00:00|10|mixed
cpu*|64|256000|2-00:00:00|2|idle~
cpu*|64|256000|2-00:00:00|1|drained
gpu|16|64000|12:00:00|4|down*
"""
# the Torque wrapper's qstat -f (slurm-wlm-torque): no comment, no pending reason
QSTAT_WRAPPER = """Job Id:\t7
\tJob_Name = tor
\tJob_Owner = root@localhost
\tjob_state = Q
\tqueue = debug
\tqtime = Thu Dec  3 17:58:11 2026
\tPriority = 4294901753
\tResource_List.walltime = 04:00:00
\tResource_List.nodect = 4
\tResource_List.ncpus = 8

Job Id:\t6
\tJob_Name = bigjob
\tjob_state = C
\tqueue = debug
"""
QSTAT_PBSPRO = """Job Id: 1234.pbs01
    Job_Name = kllama-worker
    Job_Owner = alice@login1
    job_state = Q
    queue = workq
    server = pbs01
    Resource_List.ncpus = 64
    Resource_List.select = 1:ncpus=64:mem=30GB
    comment = Can Never Run: Insufficient amount of queue resource: ncpus (R:""" + " \n" + """\t64 A: 32 T: 32)

Job Id: 1235.pbs01
    Job_Name = kllama-worker
    job_state = Q
    queue = workq
    comment = Not Running: Insufficient amount of resource: ncpus (R: 8 A: 0 T: 32)
"""
PBSNODES_WRAPPER = """kllama-node
    state = free
    np = 2
    ntype = cluster
    status = rectime=1796320802,state=free,slurmstate=idle,size=0kb:0kb,ncpus=2,boards=1,sockets=2,cores=1,\
threads=1,availmem=21694mb,opsys=linux

"""
PBSNODES_PRO = """node01
     Mom = node01
     state = free
     pcpus = 32
     resources_available.mem = 196608000kb
     resources_available.ncpus = 32

node02
     Mom = node02
     state = down,offline
     resources_available.mem = 393216000kb
     resources_available.ncpus = 64
"""


def request(**kw) -> JobRequest:
    base = dict(kind="slurm", cores=8, processes=8, memory="32GB", memory_mb=30720, walltime="04:00:00",
                queue=None, account=None)
    return JobRequest(**{**base, **kw})


def test_time_limits():
    assert parse_time_limit("infinite") is None and parse_time_limit("UNLIMITED") is None
    assert parse_time_limit("04:00:00") == 4 * 3600
    assert parse_time_limit("30") == 30 * 60            # SLURM: minutes
    assert parse_time_limit("10:30") == 10 * 60 + 30    # MM:SS
    assert parse_time_limit("2-00:00:00") == 2 * 86400
    assert parse_time_limit("1-12") == 36 * 3600


def test_parse_squeue_keeps_reasons_with_spaces():
    jobs = parse_squeue(SQUEUE)
    assert jobs["13"] == JobState("13", "PENDING", "PartitionConfig", "debug")
    assert jobs["14"].reason == ""  # "None" = no reason
    assert jobs["21"].reason == "ReqNodeNotAvail, UnavailableNodes:gpu[01-04]"


def test_parse_sinfo_merges_node_groups():
    one = parse_sinfo(SINFO)
    assert one == {"debug": PartitionOffer("debug", 2, 21694, "infinite", 1, 1, True)}
    multi = parse_sinfo(SINFO_MULTI)
    assert multi["cpu"].cpus == 64 and multi["cpu"].memory_mb == 256000
    assert multi["cpu"].nodes == 13 and multi["cpu"].usable_nodes == 12  # idle~ (powered down) counts, drained not
    assert multi["cpu"].default and not multi["gpu"].default
    assert multi["gpu"].usable_nodes == 0 and multi["gpu"].time_limit_s == 12 * 3600


def test_parse_qstat_full():
    wrapper = parse_qstat_full(QSTAT_WRAPPER)
    assert wrapper["7"] == JobState("7", "Q", "", "debug") and wrapper["6"].state == "C"
    pro = parse_qstat_full(QSTAT_PBSPRO)
    assert pro["1234.pbs01"].reason == ("Can Never Run: Insufficient amount of queue resource: ncpus (R: 64 A: 32 "
                                        "T: 32)")
    assert pbs_never_reason(pro["1234.pbs01"]) is not None
    assert pbs_never_reason(pro["1235.pbs01"]) is None  # busy, not impossible


def test_parse_pbsnodes():
    assert parse_pbsnodes(PBSNODES_WRAPPER) == PartitionOffer("nodes", 2, 21694, nodes=1, usable_nodes=1)
    pro = parse_pbsnodes(PBSNODES_PRO)
    assert (pro.cpus, pro.memory_mb, pro.nodes, pro.usable_nodes) == (64, 384000, 2, 1)
    assert parse_pbsnodes("") is None


@pytest.mark.parametrize("reason, never", [
    ("PartitionConfig", True), ("PartitionNodeLimit", True), ("PartitionTimeLimit", True),
    ("InvalidAccount", True), ("InvalidQOS", True), ("QOSMaxCpuPerJobLimit", True),
    ("AssocMaxWallDurationPerJobLimit", True), ("QOSMinCpuNotSatisfied", True),
    ("Resources", False), ("Priority", False), ("JobHeldUser", False), ("BeginTime", False),
    ("Dependency", False), ("QOSGrpCpuLimit", False),
])
def test_slurm_reasons(reason, never):
    assert (slurm_never_reason(JobState("1", "PENDING", reason)) is not None) is never
    assert slurm_never_reason(JobState("1", "RUNNING", reason)) is None


def test_slurm_reasons_that_depend_on_the_cluster():
    limit = JobState("1", "PENDING", "AssocMaxJobsLimit")
    assert slurm_never_reason(limit, user_running=3) is None      # frees up when the user's jobs end
    assert slurm_never_reason(limit, user_running=0) is not None  # nothing will ever free a slot
    assert slurm_never_reason(limit) is None                      # unknown: keep waiting
    node = JobState("1", "PENDING", "ReqNodeNotAvail, UnavailableNodes:gpu[01-04]", "gpu")
    offers = parse_sinfo(SINFO_MULTI)
    assert slurm_never_reason(node, offers["gpu"]) is not None    # every node of the partition is down
    assert slurm_never_reason(node, offers["cpu"]) is None


class FakeScheduler:
    """A scripted runner: the first matching command prefix answers; every command is recorded."""

    def __init__(self, answers: dict[tuple[str, ...], tuple[int, str]]):
        self.answers = answers
        self.calls: list[tuple[str, ...]] = []

    def __call__(self, cmd: Sequence[str]) -> tuple[int, str]:
        self.calls.append(tuple(cmd))
        for prefix, answer in self.answers.items():
            if tuple(cmd[:len(prefix)]) == prefix:
                return answer
        return 127, f"{cmd[0]}: not found"


def test_check_request_before_submitting():
    fake = FakeScheduler({("sinfo",): (0, SINFO)})
    with pytest.raises(JobCannotStart) as err:
        check_request(request(), SchedulerProbe("slurm", fake))
    text = str(err.value)
    assert "8 cores per job, but the largest node has 2 CPUs" in text
    assert "30720 MB of memory per job (32GB), but the largest node has 21694 MB" in text
    assert "asked:  8 cores (8 worker processes), memory 32GB (30720 MB), walltime 04:00:00" in text
    assert "offers: partition debug: at most 2 CPUs and 21694 MB per node, time limit infinite" in text
    assert "--job-cores 2 --job-memory 21GiB" in text
    check_request(request(cores=2, processes=2, memory="8GB", memory_mb=8192), SchedulerProbe("slurm", fake))

    with pytest.raises(JobCannotStart, match="partition 'short' does not exist"):
        check_request(request(cores=2, queue="short"), SchedulerProbe("slurm", fake))
    with pytest.raises(JobCannotStart, match="walltime 3-00:00:00, but the time limit is 2-00:00:00"):
        check_request(request(cores=2, walltime="3-00:00:00"),
                      SchedulerProbe("slurm", FakeScheduler({("sinfo",): (0, SINFO_MULTI)})))
    # a scheduler that does not answer: nothing to say, the job is submitted
    check_request(request(), SchedulerProbe("slurm", FakeScheduler({})))
    with pytest.raises(JobCannotStart, match="never start on any node: 8 cores per job"):
        check_request(request(kind="pbs"), SchedulerProbe("pbs", FakeScheduler({("pbsnodes",): (0, PBSNODES_WRAPPER)})))


def test_watch_fails_fast_on_a_fatal_reason():
    fake = FakeScheduler({("squeue", "-h", "-o"): (0, "13 PENDING debug PartitionConfig\n"),
                          ("sinfo",): (0, SINFO)})
    watch = StartupWatch(request(), SchedulerProbe("slurm", fake))
    with pytest.raises(JobCannotStart) as err:
        watch.check(["13"])
    text = str(err.value)
    assert text.startswith("slurm job 13 can never start: SLURM keeps it pending with reason PartitionConfig")
    assert "partition debug: at most 2 CPUs" in text and "--job-cores 2" in text


def test_watch_keeps_waiting_in_a_busy_queue():
    fake = FakeScheduler({("squeue", "-h", "-o"): (0, "15 PENDING debug Priority\n"),
                          ("squeue", "-h", "-t", "PENDING"): (0, "9\n12\n15\n18\n"),
                          ("sinfo",): (0, SINFO)})
    watch = StartupWatch(request(cores=2), SchedulerProbe("slurm", fake))
    watch.check(["15"])  # no verdict: waits
    assert watch.status(["15"], 125) == ("kllama: waiting 2 min for a slurm worker: job 15 PENDING (Priority), "
                                         "3rd of 4 pending in debug")
    # one job that can never start beside one that may: keep waiting
    fake.answers[("squeue", "-h", "-o")] = (0, "15 PENDING debug Priority\n16 PENDING debug InvalidQOS\n")
    watch.check(["15", "16"])


def test_watch_refused_submission_and_ended_job():
    fake = FakeScheduler({("sinfo",): (0, SINFO)})
    watch = StartupWatch(request(cores=2, memory="64GB", memory_mb=65536), SchedulerProbe("slurm", fake))
    refused = ("Command exited with non-zero exit code.\nExit code: 1\nCommand:\nsbatch /tmp/x.sh\nstdout:\n\n"
               "stderr:\nsbatch: error: Memory specification can not be satisfied\n")
    with pytest.raises(JobCannotStart, match="(?s)refused the worker job at submission.*Memory specification.*"
                                             "--job-memory 21GiB"):
        watch.check([], [refused])

    fake.answers[("squeue", "-h", "-o")] = (0, "")  # the job ended and left the queue
    watch = StartupWatch(request(cores=2), SchedulerProbe("slurm", fake), log_directory="/x/logs")
    watch.check(["30"])  # first miss: maybe a race
    with pytest.raises(JobCannotStart, match="job 30 ended .* before its Dask worker connected; its log is in /x"):
        watch.check(["30"])
    fake.answers[("squeue", "-h", "-o")] = (0, "31 FAILED debug NonZeroExitCode\n")
    with pytest.raises(JobCannotStart, match="job 31 ended \\(FAILED NonZeroExitCode\\)"):
        watch.check(["31"])


def test_watch_pbs_comment_and_torque_wrapper():
    fake = FakeScheduler({("qstat", "-f"): (0, QSTAT_PBSPRO), ("pbsnodes",): (0, PBSNODES_PRO)})
    watch = StartupWatch(request(kind="pbs", cores=64), SchedulerProbe("pbs", fake))
    with pytest.raises(JobCannotStart, match="pbs job 1234.pbs01 can never start: the PBS scheduler's comment is "
                                             "'Can Never Run"):
        watch.check(["1234.pbs01"])
    assert not any(c[0] == "squeue" for c in fake.calls)  # server-suffixed ids: a real PBS, no squeue

    # the Torque wrapper: qstat has no reason, squeue has it
    fake = FakeScheduler({("qstat", "-f"): (0, QSTAT_WRAPPER), ("squeue", "-h", "-o"): (0, "7 PENDING debug "
                                                                                         "PartitionConfig\n"),
                          ("pbsnodes",): (0, PBSNODES_WRAPPER)})
    watch = StartupWatch(request(kind="pbs"), SchedulerProbe("pbs", fake))
    with pytest.raises(JobCannotStart) as err:
        watch.check(["7"])
    assert "SLURM (behind the Torque qsub wrapper) keeps it pending with reason PartitionConfig" in str(err.value)
    assert "the largest node has 2 CPUs and 21694 MB" in str(err.value)
