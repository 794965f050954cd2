r"""Digit-split tokenization with an unchanged ``tokenizers`` file (default: the bundled ``20B_tokenizer.json``).

LLaMA split every number into single digits; the GPT-NeoX-20B BPE merges them (``" 12345"`` -> ``Ġ12``,
``345``). :class:`DigitSplitTokenizer` keeps the tokenizer file (so ids stay those of the RWKV checkpoints)
and changes the pre-tokenizer of an in-memory copy. The rule (the *reference*) is: split the text at every
ASCII digit (``Split("[0-9]", isolated)``), then run the file's own pre-tokenizer on each piece. For the
standard byte-level pre-tokenizer (GPT-2 regex, no prefix space, as in ``20B_tokenizer.json``) the same pieces
come from one pass of one regex -- the GPT-2 regex with ``[0-9]`` taken out of ``\p{N}+`` and a whitespace run
before a digit kept whole -- followed by the byte mapping without its own regex; that is faster than the
tokenizer's own pre-tokenizer. The tests check that both forms give identical ids on random Unicode.

* every ASCII digit 0-9 becomes its own piece and so the single-digit vocabulary token (``"0"`` .. ``"9"``);
  a space before a number becomes its own ``Ġ`` token, as LLaMA's SentencePiece ``split_digits`` gives ``▁``;
* text without digits reaches the ByteLevel pre-tokenizer as one unchanged piece, so its ids are exactly
  ``Tokenizer.encode(text).ids``;
* ``decode(ids)`` gives the NFC form of the input back (the tokenizer's normalizer is NFC);
* the special tokens (``<|endoftext|>``, ``<|padding|>``) written literally inside a document are encoded as
  ordinary text (``encode_special_tokens``); only the EOD that the writer appends is token 0.

This pre-tokenizer runs inside the tokenizer's Rust code, so it costs almost nothing beside ``encode_batch_fast``
(see ``benchmarks/bench_tokenize.py``); it is used instead of the C core's digit rule, which would need a
Python-level split of every document before encoding.

Encoding itself goes through :class:`kllama.tokenize.fast_encoder.FastEncoder` (``tiktoken``, about 4x faster per
core) when it reproduces this pipeline for the file in use -- checked once per process by
:func:`~kllama.tokenize.fast_encoder.self_check` -- and through HF ``tokenizers`` otherwise (``encoder="auto"``,
with a warning that says why); ``encoder="hf"`` or ``"fast"`` forces one (``"fast"`` fails when it cannot be
used). Both give the same ids; decoding is always HF's.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from tokenizers import Regex, Tokenizer, pre_tokenizers

if TYPE_CHECKING:
    from kllama.tokenize.fast_encoder import FastEncoder

#: The GPT-2 / ByteLevel pre-tokenizer regex (tokenizers ``pre_tokenizers/byte_level.rs``).
GPT2_REGEX = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"
#: The same with every ASCII digit its own piece; equal to Split("[0-9]") followed by GPT2_REGEX per piece.
DIGIT_SPLIT_REGEX = (r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?[^\P{N}0-9]+|[0-9]| ?[^\s\p{L}\p{N}]+"
                     r"|\s+(?=[0-9])|\s+(?!\S)|\s+")
#: The bundled GPT-NeoX-20B tokenizer used by RWKV (Apache-2.0, see kllama/data/tokenizer/NOTICE).
DEFAULT_TOKENIZER = Path(__file__).resolve().parents[1] / "data" / "tokenizer" / "20B_tokenizer.json"
EOD_TOKEN = "<|endoftext|>"
DIGITS = "0123456789"
#: the encoder choices: ``auto`` (fast when its self-check passes, else HF), ``hf``, ``fast``
ENCODERS = ("auto", "hf", "fast")


class DigitSplitTokenizer:
    """A ``tokenizers`` file with optional single-digit splitting and literal special tokens.

    ``path``: a ``tokenizer.json`` (default: the bundled 20B tokenizer); ``split_digits``: split every ASCII
    digit into its own token; ``literal_special``: encode special-token strings inside text as ordinary text;
    ``encoder``: ``auto``, ``hf`` or ``fast`` (see the module doc). ``encoder_name`` says which one encodes and
    ``encoder_note`` why.
    """

    def __init__(self, path: str | Path | None = None, *, split_digits: bool = True,
                 literal_special: bool = True, fused: bool = True, encoder: str = "auto") -> None:
        if encoder not in ENCODERS:
            raise ValueError(f"encoder {encoder!r}: use one of {', '.join(ENCODERS)}")
        self.path = Path(path) if path is not None else DEFAULT_TOKENIZER
        self.split_digits = split_digits
        self.literal_special = literal_special
        #: the file exactly as json2binidx loads it
        if not self.path.is_file():
            raise FileNotFoundError(f"tokenizer file {self.path} not found")
        raw = self.path.read_text(encoding="utf-8")
        try:
            self.base = Tokenizer.from_str(raw)
            tok = Tokenizer.from_str(raw)
        except Exception as exc:  # tokenizers raises a bare Exception for a bad file
            raise ValueError(f"cannot load tokenizer {self.path}: {exc}") from exc
        self.vocab_size: int = self.base.get_vocab_size(with_added_tokens=True)
        eod = self.base.token_to_id(EOD_TOKEN)
        self.eod_id: int = 0 if eod is None else eod
        if literal_special:
            tok.encode_special_tokens = True
        if split_digits:
            missing = [d for d in DIGITS if self.base.token_to_id(d) is None]
            if missing:
                raise ValueError(f"{self.path}: no single-digit token for {''.join(missing)!r}; cannot split digits")
            tok.pre_tokenizer = digit_split_pre_tokenizer(tok, json.loads(raw).get("pre_tokenizer"), fused=fused)
        self.tokenizer = tok
        self.digit_ids: dict[str, int] = {d: i for d in DIGITS if (i := self.base.token_to_id(d)) is not None}
        self.fast: FastEncoder | None = None
        self.encoder_name = "hf"
        self.encoder_note = "forced by encoder='hf'"
        if encoder != "hf":
            self.fast, self.encoder_note = _fast_encoder(raw, tok, split_digits, literal_special)
            if self.fast is not None:
                self.encoder_name = "fast"
            elif encoder == "fast":
                raise ValueError(f"{self.path}: the fast encoder cannot be used: {self.encoder_note}")
            else:
                warnings.warn(f"kllama tokenize: using HF tokenizers, not the fast encoder: {self.encoder_note}",
                              stacklevel=2)

    @property
    def sha256(self) -> str:
        return _sha256(str(self.path))

    def encode(self, text: str) -> list[int]:
        """Token ids of one document (no EOD)."""
        if self.fast is not None:
            return self.fast.encode(text)
        return self.tokenizer.encode(text).ids

    def encode_batch(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids of many documents (no EOD); parallel over ``RAYON_NUM_THREADS`` threads (or the CPU count)
        unless ``TOKENIZERS_PARALLELISM=false``."""
        if self.fast is not None:
            from kllama.tokenize.fast_encoder import default_threads

            return self.fast.encode_batch(texts, default_threads())
        return [e.ids for e in self.tokenizer.encode_batch_fast(list(texts))]

    def decode(self, ids: Sequence[int]) -> str:
        """Text of ``ids`` (special tokens such as the EOD are skipped)."""
        return self.tokenizer.decode(list(ids))


