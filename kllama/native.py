"""The only Python module that talks to the kllama C core (csrc/, built by cffi as `kllama._kllama_native`).

Every function takes a *batch* of texts and calls C once per batch (once per chunk of a ChunkedArray):

* ``texts`` may be a ``list``/``tuple`` of ``str`` (or ``bytes``), a pyarrow ``StringArray`` /
  ``LargeStringArray`` / ``BinaryArray`` / ``ChunkedArray`` of those (the Arrow offsets and data buffers are
  handed to C without copying; nulls count as empty texts), or a single ``str`` / ``bytes`` (a batch of one).
* Text is UTF-8. A ``str`` with an unpaired surrogate (``"\\ud800"``) raises ``ValueError`` naming the text
  and the position; invalid UTF-8 bytes in ``bytes``/Arrow input raise ``ValueError`` too (the hash
  functions hash raw bytes and accept anything).

See docs/native.md for the exact definitions (hash choice, words, shingles, MinHash, digits, cc_net).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from kllama._kllama_native import ffi, lib

__all__ = [
    "UNICODE_VERSION",
    "ccnet_line_hashes",
    "ccnet_line_hashes_batch",
    "ccnet_normalize",
    "digit_split_offsets",
    "hash128",
    "hash64",
    "minhash",
    "minhash_coefficients",
    "shingle_hashes",
    "split_digits",
    "xxh3_64",
    "xxh64",
]

UNICODE_VERSION: str = ffi.string(lib.kl_unicode_version()).decode()
"""Unicode version of the generated tables (that of the Python that generated them)."""

SIMD_KERNEL: str = ("scalar", "AVX2", "AVX-512F")[lib.kl_simd_level()]
"""MinHash kernel picked for this CPU at run time (env KLLAMA_NO_AVX512 / KLLAMA_NO_AVX2 turn them off)."""

_EMPTY = np.zeros(1, dtype=np.uint8)  # a valid pointer for empty data buffers


@dataclass
class _Batch:
    data: Any  # cdata uint8_t[]
    offsets: np.ndarray  # int32 or int64, n + 1 entries
    n: int
    keep: Any  # objects that own the buffers
    source: Any  # the original texts of this batch (for error messages / split_digits)

    @property
    def off64(self) -> int:
        return 1 if self.offsets.dtype == np.int64 else 0

    @property
    def off_ptr(self) -> Any:
        return ffi.from_buffer(self.offsets)


def _surrogate_error(i: int, text: str, exc: UnicodeEncodeError) -> ValueError:
    ch = text[exc.start]
    return ValueError(
        f"text {i} is not valid Unicode: unpaired surrogate U+{ord(ch):04X} at index {exc.start} "
        "(kllama.native needs text that encodes to UTF-8)"
    )


def _from_sequence(texts: Iterable[str | bytes]) -> _Batch:
    items = texts if isinstance(texts, list | tuple) else list(texts)
    enc: list[bytes] = []
    for i, t in enumerate(items):
        if isinstance(t, str):
            try:
                enc.append(t.encode("utf-8"))
            except UnicodeEncodeError as e:
                raise _surrogate_error(i, t, e) from e
        elif isinstance(t, bytes | bytearray | memoryview):
            enc.append(bytes(t))
        else:
            raise TypeError(f"text {i} is {type(t).__name__}, expected str or bytes")
    n = len(enc)
    offsets = np.zeros(n + 1, dtype=np.int64)
    if n:
        np.cumsum(np.fromiter(map(len, enc), dtype=np.int64, count=n), out=offsets[1:])
    blob = b"".join(enc)
    data = ffi.from_buffer("uint8_t[]", blob if blob else _EMPTY)
    return _Batch(data, offsets, n, (blob, enc), items)


def _from_arrow_array(arr: Any) -> _Batch:
    import pyarrow as pa
    import pyarrow.compute as pc

    t = arr.type
    if pa.types.is_string(t) or pa.types.is_binary(t):
        odt, width = np.int32, 4
    elif pa.types.is_large_string(t) or pa.types.is_large_binary(t):
        odt, width = np.int64, 8
    else:
        raise TypeError(f"expected an Arrow string/binary array, got {t}")
    if arr.null_count:
        arr = pc.fill_null(
            arr, pa.scalar(b"" if pa.types.is_binary(t) or pa.types.is_large_binary(t) else "", t)
        )
    n = len(arr)
    bufs = arr.buffers()
    if n == 0 or bufs[1] is None:
        return _Batch(ffi.from_buffer("uint8_t[]", _EMPTY), np.zeros(n + 1, dtype=odt), n, arr, arr)
    offsets = np.frombuffer(bufs[1], dtype=odt, count=n + 1, offset=arr.offset * width)
    dbuf = bufs[2]
    data = ffi.from_buffer("uint8_t[]", dbuf if dbuf is not None and dbuf.size else _EMPTY)
    return _Batch(data, offsets, n, (arr, dbuf), arr)


def _batches(texts: Any) -> Iterator[_Batch]:
    """Yield the batches (one per Arrow chunk) that make up ``texts``."""
    if isinstance(texts, str | bytes | bytearray | memoryview):
        yield _from_sequence([texts])
        return
    mod = type(texts).__module__
    if mod.startswith("pyarrow"):
        import pyarrow as pa

        if isinstance(texts, pa.ChunkedArray):
            if texts.num_chunks == 0:
                yield _from_sequence([])
            for chunk in texts.chunks:
                yield _from_arrow_array(chunk)
            return
        if isinstance(texts, pa.Array):
            yield _from_arrow_array(texts)
            return
    yield _from_sequence(texts)


def _check(rc: int, err: Any, batch: _Batch) -> None:
    if rc == 0:
        return
    if rc == -1:
        raise ValueError(f"text {err[0]} is not valid UTF-8 (invalid byte sequence at byte offset {err[1]})")
    if rc == -2:
        raise MemoryError("kllama C core: out of memory")
    raise ValueError(f"kllama C core: invalid argument (code {rc})")


def _concat(parts: list[np.ndarray], empty: np.ndarray) -> np.ndarray:
    if not parts:
        return empty
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


# ----------------------------------------------------------------------------------------- hashing
def xxh64(data: bytes, seed: int = 0) -> int:
    """XXH64 of one byte string (convenience for tests and small callers)."""
    buf = ffi.from_buffer("uint8_t[]", data if data else _EMPTY)
    return int(lib.kl_xxh64(buf, len(data), seed & 0xFFFFFFFFFFFFFFFF))


def xxh3_64(data: bytes) -> int:
    """XXH3-64 (seed 0) of one byte string: the word hash of shingles / MinHash."""
    buf = ffi.from_buffer("uint8_t[]", data if data else _EMPTY)
    return int(lib.kl_xxh3_64(buf, len(data)))


def hash64(texts: Any, seed: int = 0) -> np.ndarray:
    """XXH64 (seed ``seed``) of each text's UTF-8 bytes -> ``uint64[n]``."""
    seed &= 0xFFFFFFFFFFFFFFFF
    parts = []
    for b in _batches(texts):
        out = np.empty(b.n, dtype=np.uint64)
        _check(
            lib.kl_hash64_batch(b.data, b.off_ptr, b.off64, b.n, seed, ffi.from_buffer("uint64_t[]", out)),
            None,
            b,
        )
        parts.append(out)
    return _concat(parts, np.empty(0, dtype=np.uint64))


