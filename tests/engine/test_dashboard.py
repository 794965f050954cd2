"""Polling the Dask dashboard during a real run leaves the run's output clean (no traceback, no ERROR line).

Two causes were found and fixed: pandas imported from two threads at once (the dashboard's bokeh callbacks and
the driver's lazy pyarrow import; ``open_client`` now imports it before the scheduler's thread starts), and
task groups whose upstream group the scheduler had forgotten (a Dask bag's fused tasks behind aliases), which
the task-group page could not draw (the runner now submits one independent task per partition).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

DEMO = Path(__file__).resolve().parents[2] / "kllama" / "data" / "demo"
#: fetched first (the task-group page is the one that failed), then every other ``/individual-*`` plot
PAGES = ["/status", "/workers", "/tasks", "/system", "/individual-groups", "/individual-progress",
         "/individual-task-stream", "/individual-profile"]


def _get(url: str) -> int:
    with urllib.request.urlopen(url, timeout=60) as r:  # 127.0.0.1 only: the run's own dashboard
        r.read()
        return r.status


def test_polling_the_dashboard_during_a_run_prints_no_traceback(tmp_path):
    log_path = tmp_path / "run.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "kllama.cli", "run", "demo", "--input", f"c4={DEMO / 'c4'}",
                                 "--input", f"wikipedia={DEMO / 'wikipedia'}",
                                 # enough work that the run outlasts one round of every page on a quiet machine
                                 "--input", f"stackexchange={DEMO / 'stackexchange'}", "--input", f"books={DEMO / 'books'}",
                                 "--output", str(tmp_path / "run"),
                                 "--workers", "2", "--no-progress"], stdout=log, stderr=subprocess.STDOUT)
    try:
        base = None
        deadline = time.time() + 180
        while base is None and proc.poll() is None and time.time() < deadline:
            m = re.search(r"dashboard (http://127\.0\.0\.1:\d+)/status", log_path.read_text())
            base = m.group(1) if m else None
            time.sleep(0.05)
        assert base, log_path.read_text()[-3000:]
        pages = list(PAGES)
        plots = json.loads(urllib.request.urlopen(base + "/individual-plots.json", timeout=60).read()).values()
        pages += sorted(set(plots) - set(PAGES))
        assert any(p.startswith("/individual-") for p in pages)
        fetched: dict[str, int] = {}
        k = 0
        while proc.poll() is None and time.time() < deadline + 300:
            # every other request is the task-group page: it failed once upstream groups were forgotten
            page = pages[(k // 2) % len(pages)] if k % 2 == 0 else "/individual-groups"
            k += 1
            try:
                fetched.setdefault(page, _get(base + page))
            except OSError:  # the run closed its cluster between two pages
                break
            time.sleep(0.02)
        assert proc.wait(timeout=600) == 0, log_path.read_text()[-3000:]
    finally:
        if proc.poll() is None:
            proc.kill()
    log = log_path.read_text()
    assert set(PAGES) <= set(fetched), fetched
    assert all(code == 200 for code in fetched.values()), fetched
    bad = [line for line in log.splitlines() if "Traceback" in line or " ERROR " in line or "partially init" in line]
    assert not bad, log[-5000:]
