"""Pure-Python reference implementations of kllama.native (slow; used by tests/test_native.py).

Each function states the definition that the C core must reproduce exactly.
"""

from __future__ import annotations

import hashlib
import re

import numpy as np

M64 = (1 << 64) - 1
M32 = (1 << 32) - 1
P32_1, P32_2, P32_3 = 0x9E3779B1, 0x85EBCA77, 0xC2B2AE3D
P64_1, P64_2, P64_3 = 0x9E3779B185EBCA87, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9
P64_4, P64_5 = 0x85EBCA77C2B2AE63, 0x27D4EB2F165667C5
PMX_1, PMX_2 = 0x165667919E3779F9, 0x9FB21C651E98DF25


def _rotl64(x: int, r: int) -> int:
    return ((x << r) | (x >> (64 - r))) & M64


def _r64(b: bytes, i: int) -> int:
    return int.from_bytes(b[i : i + 8], "little")


def _r32(b: bytes, i: int) -> int:
    return int.from_bytes(b[i : i + 4], "little")


# ------------------------------------------------------------------------------------------ XXH64
def _round(acc: int, val: int) -> int:
    acc = (acc + val * P64_2) & M64
    return (_rotl64(acc, 31) * P64_1) & M64


def _avalanche64(h: int) -> int:
    h ^= h >> 33
    h = (h * P64_2) & M64
    h ^= h >> 29
    h = (h * P64_3) & M64
    return h ^ (h >> 32)


def xxh64(data: bytes, seed: int = 0) -> int:
    """XXH64 as in the xxHash specification."""
    n, p = len(data), 0
    if n >= 32:
        v = [(seed + P64_1 + P64_2) & M64, (seed + P64_2) & M64, seed, (seed - P64_1) & M64]
        while p <= n - 32:
            for k in range(4):
                v[k] = _round(v[k], _r64(data, p + 8 * k))
            p += 32
        h = (_rotl64(v[0], 1) + _rotl64(v[1], 7) + _rotl64(v[2], 12) + _rotl64(v[3], 18)) & M64
        for k in range(4):
            h = ((h ^ _round(0, v[k])) * P64_1 + P64_4) & M64
    else:
        h = (seed + P64_5) & M64
    h = (h + n) & M64
    while n - p >= 8:
        h ^= _round(0, _r64(data, p))
        h = (_rotl64(h, 27) * P64_1 + P64_4) & M64
        p += 8
    if n - p >= 4:
        h ^= (_r32(data, p) * P64_1) & M64
        h = (_rotl64(h, 23) * P64_2 + P64_3) & M64
        p += 4
    while p < n:
        h ^= (data[p] * P64_5) & M64
        h = (_rotl64(h, 11) * P64_1) & M64
        p += 1
    return _avalanche64(h)


# ------------------------------------------------------------------------------------------ XXH3-128
SECRET = bytes.fromhex(
    "b8fe6c3923a44bbe7c01812cf721ad1cded46de9839097db7240a4a4b7b3671fcb79e64eccc0e578825ad07dccff7221"
    "b8084674f743248ee03590e6813a264c3c2852bb91c300cb88d0658b1b532ea371644897a20df94e3819ef46a9deacd8"
    "a8fa763fe39c343ff9dcbbc7c70b4f1d8a51e04bcdb45931c89f7ec9d9787364eac5ac8334d3ebc3c581a0fffa1363eb"
    "170ddd51b7f0da49d316552629d4689e2b16be587d47a1fc8ff8b8d17ad031ce45cb3a8f95160428afd7fbcabb4b407e"
)


def _av3(h: int) -> int:
    h ^= h >> 37
    h = (h * PMX_1) & M64
    return h ^ (h >> 32)


def _fold(a: int, b: int) -> int:
    p = a * b
    return (p & M64) ^ (p >> 64)


def _mix16(b: bytes, i: int, s: int) -> int:
    return _fold(_r64(b, i) ^ _r64(SECRET, s), _r64(b, i + 8) ^ _r64(SECRET, s + 8))


def _mix32(lo: int, hi: int, b: bytes, i1: int, i2: int, s: int) -> tuple[int, int]:
    lo = (lo + _mix16(b, i1, s)) & M64
    lo ^= (_r64(b, i2) + _r64(b, i2 + 8)) & M64
    hi = (hi + _mix16(b, i2, s + 16)) & M64
    hi ^= (_r64(b, i1) + _r64(b, i1 + 8)) & M64
    return lo, hi