def hash128(texts: Any) -> np.ndarray:
    """XXH3-128 (seed 0) of each text's UTF-8 bytes -> ``uint64[n, 2]`` = ``[low64, high64]``.

    The 128-bit value is ``high64 << 64 | low64`` (``xxhash.xxh3_128_intdigest``); a row viewed as 16 bytes
    is that integer in little-endian order."""
    parts = []
    for b in _batches(texts):
        out = np.empty((b.n, 2), dtype=np.uint64)
        _check(
            lib.kl_hash128_batch(b.data, b.off_ptr, b.off64, b.n, ffi.from_buffer("uint64_t[]", out)), None, b
        )
        parts.append(out)
    return _concat(parts, np.empty((0, 2), dtype=np.uint64))


# ----------------------------------------------------------------------------------------- shingles
def _one_text(text: str | bytes) -> tuple[Any, int, Any]:
    b = _from_sequence([text])
    return b.data, int(b.offsets[1]), b


def shingle_hashes(text: str | bytes, ngram: int = 5) -> np.ndarray:
    """Hashes of every word ``ngram``-gram of one text, in order, duplicates kept -> ``uint64``.

    Words are maximal runs of ``str.isalnum()`` characters, each lowercased with ``str.lower()`` and hashed
    with XXH3-64 (seed 0) of its UTF-8. The shingle of words w_0..w_{m-1} hashes to
    ``avalanche64(sum_k xxh3_64(w_k) * P**(m-1-k) mod 2**64)`` with ``P = 0x9E3779B185EBCA87`` and XXH64's
    avalanche finaliser. A text with 1..ngram-1 words gives one shingle (all its words); a text with no
    word gives an empty array."""
    if ngram < 1:
        raise ValueError("ngram must be >= 1")
    data, length, keep = _one_text(text)
    cap = length // 2 + 2
    out = np.empty(cap, dtype=np.uint64)
    err = ffi.new("int64_t[2]")
    r = lib.kl_shingle_hashes(data, length, ngram, ffi.from_buffer("uint64_t[]", out), cap, err)
    if r < 0:
        _check(int(r), err, keep)
    return out[:r].copy()


