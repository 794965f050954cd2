import gzip
import json

from kllama.config import DATA_DIR
from kllama.core.ledger import Ledger
from kllama.sources.c4 import C4Source
from tests.conftest import samples_dir


def _read(path, **kw):
    ledger = Ledger()
    docs = list(C4Source(**kw).read(str(path), ledger))
    return docs, ledger


def test_reads_sample_shard_fields_and_stable_ids():
    path = samples_dir("c4", "constructed", "en") / "c4-train.00000-of-01024.json.gz"
    docs, ledger = _read(path)
    with gzip.open(path, "rt") as f:
        records = [json.loads(line) for line in f if line.strip()]
    assert len(docs) == len(records) > 0
    assert docs[0].text == records[0]["text"] and docs[0].url == records[0]["url"]
    assert docs[0].meta["timestamp"] == records[0]["timestamp"]
    assert len({d.id for d in docs}) == len(docs)
    again, _ = _read(path)
    assert [d.id for d in again] == [d.id for d in docs]
    assert not ledger.dropped


def test_bad_lines_are_named_drops(tmp_path):
    good = json.dumps({"text": "Fine text.", "timestamp": "t", "url": "u"}).encode()
    lines = [good, b'{"text": "unterminated', json.dumps({"url": "x"}).encode(), b"\xff\xfe not utf8",
             json.dumps({"text": "bad \udc80 surrogate"}).encode(), json.dumps({"text": "   "}).encode(), good]
    path = tmp_path / "c4-train.00000-of-00001.json.gz"
    path.write_bytes(gzip.compress(b"\n".join(lines) + b"\n"))
    docs, ledger = _read(path)
    assert len(docs) == 2
    assert ledger.dropped == {"invalid_json": 1, "missing_text": 1, "invalid_utf8": 2, "empty_text": 1}


def test_truncated_gzip_keeps_lines_before_the_cut(tmp_path):
    rows = [json.dumps({"text": f"Document number {i} is here.", "url": str(i)}) for i in range(2000)]
    data = gzip.compress(("\n".join(rows) + "\n").encode())
    path = tmp_path / "c4-train.00001-of-00002.json.gz"
    path.write_bytes(data[: len(data) // 2])
    docs, ledger = _read(path)
    assert 0 < len(docs) < 2000
    assert ledger.dropped == {"truncated_file": 1}
    assert [d.text for d in docs] == [json.loads(r)["text"] for r in rows[: len(docs)]]


def test_overlong_line_is_dropped_and_reading_goes_on(tmp_path):
    rows = [json.dumps({"text": "a" * 5000}), json.dumps({"text": "Short one."})]
    path = tmp_path / "c4-train.00000-of-00001.json"
    path.write_text("\n".join(rows) + "\n")
    docs, ledger = _read(path, max_line_bytes=1000)
    assert [d.text for d in docs] == ["Short one."]
    assert ledger.dropped == {"line_too_long": 1}


def test_train_split_never_lists_validation_files():
    files = C4Source(split="train").list_inputs([str(DATA_DIR / "demo" / "c4")])
    assert files and all("c4-train." in f for f in files)
    val = C4Source(split="validation").list_inputs([str(DATA_DIR / "demo" / "c4")])
    assert val and all("c4-validation." in f for f in val)
