"""File helpers: input expansion, atomic writes, hashing of files."""

from __future__ import annotations

import glob
import hashlib
import json
import os
from fnmatch import fnmatch
from pathlib import Path
from typing import Any


def expand_inputs(paths: list[str], patterns: tuple[str, ...] = ("*",)) -> list[str]:
    """Files named by ``paths`` (files, folders searched recursively for ``patterns``, or globs), sorted."""
    found: set[str] = set()
    for p in paths:
        p = os.path.expanduser(str(p))
        if os.path.isdir(p):
            for root, _dirs, files in os.walk(p):
                for f in files:
                    if any(fnmatch(f, pat) for pat in patterns):
                        found.add(os.path.join(root, f))
        elif os.path.exists(p):
            found.add(p)
        else:
            matches = glob.glob(p, recursive=True)
            if not matches:
                raise FileNotFoundError(f"input {p!r} matches no file")
            found.update(m for m in matches if os.path.isfile(m))
    return sorted(os.path.abspath(f) for f in found)


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to a temporary name beside ``path``, fsync, then rename over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def read_json_marker(path: str | Path) -> dict[str, Any] | None:
    """A completion marker (a JSON object), or None when it is missing, unreadable, not JSON or not an object
    (a marker half written by a killed run counts as no marker)."""
    try:
        value = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None
