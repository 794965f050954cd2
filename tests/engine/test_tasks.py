"""Task stages (``kllama.engine.tasks`` through ``StageRunner.task_stage``): markers, skip on rerun, retry then
quarantine, declared outputs and fingerprints, the same results in this process and on a cluster, status."""

from __future__ import annotations

import json
from pathlib import Path

from kllama.core.ledger import Ledger
from kllama.engine.runner import StageRunner
from kllama.engine.status import format_status, run_status
from kllama.engine.tasks import FnTask, fn_marker_valid, run_fn_task


def write_value(path: str, value: int) -> dict:
    """A task: writes ``value`` to ``path``; its ledger takes in ``value`` documents and keeps them."""
    Path(path).write_text(str(value))
    led = Ledger()
    led.take_in(value)
    led.put_out(value)
    return {"ledger": led.to_dict(), "value": value, "files": [path]}


def flaky(counter: str, fail_times: int) -> dict:
    """A task that fails its first ``fail_times`` calls (counted in the file ``counter``)."""
    p = Path(counter)
    n = int(p.read_text()) if p.exists() else 0
    p.write_text(str(n + 1))
    if n < fail_times:
        raise RuntimeError(f"failure {n + 1}")
    return {"calls": n + 1}


def _tasks(d: Path, n: int = 3) -> list[FnTask]:
    return [FnTask(stage_dir=str(d / "stages" / "demo-task"), name=f"part-{i:05d}", fn=write_value,
                   kwargs={"path": str(d / f"out{i}.txt"), "value": i + 1}) for i in range(n)]


def test_task_stage_runs_once_and_skips_on_rerun(tmp_path: Path) -> None:
    runner = StageRunner(None, tmp_path, progress=False)
    res = runner.task_stage("demo-task", _tasks(tmp_path))
    assert [m["result"]["value"] for m in res.markers] == [1, 2, 3]
    assert res.ledger.docs_in == 6 and res.ledger.balanced and res.skipped == 0
    again = runner.task_stage("demo-task", _tasks(tmp_path))
    assert again.skipped == 3 and [m["result"]["value"] for m in again.markers] == [1, 2, 3]
    # a file a marker records changed: that task runs again, the others stay skipped
    (tmp_path / "out1.txt").write_text("changed")
    third = runner.task_stage("demo-task", _tasks(tmp_path))
    assert [bool(m.get("skipped")) for m in third.markers] == [True, False, True]
    assert (tmp_path / "out1.txt").read_text() == "2"
    status = run_status(tmp_path)
    assert status["stages"]["demo-task"]["partitions_done"] == 3 == status["stages"]["demo-task"]["partitions_total"]
    assert status["stages"]["demo-task"]["docs_in"] == 6
    assert "demo-task" in format_status(status)


def test_retry_then_quarantine(tmp_path: Path) -> None:
    d = str(tmp_path / "stages" / "s")
    once = FnTask(stage_dir=d, name="part-00000", fn=flaky, kwargs={"counter": str(tmp_path / "c0"), "fail_times": 1})
    assert run_fn_task(once)["result"] == {"calls": 2}  # retried once
    always = FnTask(stage_dir=d, name="part-00001", fn=flaky, docs=40,
                    kwargs={"counter": str(tmp_path / "c1"), "fail_times": 9})
    m = run_fn_task(always)
    assert m["quarantined"] and "failure 2" in m["ledger"]["quarantined"][0]["error"]
    assert m["ledger"]["dropped"] == {"quarantined_partition": 40} and m["ledger"]["docs_in"] == 40
    assert m["ledger"]["stats"] == {"partitions_quarantined": 1}
    # without declared outputs a quarantined task stays quarantined (as a partition); with them it is retried
    assert fn_marker_valid(always) is not None
    with_output = FnTask(stage_dir=d, name="part-00002", fn=flaky, outputs=[str(tmp_path / "never")],
                         kwargs={"counter": str(tmp_path / "c2"), "fail_times": 9})
    run_fn_task(with_output)
    assert fn_marker_valid(with_output) is None


def test_fingerprint_and_outputs_decide_trust(tmp_path: Path) -> None:
    d = str(tmp_path / "stages" / "s")
    t = FnTask(stage_dir=d, name="part-00000", fn=write_value, kwargs={"path": str(tmp_path / "x"), "value": 2},
               outputs=[str(tmp_path / "x")], fingerprint="a")
    run_fn_task(t)
    assert fn_marker_valid(t) is not None
    t.fingerprint = "b"  # what the task reads changed
    assert fn_marker_valid(t) is None
    t.fingerprint = "a"
    (tmp_path / "x").unlink()
    assert fn_marker_valid(t) is None
    (t.marker).write_text('{"kind": ')  # a torn marker
    assert fn_marker_valid(t) is None


def test_same_results_on_a_cluster(tmp_path: Path, dask_client) -> None:
    serial = StageRunner(None, tmp_path / "a", progress=False).task_stage("demo-task", _tasks(tmp_path / "a", 5))
    (tmp_path / "b").mkdir()
    dist = StageRunner(dask_client, tmp_path / "b", progress=False).task_stage("demo-task", _tasks(tmp_path / "b", 5))
    assert [m["result"] for m in serial.markers] == [m["result"] for m in dist.markers]
    plan = json.loads((tmp_path / "b" / "stages" / "demo-task" / "_plan.json").read_text())
    assert plan["partitions_total"] == 5
