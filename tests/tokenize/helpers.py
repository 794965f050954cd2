"""Helpers for the tokenize tests: an RWKV-style binidx reader written from the spec, a small run folder."""

from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq


class RwkvStyleReader:
    """An independent reader written from the spec, following RWKV-LM ``src/binidx.py`` (MMapIndexedDataset):
    9-byte magic, u64 version, u8 dtype code, u64 len, u64 doc count, then sizes/pointers/doc_idx read with
    ``np.frombuffer`` at offsets of a ``np.memmap``; items read with ``frombuffer(count=size, offset=ptr)``."""

    _HDR_MAGIC = b"MMIDIDX\x00\x00"
    dtypes = {1: np.uint8, 2: np.int8, 3: np.int16, 4: np.int32, 5: np.int64, 6: float, 7: np.double,
              8: np.uint16}

    def __init__(self, prefix: str) -> None:
        with open(prefix + ".idx", "rb") as stream:
            assert stream.read(9) == self._HDR_MAGIC
            assert struct.unpack("<Q", stream.read(8)) == (1,)
            (code,) = struct.unpack("<B", stream.read(1))
            self.dtype = self.dtypes[code]
            self.dtype_size = self.dtype().itemsize
            self.len = struct.unpack("<Q", stream.read(8))[0]
            self.doc_count = struct.unpack("<Q", stream.read(8))[0]
            offset = stream.tell()
        self._idx_mmap = np.memmap(prefix + ".idx", mode="r", order="C")
        buf = memoryview(self._idx_mmap)
        self.sizes = np.frombuffer(buf, dtype=np.int32, count=self.len, offset=offset)
        self.pointers = np.frombuffer(buf, dtype=np.int64, count=self.len, offset=offset + self.sizes.nbytes)
        self.doc_idx = np.frombuffer(buf, dtype=np.int64, count=self.doc_count,
                                     offset=offset + self.sizes.nbytes + self.pointers.nbytes)
        self._bin_mmap = np.memmap(prefix + ".bin", mode="r", order="C")
        self.bin_buffer = memoryview(self._bin_mmap)

    def __len__(self) -> int:
        return self.len

    def __getitem__(self, i: int) -> np.ndarray:
        return np.frombuffer(self.bin_buffer, dtype=self.dtype, count=int(self.sizes[i]),
                             offset=int(self.pointers[i]))

    def get(self, idx: int, offset: int = 0, length: int | None = None) -> np.ndarray:
        """RWKV's training read: a window that may run across item boundaries."""
        ptr, size = int(self.pointers[idx]), int(self.sizes[idx])
        if length is None:
            length = size - offset
        ptr += offset * np.dtype(self.dtype).itemsize
        return np.frombuffer(self.bin_buffer, dtype=self.dtype, count=length, offset=ptr)

    @property
    def data_size(self) -> int:
        return len(self.bin_buffer) // self.dtype_size


def write_shard(path: Path, rows: list[dict], text_bytes: list[bytes] | None = None) -> dict:
    """A Parquet shard with the core columns; ``text_bytes`` (raw, possibly invalid UTF-8) overrides texts."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if text_bytes is None:
        text = pa.array([r["text"] for r in rows], pa.large_string())
    else:
        offsets = np.zeros(len(text_bytes) + 1, dtype=np.int64)
        np.cumsum([len(b) for b in text_bytes], out=offsets[1:])
        text = pa.LargeStringArray.from_buffers(len(text_bytes), pa.py_buffer(offsets.tobytes()),
                                                pa.py_buffer(b"".join(text_bytes)))
    table = pa.table({
        "id": pa.array([r["id"] for r in rows], pa.string()), "text": text,
        "source": pa.array([r["source"] for r in rows], pa.string()),
        "url": pa.array([None] * len(rows), pa.string()), "lang": pa.array(["en"] * len(rows), pa.string()),
        "meta": pa.array(["{}"] * len(rows), pa.string()), "group": pa.array([r["group"] for r in rows], pa.string()),
    })
    pq.write_table(table, path, compression="zstd")
    return {"docs": len(rows), "bytes": path.stat().st_size,
            "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}


def make_run_dir(root: Path, docs_per_shard: int = 40) -> Path:
    """A small run folder: shards of three sources in the groups core / pile-overlap / extra + manifest.json."""
    layout = [("core", "wikipedia", 2), ("core", "github", 1), ("pile-overlap", "arxiv", 1), ("extra", "mathx", 1)]
    shards = []
    for group, source, n_shards in layout:
        for k in range(n_shards):
            rows = []
            for j in range(docs_per_shard):
                text = (f"{source} doc {k}-{j}: in 19{j:02d} there were {j * 12345} items, "
                        f"café ünïcode {'x' * (j % 7)} <|endoftext|> end.")
                if j % 13 == 5:
                    text = ""
                rows.append({"id": f"{source}/{k:02d}{j:04d}", "text": text, "source": source, "group": group})
            rel = f"shards/{group}/{source}/part-{k:05d}.parquet"
            info = write_shard(root / rel, rows)
            shards.append({"path": rel, "source": source, "group": group, **info})
    manifest = {
        "shards": shards,
        "variants": {
            "G1": {"groups": ["core", "pile-overlap"], "weights": {"wikipedia": 2.45, "github": 0.64, "arxiv": 1.06}},
            "G2": {"groups": ["core", "pile-overlap", "extra"], "weights": {"wikipedia": 2.45, "mathx": 1.5}},
            "G3": {"groups": ["core"], "weights": {"wikipedia": 2.45, "github": 0.64}},
        },
    }
    (root / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return root