def minhash_coefficients(num_perm: int = 128, seed: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The (a, b, c) uint32 coefficients of the ``num_perm`` hash functions used by :func:`minhash`."""
    a = np.empty(num_perm, dtype=np.uint32)
    b = np.empty(num_perm, dtype=np.uint32)
    c = np.empty(num_perm, dtype=np.uint32)
    lib.kl_minhash_coefficients(
        num_perm,
        seed,
        ffi.from_buffer("uint32_t[]", a),
        ffi.from_buffer("uint32_t[]", b),
        ffi.from_buffer("uint32_t[]", c),
    )
    return a, b, c


def minhash(texts: Any, num_perm: int = 128, ngram: int = 5, seed: int = 1) -> np.ndarray:
    """MinHash signatures -> ``uint32[n, num_perm]``.

    ``sig[i] = min over the text's shingle hashes h of (a_i*lo32(h) + b_i*hi32(h) + c_i) mod 2**32``
    with (a, b, c) from :func:`minhash_coefficients` (splitmix64 stream of ``seed``). A text without words
    has every value ``0xFFFFFFFF``."""
    if num_perm < 1 or ngram < 1:
        raise ValueError("num_perm and ngram must be >= 1")
    seed &= 0xFFFFFFFFFFFFFFFF
    parts = []
    err = ffi.new("int64_t[2]")
    for b in _batches(texts):
        out = np.empty((b.n, num_perm), dtype=np.uint32)
        rc = lib.kl_minhash_batch(
            b.data, b.off_ptr, b.off64, b.n, ngram, num_perm, seed, ffi.from_buffer("uint32_t[]", out), err
        )
        _check(rc, err, b)
        parts.append(out)
    return _concat(parts, np.empty((0, num_perm), dtype=np.uint32))


# ----------------------------------------------------------------------------------------- digits
def digit_split_offsets(texts: Any, ascii_only: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Piece boundaries that isolate every digit, without changing the text.

    A digit is a Unicode decimal digit (category Nd, Python's ``re`` ``\\d``; ASCII 0-9 included), or only
    ASCII 0-9 with ``ascii_only=True``. Each
    digit is its own piece; each maximal run of non-digits is one piece. Returns ``(ends, piece_offsets)``
    (both int64): the pieces of text ``i`` end at ``ends[piece_offsets[i]:piece_offsets[i+1]]``, counted
    in code points (``str`` indices); each piece starts where the previous one ended (the first at 0).
    An empty text has no pieces."""
    all_ends, all_offs, base = [], [], 0
    err = ffi.new("int64_t[2]")
    for b in _batches(texts):
        po = np.empty(b.n + 1, dtype=np.int64)
        _check(
            lib.kl_digit_split_count(
                b.data, b.off_ptr, b.off64, b.n, int(ascii_only), ffi.from_buffer("int64_t[]", po), err
            ),
            err,
            b,
        )
        ends = np.empty(int(po[-1]), dtype=np.int64)
        _check(
            lib.kl_digit_split_fill(
                b.data,
                b.off_ptr,
                b.off64,
                b.n,
                int(ascii_only),
                ffi.from_buffer("int64_t[]", po),
                ffi.from_buffer("int64_t[]", ends),
            ),
            err,
            b,
        )
        all_ends.append(ends)
        all_offs.append(po[:-1] + base if all_offs else po[:-1])
        base += int(po[-1])
    piece_offsets = (
        np.concatenate([*all_offs, np.array([base], dtype=np.int64)]) if all_offs else np.zeros(1, np.int64)
    )
    return _concat(all_ends, np.empty(0, dtype=np.int64)), piece_offsets


def _as_strs(texts: Any) -> list[str]:
    if isinstance(texts, str):
        return [texts]
    if isinstance(texts, bytes | bytearray | memoryview):
        return [bytes(texts).decode("utf-8")]
    if type(texts).__module__.startswith("pyarrow"):
        return [
            ("" if t is None else t if isinstance(t, str) else t.decode("utf-8")) for t in texts.to_pylist()
        ]
    return [t if isinstance(t, str) else bytes(t).decode("utf-8") for t in texts]


def split_digits(texts: Any, ascii_only: bool = False) -> list[list[str]]:
    """For each text, its pieces (see :func:`digit_split_offsets`): ``"".join(pieces) == text`` and every
    digit is a piece of its own, e.g. ``"ab 12c" -> ["ab ", "1", "2", "c"]``."""
    if not isinstance(texts, str | bytes | bytearray | memoryview | list | tuple) and not type(
        texts
    ).__module__.startswith("pyarrow"):
        texts = list(texts)
    ends, offs = digit_split_offsets(texts, ascii_only)
    strs = _as_strs(texts)
    e = ends.tolist()
    o = offs.tolist()
    result: list[list[str]] = []
    for i, s in enumerate(strs):
        start = 0
        pieces = []
        for end in e[o[i] : o[i + 1]]:
            pieces.append(s[start:end])
            start = end
        result.append(pieces)
    return result


# ----------------------------------------------------------------------------------------- cc_net
def ccnet_line_hashes_batch(texts: Any) -> tuple[np.ndarray, np.ndarray]:
    """cc_net dedup hashes of every line of every text: ``(hashes uint64[total_lines], line_offsets int64[n+1])``;
    the lines of text ``i`` are ``hashes[line_offsets[i]:line_offsets[i+1]]``."""
    parts, offs, base = [], [], 0
    err = ffi.new("int64_t[2]")
    for b in _batches(texts):
        lo = np.empty(b.n + 1, dtype=np.int64)
        total = lib.kl_count_lines_batch(b.data, b.off_ptr, b.off64, b.n, ffi.from_buffer("int64_t[]", lo))
        if total < 0:
            _check(int(total), err, b)
        out = np.empty(int(total), dtype=np.uint64)
        rc = lib.kl_ccnet_line_hashes_batch(
            b.data, b.off_ptr, b.off64, b.n, ffi.from_buffer("uint64_t[]", out), err
        )
        _check(rc, err, b)
        parts.append(out)
        offs.append(lo[:-1] + base)
        base += int(total)
    line_offsets = (
        np.concatenate([*offs, np.array([base], dtype=np.int64)]) if offs else np.zeros(1, np.int64)
    )
    return _concat(parts, np.empty(0, dtype=np.uint64)), line_offsets


def ccnet_line_hashes(text: str | bytes) -> np.ndarray:
    """One hash per line of ``text.split("\\n")``: the first 8 bytes (little-endian) of the SHA-1 of
    cc_net's ``normalize_for_dedup(line)`` in UTF-8 -- identical to cc_net's ``dedup.compute_hashes``."""
    return ccnet_line_hashes_batch([text])[0]


def ccnet_normalize(line: str | bytes) -> str:
    """cc_net's ``normalize_for_dedup`` of one line, computed by the C core (for tests and inspection)."""
    data, length, keep = _one_text(line)
    cap = 2 * length + 8
    out = ffi.new("uint8_t[]", cap)
    err = ffi.new("int64_t[2]")
    r = lib.kl_ccnet_normalize(data, length, out, cap, err)
    if r < 0:
        _check(int(r), err, keep)
    return ffi.unpack(ffi.cast("char *", out), r).decode("utf-8")
