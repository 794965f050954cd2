"""The fast encoder (tiktoken) gives HF ``tokenizers``' ids document for document, with and without digit
splitting, on every kind of sample text and on generated Unicode; it is the default, and kllama falls back to HF
(saying why) when the tokenizer file is one it cannot reproduce."""

from __future__ import annotations

import gzip
import json
import unicodedata
import warnings
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kllama.tokenize.fast_encoder import PROBE_TEXT, FastEncoder, Unsupported, byte_alphabet, pattern
from kllama.tokenize.jsonl import tokenize_jsonl
from kllama.tokenize.tokenizer import DEFAULT_TOKENIZER, DigitSplitTokenizer
from tests.conftest import samples_dir

SETTINGS = [(True, True), (False, True), (True, False), (False, False)]  # (split_digits, literal_special)
_PAIRS = {s: (DigitSplitTokenizer(split_digits=s[0], literal_special=s[1]),
              DigitSplitTokenizer(split_digits=s[0], literal_special=s[1], encoder="hf")) for s in SETTINGS}
KINDS = {"code", "wikipedia", "latex", "stackexchange", "gsm8k", "c4", "books", "naughty", "dialogue"}


def _records() -> list[dict[str, str]]:
    with gzip.open(samples_dir("tokenize", "identity.jsonl.gz"), "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def _first_difference(fast: list[int], hf: list[int], tok: DigitSplitTokenizer) -> str:
    i = next((k for k, (a, b) in enumerate(zip(fast, hf, strict=False)) if a != b), min(len(fast), len(hf)))
    return f"at token {i}: fast {fast[i:i + 4]} != hf {hf[i:i + 4]} near {tok.decode(hf[max(0, i - 4):i + 4])!r}"


def test_fast_encoder_is_the_default_for_the_bundled_file() -> None:
    for fast, hf in _PAIRS.values():
        assert fast.encoder_name == "fast" and "self-check passed" in fast.encoder_note
        assert hf.encoder_name == "hf" and hf.fast is None


@pytest.mark.parametrize("split_digits,literal_special", SETTINGS)
def test_identity_on_every_sample_kind(split_digits: bool, literal_special: bool) -> None:
    recs = _records()
    assert {r["kind"] for r in recs} == KINDS
    fast, hf = _PAIRS[(split_digits, literal_special)]
    texts = [r["text"] for r in recs]
    for rec, a, b in zip(recs, fast.encode_batch(texts), hf.encode_batch(texts), strict=True):
        assert a == b, f"{rec['kind']} / {rec['origin']}: {_first_difference(a, b, hf)}"


def test_identity_on_the_golden_json2binidx_sample(tmp_path: Path) -> None:
    sample = samples_dir("binidx")
    for split in (False, True):
        fast, hf = _PAIRS[(split, True)]
        a = tokenize_jsonl(sample / "sample.jsonl", tmp_path / f"f{split}", fast)
        b = tokenize_jsonl(sample / "sample.jsonl", tmp_path / f"h{split}", hf)
        assert (a.docs, a.tokens) == (b.docs, b.tokens)
        for ext in ("bin", "idx"):
            assert (tmp_path / f"f{split}.{ext}").read_bytes() == (tmp_path / f"h{split}.{ext}").read_bytes()
    # and the json2binidx bytes themselves (as test_binidx), through the fast encoder
    assert (tmp_path / "fFalse.bin").read_bytes() == (sample / "sample_data_text_document.bin").read_bytes()


EDGE_CASES = [
    *(" " * n for n in range(1, 75)),
    *(f"a{' ' * n}b" for n in range(1, 75)),
    *(f"x{' ' * n}1{' ' * n}\n" for n in (1, 2, 3, 23, 24, 25, 26, 48, 49, 50)),
    *(f"{' ' * n}\t{' ' * n}" for n in (1, 2, 25)),
    "\t\tdef f():\r\n\t\t    return 1\r\n", "a\r\n\r\n  b\r\n", "\r\n" * 5, " \r\n ", "  \r\n  ",
    "٠١٢٣٤٥٦٧٨٩ ۰۱۲ ० १२ ০১ ੧੨ ૧૨ ୧ ௧௨ ౧ ೧ ൧ ๑๒ ໑ ༡ ၁ ១ ᠑ ０１２ 𝟎𝟏 ",  # Nd of many scripts
    "² ³ ¹ ¼ ½ ¾ ① ⑳ ㉑ ⅰ Ⅻ 〇 〡 𐄇 x²+y³ 1½ 2⁵",  # No and Nl
    "e\u0301 a\u0308\u0304 \u0301start 1\u0301 2\u0303x  \u0301  \u0327c Å Å ḉ \u1e9b\u0323 ﬃ",  # combining
    "<|endoftext|>", "a<|endoftext|>b", " <|endoftext|> ", "<|endoftext|><|padding|>", "<|endoftext|>\u0338",
    "<|endo<|endoftext|>ftext|>", "1<|endoftext|>2", "  <|padding|>  ", "<|endoftext", "|endoftext|>",
    "it's 'S 'll' don't 9's '1 ' 's", "\u00a0\u00a01\u3000 2\u2009\u200a3 \u2028\u2029\x85\x0b\x0c",
    "", "1", " 1", "  1", "1 ", "1  ", "\n1\n", "a1b2c3 12345 3.14 -7e10 0x1F 1,000,000",
]


@pytest.mark.parametrize("split_digits,literal_special", SETTINGS)
def test_identity_on_edge_cases(split_digits: bool, literal_special: bool) -> None:
    fast, hf = _PAIRS[(split_digits, literal_special)]
    for text in [*EDGE_CASES, PROBE_TEXT]:
        assert fast.encode(text) == hf.encode(text), f"{text!r}: {_first_difference(fast.encode(text), hf.encode(text), hf)}"
    assert fast.encode_batch(EDGE_CASES) == hf.encode_batch(EDGE_CASES)


def test_literal_special_tokens_stay_text_with_the_fast_encoder() -> None:
    fast, _ = _PAIRS[(True, True)]
    ids = fast.encode("a <|endoftext|> b <|padding|>")
    assert 0 not in ids and 1 not in ids
    cut, _ = _PAIRS[(True, False)]
    assert cut.encode("a <|endoftext|> b <|padding|>").count(0) == 1


def test_space_runs_are_the_added_tokens() -> None:
    fast, _ = _PAIRS[(True, True)]
    assert fast.encode("  ") == [50276] and fast.encode(" " * 24) == [50254]
    assert fast.encode(" " * 50 + "x") == [50254, 50254, 50276, 89]  # leftmost-longest: 24 + 24 + 2, then "x"
    assert fast.encode(" " * 25 + "x") == [50254, fast.base.token_to_id("Ġx")]


# hypothesis: random Unicode plus the characters where the pipelines could part
_specials = st.sampled_from(["<|endoftext|>", "<|padding|>", "\r\n", "\t", "\u00a0", "\u3000", "'s", "'ll"])
_spaces = st.integers(1, 60).map(lambda n: " " * n)
_digits = st.text(st.sampled_from(list("0123456789٣٤۵१২੩૪୫௬౭೮൯๙໐၁០０１²³½①Ⅻ")), min_size=1, max_size=6)
_marks = st.text(st.characters(categories=("Mn", "Mc", "Me")), min_size=1, max_size=3)
_any = st.text(st.characters(exclude_categories=("Cs",)), max_size=10)
_letters = st.text(st.characters(categories=("L",)), min_size=1, max_size=8)
unicode_docs = st.lists(st.one_of(_any, _specials, _spaces, _digits, _marks, _letters), max_size=16).map("".join)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(unicode_docs, st.sampled_from(SETTINGS))
def test_identity_on_generated_unicode(text: str, setting: tuple[bool, bool]) -> None:
    fast, hf = _PAIRS[setting]
    assert fast.encode(text) == hf.encode(text)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(unicode_docs, max_size=12))
