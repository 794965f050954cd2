r"""A fast encoder (``tiktoken``'s Rust byte-pair encoder) that gives the ids of a ``tokenizers`` BPE file.

HF ``tokenizers`` encodes a document in four steps; :class:`FastEncoder` reproduces each of them:

1. **added tokens**: the non-normalized ones (``<|endoftext|>``, ``<|padding|>`` in the 20B file) are cut out of
   the raw text, leftmost-longest -- unless they are special and kllama encodes them as text (``literal_special``,
   the default: then they are ordinary text). Here: a Python split on the raw text (only without
   ``literal_special``).
2. **normalizer** (NFC) on each remaining segment; the normalized added tokens -- the 20B file's runs of 2..24
   ASCII spaces, ids 50254-50276 -- are then cut out, leftmost-longest. Here: the segment is NFC-normalized with
   HF's own normalizer (so the Unicode version is HF's), and the space runs become an alternative
   `` {2,24}`` of the pre-tokenizer regex, tried first. Cutting a run out makes a segment end there; the regex
   sees the same thing when its whitespace atom never takes a space that starts a double space
   (``(?:(?! {2})\s)``): a whitespace piece then stops in front of a run, and ``(?!\S)`` is true in front of a
   space as it is at a segment end. A run piece is its own vocabulary entry (``tiktoken`` looks a whole piece
   up before merging), and no other piece holds two spaces, so runs never take part in merges.
3. **pre-tokenizer**: ByteLevel's GPT-2 regex, or with kllama's digit rule the fused regex of
   :mod:`kllama.tokenize.tokenizer` (every ASCII digit its own piece; a whitespace run before a digit ends there).
4. **BPE**: ``tiktoken`` merges the adjacent pair whose concatenation has the lowest rank; HF merges the pair
   with the lowest merge index. With rank = token id the two agree when (a) the merge results are unique and
   their ids increase with the merge index and (b) every merge result, encoded alone by HF, is itself -- then a
   pair that concatenates to a token but is not that token's merge is never the cheapest pair (HF would have
   left the same pair unmerged on the token's own bytes). :func:`check_structure` checks (a) statically and
   :func:`self_check` checks (b) for all merge results and compares ids on a probe text.

Every unsupported feature of a tokenizer file (another normalizer or pre-tokenizer, a template post-processor,
byte fallback, added tokens other than specials and space runs, ...) raises :class:`Unsupported` with the reason;
:class:`kllama.tokenize.tokenizer.DigitSplitTokenizer` then falls back to HF and says why.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from typing import Any

#: the 256 bytes as ByteLevel's printable characters (GPT-2 ``bytes_to_unicode``), inverted
_PRINTABLE = [*range(0x21, 0x7F), *range(0xA1, 0xAD), *range(0xAE, 0x100)]
#: bytes that never occur in UTF-8 text (a vocabulary may lack their tokens)
NON_UTF8_BYTES = frozenset([0xC0, 0xC1, *range(0xF5, 0x100)])
#: a whitespace character that does not start a run of two ASCII spaces
_WS = r"(?:(?! {2})\s)"


def byte_alphabet() -> dict[str, int]:
    """ByteLevel's character for each byte -> the byte."""
    out: dict[str, int] = {chr(b): b for b in _PRINTABLE}
    extra = 0
    for b in range(256):
        if b not in _PRINTABLE:
            out[chr(256 + extra)] = b
            extra += 1
    return out


class Unsupported(ValueError):
    """The tokenizer file uses something the fast encoder does not reproduce (the message says what)."""


def pattern(split_digits: bool, max_run: int) -> str:
    """The pre-tokenizer regex (Rust ``fancy-regex`` syntax) with space runs of 2..``max_run`` as pieces."""
    ws = _WS if max_run >= 2 else r"\s"
    run = [f" {{2,{max_run}}}"] if max_run >= 2 else []
    numbers = [r" ?[\p{N}--0-9]+", "[0-9]"] if split_digits else [r" ?\p{N}+"]
    before_digit = [f"{ws}+(?=[0-9])"] if split_digits else []
    return "|".join([*run, "'s", "'t", "'re", "'ve", "'m", "'ll", "'d", r" ?\p{L}+", *numbers,
                     r" ?[^\s\p{L}\p{N}]+", *before_digit, f"{ws}+(?!\\S)", f"{ws}+"])