def digit_split_pre_tokenizer(tok: Tokenizer, spec: dict | None, *, fused: bool = True
                              ) -> pre_tokenizers.PreTokenizer:
    """``Split("[0-9]", isolated)`` then ``tok``'s own pre-tokenizer (``spec`` = its JSON); fused into one
    regex pass when that is the plain byte-level one (``fused=False`` gives the two-step reference form)."""
    inner = tok.pre_tokenizer
    if spec and spec.get("type") == "ByteLevel" and spec.get("add_prefix_space", True):
        raise ValueError("digit splitting needs add_prefix_space=false in the ByteLevel pre-tokenizer "
                         "(it would add a space to every piece)")
    if fused and spec and spec.get("type") == "ByteLevel" and spec.get("use_regex", True):
        return pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(DIGIT_SPLIT_REGEX), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ])
    split = pre_tokenizers.Split(Regex("[0-9]"), behavior="isolated")
    return split if inner is None else pre_tokenizers.Sequence([split, inner])


def _fast_encoder(raw: str, tok: Tokenizer, split_digits: bool, literal_special: bool
                  ) -> tuple[FastEncoder | None, str]:
    """(the fast encoder, a note) when it reproduces ``tok`` for the file text ``raw``; (None, why not) else."""
    try:
        from kllama.tokenize.fast_encoder import FastEncoder, Unsupported, self_check
    except ImportError as exc:  # tiktoken missing
        return None, f"cannot import it ({exc})"
    try:
        fast = FastEncoder(json.loads(raw), split_digits=split_digits, literal_special=literal_special)
    except Unsupported as exc:
        return None, f"the tokenizer file has {exc}"
    problem = self_check(fast, tok, raw)
    if problem:
        return None, f"identity self-check failed: {problem}"
    return fast, f"tiktoken {fast.version}, identity self-check passed"


@lru_cache(maxsize=8)
def _sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


@lru_cache(maxsize=4)
def cached_tokenizer(path: str | None, split_digits: bool, encoder: str = "auto") -> DigitSplitTokenizer:
    """One tokenizer per process and setting (worker tasks reuse it)."""
    return DigitSplitTokenizer(path, split_digits=split_digits, encoder=encoder)


def single_thread() -> None:
    """Make ``encode_batch`` run on the calling thread only (for Dask workers: one worker = one core)."""
    os.environ["TOKENIZERS_PARALLELISM"] = "false"
    os.environ.setdefault("RAYON_NUM_THREADS", "1")
