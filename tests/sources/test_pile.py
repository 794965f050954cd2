"""Pile reader: streaming zstd (no content size), .jsonl.zst.tar, list-valued text, bad input as named drops."""

import io
import json
import tarfile

import pytest
import zstandard

from kllama.core.ledger import Ledger
from kllama.sources.pile import PileSource
from tests.conftest import samples_dir


def _read(path, **kw):
    ledger = Ledger()
    docs = list(PileSource(**kw).read(str(path), ledger))
    return docs, ledger


def _zst_stream(lines: list[bytes]) -> bytes:
    buf = io.BytesIO()
    with zstandard.ZstdCompressor(level=3).stream_writer(buf, closefd=False) as w:
        w.write(b"\n".join(lines) + b"\n")
    return buf.getvalue()


def test_constructed_shard_without_content_size():
    path = samples_dir("pile", "constructed", "train") / "00.jsonl.zst"
    with pytest.raises(zstandard.ZstdError):  # one-shot decompression cannot work on Pile shards
        zstandard.ZstdDecompressor().decompress(path.read_bytes())
    docs, ledger = _read(path)
    assert len(docs) == 9 and not ledger.dropped
    names = {d.meta["pile_set_name"] for d in docs}
    assert names == {"Pile-CC", "Wikipedia (en)", "StackExchange", "Gutenberg (PG-19)", "Github", "ArXiv"}
    assert len({d.id for d in docs}) == 9 and all(d.id.startswith("pile/") for d in docs)


def test_lm_dataformat_tar_and_list_valued_text():
    path = samples_dir("pile") / "lm_dataformat-test-blns.jsonl.zst.tar"
    docs, ledger = _read(path)
    assert len(docs) == 8 and not ledger.dropped
    with tarfile.open(path) as tar:
        member = sorted(m for m in tar.getnames() if m.endswith(".zst"))[0]
        raw = zstandard.ZstdDecompressor().stream_reader(tar.extractfile(member)).read()
    records = [json.loads(line) for line in raw.decode().splitlines() if line.strip()]
    lists = [r for r in records if isinstance(r["text"], list)]
    assert lists, "the sample has a list-valued text"
    texts = {d.text for d in docs}
    assert "\n\n".join(lists[0]["text"]) in texts
    assert len({d.id for d in docs}) == 8  # two members with equal content get distinct ids


def test_truncated_shard_keeps_records_before_the_cut(tmp_path):
    rows = [json.dumps({"text": f"Pile document {i} " * 20, "meta": {"pile_set_name": "Pile-CC"}}).encode()
            for i in range(3000)]
    data = _zst_stream(rows)
    path = tmp_path / "01.jsonl.zst"
    path.write_bytes(data[: len(data) // 2])
    docs, ledger = _read(path)
    assert 0 < len(docs) < 3000
    assert ledger.dropped == {"truncated_file": 1}
    assert [d.text for d in docs] == [json.loads(r)["text"] for r in rows[: len(docs)]]


def test_bad_lines_are_named_drops(tmp_path):
    lines = [json.dumps({"text": "good one", "meta": {"pile_set_name": "ArXiv"}}).encode(),
             json.dumps({"meta": {"pile_set_name": "ArXiv"}}).encode(),  # no text
             json.dumps({"text": 42}).encode(), b"{not json", b"\xff\xfe", json.dumps({"text": "  "}).encode(),
             json.dumps({"text": "x" * 5000}).encode(), json.dumps({"text": ["a", "b"]}).encode()]
    path = tmp_path / "02.jsonl.zst"
    path.write_bytes(_zst_stream(lines))
    docs, ledger = _read(path, max_line_bytes=1000)
    assert [d.text for d in docs] == ["good one", "a\n\nb"]
    assert ledger.dropped == {"missing_text": 2, "invalid_json": 1, "invalid_utf8": 1, "empty_text": 1,
                              "line_too_long": 1}


def test_several_frames_and_plain_jsonl(tmp_path):
    a = _zst_stream([json.dumps({"text": "frame one"}).encode()])
    b = _zst_stream([json.dumps({"text": "frame two"}).encode()])
    (tmp_path / "03.jsonl.zst").write_bytes(a + b)
    docs, _ = _read(tmp_path / "03.jsonl.zst")
    assert [d.text for d in docs] == ["frame one", "frame two"]
    (tmp_path / "04.jsonl").write_text(json.dumps({"text": "plain"}) + "\n")
    docs, _ = _read(tmp_path / "04.jsonl")
    assert [d.text for d in docs] == ["plain"]


def test_pile_set_names_keeps_only_the_chosen_sets(tmp_path):
    path = samples_dir("pile", "constructed", "train") / "00.jsonl.zst"
    docs, ledger = _read(path, pile_set_names=["Wikipedia (en)", "ArXiv"])
    assert {d.meta["pile_set_name"] for d in docs} == {"Wikipedia (en)", "ArXiv"}
    assert len(docs) == 3 and not ledger.dropped  # other sets are not documents of this source, not drops
    assert ledger.stats["pile_set_skipped:Pile-CC"] == 3 and sum(ledger.stats.values()) == 6
    # the same documents get the same ids as without the selection
    all_ids = {d.id for d in _read(path)[0]}
    assert {d.id for d in docs} <= all_ids
    # a recipe's source name names the documents (e.g. dm_math read from the Pile)
    rows = [json.dumps({"text": f"Q{i}\nA{i}\n", "meta": {"pile_set_name": s}}).encode()
            for i, s in enumerate(["DM Mathematics", "Pile-CC", "DM Mathematics"])]
    shard = tmp_path / "00.jsonl.zst"
    shard.write_bytes(_zst_stream(rows))
    src = PileSource(pile_set_names=["DM Mathematics"])
    src.source_name = "dm_math"
    ledger = Ledger()
    dm = list(src.read(str(shard), ledger))
    assert [d.text for d in dm] == ["Q0\nA0\n", "Q2\nA2\n"]
    assert all(d.source == "dm_math" and d.id.startswith("dm_math/") for d in dm)
    assert ledger.stats == {"pile_set_skipped:Pile-CC": 1}