def check_structure(spec: dict[str, Any], *, literal_special: bool) -> tuple[dict[bytes, int], int, list[str]]:
    """Check that ``spec`` (a parsed ``tokenizer.json``) is a pipeline the fast encoder reproduces.

    Returns (ranks: token bytes -> id, longest space-run added token (0: none), special strings to cut out of
    the raw text); raises :class:`Unsupported` with the reason otherwise."""
    norm = spec.get("normalizer")
    if norm is not None and norm.get("type") != "NFC":
        raise Unsupported(f"normalizer {norm.get('type')!r} (only NFC or none)")
    pre = spec.get("pre_tokenizer") or {}
    if pre.get("type") != "ByteLevel":
        raise Unsupported(f"pre-tokenizer {pre.get('type')!r} (only ByteLevel)")
    if pre.get("add_prefix_space", True) or not pre.get("use_regex", True):
        raise Unsupported("ByteLevel pre-tokenizer with add_prefix_space or without its regex")
    post = spec.get("post_processor")
    if post is not None and post.get("type") != "ByteLevel":
        raise Unsupported(f"post-processor {post.get('type')!r} (it may add tokens)")
    if spec.get("truncation") or spec.get("padding"):
        raise Unsupported("truncation or padding is set")
    model = spec.get("model") or {}
    if model.get("type") != "BPE":
        raise Unsupported(f"model {model.get('type')!r} (only BPE)")
    if model.get("dropout") or model.get("continuing_subword_prefix") or model.get("end_of_word_suffix") \
            or model.get("byte_fallback") or model.get("ignore_merges"):
        raise Unsupported("BPE with dropout, subword prefix/suffix, byte fallback or ignore_merges")
    vocab: dict[str, int] = model["vocab"]
    alphabet = byte_alphabet()
    ranks: dict[bytes, int] = {}
    for ch, b in alphabet.items():
        if ch in vocab:
            ranks[bytes([b])] = vocab[ch]
        elif b not in NON_UTF8_BYTES:
            raise Unsupported(f"no token for byte {b:#04x}")
    last = -1
    for m in model.get("merges", []):
        a, b = m.split(" ") if isinstance(m, str) else m
        word = a + b
        tid = vocab.get(word)
        if tid is None or tid <= last or tid <= vocab.get(a, -1) or tid <= vocab.get(b, -1):
            raise Unsupported(f"merge {a!r} + {b!r}: ids do not increase with the merge order")
        last = tid
        ranks[bytes(alphabet[c] for c in word)] = tid
    max_run = 0
    cut: list[str] = []
    runs: dict[int, int] = {}
    for t in spec.get("added_tokens", []):
        content = t["content"]
        if t.get("special") and literal_special:
            continue  # ordinary text (encode_special_tokens)
        if t.get("single_word") or t.get("lstrip") or t.get("rstrip"):
            raise Unsupported(f"added token {content!r} with single_word/lstrip/rstrip")
        if len(content) >= 2 and set(content) == {" "}:
            runs[len(content)] = t["id"]
        elif not t.get("normalized", False) and " " not in content:
            # a special token (not literal) or a non-normalized plain one (the <work> tags of
            # kllama.tokenize.work_tokens): HF cuts both out of the raw text, leftmost-longest
            cut.append(content)
        else:
            raise Unsupported(f"added token {content!r} (only non-normalized tokens and runs of spaces)")
    if runs:
        max_run = max(runs)
        if sorted(runs) != list(range(2, max_run + 1)):
            raise Unsupported("space-run added tokens are not every length from 2 up")
        for n, tid in runs.items():
            ranks[b" " * n] = tid  # a whole-piece lookup; no other piece holds two spaces
    if len(set(ranks.values())) != len(ranks):
        raise Unsupported("two token strings share an id")
    return ranks, max_run, cut


