"""DeepMind Mathematics: the compatibility shim, deterministic generation, the Pile's layout, released files."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest

from kllama.core.ledger import Ledger
from kllama.sources import dm_math_compat
from kllama.sources.dm_math import (
    DIFFICULTIES,
    DMMathSource,
    chunk_at_even_lines,
    generate,
    module_names,
    write_pile_layout,
)

REPO = Path(__file__).resolve().parents[2]


def _read_all(src: DMMathSource, paths: list[str]) -> tuple[list, Ledger]:
    ledger = Ledger()
    return [d for unit in src.list_inputs(paths) for d in src.read(unit, ledger)], ledger


def test_shims():
    pkg = dm_math_compat.load()
    import sympy.solvers.diophantine  # noqa: F401

    assert hasattr(sys.modules["sympy.solvers.diophantine"], "base_solution_linear")
    a = dm_math_compat.NumpyCompat().zeros((2, 3), dtype=np.int64)
    a.itemset((1, 2), 7)
    a.itemset(1, 5)  # a single integer is a flat position, as in numpy 1.x
    assert a.tolist() == [[0, 5, 0], [0, 0, 7]]
    o = dm_math_compat.NumpyCompat().empty((2,), dtype=dm_math_compat.NumpyCompat.object)
    o.itemset((0,), [1, 2])
    assert o[0] == [1, 2]
    assert "object" not in vars(np)  # numpy itself untouched
    assert pkg["version"] == "1.0.1"
    from mathematics_dataset.util import composition

    assert isinstance(composition.random, dm_math_compat.DeterministicRandom)
    assert dm_math_compat.canonical(["q", "b", "x"]) == ["b", "q", "x"]
    assert dm_math_compat.DeterministicRandom.randint(2.0, 2.0) == 2


def test_every_module_runs_at_every_difficulty():
    names = module_names()
    assert len(names) == 56 and "algebra__linear_1d" in names and "probability__swr_p_level_set" in names
    for difficulty in DIFFICULTIES:
        for module in names:
            lines, _ = generate(module, difficulty, 1, seed=7)
            assert len(lines) == 2 and all(lines) and all("\n" not in x for x in lines), module


def test_generation_is_deterministic_and_order_independent():
    b1, _ = generate("polynomials__compose", "train-hard", 5, seed=3)
    generate("algebra__linear_2d_composed", "train-easy", 5, seed=3)
    b2, _ = generate("polynomials__compose", "train-hard", 5, seed=3)
    assert b1 == b2
    assert generate("polynomials__compose", "train-hard", 5, seed=4)[0] != b1
    assert generate("polynomials__compose", "train-hard", 5, seed=3, part=1)[0] != b1


def test_generation_does_not_depend_on_the_hash_seed():
    code = ("import json, sys; from kllama.sources.dm_math import generate; "
            "print(json.dumps([generate(m, 'train-medium', 4, 11)[0] for m in "
            "('algebra__linear_1d_composed', 'comparison__sort_composed', 'numbers__is_prime', "
            "'polynomials__evaluate_composed', 'calculus__differentiate')]))")
    outs = []
    for seed in ("0", "4242"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        proc = subprocess.run([sys.executable, "-W", "ignore", "-c", code], capture_output=True, text=True,
                              env=env, cwd=REPO, timeout=300, check=True)
        outs.append(json.loads(proc.stdout))
    assert outs[0] == outs[1]


def test_chunks_at_even_lines():
    lines = [f"q{i}" if i % 2 == 0 else "a" * 30 for i in range(400)]
    chunks = chunk_at_even_lines(lines, 200)
    assert sum(chunks, []) == lines
    for c in chunks:
        assert len(c) % 2 == 0 and c[0].startswith("q")
        assert sum(len(x) + 1 for x in c) <= 200
    assert chunk_at_even_lines(["q" * 300, "a"], 100) == [["q" * 300, "a"]]


def test_generated_source_in_the_piles_layout():
    src = DMMathSource(counts={"arithmetic__add_or_sub": 40, "numbers__gcd": 25}, seed=5, problems_per_part=30,
                       chunk_chars=1024)
    units = src.list_inputs([])
    assert len(units) == 3 * (2 + 1)  # per difficulty: add_or_sub in two parts of 30 + 10, gcd in one
    docs, ledger = _read_all(src, [])
    assert not ledger.dropped
    for d in docs:
        lines = d.text.split("\n")
        assert lines[-1] == "" and len(lines[:-1]) % 2 == 0 and len(d.text) <= 1024
        assert d.meta["pile_set_name"] == "DM Mathematics" and d.meta["difficulty"] in DIFFICULTIES
        assert d.meta["generator"].startswith("mathematics_dataset 1.0.1, sympy ")
        assert d.source == "dm_math" and d.lang == "en"
    per = {}
    for d in docs:
        key = (d.meta["module"], d.meta["difficulty"])
        per[key] = per.get(key, 0) + d.meta["problems"]
    assert per == {(m, dif): n for m, n in (("arithmetic__add_or_sub", 40), ("numbers__gcd", 25))
                   for dif in DIFFICULTIES}
    assert len({d.id for d in docs}) == len(docs)
    again, _ = _read_all(src, [])
    assert [(d.id, d.text) for d in again] == [(d.id, d.text) for d in docs]


def test_counts_star_and_unknown_modules():
    src = DMMathSource(counts={"*": 2, "numbers__gcd": 0, "algebra__linear_1d": 5}, difficulties=["train-easy"])
    counts = src.resolved_counts()
    assert len(counts) == 55 and counts["algebra__linear_1d"] == 5 and "numbers__gcd" not in counts
    with pytest.raises(ValueError, match="unknown module"):
        DMMathSource(counts={"algebra__linear_9d": 3}).resolved_counts()
    with pytest.raises(ValueError, match="difficulty"):
        DMMathSource(difficulties=["train-impossible"])
    assert DMMathSource().list_inputs([]) == []


def test_released_files_folder_and_archive(tmp_path):
    counts = {"numbers__gcd": 12, "arithmetic__mul": 9}
    paths = write_pile_layout(str(tmp_path / "mathematics_dataset-v1.0"), counts, seed=2)
    assert len(paths) == 6 and all(p.endswith(".txt") for p in paths)
    src = DMMathSource(chunk_chars=8192)
    docs, ledger = _read_all(src, [str(tmp_path)])
    gen, _ = _read_all(DMMathSource(counts=counts, seed=2), [])
    assert sorted(d.text for d in docs) == sorted(d.text for d in gen)
    assert not ledger.dropped and all("seed" not in d.meta for d in docs)
    # the released tar.gz, streamed; a file with a question but no answer loses that question only
    with open(paths[0], "a", encoding="utf-8") as f:
        f.write("What is 1 + 1?\n")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for p in paths:
            tar.add(p, arcname=os.path.relpath(p, tmp_path))
    archive = tmp_path / "arch" / "mathematics_dataset-v1.0.tar.gz"
    archive.parent.mkdir()
    archive.write_bytes(buf.getvalue())
    docs2, ledger2 = _read_all(src, [str(archive)])
    assert sorted(d.text for d in docs2) == sorted(d.text for d in docs)
    assert ledger2.dropped == {"dm_math_odd_lines": 1}
    archive.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    _, ledger3 = _read_all(src, [str(archive)])
    assert ledger3.dropped["truncated_file"] == 1


def test_generation_ignores_other_threads_drawing_from_the_global_generators():
    """A Dask worker's own threads draw from ``random``/``np.random`` while a task generates: the output must not
    change (it did before the package got private generators: two demo runs gave different dm_math shards)."""
    import random
    import threading

    import numpy as np

    from kllama.sources.dm_math import generate

    quiet = [generate(m, "train-easy", 6, 3)[0] for m in ("calculus__differentiate", "algebra__linear_1d")]
    stop = threading.Event()

    def noise() -> None:
        while not stop.is_set():
            random.random()
            np.random.random()

    thread = threading.Thread(target=noise)
    thread.start()
    try:
        noisy = [generate(m, "train-easy", 6, 3)[0] for m in ("calculus__differentiate", "algebra__linear_1d")]
    finally:
        stop.set()
        thread.join()
    assert noisy == quiet
