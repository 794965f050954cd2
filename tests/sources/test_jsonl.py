import gzip
import io
import json

import zstandard

from kllama.config import DATA_DIR
from kllama.core.ledger import Ledger
from kllama.sources.jsonl import JsonlSource


def _read(path, **kw):
    src = JsonlSource(**kw)
    src.source_name = "maths"
    ledger = Ledger()
    return list(src.read(str(path), ledger)), ledger


def test_reads_zstd_stream_without_content_size(tmp_path):
    path = tmp_path / "a.jsonl.zst"
    buf = io.BytesIO()
    with zstandard.ZstdCompressor().stream_writer(buf, closefd=False) as w:
        w.write(b'{"text": "one", "url": "u1", "subject": "x"}\n{"text": ["two", "parts"]}\n')
    path.write_bytes(buf.getvalue())
    docs, ledger = _read(path)
    assert [d.text for d in docs] == ["one", "two\n\nparts"]
    assert docs[0].source == "maths" and docs[0].id.startswith("maths/")
    assert docs[0].url == "u1" and docs[0].meta["subject"] == "x"
    assert not ledger.dropped


def test_bad_records_are_named_drops(tmp_path):
    path = tmp_path / "b.jsonl.gz"
    lines = [b'{"text": "ok"}', b"not json", b'{"body": "no text"}', b'{"text": "  "}', b"\xff\xfe",
             json.dumps({"text": "x\udc80"}).encode()]
    path.write_bytes(gzip.compress(b"\n".join(lines) + b"\n"))
    docs, ledger = _read(path)
    assert len(docs) == 1
    assert ledger.dropped == {"invalid_json": 1, "missing_text": 1, "empty_text": 1, "invalid_utf8": 2}


def test_truncated_zstd_keeps_what_came_before(tmp_path):
    rows = "".join(json.dumps({"text": f"document {i}"}) + "\n" for i in range(40000)).encode()
    data = zstandard.ZstdCompressor().compress(rows)
    path = tmp_path / "c.jsonl.zst"
    path.write_bytes(data[: len(data) // 2])
    docs, ledger = _read(path)
    assert 0 < len(docs) < 40000
    assert ledger.dropped["truncated_file"] == 1
    assert docs[-1].text == f"document {len(docs) - 1}"


def test_demo_extra_sources_are_readable():
    docs, ledger = _read(DATA_DIR / "demo" / "extra" / "maths" / "maths-00000.jsonl.zst")
    assert len(docs) == 24 and not ledger.dropped
