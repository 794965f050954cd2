"""Fault tolerance: a worker killed mid-stage, the whole ``kllama run`` SIGKILLed at a random point, and the
debris a killed run leaves (temporary files, truncated partitions, half-written markers) -- every time the run
ends with the bytes of an uninterrupted run.

Input: synthetic C4 files (many small partitions so that a stage lasts long enough to be interrupted) run
through the demo recipe's C4 pipeline (``c4_rules`` then ``exact_dedup``) on real distributed clusters.
"""

from __future__ import annotations

import gzip
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from kllama.config import load_recipe
from kllama.engine.cluster import open_client
from kllama.engine.status import run_status
from kllama.pipeline import run_recipe
from tools.synthetic import corpus

REPO = Path(__file__).resolve().parents[2]
N_FILES = 12
DOCS_PER_FILE = 40


def write_inputs(folder: Path) -> Path:
    """``N_FILES`` C4-format ``.json.gz`` files; every 7th document repeats one of the previous file."""
    folder.mkdir(parents=True, exist_ok=True)
    texts = corpus(N_FILES * DOCS_PER_FILE, seed=11, min_bytes=400, max_bytes=2500)
    for f in range(N_FILES):
        lines = []
        for i in range(DOCS_PER_FILE):
            k = f * DOCS_PER_FILE + i
            text = texts[k - DOCS_PER_FILE] if f and i % 7 == 0 else texts[k]
            lines.append(json.dumps({"text": text, "timestamp": "2019-04-25T12:00:00Z",
                                     "url": f"https://example.org/{f}/{i}"}))
        with gzip.GzipFile(folder / f"c4-train.{f:05d}-of-{N_FILES:05d}.json.gz", "wb", mtime=0) as g:
            g.write(("\n".join(lines) + "\n").encode())
    return folder


def recipe_for(inputs: Path):
    return load_recipe("demo", {"c4": [str(inputs)]})


def stored_bytes(run_dir: Path) -> dict[str, bytes]:
    """Every partition and shard file of a run (temporary files excluded), by relative path."""
    out = {}
    for p in sorted(run_dir.rglob("*.parquet")):
        if not p.name.startswith("."):
            out[str(p.relative_to(run_dir))] = p.read_bytes()
    return out


def markers(run_dir: Path) -> list[Path]:
    return sorted((run_dir / "stages").rglob("*.done.json")) if (run_dir / "stages").exists() else []


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Path:
    return write_inputs(tmp_path_factory.mktemp("c4in"))


@pytest.fixture(scope="module")
def reference(inputs, tmp_path_factory, dask_client) -> Path:
    """An uninterrupted run."""
    out = tmp_path_factory.mktemp("ref") / "run"
    summary = run_recipe(recipe_for(inputs), out, dask_client, progress=False)
    assert summary.shards and sum(s["docs"] for s in summary.shards) > 0
    dropped = summary.stages["c4.01-exact_dedup"].dropped
    assert dropped.get("exact_duplicate", 0) > 0  # the dedup stage does real work
    return out


def test_worker_killed_mid_stage(inputs, reference, tmp_path):
    """SIGKILL one Dask worker process while the read stage runs: the nanny restarts it, Dask reruns its
    task elsewhere, and the run's files are byte-identical to the uninterrupted run's."""
    out = tmp_path / "run"
    stage = out / "stages" / "c4.00-read"
    with open_client("local", workers=2, quiet=True) as client:
        pids = client.run(os.getpid)
        seen: dict[str, int] = {}

        def killer() -> None:
            deadline = time.time() + 120
            while time.time() < deadline:
                done = len(list(stage.glob("part-*.done.json"))) if stage.exists() else 0
                if 1 <= done < N_FILES:
                    # prefer a worker that is running a partition task right now
                    busy = [addr for addr, keys in client.processing().items() if keys and addr in pids]
                    victim = pids[sorted(busy)[0]] if busy else sorted(pids.values())[0]
                    os.kill(victim, signal.SIGKILL)
                    seen.update(done_at_kill=done, victim=victim, busy=bool(busy))
                    return
                if done >= N_FILES:
                    return
                time.sleep(0.01)

        t = threading.Thread(target=killer)
        t.start()
        summary = run_recipe(recipe_for(inputs), out, client, progress=False)
        t.join()
        after = client.run(os.getpid)
    assert "done_at_kill" in seen, "the read stage finished before a worker could be killed"
    assert seen["done_at_kill"] < N_FILES
    assert seen["busy"], "no worker had a task when the stage was half done"
    assert seen["victim"] not in after.values()  # the worker really died (its nanny started a new process)
    assert all(led.balanced for led in summary.stages.values())
    assert stored_bytes(out) == stored_bytes(reference)