class FastEncoder:
    """``tiktoken`` with the ranks, space runs and pre-tokenizer of a ByteLevel-BPE ``tokenizer.json``.

    ``spec``: the parsed file; ``split_digits``: kllama's digit rule; ``literal_special``: special tokens inside
    text are text (as :class:`~kllama.tokenize.tokenizer.DigitSplitTokenizer`). Raises :class:`Unsupported`.
    """

    def __init__(self, spec: dict[str, Any], *, split_digits: bool = True, literal_special: bool = True) -> None:
        import tiktoken
        from tokenizers import normalizers

        ranks, max_run, cut = check_structure(spec, literal_special=literal_special)
        self.split_digits = split_digits
        self.pattern = pattern(split_digits, max_run)
        self._bpe = tiktoken.Encoding(f"kllama-{'digits' if split_digits else 'plain'}", pat_str=self.pattern,
                                      mergeable_ranks=ranks, special_tokens={})
        self._encode_plain = self._bpe.encode_ordinary
        self._cut = {s: next(t["id"] for t in spec["added_tokens"] if t["content"] == s) for s in cut}
        self._cut_re = re.compile("|".join(re.escape(s) for s in sorted(cut, key=len, reverse=True))) if cut \
            else None
        self._nfc = normalizers.NFC().normalize_str if spec.get("normalizer") else None
        self.version = tiktoken.__version__

    def _segment(self, text: str) -> list[int]:
        if self._nfc is not None and not text.isascii():
            text = self._nfc(text)
        return self._encode_plain(text)

    def encode(self, text: str) -> list[int]:
        """Token ids of one document (no EOD), equal to the HF tokenizer's."""
        if self._cut_re is None:
            return self._segment(text)
        ids: list[int] = []
        pos = 0
        for m in self._cut_re.finditer(text):
            if m.start() > pos:
                ids += self._segment(text[pos:m.start()])
            ids.append(self._cut[m.group()])
            pos = m.end()
        if pos < len(text):
            ids += self._segment(text[pos:])
        return ids

    def encode_batch(self, texts: Sequence[str], threads: int = 1) -> list[list[int]]:
        """Token ids of many documents; ``threads`` > 1 encodes on that many threads (the Rust part runs
        without the GIL)."""
        if threads <= 1 or len(texts) < 2 * threads:
            return [self.encode(t) for t in texts]
        step = -(-len(texts) // threads)
        parts = [texts[i:i + step] for i in range(0, len(texts), step)]
        with ThreadPoolExecutor(threads) as pool:
            return [ids for part in pool.map(lambda p: [self.encode(t) for t in p], parts) for ids in part]


#: text that exercises every step: space runs of every length, tabs, CRLF, digits of all kinds, specials,
#: combining marks, contractions, and the whitespace/digit boundaries of the fused regex
PROBE_TEXT = "".join([
    "Hello world, it's 2024! They'll re-run the 3.14159 test; I'd say we've 12,345 items.\r\n",
    "def f(x):\n\tif x:\n\t\treturn  x  +  1\n" + "".join(f"{' ' * n}x{n}\n" for n in range(1, 60)),
    " " * 24 + "\n" + " " * 25 + "a" + " " * 49 + "1" + " " * 26 + "\t" + " " * 48 + "\n\n  \n \n\t \t",
    "Ünïcödé café nai\u0308ve e\u0301 \u0041\u030a \u1e9b\u0323 한국어 日本語 中文 Ελληνικά русский עברית العربية ",
    "٣٤٥ ١٢ ૧૨ ²³ ½ Ⅻ ① １２３ ten\u00a0000 x\u3000 9\u2009000 \u200b\u2028\u2029\x0b\x0c\x85 ",
    "<|endoftext|> and <|padding|> inside text <|endoftext|><|endoftext|>x <|endoftext|>\u0338 ",
    "a  b   c    d 1  2   3 ' s 's 'S 'll 'LL don't '' '1 \u00a0 \u00a0\u00a0 1\u00a02 ",
    "emoji 👍🏽 🇺🇸 👨‍👩‍👧 \U0001F600\U0001F600 math ∑∫√ ≠ ≤ ≥ \\frac{1}{2} $x^2$ <<48/2=24>> #### 72\n",
])


@lru_cache(maxsize=4)
def _merges_self_encode(raw: str) -> str | None:
    """None when HF's BPE model encodes every merge result (alone) as itself; else the first exception."""
    from tokenizers import Tokenizer, models

    model = json.loads(raw)["model"]
    merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in model["merges"]]
    words = [a + b for a, b in merges]
    if not words:
        return None
    bare = Tokenizer(models.BPE(vocab=model["vocab"], merges=merges))
    enc = bare.encode(words, is_pretokenized=True)
    got: list[list[int]] = [[] for _ in words]
    for tid, w in zip(enc.ids, enc.word_ids, strict=True):
        got[w].append(tid)
    for w, ids in zip(words, got, strict=True):
        if ids != [model["vocab"][w]]:
            return f"HF's BPE encodes the merge result {w!r} as {ids}, not as itself"
    return None


def self_check(fast: FastEncoder, hf: Any, raw: str) -> str | None:
    """None when ``fast`` reproduces ``hf`` (a configured ``tokenizers.Tokenizer``) for the file text ``raw``;
    otherwise why not."""
    problem = _merges_self_encode(raw)
    if problem:
        return problem
    probes = [PROBE_TEXT, *PROBE_TEXT.split("\n"), *PROBE_TEXT.split(" ")]
    for text, ref in zip(probes, hf.encode_batch_fast(probes), strict=True):
        if fast.encode(text) != ref.ids:
            return f"ids differ from HF on the probe text {text[:40]!r}"
    return None


def default_threads() -> int:
    """Threads for a batch: 1 when ``TOKENIZERS_PARALLELISM`` is false (one worker = one core), else
    ``RAYON_NUM_THREADS`` or the CPU count, as HF's ``encode_batch`` would use."""
    if os.environ.get("TOKENIZERS_PARALLELISM", "").lower() in ("false", "0", "no", "off"):
        return 1
    try:
        return max(1, int(os.environ.get("RAYON_NUM_THREADS") or os.cpu_count() or 1))
    except ValueError:
        return os.cpu_count() or 1
