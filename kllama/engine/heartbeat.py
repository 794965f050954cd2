"""The driver's heartbeat: ``DIR/driver.json`` says which process runs the run and when it was last alive.

``kllama run``/``demo`` write ``{"pid", "host", "started", "heartbeat", "state"}`` when the run starts and rewrite
``heartbeat`` every few seconds from a daemon thread; at the end ``state`` becomes ``finished``,
``interrupted`` (Ctrl-C) or ``failed``. ``kllama status`` then tells a live run from a stopped one: the driver's
process is gone (same host), or its heartbeat is older than :data:`STALE_S`.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from pathlib import Path
from typing import Any

from kllama.core.files import atomic_write_text

#: seconds between two heartbeats
INTERVAL_S = 5.0
#: a heartbeat older than this means the driver stopped (killed, machine down), whatever its state says
STALE_S = 60.0
FILE = "driver.json"


class DriverHeartbeat:
    """Context manager: writes ``run_dir/driver.json`` now and every ``interval`` seconds until it exits."""

    def __init__(self, run_dir: str | Path, interval: float = INTERVAL_S) -> None:
        self.path = Path(run_dir) / FILE
        self.interval = interval
        self.info: dict[str, Any] = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time(),
                                     "state": "running"}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat_forever, name="kllama-heartbeat", daemon=True)

    def _write(self) -> None:
        self.info["heartbeat"] = time.time()
        try:
            atomic_write_text(self.path, json.dumps(self.info, sort_keys=True))
        except OSError:  # a full or vanished disk must not stop the run; status will call it stale
            pass

    def _beat_forever(self) -> None:
        while not self._stop.wait(self.interval):
            self._write()

    def __enter__(self) -> DriverHeartbeat:
        self._write()
        self._thread.start()
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self._stop.set()
        self._thread.join(timeout=self.interval + 1)
        if exc_type is None:
            self.info["state"] = "finished"
        elif issubclass(exc_type, KeyboardInterrupt):
            self.info["state"] = "interrupted"
        else:
            self.info["state"] = "failed"
            self.info["error"] = f"{exc_type.__name__}: {exc}"
        self.info["ended"] = time.time()
        self._write()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        return True
    return True


def driver_state(run_dir: str | Path, now: float | None = None) -> dict[str, Any]:
    """``{"state": running|stopped|finished|interrupted|failed|unknown, "detail": str, ...driver.json}``.

    ``running`` only while the driver's heartbeat is fresh and, on this host, its process exists; a ``running``
    file whose driver is gone (SIGKILL, a crashed node) reads as ``stopped``."""
    path = Path(run_dir) / FILE
    now = time.time() if now is None else now
    try:
        info = json.loads(path.read_text())
    except (OSError, ValueError):
        return {"state": "unknown", "detail": "no driver.json (a run of an older kllama, or not started)"}
    where = f"pid {info.get('pid')} on {info.get('host')}"
    age = now - float(info.get("heartbeat", 0))
    state = info.get("state", "running")
    if state == "running":
        here = info.get("host") == socket.gethostname()
        if here and not _pid_alive(int(info.get("pid", 0))):
            state, detail = "stopped", f"the driver ({where}) is gone; rerun the same command to resume"
        elif age > STALE_S:
            state, detail = "stopped", (f"no heartbeat from the driver ({where}) for {age:.0f} s; rerun the same "
                                        "command to resume")
        else:
            detail = f"driver {where}, heartbeat {age:.0f} s ago"
    elif state == "finished":
        detail = f"finished by {where}"
    elif state == "interrupted":
        detail = f"interrupted (Ctrl-C) in {where}; rerun the same command to resume"
    else:
        detail = f"the driver ({where}) failed: {info.get('error', '?')}; rerun the same command to resume"
    return {**info, "state": state, "detail": detail}
