"""``--magic_prime``: the largest prime p = 2 (mod 3) with p < tokens / ctx_len - 1."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from kllama.tokenize.rwkv import is_prime, magic_prime, rwkv_settings


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
