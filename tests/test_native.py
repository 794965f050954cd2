"""kllama.native (the C core) against pure-Python references: exact agreement on random Unicode text,
empty strings, a 10 MB text and texts with invalid surrogates."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import unicodedata

import numpy as np
import pyarrow as pa
import pytest
import xxhash
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kllama import native
from tests import native_reference as ref  # never put tests/ itself on sys.path: tests/tokenize would shadow

#                                            the stdlib module in every Dask worker process

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# characters that exercise the tricky rules: final sigma and its context (cased / case-ignorable),
# multi-character lowering (U+0130), digits of several scripts, cc_net punctuation, control and
# Unicode whitespace characters, combining marks, letters whose UTF-8 length changes when lowered.
TRICKY = (
    "Σσς"
    "AaZz"
    "İIıi"
    "ΑΒΓ"
    "'.:·\u00ad\u0301\u0345\u02b0\u2019"
    "0123456789"
    "٠١٢٣"
    "०१"
    "０１２"
    "²³½Ⅻ"
    "，。、„”“«»１」「《》´∶：？！（）；–—．～’…━〈〉【】％►"
    "\x00\x01\x1f\x7f\x85\x9f\xa0 \t\r\x0b\x0c\x1c\x1d\x1e\u1680\u2000\u2028\u2029\u3000"
    "ȺẞK\u2126\U00010400\U0001d400_-"
)
tricky_text = st.text(
    alphabet=st.sampled_from(TRICKY) | st.characters(exclude_categories=("Cs",)), max_size=80
)
any_text = st.text(max_size=300)  # hypothesis never generates surrogates here
texts = st.one_of(any_text, tricky_text)


def lines_text() -> st.SearchStrategy[str]:
    return st.lists(texts, max_size=6).map("\n".join)


# ------------------------------------------------------------------------------------------ hashing
@SETTINGS
@given(st.lists(st.binary(max_size=600), max_size=8), st.integers(0, 2**64 - 1))
def test_hash64_hash128_bytes(items: list[bytes], seed: int) -> None:
    h64 = native.hash64(items, seed=seed)
    h128 = native.hash128(items)
    assert h64.dtype == np.uint64 and h64.shape == (len(items),)
    assert h128.dtype == np.uint64 and h128.shape == (len(items), 2)
    for i, b in enumerate(items):
        assert int(h64[i]) == xxhash.xxh64_intdigest(b, seed) == ref.xxh64(b, seed)
        v = int(h128[i, 1]) << 64 | int(h128[i, 0])
        assert v == xxhash.xxh3_128_intdigest(b) == ref.xxh3_128(b)
        assert native.xxh3_64(b) == xxhash.xxh3_64_intdigest(b) == ref.xxh3_64(b)


def test_hash_all_length_classes() -> None:
    rnd = random.Random(7)
    items = [
        bytes(rnd.getrandbits(8) for _ in range(n)) for n in [*range(0, 260), 1023, 1024, 1025, 4096, 5000]
    ]
    h64, h128 = native.hash64(items), native.hash128(items)
    for i, b in enumerate(items):
        assert int(h64[i]) == xxhash.xxh64_intdigest(b)
        assert int(h128[i, 1]) << 64 | int(h128[i, 0]) == xxhash.xxh3_128_intdigest(b)
        assert native.xxh3_64(b) == xxhash.xxh3_64_intdigest(b)


@SETTINGS
@given(st.lists(texts, max_size=8))
def test_hash_of_str_is_hash_of_utf8(items: list[str]) -> None:
    enc = [t.encode() for t in items]
    assert np.array_equal(native.hash64(items), native.hash64(enc))
    assert [int(x) for x in native.hash64(items)] == [xxhash.xxh64_intdigest(b) for b in enc]


# ------------------------------------------------------------------------------------------ arrow inputs
def test_arrow_inputs_zero_copy_forms() -> None:
    items = ["", "héllo wörld 12", "Σ 3 ΣΑΣ", None, "x" * 1000, "٣٤ digits 56"]
    as_list = ["" if t is None else t for t in items]
    expect64 = native.hash64(as_list)
    expect_mh = native.minhash(as_list, num_perm=64, ngram=2)
    expect_cc = native.ccnet_line_hashes_batch(as_list)
    expect_ds = native.digit_split_offsets(as_list)
    forms = [
        pa.array(items, pa.string()),
        pa.array(items, pa.large_string()),
        pa.array(["pad", *items], pa.string()).slice(1),  # non-zero array offset
        pa.chunked_array([pa.array(items[:2], pa.string()), pa.array(items[2:], pa.string())]),
    ]
    for arr in forms:
        assert np.array_equal(native.hash64(arr), expect64)
        assert np.array_equal(native.minhash(arr, num_perm=64, ngram=2), expect_mh)
        h, o = native.ccnet_line_hashes_batch(arr)
        assert np.array_equal(h, expect_cc[0]) and np.array_equal(o, expect_cc[1])
        e, o = native.digit_split_offsets(arr)
        assert np.array_equal(e, expect_ds[0]) and np.array_equal(o, expect_ds[1])
        assert native.split_digits(arr) == [ref.split_digits(t) for t in as_list]
    assert native.hash64(pa.chunked_array([], pa.string())).shape == (0,)
    assert native.hash128([]).shape == (0, 2)
    assert native.minhash([], num_perm=16).shape == (0, 16)


def test_seeds_wrap_to_64_bits() -> None:
    assert np.array_equal(native.hash64(["x"], seed=-1), native.hash64(["x"], seed=2**64 - 1))
    assert np.array_equal(native.minhash(["a b"], seed=-1), native.minhash(["a b"], seed=2**64 - 1))


def test_single_str_and_bytes_are_batches_of_one() -> None:
    assert np.array_equal(native.hash64("abc"), native.hash64(["abc"]))
    assert np.array_equal(native.hash64(b"abc"), native.hash64(["abc"]))
    assert native.minhash("a b c d e f", num_perm=8).shape == (1, 8)


# ------------------------------------------------------------------------------------------ shingles / minhash
@SETTINGS
@given(texts, st.integers(1, 6))
def test_shingle_hashes_match_reference(text: str, ngram: int) -> None:
    got = native.shingle_hashes(text, ngram=ngram)
    assert got.dtype == np.uint64
    assert got.tolist() == ref.shingle_hashes(text, ngram).tolist()


def test_shingle_rules() -> None:
    assert native.shingle_hashes("", 5).size == 0
    assert native.shingle_hashes(" ,;- _ ", 5).size == 0  # '_' is not a word character
    short = native.shingle_hashes("Hello, World!", 5)  # 2 words < 5: one shingle of all words
    assert short.tolist() == [ref.shingle_hash(("hello", "world"))]
    six = native.shingle_hashes("a b c d e f", 5)
    assert six.tolist() == [ref.shingle_hash(tuple("abcde")), ref.shingle_hash(tuple("bcdef"))]
    # final sigma inside a word, U+0130's two-character lowering, digits of other scripts are word chars
    assert native.shingle_hashes("ΟΔΟΣ İstanbul ٣٤", 3).tolist() == [
        ref.shingle_hash(("οδος", "i̇stanbul", "٣٤"), hasher=xxhash.xxh3_64_intdigest)
    ]
    assert ref.words("ΣΑΣ's x_y ΣΣ") == ["σας", "s", "x", "y", "σς"]


@SETTINGS
@given(
    st.lists(texts, min_size=1, max_size=4), st.integers(1, 70), st.integers(1, 5), st.integers(0, 2**64 - 1)
)
def test_minhash_matches_reference(items: list[str], num_perm: int, ngram: int, seed: int) -> None:
    got = native.minhash(items, num_perm=num_perm, ngram=ngram, seed=seed)
    assert got.dtype == np.uint32 and got.shape == (len(items), num_perm)
    for i, t in enumerate(items):
        assert (
            got[i].tolist() == ref.minhash(t, num_perm, ngram, seed, hasher=xxhash.xxh3_64_intdigest).tolist()
        )


def test_minhash_coefficients_and_empty_doc() -> None:
    a, b, c = native.minhash_coefficients(200, 42)
    ra, rb, rc = ref.minhash_coefficients(200, 42)
    assert a.tolist() == ra.tolist() and b.tolist() == rb.tolist() and c.tolist() == rc.tolist()
    sig = native.minhash(["", "!!! ???"], num_perm=128)
    assert (sig == np.uint32(0xFFFFFFFF)).all()
    assert np.array_equal(native.minhash(["x y z"], seed=3), native.minhash(["x y z"], seed=3))
    assert not np.array_equal(native.minhash(["x y z"], seed=3), native.minhash(["x y z"], seed=4))


def test_minhash_estimates_jaccard() -> None:
    rnd = random.Random(0)
    vocab = [f"w{i}" for i in range(5000)]
    base = [rnd.choice(vocab) for _ in range(600)]
    for keep in (0.9, 0.5, 0.2):
        other = [w if rnd.random() < keep else rnd.choice(vocab) for w in base]
        s1, s2 = set(ref.shingles(" ".join(base))), set(ref.shingles(" ".join(other)))
        true_j = len(s1 & s2) / len(s1 | s2)
        sig = native.minhash([" ".join(base), " ".join(other)], num_perm=256)
        est = float((sig[0] == sig[1]).mean())
        assert abs(est - true_j) < 0.08, (keep, true_j, est)


# ------------------------------------------------------------------------------------------ digits
@SETTINGS
@given(st.lists(texts, max_size=6))
def test_split_digits_matches_reference(items: list[str]) -> None:
    got = native.split_digits(items)
    assert got == [ref.split_digits(t) for t in items]
    assert native.split_digits(items, ascii_only=True) == [
        ref.split_digits(t, ascii_only=True) for t in items
    ]
    for t, pieces in zip(items, got, strict=True):
        assert "".join(pieces) == t
        assert all(len(p) == 1 for p in pieces if p[0].isdecimal())


def test_digit_definition() -> None:
    assert native.split_digits(["v1.23 ٣٤ ０１ ²½ Ⅻ"]) == [
        ["v", "1", ".", "2", "3", " ", "٣", "٤", " ", "０", "１", " ²½ Ⅻ"]
    ]
    assert all(unicodedata.category(c) == "Nd" for c in "0٣٤０")
    assert native.split_digits(["v1 ٣٤ ０"], ascii_only=True) == [["v", "1", " ٣٤ ０"]]
    assert native.split_digits(iter(["a1"])) == [["a", "1"]]
    ends, offs = native.digit_split_offsets(["ab12", "", "x"])
    assert ends.tolist() == [2, 3, 4, 1] and offs.tolist() == [0, 3, 3, 4]


# ------------------------------------------------------------------------------------------ cc_net
def test_ccnet_table_is_cc_nets() -> None:
    assert len(ref.UNICODE_PUNCT_KEYS) == 34  # cc_net's UNICODE_PUNCT has 34 entries
    for c in ref.UNICODE_PUNCT_KEYS + "".join(map(chr, [*range(32), *range(127, 160)])):
        # digits are folded to "0" before punctuation is removed, so cc_net's "１" (U+FF11) becomes "0"
        assert native.ccnet_normalize("a" + c + "b") == ("a0b" if c == "１" else "ab")
        assert ref.normalize_for_dedup("a" + c + "b") == ("a0b" if c == "１" else "ab")


@SETTINGS
@given(lines_text())
def test_ccnet_line_hashes_match_reference(text: str) -> None:
    got = native.ccnet_line_hashes(text)
    assert got.dtype == np.uint64
    assert got.tolist() == ref.ccnet_line_hashes(text).tolist()
    for line in text.split("\n"):
        assert native.ccnet_normalize(line) == ref.normalize_for_dedup(line)


@SETTINGS
@given(st.lists(lines_text(), max_size=5))
def test_ccnet_batch_matches_reference(items: list[str]) -> None:
    hashes, offsets = native.ccnet_line_hashes_batch(items)
    assert offsets.tolist()[0] == 0 and len(offsets) == len(items) + 1
    for i, t in enumerate(items):
        assert hashes[offsets[i] : offsets[i + 1]].tolist() == ref.ccnet_line_hashes(t).tolist()


def test_ccnet_every_code_point() -> None:
    """Each code point alone, and between contexts that trigger strip / final sigma rules."""
    # every assigned plane (0-3, 14) in full, the unassigned / private-use rest sampled
    codes = [*range(0x32400), *range(0xE0000, 0xE1000), *range(0x32400, 0x110000, 101)]
    cps = [chr(c) for c in codes if not 0xD800 <= c <= 0xDFFF and c != 10]  # "\n" splits lines
    for fmt in (" {} ", "{}Σ", "x{}Σ", "AΣ{}"):
        lines = [fmt.format(c) for c in cps]
        hashes, _ = native.ccnet_line_hashes_batch(["\n".join(lines)])
        expect = [ref.ccnet_line_hash(line) for line in lines]
        assert hashes.tolist() == expect, fmt


def test_ccnet_examples() -> None:
    assert native.ccnet_normalize("  Hello WORLD 123 ，ΣΑΣ  ") == "hello world 000 σας"
    assert native.ccnet_normalize("\u3000\x1c  \u2028") == ""
    assert native.ccnet_normalize("Café – İ ＡＢ１２") == "café  i̇ ａｂ00"
    assert native.ccnet_line_hashes("").tolist() == [ref.ccnet_line_hash("")]
    assert len(native.ccnet_line_hashes("a\n\nb\n")) == 4


# ------------------------------------------------------------------------------------------ big / bad input
def test_ten_megabyte_text() -> None:
    rnd = random.Random(1)
    vocab = ["the", "Σοφία", "İzmir", "naïve", "42", "٣", "，", "ΣΑΣ", "data-set", "x_y", "\u00ad", "café"]
    tokens = [w + sep for w in vocab for sep in (" ", " ", " ", "\n", ", ", "\t")]
    text = ""
    while len(text.encode()) < 10_000_000:
        text += "".join(rnd.choices(tokens, k=1_000_000))
    data = text.encode()
    assert len(data) >= 10_000_000
    assert int(native.hash64([text])[0]) == xxhash.xxh64_intdigest(data)
    h = native.hash128([text])[0]
    assert int(h[1]) << 64 | int(h[0]) == xxhash.xxh3_128_intdigest(data)
    assert (
        native.shingle_hashes(text).tolist() == ref.shingle_hashes(text, 5, xxhash.xxh3_64_intdigest).tolist()
    )
    assert native.ccnet_line_hashes(text).tolist() == ref.ccnet_line_hashes(text).tolist()
    assert native.split_digits([text])[0] == ref.split_digits(text)
    head = text[:300_000]
    sig = native.minhash([head], num_perm=32)[0]
    assert sig.tolist() == ref.minhash(head, 32, 5, 1, hasher=xxhash.xxh3_64_intdigest).tolist()
    # whole 10 MB: the signature from the (reference-checked) shingle hashes, in numpy chunks
    hs = native.shingle_hashes(text)
    a, b, c = (v.astype(np.uint64)[:, None] for v in ref.minhash_coefficients(16, 1))
    expect = np.full(16, 0xFFFFFFFF, dtype=np.uint64)
    for k in range(0, len(hs), 400_000):
        h = hs[k : k + 400_000]
        v = (a * (h & np.uint64(0xFFFFFFFF)) + b * (h >> np.uint64(32)) + c) & np.uint64(0xFFFFFFFF)
        expect = np.minimum(expect, v.min(axis=1))
    assert native.minhash([text], num_perm=16)[0].tolist() == expect.tolist()


BAD = ["ok", "abc\ud800def"]


@pytest.mark.parametrize(
    "call",
    [
        lambda: native.hash64(BAD),
        lambda: native.hash128(BAD),
        lambda: native.minhash(BAD),
        lambda: native.split_digits(BAD),
        lambda: native.digit_split_offsets(BAD),
        lambda: native.ccnet_line_hashes_batch(BAD),
        lambda: native.ccnet_line_hashes(BAD[1]),
        lambda: native.shingle_hashes(BAD[1]),
        lambda: native.ccnet_normalize("\udfff"),
    ],
)
def test_surrogates_raise_clear_error(call) -> None:
    with pytest.raises(ValueError, match="surrogate"):
        call()


@pytest.mark.parametrize(
    "bad", [b"\xff", b"ab\xc3", b"\xed\xa0\x80", b"\xc0\xaf", b"\xf4\x90\x80\x80", b"\xe0\x80\x80"]
)
def test_invalid_utf8_bytes(bad: bytes) -> None:
    assert native.hash64([bad]).shape == (1,)  # raw-byte hashing accepts anything
    for call in (native.minhash, native.digit_split_offsets, native.ccnet_line_hashes_batch):
        with pytest.raises(ValueError, match="not valid UTF-8"):
            call([b"fine", bad])
    with pytest.raises(ValueError, match="not valid UTF-8"):
        native.shingle_hashes(bad)
    with pytest.raises(ValueError, match="not valid UTF-8"):
        native.minhash(pa.array([b"x", bad], pa.binary()))


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        native.minhash(["a"], num_perm=0)
    with pytest.raises(ValueError):
        native.shingle_hashes("a", ngram=0)
    with pytest.raises(TypeError):
        native.hash64([1, 2])


def test_portable_fallbacks_agree() -> None:
    """The scalar / AVX2 / AVX-512 MinHash kernels and plain-C / SHA-NI SHA-1 give the same results."""
    code = (
        "import numpy as np, sys; from kllama import native; "
        "t=['Σ '+'word%d '%i*40 for i in range(30)]+['']; "
        "sys.stdout.write(native.minhash(t, num_perm=100).tobytes().hex()+native.ccnet_line_hashes_batch(t)[0].tobytes().hex())"
    )
    outs = []
    for off in ({}, {"KLLAMA_NO_AVX512": "1"}, {"KLLAMA_NO_AVX2": "1", "KLLAMA_NO_SHA_NI": "1"}):
        env = {**os.environ, **off}
        outs.append(
            subprocess.run(
                [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
            ).stdout
        )
    assert outs[0] == outs[1] == outs[2] and len(outs[0]) > 1000


def test_tables_match_this_python() -> None:
    """The build regenerates the tables when the Python's Unicode version differs from the committed one."""
    assert native.UNICODE_VERSION == unicodedata.unidata_version


def test_words_every_code_point() -> None:
    """Word splitting and lowercasing (with final sigma) for every code point of the assigned planes."""
    codes = [*range(0x32400), *range(0xE0000, 0xE1000)]
    cps = [chr(c) for c in codes if not 0xD800 <= c <= 0xDFFF]
    for fmt in ("{}Σ", "a{}Σ", "AΣ{}b"):
        text = " / ".join(fmt.format(c) for c in cps)
        got = native.shingle_hashes(text, ngram=1)
        assert got.tolist() == ref.shingle_hashes(text, 1, xxhash.xxh3_64_intdigest).tolist(), fmt
