"""``kllama tokenize RUN_DIR --variant``: weighted, shuffled, deterministic binidx on a real LocalCluster."""

from __future__ import annotations

import json
import unicodedata
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from kllama.cli import main
from kllama.tokenize.rwkv import magic_prime
from kllama.tokenize.store import tokenize_shard
from kllama.tokenize.tokenizer import DigitSplitTokenizer
from kllama.tokenize.variant import copies_for, load_variant, tokenize_variant
from tests.tokenize.helpers import RwkvStyleReader, make_run_dir, write_shard


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    root = make_run_dir(tmp_path_factory.mktemp("run"))
    # one shard with invalid UTF-8 and an encoded surrogate: counted drops, not a crash
    rows = [{"id": f"wikipedia/bad{i}", "text": "", "source": "wikipedia", "group": "core"} for i in range(3)]
    info = write_shard(root / "shards/core/wikipedia/part-bad.parquet", rows,
                       text_bytes=[b"fine text 7", b"broken \xff\xfe bytes", b"surrogate \xed\xa0\x80"])
    manifest = json.loads((root / "manifest.json").read_text())
    manifest["shards"].append({"path": "shards/core/wikipedia/part-bad.parquet", "source": "wikipedia",
                               "group": "core", **info})
    (root / "manifest.json").write_text(json.dumps(manifest))
    return root


def _docs(run_dir: Path, variant: str) -> dict[str, tuple[str, str]]:
    """text (NFC) -> (doc id, source) of every non-empty valid document of the variant."""
    shards, _ = load_variant(run_dir, variant)
    out = {}
    for s in shards:
        t = pq.read_table(s["abs_path"], columns=["id", "text", "source"])
        raw = t.column("text").cast(pa.large_binary()).to_pylist()
        for doc_id, source, b in zip(t.column("id").to_pylist(), t.column("source").to_pylist(), raw, strict=True):
            try:
                text = b.decode("utf-8")
            except UnicodeDecodeError:
                continue
            if text:
                out[unicodedata.normalize("NFC", text)] = (doc_id, source)
    return out


def test_variant_cli_two_workers_equals_one_worker(run_dir: Path, tmp_path: Path, capsys) -> None:
    out2 = tmp_path / "two" / "g1"
    assert main(["tokenize", str(run_dir), "--variant", "G1", "--output", str(out2), "--workers", "2",
                 "--ctx-len", "16", "--seed", "7"]) == 0
    printed = capsys.readouterr().out
    side = json.loads(Path(str(out2) + ".json").read_text())
    assert f"--my_exit_tokens {side['tokens']} --magic_prime {magic_prime(side['tokens'], 16)}" in printed
    assert side["magic_prime"] == magic_prime(side["tokens"], 16)
    assert side["encoder"] == "fast" and "encoder: fast" in printed

    out1 = tmp_path / "one" / "g1"
    res1 = tokenize_variant(run_dir, "G1", out1, seed=7, workers=1, ctx_len=16, quiet=True)
    for ext in ("bin", "idx"):
        assert Path(f"{out1}.{ext}").read_bytes() == Path(f"{out2}.{ext}").read_bytes()
    assert res1.tokens == side["tokens"]

    # the RWKV-style reader reads back exactly the documents, each repeated by its sampling weight
    tok = DigitSplitTokenizer()
    docs = _docs(run_dir, "G1")
    r = RwkvStyleReader(str(out2))
    assert r.dtype.__name__ == "uint16" and len(r) == side["docs"] and r.data_size == side["tokens"]
    assert r.doc_idx.tolist() == list(range(len(r) + 1))
    seen: Counter = Counter()
    order_sources = []
    for i in range(len(r)):
        item = r[i].tolist()
        assert item[-1] == 0 and 0 not in item[:-1]
        text = tok.decode(item)
        assert item[:-1] == tok.encode(text)
        seen[text] += 1
        order_sources.append(docs[text][1])
    weights = {"wikipedia": 2.45, "github": 0.64, "arxiv": 1.06}
    for text, (doc_id, source) in docs.items():
        assert seen[text] == copies_for(doc_id, weights[source], 7), doc_id
    assert "fine text 7" in seen  # the valid row of the bad shard is kept
    assert not any(s == "mathx" for s in order_sources)  # group "extra" is not in G1
    # mixed stream: not laid out source by source
    runs = sum(1 for a, b in zip(order_sources, order_sources[1:], strict=False) if a != b)
    assert runs > len(order_sources) // 4

    per = side["per_source"]
    assert per["wikipedia"]["invalid_utf8"] == 2 and per["github"]["sampled_out"] > 0
    assert per["arxiv"]["empty"] > 0
    assert sum(p["tokens"] for p in per.values()) == side["tokens"]
    assert sum(p["docs"] for p in per.values()) == side["docs"]
    led = side["ledger"]
    assert led["docs_in"] == led["docs_out"] + sum(led["dropped"].values())
    assert not list(out2.parent.glob(".*parts*"))  # temporary per-shard files are gone


