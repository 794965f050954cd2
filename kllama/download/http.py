"""One resumable HTTP download, standard library only (``urllib``).

A file is fetched into ``NAME.part`` beside its destination. When the connection drops, the next attempt
asks for the rest with ``Range: bytes=N-``: a ``206`` whose ``Content-Range`` starts at ``N`` is appended; a
``200`` (a server that ignores ranges) restarts the file; a ``416`` on a ``.part`` that already holds the
whole file finishes it. Network errors, ``408``/``429`` and ``5xx`` answers are retried with exponential
backoff; other ``4xx`` answers fail at once. The finished file must have the size that the server announced
and the expected size and checksums (``sha1``, ``sha256``, ``md5``) when known; otherwise the ``.part`` is
deleted and :class:`ChecksumError` is raised. Only then is it renamed to its final name, so a final name
always holds a complete, verified file, and a rerun skips it (after checking it again).
"""

from __future__ import annotations

import hashlib
import http.client
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path

USER_AGENT = "kllama-download/0.1 (+https://github.com/; resumable, polite)"
HASHES = ("sha1", "sha256", "md5")
_RETRY_STATUS = {408, 425, 429, 500, 502, 503, 504}


class DownloadError(RuntimeError):
    """A download that could not be completed (after its retries)."""


class NotFoundError(DownloadError):
    """The server answered 404/410: the file is not (or no longer) there."""


class ChecksumError(DownloadError):
    """A completed transfer whose size or checksum is not the expected one (the data was deleted)."""


def file_digests(path: str | os.PathLike, algorithms: tuple[str, ...] | list[str], chunk: int = 1 << 20
                 ) -> dict[str, str]:
    """Hex digests of ``path`` for each algorithm (one pass over the file)."""
    hs = {a: hashlib.new(a) for a in algorithms}
    with open(path, "rb") as f:
        while block := f.read(chunk):
            for h in hs.values():
                h.update(block)
    return {a: h.hexdigest() for a, h in hs.items()}


def verify_file(path: str | os.PathLike, size: int | None = None,
                checksums: Mapping[str, str] | None = None) -> str | None:
    """``None`` when ``path`` has ``size`` and ``checksums``; else why not."""
    actual = os.path.getsize(path)
    if size is not None and actual != size:
        return f"{actual} bytes, expected {size}"
    wanted = {k.lower(): v.lower() for k, v in (checksums or {}).items() if v}
    for algo in wanted:
        if algo not in HASHES:
            raise ValueError(f"unknown checksum {algo!r} (known: {', '.join(HASHES)})")
    if wanted:
        got = file_digests(path, list(wanted))
        for algo, want in wanted.items():
            if got[algo] != want:
                return f"{algo} {got[algo]} != expected {want}"
    return None


def _content_range_total(value: str) -> int | None:
    if "/" in value:
        tail = value.rsplit("/", 1)[1].strip()
        if tail.isdigit():
            return int(tail)
    return None


