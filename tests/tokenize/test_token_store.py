"""Tokens made once per shard: G1, G2, G3 in a row tokenize each shard once; the output is the same bytes with
one or two workers, any chunk count, a fresh store, after a SIGKILL and resume, and after debris; `kllama status`
shows the tokenize stages and the bytes stored once against separate copies."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kllama.engine.status import format_status, run_status
from kllama.tokenize.variant import tokenize_variant
from tests.tokenize.helpers import make_run_dir

KLLAMA = [sys.executable, "-m", "kllama.cli"]


def _bytes(prefix: Path) -> tuple[bytes, bytes]:
    return Path(f"{prefix}.bin").read_bytes(), Path(f"{prefix}.idx").read_bytes()


def _store_files(run: Path) -> dict[str, int]:
    """Every token-store file and its modification time."""
    return {str(p.relative_to(run)): p.stat().st_mtime_ns for p in (run / "tokens").rglob("*")
            if p.is_file() and p.name != "store.json"}


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    return make_run_dir(tmp_path_factory.mktemp("store") / "run")


def test_three_variants_tokenize_each_shard_once(run: Path, tmp_path: Path) -> None:
    manifest = json.loads((run / "manifest.json").read_text())
    shas = {v: {s["sha256"] for s in manifest["shards"] if s["group"] in spec["groups"]}
            for v, spec in manifest["variants"].items()}
    g1 = tokenize_variant(run, "G1", tmp_path / "g1", seed=3, serial=True, chunk_docs=50)
    assert g1.sidecar["store"]["tokenized_now"] == len(shas["G1"]) and g1.sidecar["store"]["reused"] == 0
    after_g1 = _store_files(run)
    assert len(after_g1) == 3 * len(shas["G1"])  # .bin, .idx, .docs.parquet per shard
    g2 = tokenize_variant(run, "G2", tmp_path / "g2", seed=3, serial=True, chunk_docs=50)
    assert g2.sidecar["store"]["tokenized_now"] == len(shas["G2"] - shas["G1"]) == 1  # only the extra shard
    g3 = tokenize_variant(run, "G3", tmp_path / "g3", seed=3, serial=True, chunk_docs=50)
    assert g3.sidecar["store"]["tokenized_now"] == 0 and g3.sidecar["store"]["reused"] == len(shas["G3"])
    after = _store_files(run)
    assert {k: v for k, v in after.items() if k in after_g1} == after_g1  # no G1 entry was written again
    assert len(after) == 3 * len(shas["G1"] | shas["G2"] | shas["G3"])
    assert g3.sidecar["task_cpu_seconds"]["tokenize"] == 0

    # the reused store gives the bytes of a fresh one (a copy of the run without its store)
    fresh = tmp_path / "fresh"
    shutil.copytree(run, fresh, ignore=shutil.ignore_patterns("tokens", "stages"))
    f3 = tokenize_variant(fresh, "G3", tmp_path / "f3", seed=3, serial=True, chunk_docs=1000)
    assert f3.sidecar["store"]["tokenized_now"] == len(shas["G3"])
    assert _bytes(tmp_path / "f3") == _bytes(tmp_path / "g3")
    for name in ("per_source", "ledger", "tokens", "docs"):
        assert f3.sidecar[name] == g3.sidecar[name], name

    # kllama status: the tokenize stages, and the store's bytes against separate per-variant copies
    status = run_status(run)
    for res in (g1, g2, g3):
        tok_stage, scatter, chunks = res.sidecar["stages"]
        assert tok_stage.startswith("tokens.") and scatter.endswith(".1-scatter") and chunks.endswith(".2-chunks")
        for n in res.sidecar["stages"]:
            assert status["stages"][n]["partitions_done"] == status["stages"][n]["partitions_total"] > 0, n
    assert status["stages"][g3.sidecar["stages"][1]]["docs_in"] == g3.sidecar["ledger"]["docs_in"] - sum(
        g3.sidecar["ledger"]["dropped"].values()) + g3.sidecar["ledger"]["dropped"].get("sampled_out", 0)
    store = status["tokens"][g1.sidecar["store"]["key"]]
    assert store["entries"] == len(shas["G1"] | shas["G2"] | shas["G3"])
    assert store["bytes"] < store["separate_bytes"] == sum(store["per_variant"].values())
    assert set(store["per_variant"]) == {"G1", "G2", "G3"}
    assert "stored once" in format_status(status)


def test_same_bytes_with_two_workers_and_other_chunks(run: Path, tmp_path: Path, dask_client) -> None:
    ref = tokenize_variant(run, "G1", tmp_path / "ref", seed=11, serial=True, chunk_docs=1 << 20)
    other = tmp_path / "other"
    shutil.copytree(run, other, ignore=shutil.ignore_patterns("tokens", "stages"))
    dist = tokenize_variant(other, "G1", tmp_path / "dist", seed=11, client=dask_client, chunk_docs=17)
    assert dist.sidecar["chunks"] > 3 and ref.sidecar["chunks"] == 1
    assert _bytes(tmp_path / "ref") == _bytes(tmp_path / "dist")


def test_debris_is_redone_never_trusted(run: Path, tmp_path: Path) -> None:
    """A store entry truncated behind its marker, a lost chunk, a torn marker: redone, same bytes."""
    ref = tokenize_variant(run, "G3", tmp_path / "ref", seed=5, serial=True, chunk_docs=30, keep_work=True)
    store = Path(ref.sidecar["store"]["path"])
    manifest = json.loads((run / "manifest.json").read_text())
    g3_sha = min(s["sha256"] for s in manifest["shards"] if s["group"] == "core")
    entry = store / f"{g3_sha}.bin"
    entry.write_bytes(entry.read_bytes()[:-4])
    scatter, chunks = (run / "stages" / n for n in ref.sidecar["stages"][1:])
    (chunks / "part-00001.bin").unlink()
    marker = scatter / "part-00000.done.json"
    marker.write_text(marker.read_text()[:15])
    again = tokenize_variant(run, "G3", tmp_path / "again", seed=5, serial=True, chunk_docs=30)
    assert again.sidecar["store"]["tokenized_now"] == 1
    assert _bytes(tmp_path / "again") == _bytes(tmp_path / "ref")
    assert not list(chunks.glob("part-*.bin")) and not list(scatter.glob("part-*.refs"))  # work files removed


def test_sigkill_then_resume_gives_the_same_bytes(tmp_path: Path) -> None:
    """SIGKILL ``kllama tokenize`` (and its workers) once the token store is partly written; the rerun keeps the
    finished entries (their markers are not rewritten) and writes the bytes of an uninterrupted run."""
    run = make_run_dir(tmp_path / "run", docs_per_shard=400)
    ref_run = tmp_path / "ref-run"
    shutil.copytree(run, ref_run)
    tokenize_variant(ref_run, "G2", tmp_path / "ref", seed=2, serial=True)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    cmd = [*KLLAMA, "tokenize", str(run), "--variant", "G2", "--output", str(tmp_path / "out"), "--seed", "2",
           "--workers", "1"]
    markers = run / "stages"
    log = open(tmp_path / "killed.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=log, start_new_session=True)
    try:
        deadline = time.time() + 120
        while time.time() < deadline and proc.poll() is None and len(list(markers.glob("tokens.*/*.done.json"))) < 2:
            time.sleep(0.005)
        alive = proc.poll() is None
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        log.close()
    if not alive:
        pytest.skip("tokenize ended before it could be killed (machine too fast for this input)")
    before = {p: p.stat().st_mtime_ns for p in markers.glob("tokens.*/*.done.json")}
    assert before
    again = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-3000:]
    assert all(p.stat().st_mtime_ns == t for p, t in before.items())  # finished entries were not redone
    assert "reused" in again.stdout
    assert _bytes(tmp_path / "out") == _bytes(tmp_path / "ref")
