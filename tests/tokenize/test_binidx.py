"""binidx writer, reader and merge against the spec, the golden json2binidx sample and an RWKV-style reader."""

from __future__ import annotations

import filecmp
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kllama.tokenize.binidx import BinidxReader, BinidxWriter, best_dtype, dtype_code, merge
from kllama.tokenize.jsonl import tokenize_jsonl
from kllama.tokenize.tokenizer import DEFAULT_TOKENIZER, DigitSplitTokenizer
from tests.conftest import samples_dir
from tests.tokenize.helpers import RwkvStyleReader


def test_golden_bytes_match_json2binidx(tmp_path) -> None:
    sample = samples_dir("binidx")
    res = tokenize_jsonl(sample / "sample.jsonl", tmp_path / "s", DigitSplitTokenizer(split_digits=False))
    assert (res.docs, res.tokens) == (7, 160)
    for ext in ("bin", "idx"):
        assert filecmp.cmp(tmp_path / f"s.{ext}", sample / f"sample_data_text_document.{ext}", shallow=False)


def test_digit_split_sample_reads_back_with_rwkv_reader(tmp_path) -> None:
    sample = samples_dir("binidx")
    tok = DigitSplitTokenizer()
    tokenize_jsonl(sample / "sample.jsonl", tmp_path / "d", tok)
    texts = [json.loads(line)["text"] for line in (sample / "sample.jsonl").read_text().splitlines()]
    r = RwkvStyleReader(str(tmp_path / "d"))
    assert len(r) == len(texts) and list(r.doc_idx) == list(range(len(texts) + 1))
    for i, text in enumerate(texts):
        item = r[i].tolist()
        assert item[-1] == 0 and 0 not in item[:-1]
        assert item[:-1] == tok.encode(text) and tok.decode(item) == text
    assert r.data_size == int(r.sizes.sum())


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.integers(0, 50276), max_size=30), min_size=1, max_size=20))
def test_reader_gives_back_exactly_what_was_written(docs: list[list[int]]) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        prefix = f"{d}/x"
        with BinidxWriter(prefix, np.uint16, eod=0, buffer_tokens=7) as w:
            for i, ids in enumerate(docs):
                if i % 2:
                    w.add_document(ids)
                else:  # the numpy path
                    w.add_item(np.array(ids + [0], dtype=np.int64))
                    w.end_document()
        r, ours = RwkvStyleReader(prefix), BinidxReader(prefix)
        assert r.dtype is np.uint16 and ours.dtype_code == 8
        assert len(r) == len(ours) == len(docs)
        assert list(r.doc_idx) == list(range(len(docs) + 1))
        expected_ptr = np.concatenate([[0], np.cumsum([2 * (len(x) + 1) for x in docs])[:-1]]) if docs else []
        assert list(r.pointers) == [int(p) for p in expected_ptr]
        for i, ids in enumerate(docs):
            assert r[i].tolist() == ids + [0] == ours[i].tolist()
        flat = [t for ids in docs for t in ids + [0]]
        if flat:  # RWKV's training read: one window from item 0 across every item boundary
            assert r.get(0, 0, len(flat)).tolist() == flat


def test_idx_layout_byte_by_byte(tmp_path) -> None:
    with BinidxWriter(tmp_path / "a", np.uint16) as w:
        w.add_document([5, 6])
        w.add_document([7])
    raw = (tmp_path / "a.idx").read_bytes()
    assert raw[:9] == b"MMIDIDX\x00\x00" and raw[9:17] == (1).to_bytes(8, "little") and raw[17] == 8
    assert int.from_bytes(raw[18:26], "little") == 2 and int.from_bytes(raw[26:34], "little") == 3
    assert np.frombuffer(raw, "<i4", 2, 34).tolist() == [3, 2]
    assert np.frombuffer(raw, "<i8", 2, 42).tolist() == [0, 6]
    assert np.frombuffer(raw, "<i8", 3, 58).tolist() == [0, 1, 2]
    assert len(raw) == 34 + 12 * 2 + 8 * 3
    assert (tmp_path / "a.bin").read_bytes() == np.array([5, 6, 0, 7, 0], "<u2").tobytes()


