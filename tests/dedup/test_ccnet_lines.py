import hashlib
import json
import random

import numpy as np
import pytest

from kllama.core.document import Document, documents_to_table, schema_with
from kllama.dedup.ccnet_lines import CCNetLineDedup, line_hashes_batch, python_line_hashes
from kllama.dedup.doc_dedup import CCNetDocDedup
from kllama.engine.inprocess import run_global_in_process
from kllama.text.ccnet_normalize import normalize_for_dedup, normalized_lines

_ALPHABET = list("abcXYZ 019\t\r\x0b\x85\xa0İΣσςßẞ，。１—’…《》٣\u3000éÉ\x00\x1f\x7f\x9f") + ["\n"] * 3


def _ref_hashes(text):
    """cc_net's compute_hashes, written the way cc_net writes it."""
    return np.array([int.from_bytes(hashlib.sha1(normalize_for_dedup(ln).encode()).digest()[:8], "little")
                     for ln in text.split("\n")], dtype=np.uint64)


def test_normalize_for_dedup_examples():
    assert normalize_for_dedup("  Hello, World 2024！ ") == "hello, world 0000"
    assert normalize_for_dedup("《Title》—“quote”…") == "titlequote"
    assert normalize_for_dedup("tab\there\x01") == "tabhere"
    assert normalize_for_dedup("   ") == ""


def test_whole_text_normalization_equals_per_line_and_c_core():
    rng = random.Random(0)
    texts = ["".join(rng.choice(_ALPHABET) for _ in range(rng.randint(0, 50))) for _ in range(3000)]
    for t in texts:
        assert normalized_lines(t) == [normalize_for_dedup(ln) for ln in t.split("\n")]
        assert np.array_equal(python_line_hashes(t), _ref_hashes(t))
    h_py, off_py = line_hashes_batch(texts, use_native=False)
    h, off = line_hashes_batch(texts)  # the C core when built
    assert np.array_equal(off, off_py) and np.array_equal(h, h_py)


def _table(docs):
    return documents_to_table(docs, schema_with({}))


def _doc(i, lines, snapshot="CC-MAIN-2024-10"):
    return Document(id=f"d{i}", text="\n".join(lines), source="commoncrawl",
                    meta={"nlines": len(lines), "length": 999, "snapshot": snapshot})


def run_global(step, tables):
    """The engine's protocol in one process: keys per partition -> resolve per bucket -> apply."""
    r = run_global_in_process(step, tables)
    return r.tables, r.ledger


def test_planted_duplicates_across_documents_and_partitions():
    boiler = "Home | About | Contact"
    tables = [
        _table([_doc(0, ["unique zero a", boiler, "shared across parts", "unique zero b"]),
                _doc(1, ["unique one", "  HOME | About | CONTACT ", "repeat me", "repeat me"])]),
        _table([_doc(2, ["unique two", "shared across parts"]),
                _doc(3, [boiler, "shared across parts"])]),  # nothing unique: dropped
        _table([_doc(4, ["unique four", "numbers 1234 here"]), _doc(5, ["unique five", "numbers 9876 here"])]),
    ]
    outs, ledger = run_global(CCNetLineDedup(num_buckets=3), tables)
    texts = {r["id"]: r["text"] for t in outs for r in t.to_pylist()}
    assert texts == {
        "d0": "unique zero a\nunique zero b",
        "d1": "unique one\nrepeat me",  # a case/space variant of the boilerplate is a duplicate; in-doc repeat kept once
        "d2": "unique two",
        "d4": "unique four",  # digits fold to 0: the two "numbers ... here" lines are duplicates
        "d5": "unique five",
    }
    assert ledger.dropped == {"line_dedup_empty": 1}
    assert ledger.balanced
    assert ledger.stats["lines_removed_in_document"] == 1
    meta = json.loads(next(r["meta"] for t in outs for r in t.to_pylist() if r["id"] == "d0"))
    assert meta["line_ids"] == [0, 3] and meta["original_nlines"] == 4 and meta["nlines"] == 2
    assert meta["length"] == len(texts["d0"]) and meta["original_length"] == 999


