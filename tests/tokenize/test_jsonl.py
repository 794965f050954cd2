"""``kllama tokenize --jsonl``: json2binidx behaviour, bad records as counted drops, refusal to overwrite."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from kllama.cli import main
from kllama.core.ledger import Ledger
from kllama.tokenize.jsonl import read_jsonl_texts, tokenize_jsonl
from kllama.tokenize.rwkv import magic_prime
from kllama.tokenize.tokenizer import DigitSplitTokenizer
from tests.tokenize.helpers import RwkvStyleReader


def _write_bad_jsonl(path: Path) -> None:
    lines = [
        json.dumps({"text": "first 2024 doc"}).encode(),
        b"",  # blank line: not a record
        json.dumps({"text": ""}).encode(),  # empty: no token, no EOD, counted
        b"{not json",
        json.dumps({"title": "no text"}).encode(),
        json.dumps({"text": 42}).encode(),
        b'{"text": "lone \\ud800 surrogate"}',
        b'{"text": "bad \xff byte"}',
        json.dumps({"text": ["para one", "para two"]}).encode(),  # lm_dataformat joins lists with \n\n
        json.dumps({"text": "keeps <|endoftext|> as text"}).encode(),
    ]
    path.write_bytes(b"\n".join(lines) + b"\n")


def test_bad_records_are_counted_drops(tmp_path: Path) -> None:
    _write_bad_jsonl(tmp_path / "in.jsonl")
    led = Ledger()
    texts = list(read_jsonl_texts(tmp_path / "in.jsonl", led))
    assert texts == ["first 2024 doc", "para one\n\npara two", "keeps <|endoftext|> as text"]
    assert dict(led.dropped) == {"empty": 1, "bad_json": 1, "no_text": 2, "invalid_unicode": 1,
                                 "invalid_utf8": 1}
    assert led.stats["blank_lines"] == 1
    assert led.docs_in == len(texts) + sum(led.dropped.values())


def test_tokenize_jsonl_gz(tmp_path: Path) -> None:
    _write_bad_jsonl(tmp_path / "in.jsonl")
    (tmp_path / "in.jsonl.gz").write_bytes(gzip.compress((tmp_path / "in.jsonl").read_bytes()))
    tok = DigitSplitTokenizer()
    res = tokenize_jsonl(tmp_path / "in.jsonl.gz", tmp_path / "o", tok, batch_docs=2)
    r = RwkvStyleReader(str(tmp_path / "o"))
    assert res.docs == len(r) == 3 and res.ledger.balanced
    assert [tok.decode(r[i]) for i in range(3)] == ["first 2024 doc", "para one\n\npara two",
                                                    "keeps <|endoftext|> as text"]
    assert [int(x) for x in r[2]].count(0) == 1  # only the appended EOD


def test_cli_jsonl_prints_rwkv_flags_and_refuses_overwrite(tmp_path: Path, capsys) -> None:
    _write_bad_jsonl(tmp_path / "in.jsonl")
    out = str(tmp_path / "o")
    assert main(["tokenize", "--jsonl", str(tmp_path / "in.jsonl"), "--output", out, "--ctx-len", "2"]) == 0
    printed = capsys.readouterr().out
    tokens = RwkvStyleReader(out).data_size
    assert f"--my_exit_tokens {tokens} --magic_prime {magic_prime(tokens, 2)} --ctx_len 2" in printed
    assert "bad_json=1" in printed
    before = Path(out + ".bin").read_bytes()
    assert main(["tokenize", "--jsonl", str(tmp_path / "in.jsonl"), "--output", out, "--no-split-digits"]) == 2
    assert "exists" in capsys.readouterr().err and Path(out + ".bin").read_bytes() == before
    assert main(["tokenize", "--jsonl", str(tmp_path / "in.jsonl"), "--output", out, "--no-split-digits",
                 "--force"]) == 0
    assert Path(out + ".bin").read_bytes() != before  # "2024" is now one merged token pair, not 4 digits
    assert main(["tokenize", "--output", str(tmp_path / "z")]) == 2
    assert main(["tokenize", "--jsonl", str(tmp_path / "missing.jsonl"), "--output", str(tmp_path / "z")]) == 2