def test_merge_keeps_sizes_pointers_and_doc_idx(tmp_path) -> None:
    parts = [[[1, 2, 3], [4]], [], [[5, 6], [7, 8, 9, 10], [11]]]
    prefixes = []
    for k, docs in enumerate(parts):
        with BinidxWriter(tmp_path / f"p{k}", np.uint16) as w:
            w.add_documents(docs)
        prefixes.append(tmp_path / f"p{k}")
    merge(prefixes, tmp_path / "m")
    r = RwkvStyleReader(str(tmp_path / "m"))
    docs = [d for p in parts for d in p]
    assert [r[i].tolist() for i in range(len(r))] == [d + [0] for d in docs]
    assert r.sizes.tolist() == [len(d) + 1 for d in docs]
    assert r.pointers.tolist() == [0, 8, 12, 18, 28]
    assert r.doc_idx.tolist() == [0, 1, 2, 3, 4, 5]
    # merging merged files keeps doc_idx right too (offset + other.doc_idx[1:])
    merge([tmp_path / "m", tmp_path / "p0"], tmp_path / "mm")
    assert BinidxReader(tmp_path / "mm").doc_idx.tolist() == list(range(8))


def test_merge_refuses_mixed_dtypes(tmp_path) -> None:
    with BinidxWriter(tmp_path / "a", np.uint16) as w:
        w.add_document([1])
    with BinidxWriter(tmp_path / "b", np.int32) as w:
        w.add_document([1])
    with pytest.raises(ValueError, match="dtype"):
        merge([tmp_path / "a", tmp_path / "b"], tmp_path / "c")
    assert not (tmp_path / "c.idx").exists()


def test_dtype_choice() -> None:
    assert best_dtype(50277) == np.uint16 and dtype_code(best_dtype(50277)) == 8
    assert best_dtype(65499) == np.uint16
    assert best_dtype(65500) == np.int32 and dtype_code(best_dtype(65525)) == 4


def test_big_vocabulary_switches_to_int32(tmp_path) -> None:
    from tokenizers import Tokenizer

    t = Tokenizer.from_file(str(DEFAULT_TOKENIZER))
    t.add_tokens([f"qqtok{i}qq" for i in range(15400)])
    t.save(str(tmp_path / "big.json"))
    tok = DigitSplitTokenizer(tmp_path / "big.json")
    assert tok.vocab_size > 65500
    (tmp_path / "in.jsonl").write_text(json.dumps({"text": "hi qqtok15399qq 42"}) + "\n")
    tokenize_jsonl(tmp_path / "in.jsonl", tmp_path / "o", tok)
    r = RwkvStyleReader(str(tmp_path / "o"))
    assert r.dtype is np.int32 and (tmp_path / "o.idx").read_bytes()[17] == 4
    ids = r[0].tolist()
    assert max(ids) > 65535 and ids == tok.encode("hi qqtok15399qq 42") + [0]


def test_writer_refuses_out_of_range_ids_and_leaves_nothing(tmp_path) -> None:
    with pytest.raises(ValueError, match="out of range"):
        with BinidxWriter(tmp_path / "x", np.uint16) as w:
            w.add_document([70000])
    assert list(tmp_path.iterdir()) == []


def test_reader_rejects_bad_files(tmp_path) -> None:
    (tmp_path / "x.idx").write_bytes(b"NOTMAGIC" + bytes(40))
    (tmp_path / "x.bin").write_bytes(b"")
    with pytest.raises(ValueError, match="magic"):
        BinidxReader(tmp_path / "x")
    with BinidxWriter(tmp_path / "y", np.uint16) as w:
        w.add_document([1, 2])
    raw = (tmp_path / "y.idx").read_bytes()
    (tmp_path / "y.idx").write_bytes(raw[:-3])
    with pytest.raises(ValueError, match="size"):
        BinidxReader(tmp_path / "y")


def test_empty_dataset_is_valid(tmp_path) -> None:
    with BinidxWriter(tmp_path / "e", np.uint16):
        pass
    r = BinidxReader(tmp_path / "e")
    assert len(r) == 0 and r.num_tokens == 0 and r.doc_idx.tolist() == [0]
    assert (tmp_path / "e.idx").stat().st_size == 34 + 8


@pytest.mark.parametrize("n", [0, 1, 7, 10])
def test_streamed_index_equals_whole_arrays(tmp_path, n: int) -> None:
    from kllama.tokenize.binidx import write_index

    sizes = np.arange(1, n + 1, dtype=np.int32)
    write_index(tmp_path / "a.idx", np.int32, sizes, chunk=3)
    pointers = np.concatenate([[0], np.cumsum(sizes)[:-1] * 4]) if n else np.zeros(0)
    write_index(tmp_path / "b.idx", np.int32, sizes, np.arange(n + 1), pointers)
    assert (tmp_path / "a.idx").read_bytes() == (tmp_path / "b.idx").read_bytes()
    assert (tmp_path / "a.idx").stat().st_size == 34 + 12 * n + 8 * (n + 1)
