"""`kllama demo` end to end through the CLI on a real LocalCluster: determinism, status balance, kill + resume."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import zstandard

KLLAMA = [sys.executable, "-m", "kllama.cli"]


def _demo(out: Path, workers: int) -> subprocess.CompletedProcess:
    return subprocess.run([*KLLAMA, "demo", "--output", str(out), "--workers", str(workers), "--no-progress"],
                          capture_output=True, text=True, timeout=900)


def _shards(run_dir: Path) -> dict[str, str]:
    manifest = json.loads((run_dir / "manifest.json").read_text())
    return {s["path"]: s["sha256"] for s in manifest["shards"]}


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "run"
    proc = _demo(out, 2)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return out, proc


def test_demo_builds_shards_export_and_manifest(demo_run):
    out, proc = demo_run
    manifest = json.loads((out / "manifest.json").read_text())
    assert {s["source"] for s in manifest["shards"]} >= {"c4"}
    for shard in manifest["shards"]:
        assert (out / shard["path"]).exists()
    assert set(manifest["variants"]) >= {"G1"}
    assert "dashboard" in proc.stderr
    g1 = out / "export" / "G1"
    files = sorted(g1.rglob("*.jsonl.zst"))
    assert files
    with open(files[0], "rb") as f:
        first = zstandard.ZstdDecompressor().stream_reader(f).read().decode().splitlines()[0]
    rec = json.loads(first)
    assert set(rec) == {"text", "meta"} and rec["meta"]["source"]


def test_status_json_balances(demo_run):
    out, _ = demo_run
    proc = subprocess.run([*KLLAMA, "status", str(out), "--json"], capture_output=True, text=True, check=True)
    status = json.loads(proc.stdout)
    assert status["finished"]
    assert status["stages"]
    for name, s in status["stages"].items():
        assert s["docs_in"] == s["docs_out"] + sum(s["dropped"].values()), name
        assert {"partitions_done", "partitions_total", "bytes_in", "bytes_out"} <= set(s)


def test_one_worker_gives_the_same_shards(demo_run, tmp_path):
    out, _ = demo_run
    proc = _demo(tmp_path / "one", 1)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert _shards(tmp_path / "one") == _shards(out)


def test_killed_demo_resumes_to_the_same_shards(demo_run, tmp_path):
    out, _ = demo_run
    run = tmp_path / "killed"
    proc = subprocess.Popen([*KLLAMA, "demo", "--output", str(run), "--workers", "2", "--no-progress"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        if len(list((run / "stages").glob("*/part-*.done.json"))) >= 2 if (run / "stages").exists() else False:
            break
        time.sleep(0.02)
    killed = proc.poll() is None
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert killed, "the demo finished before it could be killed"
    assert not (run / "manifest.json").exists()
    done_before = len(list((run / "stages").glob("*/part-*.done.json")))
    again = _demo(run, 2)
    assert again.returncode == 0, again.stderr[-4000:]
    assert "already complete, skipped" in again.stderr
    assert done_before >= 2
    assert _shards(run) == _shards(out)
