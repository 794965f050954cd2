"""RWKV training settings for a tokenized dataset: ``--my_exit_tokens`` and ``--magic_prime``."""

from __future__ import annotations


def is_prime(n: int) -> bool:
    """Deterministic Miller-Rabin for every n < 3.3e24 (far beyond any token count / ctx_len)."""
    if n < 2:
        return False
    small = (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41)
    for p in small:
        if n % p == 0:
            return n == p
    d, s = n - 1, 0
    while d % 2 == 0:
        d //= 2
        s += 1
    for a in small:
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = x * x % n
            if x == n - 1:
                break
        else:
            return False
    return True


def magic_prime(tokens: int, ctx_len: int) -> int | None:
    """The largest prime ``p`` with ``p % 3 == 2`` and ``p < tokens / ctx_len - 1`` (RWKV-LM README), or None.

    RWKV-LM's ``compute_magic_prime.py`` searches down from ``tokens // ctx_len - 1``; the strict bound here
    agrees with it except when ``ctx_len`` divides ``tokens``, where it is one candidate more cautious.
    """
    if ctx_len <= 0:
        raise ValueError("ctx_len must be positive")
    # p < tokens/ctx_len - 1  <=>  p * ctx_len < tokens - ctx_len
    p = (tokens - ctx_len - 1) // ctx_len
    while p >= 2:
        if p % 3 == 2 and p * ctx_len < tokens - ctx_len and is_prime(p):
            return p
        p -= 1
    return None


def rwkv_settings(tokens: int, ctx_len: int) -> str:
    """The command-line flags for RWKV-LM ``train.py``."""
    p = magic_prime(tokens, ctx_len)
    if p is None:
        return f"--my_exit_tokens {tokens} --ctx_len {ctx_len}  (too few tokens for a magic_prime at this ctx_len)"
    return f"--my_exit_tokens {tokens} --magic_prime {p} --ctx_len {ctx_len}"


#: RWKV-LM's ``train.py`` (``src/dataset.py``) refuses ``--magic_prime`` unless
#: ``MIN_RATIO < magic_prime / (data_len // ctx_len) <= 1``
MIN_RATIO = 0.9


def magic_prime_ratio(tokens: int, ctx_len: int) -> float | None:
    """``magic_prime / (tokens // ctx_len)``, the number RWKV-LM checks; None without a magic prime."""
    p = magic_prime(tokens, ctx_len)
    slots = tokens // ctx_len
    return p / slots if p is not None and slots else None


def passes_rwkv_check(tokens: int, ctx_len: int) -> bool:
    """Whether RWKV-LM accepts the ``--magic_prime`` printed for ``tokens`` and ``ctx_len``."""
    ratio = magic_prime_ratio(tokens, ctx_len)
    return ratio is not None and MIN_RATIO < ratio <= 1


def magic_prime_warning(tokens: int, ctx_len: int) -> str | None:
    """A warning saying what to change when RWKV-LM would refuse the printed ``--magic_prime``; None if it is fine.

    The suggestions: the largest smaller ``--ctx-len`` (halving) that passes, and about how many tokens the
    same ``--ctx-len`` needs (the smallest data size from here up that passes).
    """
    if passes_rwkv_check(tokens, ctx_len):
        return None
    ratio = magic_prime_ratio(tokens, ctx_len)
    slots = tokens // ctx_len
    if ratio is None:
        what = f"there is no magic_prime for {tokens} tokens at --ctx-len {ctx_len} ({slots} samples)"
    else:
        what = (f"--magic_prime {magic_prime(tokens, ctx_len)} / ({tokens} tokens // ctx_len {ctx_len} = {slots}) "
                f"= {ratio:.3f}, not above {MIN_RATIO}")
    hints = []
    c = ctx_len // 2
    while c >= 1:
        if passes_rwkv_check(tokens, c):
            hints.append(f"a smaller --ctx-len ({c} passes: {magic_prime_ratio(tokens, c):.3f})")
            break
        c //= 2
    for s in range(max(slots, 2), max(slots, 2) * 4 + 64):
        if passes_rwkv_check(s * ctx_len + ctx_len - 1, ctx_len):
            hints.append(f"more data (about {s * ctx_len + ctx_len - 1} tokens at --ctx-len {ctx_len})")
            break
    return (f"warning: RWKV-LM's train.py will refuse these flags: it asserts {MIN_RATIO} < magic_prime / "
            f"(data_len // ctx_len) <= 1, and here {what}. Use " + (" or ".join(hints) or "more data") + ".")
