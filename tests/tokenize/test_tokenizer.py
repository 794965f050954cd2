"""Digit splitting keeps the 20B tokenizer's ids: hypothesis round trips on random Unicode.

The regex tests check HF's own pre-tokenizers (``encoder="hf"``); ``test_fast_encoder.py`` checks that the fast
encoder gives the same ids."""

from __future__ import annotations

import re
import unicodedata

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kllama.tokenize.tokenizer import DEFAULT_TOKENIZER, DigitSplitTokenizer

SPECIALS = ("<|endoftext|>", "<|padding|>")
DIGIT_TOKENS = {str(d) for d in range(10)}

# random Unicode (no lone surrogates: they are not text) mixed with digits, spaces and the special strings
unicode_text = st.lists(
    st.one_of(
        st.text(st.characters(exclude_categories=("Cs",)), max_size=8),
        st.text(st.sampled_from(list("0123456789 \n\t.,-")), max_size=8),
        st.sampled_from(["<|endoftext|>", "<|padding|>", "  ", "   ", "é", "e\u0301", "１２", "²", "٣"]),
    ),
    max_size=12,
).map("".join)
fast = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def tok() -> DigitSplitTokenizer:
    return DigitSplitTokenizer()


@pytest.fixture(scope="module")
def plain() -> DigitSplitTokenizer:
    return DigitSplitTokenizer(split_digits=False)


def test_bundled_tokenizer_is_the_rwkv_file(tok: DigitSplitTokenizer) -> None:
    assert tok.path == DEFAULT_TOKENIZER
    assert tok.sha256 == "56ac4821e129d2c520fdaba60abd920fa852ada51b45c0dd52bbb6bd8c985ade"
    assert tok.vocab_size == 50277 and tok.eod_id == 0
    assert (DEFAULT_TOKENIZER.parent / "NOTICE").read_text().count("Apache") >= 1


# whitespace-heavy text around digits: where the fused regex could differ from the two-step reference
spacy_text = st.text(st.sampled_from(list("0123456789 \t\n\r\u00a0\u3000'sdtxé²٣.-_")), max_size=40)


@fast
@given(st.one_of(unicode_text, spacy_text))
def test_fused_regex_equals_split_then_bytelevel(text: str) -> None:
    assert _TOK.encode(text) == _REF.encode(text)


@fast
@given(st.one_of(unicode_text, spacy_text))
def test_gpt2_regex_constant_is_the_bytelevel_one(text: str) -> None:
    assert _GPT2.encode(text).ids == _TOK.base.encode(text).ids


@fast
@given(unicode_text)
def test_decode_gives_nfc_of_input(text: str) -> None:
    tok = _TOK
    assert tok.decode(tok.encode(text)) == unicodedata.normalize("NFC", text)


@fast
@given(unicode_text)
def test_without_digits_ids_are_the_tokenizers(text: str) -> None:
    text = re.sub("[0-9]", "", text)
    for s in SPECIALS:
        text = text.replace(s, "")
    assert _TOK.encode(text) == _TOK.base.encode(text).ids


@fast
@given(unicode_text)
def test_every_digit_is_one_single_digit_token(text: str) -> None:
    ids = _TOK.encode(text)
    pieces = [_TOK.base.id_to_token(i) for i in ids]
    digit_pieces = [p for p in pieces if any(c in "0123456789" for c in p)]
    # no vocabulary token holds a digit together with anything else ...
    assert all(p in DIGIT_TOKENS for p in digit_pieces)
    # ... and the digits come out one for one, in order
    assert "".join(digit_pieces) == re.sub("[^0-9]", "", unicodedata.normalize("NFC", text))
    assert ids.count(0) == 0  # a literal <|endoftext|> never becomes the EOD


def test_numbers_are_split_like_llama(tok: DigitSplitTokenizer, plain: DigitSplitTokenizer) -> None:
    assert [tok.base.id_to_token(i) for i in plain.encode("in 12345")] == ["in", "Ġ12", "345"]
    assert [tok.base.id_to_token(i) for i in tok.encode("in 12345")] == ["in", "Ġ", "1", "2", "3", "4", "5"]
    assert tok.encode("x 3.14") == [tok.base.token_to_id(t) for t in ["x", "Ġ", "3", ".", "1", "4"]]


def test_literal_special_tokens_are_text(tok: DigitSplitTokenizer) -> None:
    text = "a <|endoftext|> b <|padding|>"
    assert tok.base.encode(text).ids.count(0) == 1  # json2binidx would make it the EOD
    ids = tok.encode(text)
    assert 0 not in ids and 1 not in ids
    assert tok.decode(ids) == text


def test_other_tokenizer_without_digit_tokens_is_refused(tmp_path) -> None:
    from tokenizers import Tokenizer, models, pre_tokenizers

    t = Tokenizer(models.BPE(vocab={"<|endoftext|>": 0, "a": 1, "b": 2}, merges=[]))
    t.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    t.save(str(tmp_path / "t.json"))
    assert DigitSplitTokenizer(tmp_path / "t.json", split_digits=False).encode("ab") == [1, 2]
    with pytest.raises(ValueError, match="single-digit"):
        DigitSplitTokenizer(tmp_path / "t.json")


def test_unreadable_tokenizer_file_is_a_value_error(tmp_path) -> None:
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ValueError, match="cannot load tokenizer"):
        DigitSplitTokenizer(tmp_path / "bad.json")


_TOK = DigitSplitTokenizer(encoder="hf")
_REF = DigitSplitTokenizer(fused=False, encoder="hf")


def _gpt2_by_split():
    from tokenizers import Regex, Tokenizer, pre_tokenizers

    from kllama.tokenize.tokenizer import GPT2_REGEX

    t = Tokenizer.from_file(str(DEFAULT_TOKENIZER))
    t.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Split(Regex(GPT2_REGEX), behavior="isolated"),
                                               pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    return t


_GPT2 = _gpt2_by_split()
