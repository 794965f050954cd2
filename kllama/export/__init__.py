"""Write one variant of a finished run: Pile-like ``jsonl.zst`` (shuffled, weighted) or the store's Parquet shards.

* :mod:`kllama.export.jsonl` -- ``00.jsonl.zst``, ``01.jsonl.zst``, ... of mixed, shuffled, repeated documents;
* :mod:`kllama.export.parquet` -- the variant's store shards, hard-linked;
* :mod:`kllama.export.shuffle` -- the bounded-memory external shuffle behind the first;
* :mod:`kllama.export.common` -- manifest, shard selection, output-folder rules.

Either way the folder holds the data files plus ``_export.json`` (named so that data-file globs and
pyarrow/pandas folder readers skip it). See docs/export.md.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from kllama.core.files import atomic_write_text
from kllama.core.variants import select_variant
from kllama.export.common import (
    CARD,
    MANIFEST,
    load_manifest,
    parse_shard_size,
    prepare_output,
    variant_shards,
)

__all__ = ["FORMATS", "MANIFEST", "export_variant", "load_manifest", "parse_shard_size", "variant_shards"]

FORMATS = ("jsonl.zst", "parquet")


def export_variant(run_dir: str | Path, variant: str, fmt: str, output: str | Path, *, force: bool = False,
                   seed: int = 0, repeat: bool = True, shard_size: str | int | dict[str, int] | None = None,
                   workers: int = 1, level: int = 3, bucket_bytes: int = 256 << 20,
                   buffer_bytes: int = 64 << 20, task_bytes: int = 2 << 30) -> dict[str, Any]:
    """Write ``variant`` of ``run_dir`` into the folder ``output`` and return the export's manifest
    (also written as ``output/_export.json``).

    ``jsonl.zst``: shuffled with ``seed``, each source repeated by the variant's epochs (``repeat=False``: each
    document once), cut into files of ``shard_size`` (see :func:`parse_shard_size`); memory is bounded by
    ``bucket_bytes`` (one shuffle bucket) plus ``buffer_bytes`` per worker; the scatter runs one task per
    ``task_bytes`` of store shards on ``workers`` processes. ``parquet``: the store's shards of the
    variant, hard-linked. A non-empty ``output`` is refused unless ``force`` (which replaces an earlier export).
    """
    from kllama import __version__

    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r} ({' or '.join(FORMATS)})")
    if workers < 1:
        raise ValueError(f"workers must be at least 1, not {workers}")
    run_dir, output = Path(run_dir), Path(output)
    manifest = load_manifest(run_dir)
    shards = variant_shards(manifest, variant)
    size = shard_size if isinstance(shard_size, dict) else parse_shard_size(shard_size)
    prepare_output(output, run_dir, force)
    t0 = time.perf_counter()
    if fmt == "parquet":
        from kllama.export.parquet import export_parquet

        files, details = export_parquet(run_dir, shards, output)
        docs = sum(f["docs"] for f in files)
    else:
        from kllama.export.jsonl import export_jsonl

        files, details = export_jsonl(run_dir, manifest, variant, shards, output, seed=seed, repeat=repeat,
                                      shard_size=size, workers=workers, level=level, bucket_bytes=bucket_bytes,
                                      buffer_bytes=buffer_bytes, task_bytes=task_bytes)
        docs = details["lines"]
    v = manifest["variants"][variant]
    sel = select_variant(manifest, variant)
    info = {"kllama": __version__, "variant": variant, "format": fmt, "run": str(run_dir), "recipe":
            manifest.get("recipe"), "groups": v["groups"], "weights": sel.weights, "replace": sel.replace,
            "docs": docs,
            "store_docs": sum(s["docs"] for s in shards), "files": files, **details,
            "seconds_total": round(time.perf_counter() - t0, 3)}
    if fmt == "jsonl.zst":  # in a Parquet folder pyarrow/pandas would take README.md for a data file
        atomic_write_text(output / CARD, dataset_card(info))
    atomic_write_text(output / MANIFEST, json.dumps(info, indent=1, sort_keys=True))
    return info


def dataset_card(info: dict[str, Any]) -> str:
    """``README.md`` of an export: a Hugging Face dataset card whose ``configs`` name the data files."""
    pattern = "**/*.parquet" if info["format"] == "parquet" else "*.jsonl.zst"
    loader = "parquet" if info["format"] == "parquet" else "json"
    how = ("the store's shards, every document once (weights not applied)" if info["format"] == "parquet" else
           f"shuffled with seed {info['seed']}, " + ("each source repeated by the variant's epochs"
                                                     if info["repeat"] else "each document once"))
    return "\n".join([
        "---", "configs:", "- config_name: default", "  data_files:", "  - split: train", f'    path: "{pattern}"',
        "---", "", f"# kllama {info['variant']} ({info['format']})", "",
        f"{info['docs']} documents from run `{info['run']}` (recipe {info.get('recipe')}, groups "
        f"{', '.join(info['groups'])}): {how}. Files, counts per source and sha256 in `{MANIFEST}`.", "",
        "```python", "import datasets",
        f'ds = datasets.load_dataset("{loader}", '
        f'data_files="DIR/{pattern}", split="train")  # or datasets.load_dataset("DIR")', "```", ""])
