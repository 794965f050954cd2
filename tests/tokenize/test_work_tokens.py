"""``--work-tokens added``: <work> and </work> get two new ids; every other token is unchanged."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import pytest

from kllama.cli import main
from kllama.sources.reasoning import ReasoningSource
from kllama.tokenize.tokenizer import DEFAULT_TOKENIZER, DigitSplitTokenizer
from kllama.tokenize.work_tokens import WORK_TOKENS, add_work_tokens, vocab_size, write_work_tokenizer
from tests.conftest import samples_dir
from tests.tokenize.helpers import RwkvStyleReader

TAGS = re.compile("(<work>|</work>)")


@pytest.fixture(scope="module")
def toks(tmp_path_factory):
    """(base, extended) tokenizers (the fast encoder, as kllama uses them) and the extended file's info."""
    ext = write_work_tokenizer(None, tmp_path_factory.mktemp("tok") / "out")
    return DigitSplitTokenizer(), DigitSplitTokenizer(ext.path), ext


def _reasoning_texts() -> list[str]:
    out = []
    for mode in ("result", "work"):
        src = ReasoningSource(calculator=mode)
        src.source_name = "reasoning"
        from kllama.core.ledger import Ledger

        out += [d.text for d in src.read(str(samples_dir("reasoning", "gsm8k-test-excerpt.jsonl")), Ledger())]
    return out


def _other_texts() -> list[str]:
    with gzip.open(samples_dir("tokenize", "identity.jsonl.gz"), "rt", encoding="utf-8") as f:
        return [json.loads(line)["text"] for line in f][:60]


def test_two_new_ids_after_the_whole_vocabulary(toks):
    base, ext_tok, ext = toks
    assert ext.base_size == 50277 == base.vocab_size
    assert ext.ids == {"<work>": 50277, "</work>": 50278} and ext.size == 50279
    assert ext_tok.vocab_size == 50279
    spec = json.loads(ext.path.read_text())
    assert vocab_size(spec) == 50279
    assert [t for t in spec["added_tokens"] if t["content"] in WORK_TOKENS] == [
        {"id": i, "content": c, "single_word": False, "lstrip": False, "rstrip": False, "normalized": False,
         "special": False} for c, i in ext.ids.items()]
    again, ids = add_work_tokens(spec)  # idempotent
    assert ids == ext.ids and again == spec
    with pytest.raises(ValueError, match="vocabulary token"):
        add_work_tokens(spec, ("work",))


def test_the_fast_encoder_still_encodes_and_agrees_with_hf(toks):
    _, ext_tok, ext = toks
    assert ext_tok.encoder_name == "fast", ext_tok.encoder_note
    hf = DigitSplitTokenizer(ext.path, encoder="hf")
    texts = _reasoning_texts() + ["a<work>b</work>c", "<work><work></work>", "x </work> 12<work>3", "< work>"]
    assert ext_tok.encode_batch(texts) == [hf.encode(t) for t in texts]


def test_other_text_keeps_its_ids_and_tags_decode_back(toks):
    base, ext_tok, ext = toks
    others = _other_texts()
    assert others and all("<work>" not in t and "</work>" not in t for t in others)
    assert ext_tok.encode_batch(others) == base.encode_batch(others)
    for text in _reasoning_texts():
        ids = ext_tok.encode(text)
        assert ids.count(50277) == 1 and ids.count(50278) == 1
        # around the tags, the ids are the base tokenizer's ids of each piece
        expected = []
        for piece in TAGS.split(text):
            expected += [ext.ids[piece]] if piece in ext.ids else base.encode(piece) if piece else []
        assert ids == expected
        assert ext_tok.decode(ids) == text
    # by default the tags are plain text: '<', 'work', '>' and '</', 'work', '>'
    assert len(base.encode("<work>")) == 3 and len(base.encode("</work>")) == 3
    assert max(base.encode(_reasoning_texts()[0])) < 50277


def test_digits_are_split_inside_work(toks):
    base, ext_tok, _ = toks
    ids = ext_tok.encode("<work>\n12345 * 2 = 24690\n</work>")
    digit_ids = set(base.digit_ids.values())
    inner = ids[1:-1]
    assert ids[0] == 50277 and ids[-1] == 50278
    assert [base.decode([i]) for i in inner if i in digit_ids] == list("12345" "2" "24690")


def test_cli_work_tokens_added(tmp_path: Path, capsys) -> None:
    texts = _reasoning_texts()[:4] + ["no tags at all, 2024"]
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))
    plain, added = str(tmp_path / "plain"), str(tmp_path / "added")
    assert main(["tokenize", "--jsonl", str(src), "--output", plain]) == 0
    assert not Path(plain + ".tokenizer.json").exists()
    capsys.readouterr()
    assert main(["tokenize", "--jsonl", str(src), "--output", added, "--work-tokens", "added"]) == 0
    out = capsys.readouterr().out
    assert "<work> = 50277, </work> = 50278" in out and "must gain 2 rows (50277 -> 50279" in out
    assert Path(added + ".tokenizer.json").is_file()
    a, p = RwkvStyleReader(added), RwkvStyleReader(plain)
    ext_tok = DigitSplitTokenizer(added + ".tokenizer.json")
    for k, text in enumerate(texts):
        got = [int(x) for x in a.get(k)]
        assert got[-1] == 0  # EOD
        assert ext_tok.decode(got[:-1]) == text
        plain_ids = [int(x) for x in p.get(k)]
        assert max(plain_ids) < 50277
        if "<work>" not in text:
            assert got == plain_ids
    assert DEFAULT_TOKENIZER.is_file()
