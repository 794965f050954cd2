"""Write one variant of a finished run: Pile-style ``jsonl.zst`` or Parquet, without touching other shards."""

from __future__ import annotations

import io
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import zstandard

from kllama.core.files import atomic_write_text


def load_manifest(run_dir: str | Path) -> dict[str, Any]:
    path = Path(run_dir) / "manifest.json"
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: is {run_dir} a finished kllama run?")
    return json.loads(path.read_text())


def variant_shards(manifest: dict[str, Any], variant: str) -> list[dict[str, Any]]:
    """The shards that belong to ``variant`` (by its groups), in manifest order."""
    if variant not in manifest["variants"]:
        raise KeyError(f"variant {variant!r} not in this run (has: {', '.join(sorted(manifest['variants']))})")
    groups = set(manifest["variants"][variant]["groups"])
    return [s for s in manifest["shards"] if s["group"] in groups]


def pile_record(row: dict[str, Any]) -> dict[str, Any]:
    """``{"text", "meta"}`` as the Pile stores it; kllama's id, source, url, lang and group join the source meta."""
    meta = json.loads(row["meta"]) if row.get("meta") else {}
    meta.update({"id": row["id"], "source": row["source"], "group": row.get("group")})
    if row.get("url"):
        meta["url"] = row["url"]
    if row.get("lang"):
        meta["lang"] = row["lang"]
    return {"text": row["text"], "meta": meta}


def export_variant(run_dir: str | Path, variant: str, fmt: str, output: str | Path, level: int = 3) -> dict[str, Any]:
    """Write ``variant`` of ``run_dir`` to ``output`` as ``jsonl.zst`` (one zstd stream per shard) or ``parquet``
    (hard links where possible, else copies). Returns the export's own manifest."""
    run_dir, output = Path(run_dir), Path(output)
    manifest = load_manifest(run_dir)
    shards = variant_shards(manifest, variant)
    output.mkdir(parents=True, exist_ok=True)
    written = []
    for shard in shards:
        src = run_dir / shard["path"]
        rel = Path(shard["path"]).relative_to("shards")
        if fmt == "parquet":
            dst = output / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            if dst.exists():
                dst.unlink()
            try:
                os.link(src, dst)
            except OSError:
                shutil.copyfile(src, dst)
        elif fmt == "jsonl.zst":
            dst = output / rel.with_suffix(".jsonl.zst")
            dst.parent.mkdir(parents=True, exist_ok=True)
            tmp = dst.with_name(f".{dst.name}.tmp")
            cctx = zstandard.ZstdCompressor(level=level)
            with open(tmp, "wb") as raw, cctx.stream_writer(raw) as zw:
                text = io.TextIOWrapper(zw, encoding="utf-8", newline="\n")
                for batch in pq.ParquetFile(src).iter_batches(batch_size=2048):
                    for row in batch.to_pylist():
                        text.write(json.dumps(pile_record(row), ensure_ascii=False) + "\n")
                text.flush()
                text.detach()
            os.replace(tmp, dst)
        else:
            raise ValueError(f"unknown export format {fmt!r} (jsonl.zst or parquet)")
        written.append({"path": str(dst.relative_to(output)), "source": shard["source"], "group": shard["group"],
                        "docs": shard["docs"]})
    info = {"variant": variant, "format": fmt, "run": str(run_dir), "files": written,
            "docs": sum(w["docs"] for w in written), **{k: manifest["variants"][variant][k] for k in ("groups", "weights")}}
    atomic_write_text(output / "export.json", json.dumps(info, indent=1, sort_keys=True))
    return info
