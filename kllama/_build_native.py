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



def _cdef_from_header() -> str:
    """The declarations of csrc/kllama.h for cffi: the header is the one source of the C API."""
    with open(os.path.join(CSRC, "kllama.h"), encoding="utf-8") as f:
        return "\n".join(line for line in f.read().splitlines() if not line.lstrip().startswith("#"))


CDEF = _cdef_from_header()

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
