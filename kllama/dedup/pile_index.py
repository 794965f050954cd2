"""The Pile reference index: per Pile document its exact text hash, its containment sketch and its set name.

Layout (Parquet, zstd), partitioned by the top ``prefix_bits`` bits of the key, one file per Pile shard::

    INDEX/index.json                                settings, counts, bytes, probe hashes
    INDEX/exact/prefix=XX/shard-NNNNN.parquet       h1 uint64, h2 uint64, set string   (128-bit text hash)
    INDEX/sketch/prefix=XX/shard-NNNNN.parquet      key uint64, doc uint64, level uint8, set string
                                                    (one row per sampled shingle: ``kllama.dedup.containment``)
    INDEX/_done/shard-NNNNN.json                    completion markers (a rerun skips finished shards)

The sketch of a document is the fractional sample of its word 5-gram shingles at its ``level`` (``sketch_min`` to
``2 * sketch_min`` keys for documents up to ``sketch_min * 2**(sketch_max_level+1)`` shingles, then one in
``2**sketch_max_level``): enough to estimate the share of *our* document's shingles that lie in it (containment),
whatever the two sizes. Format 1 indexes (Jaccard band keys) are refused: rebuild them.

Texts are normalized before hashing (``normalize_text``: NFC, whitespace runs -> one space, trimmed) because
Pile producers serialised JSON differently (json vs ujson escaping); only the *parsed* text counts. ``doc`` is
``shard_no << 40 | record_no``. A worker streams one shard and holds at most ``budget_rows`` rows in memory
before it flushes them, so memory per worker is bounded whatever the shard size.

Building runs as an engine task stage (one ``index_shard`` task per Pile shard, ``index_tasks``, then
``finish_index`` writes ``index.json``): ``kllama pile-index`` runs it under ``INDEX/stages/pile-index``, and
``kllama run`` runs it as the stage ``pile-index.<id>`` before any source when a ``pile_label`` step names
``pile_dir`` instead of a built index (``PileLabel.setup_tasks``). ``build_index`` does the same in this process.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import unicodedata
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from kllama.core.files import atomic_write_text, expand_inputs
from kllama.core.ledger import Ledger
from kllama.dedup.containment import SketchSettings, sample_mask, shingles, sketch_keys
from kllama.sources.pile import PileSource, iter_records

FORMAT_VERSION = 2
PROBE_TEXT = "kllama pile index probe: the quick brown fox jumps over the lazy dog near the river bank today"
_EXACT_SCHEMA = pa.schema([("h1", pa.uint64()), ("h2", pa.uint64()), ("set", pa.string())])
_SKETCH_SCHEMA = pa.schema([("key", pa.uint64()), ("doc", pa.uint64()), ("level", pa.uint8()), ("set", pa.string())])


@dataclass
class IndexSettings:
    """How keys are made; a labelling step reads these from ``index.json`` so that its keys match."""

    ngram: int = 5
    seed: int = 1
    prefix_bits: int = 8
    #: a document's sketch holds at least this many keys (its whole shingle set when it has fewer)
    sketch_min: int = 16
    #: the coarsest sample: one shingle in 2**sketch_max_level for long documents
    sketch_max_level: int = 7

    @property
    def sketch(self) -> SketchSettings:
        return SketchSettings(ngram=self.ngram, seed=self.seed, min_size=self.sketch_min,
                              max_level=self.sketch_max_level)


def normalize_text(text: str) -> str:
    """NFC, every whitespace run -> one space, trimmed (the form the exact hash and MinHash see)."""
    return " ".join(unicodedata.normalize("NFC", text).split())


def exact_hashes(texts: list[str]) -> np.ndarray:
    """``(n, 2)`` uint64 128-bit hashes of the already normalized ``texts`` (C core)."""
    from kllama import native

    if not texts:
        return np.zeros((0, 2), dtype=np.uint64)
    return np.asarray(native.hash128(pa.array(texts, pa.large_string())), dtype=np.uint64)


def doc_sketches(texts: list[str], s: IndexSettings, min_words: int = 0
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Sketches of the already normalized ``texts`` (``kllama.dedup.containment``), flattened:
    ``(keys uint64, text index int64 per key, level uint8 per text, distinct shingle count int64 per text)``.
    Texts with fewer than ``min_words`` words get no keys."""
    ss = s.sketch
    keys, owner = [], []
    levels = np.zeros(len(texts), dtype=np.uint8)
    counts = np.zeros(len(texts), dtype=np.int64)
    for i, t in enumerate(texts):
        if min_words and t.count(" ") + 1 < min_words:
            continue
        h = shingles(t, ss)
        lvl = ss.level(int(h.size))
        k = sketch_keys(h[sample_mask(h, lvl)])
        levels[i], counts[i] = lvl, h.size
        keys.append(k)
        owner.append(np.full(k.size, i, dtype=np.int64))
    if not keys:
        return np.zeros(0, np.uint64), np.zeros(0, np.int64), levels, counts
    return np.concatenate(keys), np.concatenate(owner), levels, counts


