"""What every export format shares: the run's manifest, the variant's shards and the output folder rules."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from kllama.core.variants import select_variant

#: the export's own manifest; the leading ``_`` makes pyarrow.dataset and pandas skip it, and it matches no
#: data-file glob (``*.parquet``, ``*.jsonl.zst``)
MANIFEST = "_export.json"
#: manifest names of older exports (replaced by ``--force`` like any file an export writes)
LEGACY_MANIFESTS = ("export.json",)
#: ``jsonl.zst`` exports: a short dataset card whose YAML header names the data files, so that
#: ``datasets.load_dataset(DIR)`` reads only them (without it, the ``.json`` manifest would be taken for data)
CARD = "README.md"
#: data files an export writes
DATA_SUFFIXES = (".jsonl.zst", ".parquet")
#: prefix of the temporary files and folders of an export in progress
TMP_PREFIX = ".kllama-"


def load_manifest(run_dir: str | Path) -> dict[str, Any]:
    """``RUN/manifest.json``; a clear error when ``run_dir`` is not a finished run."""
    path = Path(run_dir) / "manifest.json"
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: is {run_dir} a finished kllama run?")
    return json.loads(path.read_text())


def variant_shards(manifest: dict[str, Any], variant: str) -> list[dict[str, Any]]:
    """The shards that belong to ``variant`` (its groups and replacements: ``kllama.core.variants``), in manifest
    order."""
    return select_variant(manifest, variant).shards


def _written_by_export(rel: Path) -> bool:
    """Whether ``rel`` (relative to an export folder) is a name that an export writes."""
    name = rel.name
    if len(rel.parts) == 1 and name in (MANIFEST, CARD, *LEGACY_MANIFESTS):
        return True
    if any(part.startswith(TMP_PREFIX) for part in rel.parts):
        return True
    return name.endswith(DATA_SUFFIXES) or (name.startswith(".") and ".tmp" in name)


def prepare_output(output: str | Path, run_dir: str | Path, force: bool) -> Path:
    """Make ``output`` ready for a new export.

    A missing or empty folder is used as is. A non-empty one is refused unless ``force``; with ``force`` its
    contents are removed, but only when every file in it is one that an export writes (data files, the
    manifest, temporary files): ``--force`` replaces an export, never a folder of other files. The run's own
    folder (and anything inside its ``shards``/``stages``) is never an output.
    """
    output, run_dir = Path(output), Path(run_dir)
    out_r, run_r = output.resolve(), run_dir.resolve()
    if out_r == run_r or run_r.is_relative_to(out_r) or any(
            out_r.is_relative_to(run_r / sub) for sub in ("shards", "stages")):
        raise ValueError(f"{output} would overwrite the run {run_dir} itself; choose a folder outside its shards, "
                         f"e.g. {run_dir / 'export'}")
    if output.exists() and not output.is_dir():
        raise FileExistsError(f"{output} exists and is not a folder")
    output.mkdir(parents=True, exist_ok=True)
    entries = sorted(output.iterdir())
    if not entries:
        return output
    if not force:
        shown = ", ".join(p.name for p in entries[:3]) + (", ..." if len(entries) > 3 else "")
        raise FileExistsError(f"{output} is not empty ({shown}); pass --force to replace the export in it, "
                              "or choose an empty folder")
    foreign: list[Path] = []
    for root, dirs, files in os.walk(output, followlinks=False):
        for name in files + [d for d in dirs if (Path(root) / d).is_symlink()]:
            rel = (Path(root) / name).relative_to(output)
            if (Path(root) / name).is_symlink() or not _written_by_export(rel):
                foreign.append(rel)
    if foreign:
        shown = ", ".join(str(p) for p in foreign[:3]) + (", ..." if len(foreign) > 3 else "")
        raise FileExistsError(f"{output} holds files that no kllama export writes ({shown}); --force only replaces "
                              "an earlier export -- remove them or choose another folder")
    for entry in entries:
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()
    return output


def parse_shard_size(text: str | int | None) -> dict[str, int]:
    """``--shard-size``: bytes of uncompressed JSON lines (``500M``, ``1G``, ``1048576``; K/M/G/T are powers of
    1000, KiB/MiB/GiB powers of 1024) or documents (``100000docs``). Returns ``{"bytes": n}`` or ``{"docs": n}``."""
    if text is None:
        return {"bytes": DEFAULT_SHARD_BYTES}
    if isinstance(text, int):
        value, unit = text, "bytes"
    else:
        s = text.strip().lower().replace("_", "")
        unit = "bytes"
        for suffix in ("documents", "docs", "doc", "lines"):
            if s.endswith(suffix):
                s, unit = s[: -len(suffix)].strip(), "docs"
                break
        mult = 1
        if unit == "bytes":
            for suffix, m in (("kib", 1 << 10), ("mib", 1 << 20), ("gib", 1 << 30), ("tib", 1 << 40),
                              ("kb", 10**3), ("mb", 10**6), ("gb", 10**9), ("tb", 10**12),
                              ("k", 10**3), ("m", 10**6), ("g", 10**9), ("t", 10**12), ("b", 1)):
                if s.endswith(suffix):
                    s, mult = s[: -len(suffix)].strip(), m
                    break
        try:
            value = int(float(s) * mult)
        except ValueError:
            raise ValueError(f"--shard-size {text!r}: give bytes (500M, 1G, 1048576) or documents "
                             "(100000docs)") from None
    if value < 1:
        raise ValueError(f"--shard-size must be positive, not {text!r}")
    return {unit: value}


#: default size of one ``NN.jsonl.zst``: 1 GB of JSON lines before compression (about 250-350 MB compressed)
DEFAULT_SHARD_BYTES = 10**9