def _finish_mid(lo: int, hi: int, n: int) -> int:
    h_lo = _av3((lo + hi) & M64)
    h_hi = (-_av3((lo * P64_1 + hi * P64_4 + n * P64_2) & M64)) & M64
    return (h_hi << 64) | h_lo


def _xxh3_long_accs(b: bytes) -> list[int]:
    """The 8 accumulators of XXH3's > 240-byte path (stripes, block scrambles, last stripe)."""
    n = len(b)
    acc = [P32_3, P64_1, P64_2, P64_3, P64_4, P32_2, P64_5, P32_1]

    def accumulate(p: int, s: int) -> None:
        for i in range(8):
            dv = _r64(b, p + 8 * i)
            dk = dv ^ _r64(SECRET, s + 8 * i)
            acc[i ^ 1] = (acc[i ^ 1] + dv) & M64
            acc[i] = (acc[i] + (dk & M32) * (dk >> 32)) & M64

    block = 64 * 16
    nb = (n - 1) // block
    for blk in range(nb):
        for s in range(16):
            accumulate(blk * block + 64 * s, 8 * s)
        for i in range(8):
            a = acc[i]
            a ^= a >> 47
            a ^= _r64(SECRET, 128 + 8 * i)
            acc[i] = (a * P32_1) & M64
    for s in range(((n - 1) - block * nb) // 64):
        accumulate(nb * block + 64 * s, 8 * s)
    accumulate(n - 64, 192 - 64 - 7)
    return acc


def _merge_accs(acc: list[int], s: int, start: int) -> int:
    r = start
    for i in range(4):
        r = (
            r + _fold(acc[2 * i] ^ _r64(SECRET, s + 16 * i), acc[2 * i + 1] ^ _r64(SECRET, s + 16 * i + 8))
        ) & M64
    return _av3(r)


def xxh3_128(data: bytes) -> int:
    """XXH3-128 with seed 0 and the default secret, as an int ``high << 64 | low``."""
    b, n = data, len(data)
    if n == 0:
        lo = _avalanche64(_r64(SECRET, 64) ^ _r64(SECRET, 72))
        hi = _avalanche64(_r64(SECRET, 80) ^ _r64(SECRET, 88))
        return (hi << 64) | lo
    if n <= 3:
        cl = (b[0] << 16) | (b[n >> 1] << 24) | b[n - 1] | (n << 8)
        sw = int.from_bytes(cl.to_bytes(4, "little"), "big")
        ch = ((sw << 13) | (sw >> 19)) & M32
        lo = _avalanche64(cl ^ (_r32(SECRET, 0) ^ _r32(SECRET, 4)))
        hi = _avalanche64(ch ^ (_r32(SECRET, 8) ^ _r32(SECRET, 12)))
        return (hi << 64) | lo
    if n <= 8:
        x = _r32(b, 0) + (_r32(b, n - 4) << 32)
        m = (x ^ _r64(SECRET, 16) ^ _r64(SECRET, 24)) * ((P64_1 + (n << 2)) & M64)
        lo, hi = m & M64, m >> 64
        hi = (hi + (lo << 1)) & M64
        lo ^= hi >> 3
        lo ^= lo >> 35
        lo = (lo * PMX_2) & M64
        lo ^= lo >> 28
        return (_av3(hi) << 64) | lo
    if n <= 16:
        in_lo, in_hi = _r64(b, 0), _r64(b, n - 8)
        m = (in_lo ^ in_hi ^ _r64(SECRET, 32) ^ _r64(SECRET, 40)) * P64_1
        lo, hi = m & M64, m >> 64
        lo = (lo + ((n - 1) << 54)) & M64
        in_hi ^= _r64(SECRET, 48) ^ _r64(SECRET, 56)
        hi = (hi + in_hi + (in_hi & M32) * (P32_2 - 1)) & M64
        lo ^= int.from_bytes(hi.to_bytes(8, "little"), "big")
        h = lo * P64_2
        h_lo, h_hi = h & M64, ((h >> 64) + hi * P64_2) & M64
        return (_av3(h_hi) << 64) | _av3(h_lo)
    if n <= 128:
        lo, hi = (n * P64_1) & M64, 0
        pairs = [(48, n - 64, 96, 96), (32, n - 48, 64, 64), (16, n - 32, 32, 32), (0, n - 16, 0, 0)]
        start = 0 if n > 96 else 1 if n > 64 else 2 if n > 32 else 3
        for i1, i2, s, _ in pairs[start:]:
            lo, hi = _mix32(lo, hi, b, i1, i2, s)
        return _finish_mid(lo, hi, n)
    if n <= 240:
        lo, hi = (n * P64_1) & M64, 0
        for i in range(32, 160, 32):
            lo, hi = _mix32(lo, hi, b, i - 32, i - 16, i - 32)
        lo, hi = _av3(lo), _av3(hi)
        for i in range(160, n + 1, 32):
            lo, hi = _mix32(lo, hi, b, i - 32, i - 16, 3 + i - 160)
        lo, hi = _mix32(lo, hi, b, n - 16, n - 32, 136 - 17 - 16)
        return _finish_mid(lo, hi, n)
    acc = _xxh3_long_accs(b)
    lo = _merge_accs(acc, 11, (n * P64_1) & M64)
    hi = _merge_accs(acc, 192 - 64 - 11, (~(n * P64_2)) & M64)
    return (hi << 64) | lo


def xxh3_64(data: bytes) -> int:
    """XXH3-64 with seed 0 and the default secret."""
    b, n = data, len(data)
    if n == 0:
        return _avalanche64(_r64(SECRET, 56) ^ _r64(SECRET, 64))
    if n <= 3:
        combined = (b[0] << 16) | (b[n >> 1] << 24) | b[n - 1] | (n << 8)
        return _avalanche64(combined ^ (_r32(SECRET, 0) ^ _r32(SECRET, 4)))
    if n <= 8:
        h = (_r32(b, n - 4) + (_r32(b, 0) << 32)) ^ (_r64(SECRET, 8) ^ _r64(SECRET, 16))
        h ^= _rotl64(h, 49) ^ _rotl64(h, 24)
        h = (h * PMX_2) & M64
        h ^= ((h >> 35) + n) & M64
        h = (h * PMX_2) & M64
        return h ^ (h >> 28)
    if n <= 16:
        lo = _r64(b, 0) ^ (_r64(SECRET, 24) ^ _r64(SECRET, 32))
        hi = _r64(b, n - 8) ^ (_r64(SECRET, 40) ^ _r64(SECRET, 48))
        acc = (n + int.from_bytes(lo.to_bytes(8, "little"), "big") + hi + _fold(lo, hi)) & M64
        return _av3(acc)
    if n <= 128:
        acc = (n * P64_1) & M64
        pairs = [(48, 96, n - 64, 112), (32, 64, n - 48, 80), (16, 32, n - 32, 48), (0, 0, n - 16, 16)]
        start = 0 if n > 96 else 1 if n > 64 else 2 if n > 32 else 3
        for i1, s1, i2, s2 in pairs[start:]:
            acc = (acc + _mix16(b, i1, s1) + _mix16(b, i2, s2)) & M64
        return _av3(acc)
    if n <= 240:
        acc = (n * P64_1) & M64
        for i in range(8):
            acc = (acc + _mix16(b, 16 * i, 16 * i)) & M64
        acc = _av3(acc)
        for i in range(8, n // 16):
            acc = (acc + _mix16(b, 16 * i, 16 * (i - 8) + 3)) & M64
        acc = (acc + _mix16(b, n - 16, 136 - 17)) & M64
        return _av3(acc)
    return _merge_accs(_xxh3_long_accs(b), 11, (n * P64_1) & M64)


# ------------------------------------------------------------------------------------------ words
WORD_RE = re.compile(r"[^\W_]+")  # maximal runs of str.isalnum() characters


def words(text: str) -> list[str]:
    """Words: maximal runs of ``str.isalnum()`` characters, each lowercased with ``str.lower()``."""
    return [w.lower() for w in WORD_RE.findall(text)]


def shingles(text: str, ngram: int = 5) -> list[tuple[str, ...]]:
    """Word n-grams: windows of ``ngram`` consecutive words; 1..ngram-1 words -> one window of all words."""
    ws = words(text)
    m = min(ngram, len(ws))
    return [tuple(ws[i : i + m]) for i in range(len(ws) - m + 1)] if ws else []


SHINGLE_P = P64_1


def shingle_hash(words_of_shingle: tuple[str, ...], hasher=xxh3_64) -> int:
    """avalanche64(sum_k XXH3_64(word_k) * P**(m-1-k) mod 2**64), P = 0x9E3779B185EBCA87 (Horner form)."""
    s = 0
    for w in words_of_shingle:
        s = (s * SHINGLE_P + hasher(w.encode("utf-8"))) & M64
    return _avalanche64(s)


def shingle_hashes(text: str, ngram: int = 5, hasher=xxh3_64) -> np.ndarray:
    """Vectorised form of ``[shingle_hash(s) for s in shingles(text, ngram)]``."""
    ws = words(text)
    if not ws:
        return np.empty(0, dtype=np.uint64)
    wh = np.array([hasher(w.encode("utf-8")) for w in ws], dtype=np.uint64)
    m = min(ngram, len(ws))
    ns = len(ws) - m + 1
    acc = np.zeros(ns, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for k in range(m):
            acc = acc * np.uint64(SHINGLE_P) + wh[k : k + ns]
        h = acc
        h ^= h >> np.uint64(33)
        h *= np.uint64(P64_2)
        h ^= h >> np.uint64(29)
        h *= np.uint64(P64_3)
        h ^= h >> np.uint64(32)
    return h


def splitmix64_stream(seed: int):
    state = seed & M64
    while True:
        state = (state + 0x9E3779B97F4A7C15) & M64
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
        yield z ^ (z >> 31)


def minhash_coefficients(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """a_i, b_i (forced odd), c_i: the high 32 bits of consecutive splitmix64(seed) outputs."""
    g = splitmix64_stream(seed)
    a, b, c = [], [], []
    for _ in range(num_perm):
        a.append((next(g) >> 32) | 1)
        b.append((next(g) >> 32) | 1)
        c.append(next(g) >> 32)
    return tuple(np.array(v, dtype=np.uint64) for v in (a, b, c))


def minhash(text: str, num_perm: int = 128, ngram: int = 5, seed: int = 1, hasher=xxh3_64) -> np.ndarray:
    """sig_i = min over shingle hashes h of (a_i*lo32(h) + b_i*hi32(h) + c_i) mod 2**32; no shingle -> 2**32-1."""
    hs = shingle_hashes(text, ngram, hasher)
    if len(hs) == 0:
        return np.full(num_perm, M32, dtype=np.uint32)
    a, b, c = minhash_coefficients(num_perm, seed)
    x = hs & np.uint64(M32)
    y = hs >> np.uint64(32)
    v = (a[:, None] * x[None, :] + b[:, None] * y[None, :] + c[:, None]) & np.uint64(M32)
    return v.min(axis=1).astype(np.uint32)


# ------------------------------------------------------------------------------------------ digits
DIGIT_PIECES_RE = re.compile(r"\d|\D+")


ASCII_DIGIT_PIECES_RE = re.compile(r"[0-9]|[^0-9]+")


def split_digits(text: str, ascii_only: bool = False) -> list[str]:
    """Every Unicode decimal digit (re ``\\d``; only 0-9 if ascii_only) alone; maximal non-digit runs as one piece."""
    return (ASCII_DIGIT_PIECES_RE if ascii_only else DIGIT_PIECES_RE).findall(text)


# ------------------------------------------------------------------------------------------ cc_net
# cc_net/text_normalizer.py (facebookresearch/cc_net), restated: the keys of UNICODE_PUNCT and the
# non-printing characters, removed by normalize_for_dedup after lowercasing and digit folding.
UNICODE_PUNCT_KEYS = "，。、„”“«»１」「《》´∶：？！（）；–—．～’…━〈〉【】％►"
UNICODE_PUNCT_RE = re.compile(f"[{UNICODE_PUNCT_KEYS}]")
NON_PRINTING_CHARS_RE = re.compile(f"[{''.join(map(chr, list(range(0, 32)) + list(range(127, 160))))}]")
DIGIT_RE = re.compile(r"\d")
PUNCT_OR_NON_PRINTING_CHARS_RE = re.compile(
    (UNICODE_PUNCT_RE.pattern + NON_PRINTING_CHARS_RE.pattern).replace("][", "")
)


def normalize_for_dedup(line: str) -> str:
    line = line.strip()
    if not line:
        return line
    line = line.lower()
    line = DIGIT_RE.sub("0", line)
    line = PUNCT_OR_NON_PRINTING_CHARS_RE.sub("", line)
    return line


def ccnet_line_hash(line: str) -> int:
    return int(
        np.frombuffer(hashlib.sha1(normalize_for_dedup(line).encode("utf-8")).digest()[:8], dtype=np.uint64)[
            0
        ]
    )


def ccnet_line_hashes(text: str) -> np.ndarray:
    return np.array([ccnet_line_hash(line) for line in text.split("\n")], dtype=np.uint64)