def probe(s: IndexSettings) -> dict[str, str]:
    """Hashes of a fixed text, stored in ``index.json``: an index made by another hash build is refused."""
    h = exact_hashes([PROBE_TEXT])[0]
    k = doc_sketches([PROBE_TEXT], s)[0]
    return {"exact": f"{int(h[0]):016x}{int(h[1]):016x}", "sketch": hashlib.sha256(k.tobytes()).hexdigest()[:32]}


def prefix_of(keys: np.ndarray, bits: int) -> np.ndarray:
    return (np.asarray(keys, dtype=np.uint64) >> np.uint64(64 - bits)).astype(np.int64)


def prefix_name(p: int, bits: int) -> str:
    return f"prefix={p:0{max(1, (bits + 3) // 4)}x}"


class _PrefixWriter:
    """Buffers rows per prefix and writes them as row groups of one Parquet file per prefix."""

    def __init__(self, root: Path, kind: str, schema: pa.Schema, shard_name: str, bits: int) -> None:
        self.root, self.kind, self.schema, self.shard_name, self.bits = root, kind, schema, shard_name, bits
        self.buffers: dict[int, list[pa.Table]] = {}
        self.writers: dict[int, pq.ParquetWriter] = {}
        self.tmp_paths: dict[int, Path] = {}
        self.rows = 0

    def add(self, table: pa.Table, prefixes: np.ndarray) -> None:
        order = np.argsort(prefixes, kind="stable")
        sp = prefixes[order]
        table = table.take(pa.array(order))
        for p in np.unique(sp):
            lo, hi = np.searchsorted(sp, [p, p + 1])
            self.buffers.setdefault(int(p), []).append(table.slice(lo, hi - lo))
        self.rows += table.num_rows

    def flush(self) -> None:
        for p, tables in sorted(self.buffers.items()):
            if p not in self.writers:
                path = self.root / self.kind / prefix_name(p, self.bits) / f"{self.shard_name}.parquet"
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex}")
                self.tmp_paths[p] = tmp
                self.writers[p] = pq.ParquetWriter(tmp, self.schema, compression="zstd", compression_level=3)
            self.writers[p].write_table(pa.concat_tables(tables), row_group_size=1 << 20)
        self.buffers = {}
        self.rows = 0

    def close(self) -> tuple[int, list[str]]:
        """Close and rename into place; returns the bytes written and the files."""
        self.flush()
        total = 0
        files = []
        for p, w in sorted(self.writers.items()):
            w.close()
            tmp = self.tmp_paths[p]
            final = self.root / self.kind / prefix_name(p, self.bits) / f"{self.shard_name}.parquet"
            total += tmp.stat().st_size
            os.replace(tmp, final)
            files.append(str(final))
        return total, files


