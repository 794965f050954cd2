"""``--magic_prime``: the largest prime p = 2 (mod 3) with p < tokens / ctx_len - 1."""

from __future__ import annotations

import json
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from kllama.tokenize.rwkv import (
    is_prime,
    magic_prime,
    magic_prime_ratio,
    magic_prime_warning,
    passes_rwkv_check,
    rwkv_settings,
)


def _slow_prime(n: int) -> bool:
    return n >= 2 and all(n % d for d in range(2, int(n**0.5) + 1))


@settings(deadline=None, max_examples=150)
@given(st.integers(0, 40_000), st.integers(1, 512))
def test_magic_prime_matches_brute_force(tokens: int, ctx_len: int) -> None:
    cands = [p for p in range(2, tokens // ctx_len + 1)
             if p % 3 == 2 and p < tokens / ctx_len - 1 and _slow_prime(p)]
    assert magic_prime(tokens, ctx_len) == (max(cands) if cands else None)


def test_is_prime_agrees_with_trial_division() -> None:
    assert [n for n in range(2000) if is_prime(n)] == [n for n in range(2000) if _slow_prime(n)]
    assert is_prime(2**61 - 1) and not is_prime(2**61 + 1)


def test_known_values() -> None:
    # values printed in RWKV-LM's training scripts (minipile, and a 75G-token set)
    assert magic_prime(1498226207, 512) == 2926181
    assert magic_prime(1498226207, 2048) == 731531
    assert magic_prime(74958479689, 512) == 146403263
    assert rwkv_settings(1498226207, 512) == "--my_exit_tokens 1498226207 --magic_prime 2926181 --ctx_len 512"
    assert "too few tokens" in rwkv_settings(10, 512)


def test_warning_when_rwkv_lm_would_refuse_the_magic_prime() -> None:
    # 20 samples of 4096: the magic prime 17 gives 17 / 20 = 0.85 (RWKV-LM asserts > 0.9)
    assert magic_prime_ratio(20 * 4096, 4096) == 0.85 and not passes_rwkv_check(20 * 4096, 4096)
    warning = magic_prime_warning(20 * 4096, 4096)
    assert warning and "0.850" in warning and "smaller --ctx-len (512 passes" in warning
    more = int(re.search(r"about (\d+) tokens at --ctx-len 4096", warning).group(1))
    assert passes_rwkv_check(more, 4096) and more > 20 * 4096
    assert "no magic_prime" in magic_prime_warning(10, 512)
    assert magic_prime_warning(1498226207, 512) is None


@settings(deadline=None, max_examples=100)
@given(st.integers(0, 200_000), st.integers(1, 4096))
def test_warning_exactly_when_the_check_fails(tokens: int, ctx_len: int) -> None:
    p, slots = magic_prime(tokens, ctx_len), tokens // ctx_len
    ok = p is not None and slots > 0 and 0.9 < p / slots <= 1  # RWKV-LM's src/dataset.py
    assert (magic_prime_warning(tokens, ctx_len) is None) == ok


def test_cli_prints_the_warning(tmp_path, capsys) -> None:
    from kllama.cli import main

    data = tmp_path / "small.jsonl"
    data.write_text("".join(json.dumps({"text": f"document {i} with a few words"}) + "\n" for i in range(30)))
    assert main(["tokenize", "--jsonl", str(data), "--output", str(tmp_path / "out"), "--ctx-len", "64"]) == 0
    out = capsys.readouterr()
    tokens = int(re.search(r"--my_exit_tokens (\d+)", out.out).group(1))
    assert not passes_rwkv_check(tokens, 64)  # a few hundred tokens: a handful of samples
    assert "RWKV-LM's train.py will refuse" in out.err and "smaller --ctx-len" in out.err
