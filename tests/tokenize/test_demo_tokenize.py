"""``kllama tokenize`` on the demo run (through the CLI, real LocalCluster) gives files the RWKV-style reader reads."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from kllama.tokenize.rwkv import magic_prime
from kllama.tokenize.tokenizer import DigitSplitTokenizer
from tests.tokenize.helpers import RwkvStyleReader

KLLAMA = [sys.executable, "-m", "kllama.cli"]


@pytest.mark.slow
def test_tokenize_demo_run(tmp_path: Path) -> None:
    run = tmp_path / "run"
    proc = subprocess.run([*KLLAMA, "demo", "--output", str(run), "--workers", "2", "--no-progress"],
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-4000:]
    prefix = tmp_path / "tok" / "G1"
    proc = subprocess.run([*KLLAMA, "tokenize", str(run), "--variant", "G1", "--output", str(prefix),
                           "--workers", "2", "--ctx-len", "128"], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    side = json.loads(Path(f"{prefix}.json").read_text())
    assert f"--my_exit_tokens {side['tokens']} --magic_prime {magic_prime(side['tokens'], 128)}" in proc.stdout

    r = RwkvStyleReader(str(prefix))
    assert r.dtype.__name__ == "uint16" and len(r) == side["docs"] > 0 and r.data_size == side["tokens"]
    assert int(r.sizes.sum()) == r.data_size and r.doc_idx.tolist() == list(range(len(r) + 1))
    tok = DigitSplitTokenizer()
    for i in range(len(r)):
        item = r[i].tolist()
        assert item[-1] == 0 and 0 not in item[:-1]
        assert item[:-1] == tok.encode(tok.decode(item))  # digit-split ids round-trip
    # every source of G1 present in the run is in the stream, in the proportions its epochs ask for
    manifest = json.loads((run / "manifest.json").read_text())
    g1 = manifest["variants"]["G1"]
    sources = {s["source"] for s in manifest["shards"] if s["group"] in g1["groups"]}
    assert set(side["per_source"]) == sources
    for name, s in side["per_source"].items():
        assert s["epochs"] == g1["weights"].get(name, 1.0)
    led = side["ledger"]
    assert led["docs_in"] == led["docs_out"] + sum(led["dropped"].values())
    # RWKV's training read: a ctx_len + 1 window starting inside item 0 and running across items
    window = r.get(0, offset=5 * 128, length=129)
    assert len(window) == 129