def index_shard(path: str, shard_no: int, output: str, settings: dict[str, Any], batch_docs: int = 2000,
                batch_bytes: int = 64 << 20, budget_rows: int = 4_000_000) -> dict[str, Any]:
    """Index one Pile shard into ``output`` (a worker task). Returns its counts; skips a finished shard."""
    s = IndexSettings(**settings)
    root = Path(output)
    shard_name = f"shard-{shard_no:05d}"
    marker = root / "_done" / f"{shard_name}.json"
    if marker.exists():
        return json.loads(marker.read_text())
    ledger = Ledger()
    exact_w = _PrefixWriter(root, "exact", _EXACT_SCHEMA, shard_name, s.prefix_bits)
    sketch_w = _PrefixWriter(root, "sketch", _SKETCH_SCHEMA, shard_name, s.prefix_bits)
    sets: dict[str, int] = {}
    record_no = 0
    rows = {"exact": 0, "sketch": 0}

    def flush_batch(texts: list[str], names: list[str], first: int) -> None:
        n = len(texts)
        h = exact_hashes(texts)
        set_arr = pa.array(names, pa.string())
        exact_w.add(pa.table({"h1": pa.array(h[:, 0]), "h2": pa.array(h[:, 1]), "set": set_arr}, schema=_EXACT_SCHEMA),
                    prefix_of(h[:, 0], s.prefix_bits))
        keys, owner, levels, _ = doc_sketches(texts, s)
        docs = (np.uint64(shard_no) << np.uint64(40)) + np.arange(first, first + n, dtype=np.uint64)
        sketch_w.add(pa.table({"key": pa.array(keys), "doc": pa.array(docs[owner]),
                               "level": pa.array(levels[owner], pa.uint8()), "set": set_arr.take(pa.array(owner))},
                              schema=_SKETCH_SCHEMA), prefix_of(keys, s.prefix_bits))
        rows["exact"] += n
        rows["sketch"] += int(keys.size)
        if exact_w.rows + sketch_w.rows > budget_rows:
            exact_w.flush()
            sketch_w.flush()

    texts: list[str] = []
    names: list[str] = []
    size = 0
    first = 0
    for _member, _line, text, meta in iter_records(path, ledger):
        name = str(meta.get("pile_set_name") or "unknown")
        norm = normalize_text(text)
        ledger.take_in(1, len(text.encode("utf-8")))
        ledger.put_out(1, len(text.encode("utf-8")))
        sets[name] = sets.get(name, 0) + 1
        texts.append(norm)
        names.append(name)
        size += len(norm)
        record_no += 1
        if len(texts) >= batch_docs or size >= batch_bytes:
            flush_batch(texts, names, first)
            first = record_no
            texts, names, size = [], [], 0
    if texts:
        flush_batch(texts, names, first)
    ledger.take_in(sum(ledger.dropped.values()), sum(ledger.dropped_bytes.values()))
    exact_bytes, exact_files = exact_w.close()
    sketch_bytes, sketch_files = sketch_w.close()
    info = {"shard": shard_name, "path": path, "docs": record_no, "index_bytes": exact_bytes + sketch_bytes,
            "rows": rows, "bytes": {"exact": exact_bytes, "sketch": sketch_bytes},
            "sets": sets, "ledger": ledger.to_dict(), "files": exact_files + sketch_files}
    atomic_write_text(marker, json.dumps(info, sort_keys=True))
    return info


def pile_shards(paths: list[str]) -> list[str]:
    return PileSource().list_inputs(paths)


def prepare_index(pile_paths: list[str], output: str | Path, settings: IndexSettings | None = None) -> list[str]:
    """The Pile shards under ``pile_paths`` for an index in ``output`` (refused if ``output`` holds an index of
    other shards or settings); writes ``_plan.json``."""
    s = settings or IndexSettings()
    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    shards = pile_shards(pile_paths)
    if not shards:
        raise FileNotFoundError(f"no Pile shards (*.jsonl.zst, *.jsonl.zst.tar, *.jsonl) under {pile_paths}")
    old = out / "index.json"
    if old.exists():
        prev = json.loads(old.read_text())
        # the same shards are the same names and contents, wherever they lie (another checkout, a moved copy)
        same_shards = (prev.get("shards_fingerprint") == _shards_fingerprint(shards) if "shards_fingerprint" in prev
                       else [os.path.basename(p) for p in prev.get("shards", [])]
                       == [os.path.basename(p) for p in shards])
        if prev.get("settings") != asdict(s) or not same_shards:
            raise ValueError(f"{out} holds an index with other settings or shards; use a new --output")
    atomic_write_text(out / "_plan.json", json.dumps({"settings": asdict(s), "shards": shards}, indent=1))
    return shards


