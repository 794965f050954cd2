"""Streaming reads of untrusted tar archives (``.tar``, ``.tar.gz``, ``.tar.bz2``, ``.tar.xz``) without extraction.

The archive is read once, front to back, in tarfile's stream mode (``r|*``): nothing is written to disk, no member
is seeked to, and memory stays bounded whatever the archive's size or member count:

- a member's data is read only when the caller asks for it, and at most ``max_member_bytes`` (+1) of it;
- tarfile's own list of the members it has seen is cleared as it goes (in stream mode it otherwise keeps one
  ``TarInfo`` per member: ~200k for Books3);
- extended headers (pax, GNU long names) longer than ``max_header_bytes`` are refused before they are read.

Every member is classified (:class:`TarEntry.kind`): ``file`` (a regular file with a safe relative name), ``dir``,
``unsafe`` (absolute path, ``..``, a NUL, links, devices, FIFOs, sparse files) or ``too_large``. A corrupt or
truncated archive raises :class:`TruncatedArchive` after the members before the damage were yielded.
"""

from __future__ import annotations

import re
import tarfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import IO

#: longest pax / GNU long-name header accepted (real ones are a few hundred bytes)
MAX_HEADER_BYTES = 1 << 20

_EXTENDED = (tarfile.XHDTYPE, tarfile.XGLTYPE, tarfile.SOLARIS_XHDTYPE, tarfile.GNUTYPE_LONGNAME,
             tarfile.GNUTYPE_LONGLINK)
_DRIVE = re.compile(r"^[A-Za-z]:")
#: errors that mean the archive is corrupt or ends early
ARCHIVE_ERRORS = (tarfile.TarError, EOFError, OSError, zlib.error)


class TruncatedArchive(Exception):
    """The archive is corrupt or cut short; ``args[0]`` names the cause (the exception's type)."""


def _limited_tarinfo(limit: int) -> type[tarfile.TarInfo]:
    class LimitedTarInfo(tarfile.TarInfo):
        def _proc_member(self, tf: tarfile.TarFile) -> tarfile.TarInfo:  # type: ignore[override]
            if self.type in _EXTENDED and self.size > limit:
                raise tarfile.HeaderError(f"extended header of {self.size} bytes (limit {limit})")
            return super()._proc_member(tf)

    return LimitedTarInfo


def safe_member_name(name: str) -> str | None:
    """``name`` as a clean relative POSIX path, or None when it is absolute, climbs out (``..``) or holds a NUL."""
    if not name or "\x00" in name or name.startswith(("/", "\\")) or _DRIVE.match(name):
        return None
    parts = [p for p in PurePosixPath(name.replace("\\", "/")).parts if p not in ("", ".")]
    if not parts or any(p == ".." for p in parts):
        return None
    return "/".join(parts)


@dataclass
class TarEntry:
    """One member of a streamed archive. ``read()`` is valid only until the next entry is taken."""

    name: str
    size: int
    kind: str  # file | dir | unsafe | too_large
    _tar: tarfile.TarFile
    _info: tarfile.TarInfo
    _limit: int

    def read(self) -> bytes:
        """The member's bytes (only for ``kind == "file"``); a member cut short raises ``TruncatedArchive``."""
        if self.kind != "file":
            raise ValueError(f"member {self.name!r} is {self.kind}, not a readable file")
        f = self._tar.extractfile(self._info)
        if f is None:
            return b""
        try:
            data = f.read(self._limit + 1)
        except ARCHIVE_ERRORS as exc:
            raise TruncatedArchive(type(exc).__name__) from exc
        if len(data) != self.size:
            raise TruncatedArchive("member cut short")
        return data


def iter_tar(raw: IO[bytes], max_member_bytes: int, max_header_bytes: int = MAX_HEADER_BYTES) -> Iterator[TarEntry]:
    """The members of the tar stream ``raw`` (compression detected from its first bytes), in archive order.

    Raises ``TruncatedArchive`` when the archive breaks (members before the damage have been yielded)."""
    try:
        tf = tarfile.open(fileobj=raw, mode="r|*", tarinfo=_limited_tarinfo(max_header_bytes))
    except ARCHIVE_ERRORS as exc:
        raise TruncatedArchive(type(exc).__name__) from exc
    with tf:
        while True:
            try:
                info = tf.next()
            except ARCHIVE_ERRORS as exc:
                raise TruncatedArchive(type(exc).__name__) from exc
            if info is None:
                return
            tf.members.clear()  # stream mode keeps every TarInfo otherwise
            name = safe_member_name(info.name)
            if info.isdir() and name is not None:
                kind = "dir"
            elif name is None or not info.isreg() or info.issparse():
                kind = "unsafe"
            elif info.size > max_member_bytes:
                kind = "too_large"
            else:
                kind = "file"
            yield TarEntry(name or info.name, int(info.size), kind, tf, info, max_member_bytes)
