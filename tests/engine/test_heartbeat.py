"""The driver's heartbeat (``DIR/driver.json``) and what ``kllama status`` makes of it."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from kllama.engine.heartbeat import STALE_S, DriverHeartbeat, driver_state
from kllama.engine.status import format_status, run_status


def _run_dir(tmp_path):
    stage = tmp_path / "stages" / "c4.00-read"
    stage.mkdir(parents=True)
    (stage / "_plan.json").write_text(json.dumps({"partitions_total": 2, "created": time.time()}))
    return tmp_path


def test_running_then_finished_interrupted_or_failed(tmp_path):
    run = _run_dir(tmp_path)
    assert run_status(run)["state"] == "unknown"
    with DriverHeartbeat(run, interval=0.05):
        first = json.loads((run / "driver.json").read_text())["heartbeat"]
        time.sleep(0.3)
        state = driver_state(run)
        assert state["state"] == "running" and state["heartbeat"] > first  # the thread beats
        assert "running: driver pid" in format_status(run_status(run))
    assert driver_state(run)["state"] == "finished"
    with pytest.raises(KeyboardInterrupt), DriverHeartbeat(run):
        raise KeyboardInterrupt
    assert driver_state(run)["state"] == "interrupted"
    assert "rerun the same command" in format_status(run_status(run))
    with pytest.raises(ValueError), DriverHeartbeat(run):
        raise ValueError("boom")
    assert driver_state(run)["state"] == "failed" and "boom" in driver_state(run)["detail"]


def test_a_killed_driver_reads_as_stopped(tmp_path):
    run = _run_dir(tmp_path)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    with DriverHeartbeat(run):
        pass
    info = json.loads((run / "driver.json").read_text())
    # SIGKILL leaves "running" behind: a driver pid that is gone ...
    (run / "driver.json").write_text(json.dumps({**info, "state": "running", "pid": int(dead.stdout)}))
    assert driver_state(run)["state"] == "stopped" and "is gone" in driver_state(run)["detail"]
    # ... or a heartbeat too old (a driver on another host, a frozen machine)
    (run / "driver.json").write_text(json.dumps({**info, "state": "running", "host": "elsewhere",
                                                 "heartbeat": time.time() - STALE_S - 5}))
    status = run_status(run)
    assert status["state"] == "stopped" and not status["finished"]
    assert "stopped: no heartbeat" in format_status(status)