def index_tasks(shards: list[str], output: str | Path, settings: IndexSettings | None = None
                ) -> list[dict[str, Any]]:
    """One task per Pile shard for an engine task stage: ``{"name", "fn", "kwargs", "inputs"}``."""
    s = asdict(settings or IndexSettings())
    return [{"name": f"part-{i:05d}", "fn": index_shard, "inputs": [p],
             "kwargs": {"path": p, "shard_no": i, "output": str(output), "settings": s}}
            for i, p in enumerate(shards)]


def finish_index(output: str | Path, shards: list[str], settings: IndexSettings | None,
                 infos: list[dict[str, Any]]) -> dict[str, Any]:
    """Write ``index.json`` from the shards' results (``docs``, ``index_bytes``, ``sets``, ``ledger``; a
    quarantined shard has only its ledger) and return it."""
    s = settings or IndexSettings()
    ledger = Ledger()
    sets: dict[str, int] = {}
    for info in infos:
        ledger.merge(Ledger.from_dict(info.get("ledger", {})))
        for k, v in info.get("sets", {}).items():
            sets[k] = sets.get(k, 0) + v
    docs = sum(i.get("docs", 0) for i in infos)
    nbytes = sum(i.get("index_bytes", 0) for i in infos)
    rows = {k: sum(i.get("rows", {}).get(k, 0) for i in infos) for k in ("exact", "sketch")}
    kind_bytes = {k: sum(i.get("bytes", {}).get(k, 0) for i in infos) for k in ("exact", "sketch")}
    meta = {"format": FORMAT_VERSION, "settings": asdict(s), "normalization": "NFC + whitespace collapsed",
            "shards": [os.path.basename(p) for p in shards], "shards_fingerprint": _shards_fingerprint(shards),
            "docs": docs, "index_bytes": nbytes, "rows": rows, "bytes": kind_bytes,
            "bytes_per_million_docs": int(nbytes / docs * 1e6) if docs else 0,
            "sets": dict(sorted(sets.items())), "ledger": ledger.to_dict(), "probe": probe(s)}
    path = Path(output) / "index.json"
    text = json.dumps(meta, indent=1, sort_keys=True)
    if not path.exists() or path.read_text() != text:
        atomic_write_text(path, text)
    return meta


def build_index(pile_paths: list[str], output: str | Path, settings: IndexSettings | None = None) -> dict[str, Any]:
    """Index every Pile shard under ``pile_paths`` into ``output`` in this process (``kllama pile-index`` runs
    the same tasks as an engine stage). Writes and returns ``index.json``."""
    shards = prepare_index(pile_paths, output, settings)
    infos = [t["fn"](**t["kwargs"]) for t in index_tasks(shards, output, settings)]
    return finish_index(output, shards, settings, infos)