def _kllama_run(inputs: Path, out: Path, **kw) -> list[str]:
    return [sys.executable, "-m", "kllama.cli", "run", "demo", "--input", f"c4={inputs}", "--output", str(out),
            "--workers", "2", "--no-progress"]


def _env() -> dict[str, str]:
    e = dict(os.environ)
    e["PYTHONPATH"] = str(REPO) + (os.pathsep + e["PYTHONPATH"] if e.get("PYTHONPATH") else "")
    return e


def test_sigkill_whole_run_then_resume(inputs, reference, tmp_path):
    """SIGKILL ``kllama run`` (and its worker processes) after a random number of finished partitions; the rerun
    skips every partition that was complete (markers untouched) and ends byte-identical."""
    seed = int(os.environ.get("KLLAMA_TEST_SEED", time.time_ns() % 100000))
    total = len(markers(reference))
    threshold = random.Random(seed).randint(1, max(1, total - N_FILES - 1))  # before the shard stage ends
    out = tmp_path / "run"
    log = open(tmp_path / "killed-run.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(_kllama_run(inputs, out), env=_env(), stdout=log, stderr=log, start_new_session=True)
    try:
        deadline = time.time() + 120
        while time.time() < deadline and proc.poll() is None and len(markers(out)) < threshold:
            time.sleep(0.01)
        alive = proc.poll() is None
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        log.close()
    assert alive, (f"run ended before the kill (seed {seed}, threshold {threshold}/{total}, "
                   f"markers {len(markers(out))}):\n{(tmp_path / 'killed-run.log').read_text()[-3000:]}")
    assert not (out / "manifest.json").exists()

    # `kllama status` reads the interrupted run
    status = run_status(out)
    assert not status["finished"]
    done = sum(s["partitions_done"] for s in status["stages"].values())
    planned = sum(s["partitions_total"] for s in status["stages"].values())
    assert 0 < done < planned or len(status["stages"]) < 4

    before = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in markers(out)}
    assert len(before) >= threshold
    again = subprocess.run(_kllama_run(inputs, out), env=_env(), capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-3000:]
    for p, (mtime, content) in before.items():
        if json.loads(content).get("sha256") is None and not json.loads(content).get("files"):
            continue
        # a complete partition is skipped, not redone: its marker is not rewritten
        assert (p.stat().st_mtime_ns, p.read_bytes()) == (mtime, content), f"{p} redone (seed {seed})"
    assert stored_bytes(out) == stored_bytes(reference), f"seed {seed}, threshold {threshold}/{total}"
    assert json.loads((out / "manifest.json").read_text())["shards"] == \
        json.loads((reference / "manifest.json").read_text())["shards"]


def test_debris_of_a_killed_run_never_poisons_the_rerun(inputs, reference, tmp_path, dask_client):
    """What a kill can leave -- a half-written temporary file, a truncated partition under a valid-looking
    marker, an output without marker, a torn marker, a missing shard -- is redone, never trusted."""
    out = tmp_path / "run"
    shutil.copytree(reference, out)
    read = out / "stages" / "c4.00-read"
    dedup = out / "stages" / "c4.01-exact_dedup"
    # killed while writing: a temporary file beside the partition (and garbage in it)
    (read / ".part-00003.parquet.tmp-0123456789abcdef").write_bytes(b"PAR1 half a row group")
    (dedup / ".part-00001.done.json.tmp-4242").write_text('{"sha256": ')
    # killed between rename and marker: an output without its marker (here also a wrong, truncated one)
    data = (read / "part-00004.parquet").read_bytes()
    (read / "part-00004.parquet").write_bytes(data[: len(data) // 2])
    (read / "part-00004.done.json").unlink()
    # a marker whose checksum no longer matches its partition (the file was replaced by a partial one)
    data = (dedup / "part-00002.parquet").read_bytes()
    (dedup / "part-00002.parquet").write_bytes(data[:-100])
    # a torn marker (not JSON)
    marker = dedup / "part-00005.done.json"
    marker.write_text(marker.read_text()[:20])
    # a shard gone while its marker says it exists
    shard = next((out / "shards").rglob("part-00006.parquet"))
    shard.unlink()
    (out / "manifest.json").unlink()

    summary = run_recipe(recipe_for(inputs), out, dask_client, progress=False)
    assert all(led.balanced for led in summary.stages.values())
    assert stored_bytes(out) == stored_bytes(reference)
    assert json.loads((out / "manifest.json").read_text())["shards"] == \
        json.loads((reference / "manifest.json").read_text())["shards"]
