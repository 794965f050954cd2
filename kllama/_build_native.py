"""cffi (API mode) build of the kllama C core: `kllama._kllama_native`.

Used by setup.py (`cffi_modules=["kllama/_build_native.py:ffibuilder"]`), so `pip install -e .` compiles
csrc/*.c. Portable flags only (no -march=native): the AVX2 and SHA-NI kernels are selected at run time.
"""

from __future__ import annotations

import os
import subprocess
import sys
import unicodedata

from cffi import FFI

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CSRC = os.path.join(ROOT, "csrc")

CDEF = """
uint64_t kl_xxh64(const uint8_t *p, size_t len, uint64_t seed);
uint64_t kl_xxh3_64(const uint8_t *p, size_t len);
void kl_xxh3_128(const uint8_t *p, size_t len, uint64_t out[2]);
void kl_sha1(const uint8_t *p, size_t len, uint8_t digest[20]);
int kl_hash64_batch(const uint8_t *data, const void *offsets, int off64, int64_t n, uint64_t seed,
                    uint64_t *out);
int kl_hash128_batch(const uint8_t *data, const void *offsets, int off64, int64_t n, uint64_t *out);
int kl_validate_utf8_batch(const uint8_t *data, const void *offsets, int off64, int64_t n, int64_t *err);
int64_t kl_shingle_hashes(const uint8_t *text, int64_t len, int ngram, uint64_t *out, int64_t cap,
                          int64_t *err);
int kl_minhash_batch(const uint8_t *data, const void *offsets, int off64, int64_t n, int ngram,
                     int num_perm, uint64_t seed, uint32_t *out, int64_t *err);
void kl_minhash_coefficients(int num_perm, uint64_t seed, uint32_t *a, uint32_t *b, uint32_t *c);
int kl_digit_split_count(const uint8_t *data, const void *offsets, int off64, int64_t n, int ascii_only,
                         int64_t *piece_offsets, int64_t *err);
int kl_digit_split_fill(const uint8_t *data, const void *offsets, int off64, int64_t n, int ascii_only,
                        const int64_t *piece_offsets, int64_t *ends);
int64_t kl_count_lines_batch(const uint8_t *data, const void *offsets, int off64, int64_t n,
                             int64_t *line_offsets);
int kl_ccnet_line_hashes_batch(const uint8_t *data, const void *offsets, int off64, int64_t n,
                               uint64_t *out, int64_t *err);
int64_t kl_ccnet_normalize(const uint8_t *line, int64_t len, uint8_t *out, int64_t cap, int64_t *err);
const char *kl_unicode_version(void);
int kl_simd_level(void);
"""

SOURCES = ["kl_hash.c", "kl_text.c"]


def _unicode_override() -> list[tuple[str, str]]:
    """Regenerate the Unicode tables into build/ when this Python's Unicode version differs from the
    committed csrc/unicode_tables.h (the C core must match the str.lower() of the Python it serves)."""
    with open(os.path.join(CSRC, "unicode_tables.h"), encoding="utf-8") as f:
        head = f.read(300)
    if f"Unicode {unicodedata.unidata_version};" in head:
        return []
    out_dir = os.path.join(ROOT, "build", f"kllama_unicode_{unicodedata.unidata_version}")
    os.makedirs(out_dir, exist_ok=True)
    out = os.path.join(out_dir, "unicode_tables.h")
    if not os.path.exists(out):
        subprocess.run([sys.executable, os.path.join(CSRC, "gen_unicode_tables.py"), out], check=True)
    return [("KL_UNICODE_TABLES_OVERRIDE", '"' + out.replace("\\", "/") + '"')]


ffibuilder = FFI()
ffibuilder.cdef(CDEF)
_extra = (
    []
    if sys.platform == "win32"
    else ["-O3", "-std=gnu11", "-fno-strict-aliasing", "-Wall", "-Werror=implicit-function-declaration"]
)
ffibuilder.set_source(
    "kllama._kllama_native",
    '#include "kllama.h"',
    sources=[os.path.relpath(os.path.join(CSRC, s)) for s in SOURCES],
    include_dirs=[os.path.relpath(CSRC)],
    depends=[
        os.path.relpath(os.path.join(CSRC, h)) for h in ("kllama.h", "kl_internal.h", "unicode_tables.h")
    ],
    extra_compile_args=_extra,
    define_macros=_unicode_override(),
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