class PileIndex:
    """Read side of an index: settings, and joins of query keys against one prefix at a time."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        meta_path = self.path / "index.json"
        if not meta_path.exists():
            raise FileNotFoundError(f"{self.path} is not a finished Pile index (no index.json); "
                                    "build one with `kllama pile-index PILE_DIR --output INDEX`")
        self.meta = json.loads(meta_path.read_text())
        if self.meta.get("format") != FORMAT_VERSION:
            raise ValueError(f"{self.path} is a format {self.meta.get('format')} Pile index (this kllama reads format "
                             f"{FORMAT_VERSION}: containment sketches instead of Jaccard band keys); rebuild it with "
                             "`kllama pile-index PILE_DIR --output NEW_INDEX`")
        self.settings = IndexSettings(**self.meta["settings"])
        if self.meta.get("probe") != probe(self.settings):
            raise ValueError(f"{self.path} was built with another hash implementation (probe mismatch); rebuild it")

    def prefixes_for_bucket(self, bucket: int, num_buckets: int) -> list[int]:
        """Prefixes whose keys (rotated so the prefix is in the low bits) fall in engine ``bucket``."""
        n = 1 << self.settings.prefix_bits
        if num_buckets & (num_buckets - 1):  # not a power of two: every prefix may hold keys of the bucket
            return list(range(n))
        m = min(num_buckets, n)
        return [p for p in range(n) if p % m == bucket % m]

    def _files(self, kind: str, p: int) -> list[Path]:
        d = self.path / kind / prefix_name(p, self.settings.prefix_bits)
        return sorted(d.glob("shard-*.parquet")) if d.is_dir() else []

    def iter_matches(self, kind: str, column: str, values: np.ndarray, prefixes: list[int]) -> Iterator[pa.Table]:
        """Index rows of ``kind`` whose ``column`` is in ``values``, one file at a time (bounded memory: one file of
        about ``rows / (2**prefix_bits * shards)`` rows, and its matching rows)."""
        if len(values) == 0:
            return
        # the query keys are sorted once; each file's rows are looked up by binary search, so a file costs its
        # own rows (times log of the query), never the query's size again (pc.is_in rebuilt a hash set of all
        # the query keys for every file: a cost of query x files, which grew with the square of the input)
        wanted = np.unique(np.asarray(values, dtype=np.uint64))
        for p in prefixes:
            for f in self._files(kind, p):
                t = pq.read_table(f)
                hit = t.filter(pa.array(sorted_member(wanted, t.column(column).to_numpy())))
                if hit.num_rows:
                    yield hit


def sorted_member(sorted_values: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``np.isin(x, sorted_values)`` for a sorted, unique ``sorted_values``, by binary search (no hash set built)."""
    if len(sorted_values) == 0 or len(x) == 0:
        return np.zeros(len(x), dtype=bool)
    pos = np.searchsorted(sorted_values, x)
    np.minimum(pos, len(sorted_values) - 1, out=pos)
    return sorted_values[pos] == x


# -- the lazily built demo/cache index ---------------------------------------------------------------
def _shards_fingerprint(shards: list[str]) -> str:
    h = hashlib.sha256()
    for p in shards:
        st = os.stat(p)
        h.update(os.path.basename(p).encode())
        if st.st_size < (256 << 20):
            with open(p, "rb") as f:
                h.update(hashlib.sha256(f.read()).digest())
        else:
            h.update(f"{st.st_size}:{int(st.st_mtime)}".encode())
    return h.hexdigest()


def default_cache_dir() -> Path:
    base = os.environ.get("KLLAMA_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "kllama")
    return Path(base) / "pile-index"


def index_location(pile_dir: str, cache_dir: str | Path | None = None, settings: IndexSettings | None = None
                   ) -> Path:
    """Where the index of the Pile shards under ``pile_dir`` lives: a folder of the cache named by a fingerprint
    of the shards, the settings and the hash build (built by the ``pile-index`` stage of a run, shared by runs)."""
    s = settings or IndexSettings()
    shards = expand_inputs([pile_dir], PileSource.patterns)
    fp = hashlib.sha256(json.dumps({"shards": _shards_fingerprint(shards), "settings": asdict(s),
                                    "probe": probe(s), "format": FORMAT_VERSION}).encode()).hexdigest()[:24]
    root = Path(cache_dir) if cache_dir else default_cache_dir()
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError:  # read-only home (some CI/HPC setups): fall back to the temporary folder
        if cache_dir:
            raise
        root = Path(tempfile.gettempdir()) / "kllama-pile-index"
        root.mkdir(parents=True, exist_ok=True)
    return root / fp
