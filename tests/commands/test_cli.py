"""What a new user meets on the command line: help with examples and defaults, clear refusals, and a failed input
check that leaves the output folder untouched so that the corrected command works."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from kllama.cli import build_parser
from kllama.cli import main as kllama
from kllama.commands._help import EXAMPLES, _subparsers

DEMO = Path(__file__).resolve().parents[2] / "kllama" / "data" / "demo"


def _commands(parser: argparse.ArgumentParser, path: str = "") -> dict[str, argparse.ArgumentParser]:
    out = {}
    for name, sub in _subparsers(parser).items():
        key = f"{path} {name}".strip()
        out[key] = sub
        out.update(_commands(sub, key))
    return out


def test_every_command_help_has_examples_and_shows_defaults():
    commands = _commands(build_parser())
    assert {"run", "demo", "status", "export", "tokenize", "report", "download"} <= set(commands)
    for name, parser in commands.items():
        text = parser.format_help()
        assert "examples:\n  kllama " in text, f"kllama {name} --help has no example"
        assert name in EXAMPLES, name
        for action in parser._actions:
            if action.option_strings and action.default not in (None, False, argparse.SUPPRESS, [], "") \
                    and action.nargs != 0:
                shown = action.help and ("default" in action.help.lower())
                assert shown or f"(default: {action.default})" in " ".join(text.split()), (name, action.dest)
    # through the real entry point too
    proc = subprocess.run([sys.executable, "-m", "kllama.cli", "tokenize", "--help"], capture_output=True, text=True)
    assert proc.returncode == 0 and "kllama tokenize --jsonl data.jsonl" in proc.stdout
    assert "(default: 4096)" in " ".join(proc.stdout.split()) or "default 4096" in proc.stdout


@pytest.mark.parametrize("argv", [["run", "demo", "--output", "o"], ["demo", "--output", "o"],
                                  ["tokenize", "--jsonl", "x.jsonl", "--output", "o"]])
def test_zero_workers_is_an_error(argv, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exc:
        kllama([*argv, "--workers", "0"])
    assert exc.value.code == 2 and "--workers: must be at least 1" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_tokenize_jsonl_folder_is_a_clear_message(tmp_path, capsys):
    assert kllama(["tokenize", "--jsonl", str(tmp_path), "--output", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "is a folder" in err and "kllama tokenize RUN_DIR --variant" in err and "IsADirectoryError" not in err


def test_bundled_recipe_without_inputs_says_what_to_pass(tmp_path, capsys):
    assert kllama(["run", "llama", "--output", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "--input SOURCE=PATH" in err and "kllama download" in err and "c4" in err
    assert "kllama/recipes" not in err and "site-packages" not in err  # no path inside the package
    assert not (tmp_path / "o").exists()


def test_retry_after_a_failed_input_check_works(tmp_path):
    out = tmp_path / "o"
    cmd = [sys.executable, "-m", "kllama.cli", "run", "demo", "--output", str(out), "--workers", "1", "--no-progress"]
    bad = subprocess.run([*cmd, "--input", "c4=/no/such/path"], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "/no/such/path" in bad.stderr
    assert "Dask cluster" not in bad.stderr  # checked before the cluster starts ...
    assert not out.exists()  # ... and before anything is written: no run.json to refuse the retry
    good = subprocess.run([*cmd, "--input", f"c4={DEMO / 'c4'}"], capture_output=True, text=True, timeout=600)
    assert good.returncode == 0, good.stderr[-3000:]
    assert json.loads((out / "manifest.json").read_text())["shards"]
    assert json.loads((out / "driver.json").read_text())["state"] == "finished"
