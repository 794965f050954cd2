"""``containers/kllama.def``: it parses (spython) and installs kllama with the README's own commands.

Apptainer itself cannot be installed on the machines that run these tests, so the image is not built here;
docs/hpc.md says so.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DEF = REPO / "containers" / "kllama.def"


def readme_install_steps() -> list[str]:
    """The README's install commands: the first shell line with ``pip install -e .``, up to that command."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    for block in re.findall(r"```(?:bash|sh)\n(.*?)```", text, flags=re.S):
        for line in block.splitlines():
            if "pip install -e ." in line and not line.lstrip().startswith("#"):
                steps = [s.strip() for s in line.split("&&")]
                return steps[: next(i for i, s in enumerate(steps) if s == "pip install -e .") + 1]
    raise AssertionError("README has no `pip install -e .` line")


def parsed():
    spython = pytest.importorskip("spython.main.parse.parsers")
    return spython.SingularityParser(str(DEF)).recipe


def test_definition_parses():
    recipe = parsed()
    layer = next(iter(recipe.values()))
    assert layer.fromHeader.startswith("python:3.11")  # requires-python >= 3.11
    assert layer.files == [". /opt/kllama"]  # the repository copied in
    assert layer.cmd == 'exec kllama "$@"'
    assert "PATH=/opt/kllama/.venv/bin:$PATH" in layer.environ
    assert layer.test


def test_install_steps_are_the_readmes():
    steps = readme_install_steps()
    assert steps == ["python3 -m venv .venv", ". .venv/bin/activate", "pip install -e ."]
    post = [line.strip() for line in next(iter(parsed().values())).install]
    cd = post.index("cd /opt/kllama")
    commands = [s.strip() for line in post[cd + 1:] if not line.startswith("#") for s in line.split("&&")]
    # the README's commands, in order and adjacent, in the copied repository
    joined = "\n".join(commands)
    assert "\n".join(steps) in joined
    # and no other pip install of kllama (nothing installed differently from the README)
    assert sum("pip install" in c for c in commands) == 1
    # the system packages cover what that install compiles: C/C++ compilers and cmake (fasttext, kenlm, cffi)
    apt = " ".join(post)
    for pkg in ("build-essential", "g++", "cmake", "zlib1g-dev"):
        assert pkg in apt


def test_build_when_apptainer_exists(tmp_path):
    """Only where apptainer is installed (never on the CI machines): build the image and run its %test."""
    apptainer = shutil.which("apptainer") or shutil.which("singularity")
    if apptainer is None:
        pytest.skip("apptainer is not installed here (see docs/hpc.md)")
    image = tmp_path / "kllama.sif"
    proc = subprocess.run([apptainer, "build", "--fakeroot", str(image), str(DEF)], cwd=REPO, capture_output=True,
                          text=True, timeout=3600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = subprocess.run([apptainer, "run", str(image), "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("kllama ")