def fetch_url(url: str, dest: str | os.PathLike, *, size: int | None = None,
              checksums: Mapping[str, str] | None = None, retries: int = 5, backoff: float = 1.0,
              max_backoff: float = 60.0, timeout: float = 60.0, chunk: int = 1 << 20,
              headers: Mapping[str, str] | None = None, on_bytes: Callable[[int], None] | None = None,
              sleep: Callable[[float], None] = time.sleep) -> Path:
    """Download ``url`` to ``dest`` (resuming ``dest.part``); returns ``dest``.

    ``size``/``checksums`` (``{"sha1": hex, ...}``) are verified when given; a ``dest`` that already passes
    them is kept without a request. ``on_bytes(n)`` is called for every block written (progress bars; a
    restart reports a negative count). Attempts: ``retries + 1``, waiting ``backoff * 2**k`` seconds (at
    most ``max_backoff``) between them.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.exists():
        if verify_file(dest, size, checksums) is None:
            return dest
        dest.unlink()
    part = dest.with_name(dest.name + ".part")
    report = on_bytes or (lambda n: None)
    if part.exists():
        report(part.stat().st_size)
    last_error: Exception | None = None
    for attempt in range(retries + 1):
        if attempt:
            sleep(min(max_backoff, backoff * 2 ** (attempt - 1)))
        try:
            total = _transfer(url, part, size, timeout, chunk, headers or {}, report)
            break
        except _Permanent as exc:
            raise DownloadError(f"{url}: {exc}") from None
        except (urllib.error.URLError, http.client.HTTPException, ConnectionError, TimeoutError, OSError, _Retryable) as exc:
            last_error = exc
    else:
        raise DownloadError(f"{url}: failed after {retries + 1} attempts: {last_error}; rerun to resume "
                            f"({part.stat().st_size if part.exists() else 0} bytes kept in {part.name})")
    problem = None
    if total is not None and part.stat().st_size != total:
        problem = f"{part.stat().st_size} bytes, but the server announced {total}"
    problem = problem or verify_file(part, size, checksums)
    if problem:
        report(-part.stat().st_size)
        part.unlink()
        raise ChecksumError(f"{url}: {problem}; the download was deleted")
    os.replace(part, dest)
    return dest


class _Retryable(Exception):
    pass


class _Permanent(Exception):
    pass


def _transfer(url: str, part: Path, size: int | None, timeout: float, chunk: int, headers: Mapping[str, str],
              report: Callable[[int], None]) -> int | None:
    """One attempt: request the missing bytes and append them; returns the full size when the server said it."""
    have = part.stat().st_size if part.exists() else 0
    if size is not None and have > size:
        report(-have)
        part.unlink()
        have = 0
    req = urllib.request.Request(url, headers={"User-Agent": USER_AGENT, **headers})
    if have:
        req.add_header("Range", f"bytes={have}-")
    try:
        resp = urllib.request.urlopen(req, timeout=timeout)  # noqa: S310 - http(s) URLs of public dumps
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:
            total = _content_range_total(exc.headers.get("Content-Range", ""))
            if total == have or (total is None and size == have):
                return have  # the .part already holds the whole file
            report(-have)
            part.unlink()  # longer than the file, or the file changed: start again
            raise _Retryable(f"HTTP 416 for a {have}-byte partial file") from None
        if exc.code in _RETRY_STATUS:
            raise _Retryable(f"HTTP {exc.code} {exc.reason}") from None
        raise _Permanent(f"HTTP {exc.code} {exc.reason}") from None
    with resp:
        if have and resp.status == 206:
            crange = resp.headers.get("Content-Range", "")
            if not crange.startswith(f"bytes {have}-"):
                raise _Permanent(f"server resumed at the wrong offset ({crange!r}, wanted {have})")
            total = _content_range_total(crange)
            mode = "ab"
        else:
            if have:
                report(-have)  # the server ignored the range: start again
            length = resp.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            mode = "wb"
        with open(part, mode) as f:
            while True:
                block = resp.read(chunk)
                if not block:
                    break
                f.write(block)
                report(len(block))
            f.flush()
            os.fsync(f.fileno())
    got = part.stat().st_size
    if total is not None and got < total:  # the connection closed early without an error
        raise _Retryable(f"connection closed after {got} of {total} bytes")
    return total


def fetch_bytes(url: str, *, retries: int = 5, backoff: float = 1.0, timeout: float = 60.0,
                max_bytes: int = 256 << 20, headers: Mapping[str, str] | None = None,
                sleep: Callable[[float], None] = time.sleep) -> bytes:
    """A small document (listing, checksum file, index page) in memory, with retries; at most ``max_bytes``."""
    last: Exception | None = None
    for attempt in range(retries + 1):
        if attempt:
            sleep(min(60.0, backoff * 2 ** (attempt - 1)))
        req = urllib.request.Request(url, headers={"User-Agent": USER_AGENT, **(headers or {})})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310
                data = resp.read(max_bytes + 1)
                if len(data) > max_bytes:
                    raise DownloadError(f"{url}: larger than {max_bytes} bytes")
                length = resp.headers.get("Content-Length")
                if length and length.isdigit() and len(data) != int(length):
                    raise _Retryable(f"got {len(data)} of {length} bytes")
                return data
        except urllib.error.HTTPError as exc:
            if exc.code in (404, 410):
                raise NotFoundError(f"{url}: HTTP {exc.code} {exc.reason}") from None
            if exc.code not in _RETRY_STATUS:
                raise DownloadError(f"{url}: HTTP {exc.code} {exc.reason}") from None
            last = exc
        except (urllib.error.URLError, http.client.HTTPException, ConnectionError, TimeoutError, _Retryable) as exc:
            last = exc
    raise DownloadError(f"{url}: failed after {retries + 1} attempts: {last}")