def test_seed_changes_order_not_content(run_dir: Path, tmp_path: Path) -> None:
    a = tokenize_variant(run_dir, "G3", tmp_path / "a", seed=1, workers=1, quiet=True, split_digits=False)
    b = tokenize_variant(run_dir, "G3", tmp_path / "b", seed=2, workers=1, quiet=True, split_digits=False)
    ra, rb = RwkvStyleReader(str(tmp_path / "a")), RwkvStyleReader(str(tmp_path / "b"))
    items_a = [tuple(ra[i].tolist()) for i in range(len(ra))]
    items_b = [tuple(rb[i].tolist()) for i in range(len(rb))]
    assert items_a != items_b
    assert set(a.per_source) == set(b.per_source) == {"wikipedia", "github"}
    assert a.sidecar["split_digits"] is False
    assert a.per_source["wikipedia"]["docs_tokenized"] == b.per_source["wikipedia"]["docs_tokenized"]


def test_output_exists_is_refused_without_force(run_dir: Path, tmp_path: Path, capsys) -> None:
    prefix = tmp_path / "x"
    Path(f"{prefix}.bin").write_bytes(b"")
    assert main(["tokenize", str(run_dir), "--variant", "G3", "--output", str(prefix)]) == 2
    assert "--force" in capsys.readouterr().err
    assert main(["tokenize", str(run_dir), "--variant", "G9", "--output", str(tmp_path / "y")]) == 2
    assert "known: G1, G2, G3" in capsys.readouterr().err


def test_copies_follow_the_epochs() -> None:
    ids = [f"src/{i}" for i in range(4000)]
    for epochs in (2.45, 0.64, 1.0, 3.0):
        c = [copies_for(i, epochs, seed=3) for i in ids]
        assert set(c) <= {int(epochs), int(epochs) + 1}
        assert abs(sum(c) / len(ids) - epochs) < 0.03
        assert c == [copies_for(i, epochs, seed=3) for i in ids]  # deterministic
    assert [copies_for(i, 2.45, 3) for i in ids] != [copies_for(i, 2.45, 4) for i in ids]
    assert copies_for("a", 0.0, 1) == 0


def test_manifest_paths_must_stay_inside_run_dir(tmp_path: Path) -> None:
    (tmp_path / "manifest.json").write_text(json.dumps({
        "shards": [{"path": "../elsewhere.parquet", "source": "s", "group": "core", "docs": 1}],
        "variants": {"G1": {"groups": ["core"], "weights": {}}}}))
    with pytest.raises(ValueError, match="leaves"):
        load_variant(tmp_path, "G1")


def _shard(path: Path, tmp_path: Path, sha256: str | None, docs: int) -> dict:
    """Tokenize one shard into a store entry under ``tmp_path`` (as the token stage's task does)."""
    return tokenize_shard(str(path), sha256, docs, "wikipedia", str(tmp_path / "entry"), None, True)