def test_batch_on_threads_equals_one_by_one(texts: list[str]) -> None:
    fast, hf = _PAIRS[(True, True)]
    assert fast.fast is not None
    assert fast.fast.encode_batch(texts, threads=3) == [fast.encode(t) for t in texts] == hf.encode_batch(texts)


def test_unicode_sweep_every_31st_code_point() -> None:
    """One in 31 of all code points (the full sweep is ``bench_tokenize_fast.py --sweep``) in contexts that
    reveal how each is classed (letter, number, whitespace) and composed."""
    cps = [c for c in range(3, 0x110000, 31) if not 0xD800 <= c < 0xE000]
    texts = ["".join(f"x{chr(c)}y 1{chr(c)}2 {chr(c)}\n" for c in cps[i:i + 512]) for i in range(0, len(cps), 512)]
    for setting in ((True, True), (False, True)):
        fast, hf = _PAIRS[setting]
        for t, a, b in zip(texts, fast.encode_batch(texts), hf.encode_batch(texts), strict=True):
            assert a == b, f"code points from U+{ord(t[1]):04X}: {_first_difference(a, b, hf)}"


def _tiny_file(tmp_path: Path, merges: list[str], extra: dict | None = None, added: list[dict] | None = None,
               **top: object) -> Path:
    """A ByteLevel BPE file: every UTF-8 byte, the digits' bytes, and the given merges (ids in merge order)."""
    vocab = {"<|endoftext|>": 0}
    for ch in byte_alphabet():
        vocab[ch] = len(vocab)
    for m in merges:
        vocab.setdefault(m.replace(" ", ""), len(vocab))
    spec = {"version": "1.0", "truncation": None, "padding": None,
            "added_tokens": [{"id": 0, "content": "<|endoftext|>", "special": True, "single_word": False,
                              "lstrip": False, "rstrip": False, "normalized": False}, *(added or [])],
            "normalizer": {"type": "NFC"},
            "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True},
            "post_processor": None,
            "decoder": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
            "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                      "end_of_word_suffix": None, "fuse_unk": False, "vocab": vocab, "merges": merges}}
    spec.update(top)
    for k, v in (extra or {}).items():
        spec["model"][k] = v
    path = tmp_path / "tok.json"
    path.write_text(json.dumps(spec))
    return path


def test_small_consistent_file_uses_the_fast_encoder(tmp_path: Path) -> None:
    path = _tiny_file(tmp_path, ["a b", "ab c", "Ġ ab"])
    tok = DigitSplitTokenizer(path)
    assert tok.encoder_name == "fast"
    ref = DigitSplitTokenizer(path, encoder="hf")
    for text in ("abc ab abab  ab 12 é", PROBE_TEXT):
        assert tok.encode(text) == ref.encode(text)


@pytest.mark.parametrize("change,reason", [
    ({"top": {"normalizer": {"type": "NFKC"}}}, "normalizer 'NFKC'"),
    ({"top": {"post_processor": {"type": "TemplateProcessing", "single": [], "pair": [],
                                 "special_tokens": {}}}}, "post-processor 'TemplateProcessing'"),
    ({"extra": {"byte_fallback": True}}, "byte fallback"),
    ({"added": [{"id": 300, "content": "abc", "special": False, "single_word": False, "lstrip": False,
                 "rstrip": False, "normalized": True}]}, "added token 'abc'"),
    ({"added": [{"id": 300, "content": "   ", "special": False, "single_word": False, "lstrip": False,
                 "rstrip": False, "normalized": True}]}, "not every length from 2"),
    ({"merges": ["b c", "a b", "a bc"][::-1]}, "ids do not increase"),
    # "b c" has the lower rank, so HF encodes "abc" as a + bc and never reaches the token abc (made by ab + c)
    ({"merges": ["b c", "a b", "ab c"]}, "encodes the merge result 'abc'"),
])
def test_unsupported_file_falls_back_to_hf_and_says_why(tmp_path: Path, change: dict, reason: str) -> None:
    path = _tiny_file(tmp_path, change.get("merges", ["a b"]), change.get("extra"), change.get("added"),
                      **change.get("top", {}))
    with pytest.warns(UserWarning, match="using HF tokenizers") as rec:
        tok = DigitSplitTokenizer(path)
    assert tok.encoder_name == "hf" and reason in tok.encoder_note and reason in str(rec[0].message)
    with pytest.raises(ValueError, match="fast encoder cannot be used"):
        DigitSplitTokenizer(path, encoder="fast")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert DigitSplitTokenizer(path, encoder="hf").encoder_name == "hf"


def test_inconsistent_merges_would_really_differ(tmp_path: Path) -> None:
    """The self-check's reason is real: on such a file tiktoken's rank-by-token BPE gives other ids."""
    path = _tiny_file(tmp_path, ["b c", "a b", "ab c"])
    spec = json.loads(path.read_text())
    fast = FastEncoder(spec, split_digits=False)
    hf = DigitSplitTokenizer(path, split_digits=False, encoder="hf")
    assert fast.encode("abc") != hf.encode("abc")


def test_bad_encoder_name() -> None:
    with pytest.raises(ValueError, match="encoder"):
        DigitSplitTokenizer(encoder="turbo")


def test_unsupported_is_a_value_error() -> None:
    assert issubclass(Unsupported, ValueError)
    assert " {2,24}" in pattern(True, 24) and "[0-9]" in pattern(True, 24) and "{2," not in pattern(False, 0)
    assert DEFAULT_TOKENIZER.is_file()


def test_nfd_input_gives_the_nfc_ids() -> None:
    fast, hf = _PAIRS[(True, True)]
    text = "Ångström café naïve 1ère"
    assert fast.encode(unicodedata.normalize("NFD", text)) == hf.encode(text)


def test_cli_encoder_flag_same_bytes(tmp_path: Path, capsys) -> None:
    from kllama.cli import main

    sample = str(samples_dir("binidx") / "sample.jsonl")
    for enc in ("auto", "hf", "fast"):
        assert main(["tokenize", "--jsonl", sample, "--output", str(tmp_path / enc), "--encoder", enc]) == 0
        printed = capsys.readouterr().out
        assert f"encoder: {'fast' if enc == 'auto' else enc} (" in printed
    for ext in ("bin", "idx"):
        assert len({(tmp_path / f"{e}.{ext}").read_bytes() for e in ("auto", "hf", "fast")}) == 1

