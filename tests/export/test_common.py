"""Issue 11 item 4: exporting into a used folder is refused unless --force, which replaces the earlier export."""

from __future__ import annotations

import pytest

from kllama.cli import main as cli
from kllama.export import MANIFEST, export_variant


def _data_files(folder):
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def test_non_empty_folder_is_refused_and_force_replaces_the_earlier_export(demo_run, tmp_path, capsys):
    out = tmp_path / "out"
    g1 = export_variant(demo_run, "G1", "jsonl.zst", out, shard_size="60docs")
    assert len(g1["files"]) >= 4
    before = _data_files(out)
    with pytest.raises(FileExistsError, match="--force"):
        export_variant(demo_run, "G3", "jsonl.zst", out)
    assert _data_files(out) == before, "a refused export touches nothing"
    # the CLI says so and exits 2; with --force the folder holds G3 alone, no G1 file left behind
    assert cli(["export", str(demo_run), "--variant", "G3", "--output", str(out)]) == 2
    assert "not empty" in capsys.readouterr().err
    assert cli(["export", str(demo_run), "--variant", "G3", "--output", str(out), "--force"]) == 0
    g3_files = [f"{i:02d}.jsonl.zst" for i in range(1)]
    assert _data_files(out) == sorted([*g3_files, "README.md", MANIFEST])
    # jsonl -> parquet and back, with --force: each time only the new export remains
    pq_info = export_variant(demo_run, "G3", "parquet", out, force=True)
    assert _data_files(out) == sorted([f["path"] for f in pq_info["files"]] + [MANIFEST])
    export_variant(demo_run, "G2", "jsonl.zst", out, force=True)
    assert not list(out.glob("core")) and (out / "00.jsonl.zst").exists()


def test_force_never_removes_files_an_export_did_not_write(demo_run, tmp_path):
    out = tmp_path / "mixed"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    (out / "00.jsonl.zst").write_bytes(b"")
    with pytest.raises(FileExistsError, match="no kllama export writes"):
        export_variant(demo_run, "G3", "jsonl.zst", out, force=True)
    assert (out / "notes.txt").read_text() == "mine" and (out / "00.jsonl.zst").exists()
    for inside in (demo_run, demo_run / "shards", demo_run / "shards" / "core"):
        with pytest.raises(ValueError, match="overwrite the run"):
            export_variant(demo_run, "G3", "parquet", inside, force=True)
    assert (demo_run / "manifest.json").exists()


def test_empty_or_missing_folder_needs_no_force(demo_run, tmp_path):
    (tmp_path / "empty").mkdir()
    for folder in (tmp_path / "empty", tmp_path / "new" / "deeper"):
        info = export_variant(demo_run, "G3", "parquet", folder)
        assert (folder / MANIFEST).exists() and info["docs"] > 0