def test_bad_shards_are_quarantined_and_counted(tmp_path: Path) -> None:
    rows = [{"id": f"w/{i}", "text": f"document {i} " + "word " * 400, "source": "wikipedia", "group": "core"}
            for i in range(60)]
    info = write_shard(tmp_path / "s.parquet", rows)
    good = _shard(tmp_path / "s.parquet", tmp_path, info["sha256"], 60)
    assert good["ledger"]["docs_out"] == 60 and not good["ledger"]["quarantined"]

    bad = _shard(tmp_path / "s.parquet", tmp_path, "0" * 64, 60)
    assert bad["ledger"]["dropped"] == {"shard_checksum_mismatch": 60} and bad["ledger"]["quarantined"]

    (tmp_path / "t.parquet").write_bytes((tmp_path / "s.parquet").read_bytes()[:-100])  # no footer
    bad = _shard(tmp_path / "t.parquet", tmp_path, None, 60)
    assert bad["ledger"]["dropped"] == {"unreadable_shard": 60} and bad["docs"] == 0

    # a corrupt data page in the second row group: the first row group is kept, the rest counted
    table = pq.read_table(tmp_path / "s.parquet")
    pq.write_table(table, tmp_path / "m.parquet", row_group_size=30, compression="zstd")
    meta = pq.ParquetFile(tmp_path / "m.parquet").metadata
    col = meta.row_group(1).column(1)
    raw = bytearray((tmp_path / "m.parquet").read_bytes())
    start = col.dictionary_page_offset or col.data_page_offset
    raw[start:start + col.total_compressed_size] = b"\xff" * col.total_compressed_size
    (tmp_path / "m.parquet").write_bytes(bytes(raw))
    res = _shard(tmp_path / "m.parquet", tmp_path, None, 60)
    led = res["ledger"]
    assert led["docs_in"] == 60 and led["docs_out"] + sum(led["dropped"].values()) == 60
    assert led["dropped"].get("unreadable_shard", 0) >= 30 and led["quarantined"]


@pytest.mark.parametrize(("n_chunks", "max_len"), [(1, 9), (3, 9), (7, 9), (3, 400)])
def test_scatter_gather_concatenate_is_the_key_order(tmp_path: Path, n_chunks: int, max_len: int) -> None:
    """The two-level shuffle gives every copy once, in the order of the copies' keys, for any chunk count."""
    import numpy as np
    import pyarrow as pa

    from kllama.tokenize.binidx import BinidxReader, BinidxWriter
    from kllama.tokenize.shuffle import concatenate, gather_chunk, order_keys, scatter_shard

    rng = np.random.default_rng(0)
    shards = []
    expected = []  # (key, shard, item, copy, tokens)
    for k, n in enumerate((7, 0, 12, 3)):
        docs = [rng.integers(1, 50000, rng.integers(0, max_len)).tolist() for _ in range(n)]
        ids = [f"s/{k}-{i}" for i in range(n)]
        prefix = tmp_path / f"e{k}"
        with BinidxWriter(prefix, np.uint16) as w:
            w.add_documents(docs)
        pq.write_table(pa.table({"id": pa.array(ids, pa.string()), "source": pa.array(["s"] * n, pa.string())}),
                       f"{prefix}.docs.parquet")
        res = scatter_shard(str(prefix), "s", {"s": 1.6}, 5, n_chunks, str(tmp_path / f"r{k}-{n_chunks}.refs"))
        copies = np.array([copies_for(d, 1.6, 5) for d in ids], dtype=np.int64)
        assert res["copies"] == int(copies.sum())
        keys = order_keys(ids, copies, 5).tolist()
        items = np.repeat(np.arange(n), copies).tolist()
        expected += [(key, k, it, docs[it] + [0]) for key, it in zip(keys, items, strict=True)]
        shards.append({"refs": str(tmp_path / f"r{k}-{n_chunks}.refs"), "prefix": str(prefix)})
    parts = []
    for c in range(n_chunks):
        gather_chunk(c, shards, str(tmp_path / f"c{c}-{n_chunks}"), "uint16", chunk_tokens=5 * max_len)
        parts.append(str(tmp_path / f"c{c}-{n_chunks}"))
    items, tokens = concatenate(parts, tmp_path / f"out{n_chunks}", np.uint16)
    expected.sort(key=lambda e: (e[0], e[1], e[2]))
    r = BinidxReader(tmp_path / f"out{n_chunks}")
    assert [r[i].tolist() for i in range(len(r))] == [e[3] for e in expected]
    assert (items, tokens) == (len(expected), sum(len(e[3]) for e in expected))
    assert r.doc_idx.tolist() == list(range(len(r) + 1))