def test_scope_files_reproduces_ccnet_groups_and_snapshots_are_separate():
    a = _table([_doc(0, ["only in part zero", "shared line"])])
    b = _table([_doc(1, ["only in part one", "shared line"])])
    c = _table([_doc(2, ["other snapshot", "shared line"], snapshot="CC-MAIN-2024-22")])
    whole, _ = run_global(CCNetLineDedup(), [a, b, c])
    assert [t.column("text").to_pylist() for t in whole] == [["only in part zero"], ["only in part one"],
                                                             ["other snapshot\nshared line"]]
    grouped, _ = run_global(CCNetLineDedup(scope_files=1), [a, b, c])
    assert [t.column("text")[0].as_py() for t in grouped] == [
        "only in part zero\nshared line", "only in part one\nshared line", "other snapshot\nshared line"]
    everything, _ = run_global(CCNetLineDedup(scope="all"), [a, b, c])
    assert [t.column("text")[0].as_py() for t in everything] == ["only in part zero", "only in part one",
                                                                  "other snapshot"]


def test_min_length_after_dedup_is_short():
    a = _table([_doc(0, ["x" * 50, "dup"]), _doc(1, ["y" * 500, "dup"])])
    (out,), ledger = run_global(CCNetLineDedup(min_length=300), [a])
    assert out.column("id").to_pylist() == ["d1"] and ledger.dropped == {"short": 1}


def test_bad_scope_is_refused():
    with pytest.raises(ValueError):
        CCNetLineDedup(scope="galaxy")


def test_doc_dedup_across_snapshots_keeps_the_earliest():
    def d(i, text, date):
        return Document(id=f"d{i}", text=text, source="commoncrawl", meta={"date_download": date})

    page = "A page crawled twice\nwith the same text"
    s1 = _table([d(0, page, "2024-02-20T10:00:00Z"), d(1, "another page", "2024-02-20T10:00:00Z")])
    s2 = _table([d(2, "A PAGE crawled twice  \nwith the same text", "2024-05-20T10:00:00Z"),
                 d(3, page, "2024-01-01T00:00:00Z")])  # earlier crawl date wins whatever its partition
    outs, ledger = run_global(CCNetDocDedup(num_buckets=2), [s1, s2])
    assert [t.column("id").to_pylist() for t in outs] == [["d1"], ["d3"]]
    assert ledger.dropped == {"doc_dedup": 2} and ledger.balanced


def test_snapshot_scopes_of_a_column_equal_the_per_row_parse():
    import json

    import numpy as np
    import pyarrow as pa

    from kllama.dedup.ccnet_lines import snapshot_scope, snapshot_scopes

    metas = [json.dumps({"snapshot": f"CC-MAIN-20{17 + i % 4}-{10 + i % 40:02d}", "url": f"u{i}"}) for i in range(50)]
    metas += [None, "", "{not json", json.dumps({"cc_segment": "crawl-data/CC-MAIN-2019-30/segments/1"}),
              json.dumps({"a": {"snapshot": "CC-MAIN-2019-30"}, "snapshot": "CC-MAIN-2020-05"}),
              json.dumps({"a": {"snapshot": "CC-MAIN-2019-30"}}), json.dumps({"snapshot": "CC-MAIN-2018-43"},
                                                                               separators=(",", ":")),
              json.dumps({"snapshot": "not-a-crawl"}), json.dumps({"note": '"snapshot": "CC-MAIN-2017-43"'})]
    column = pa.chunked_array([pa.array(metas[:20], pa.string()), pa.array(metas[20:], pa.string())])
    assert np.array_equal(snapshot_scopes(column), np.array([snapshot_scope(m) for m in metas], dtype=np.uint64))
    assert snapshot_scopes(pa.array([], pa.string())).shape == (0,)
