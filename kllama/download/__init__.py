"""``kllama download``: fetch the raw public dumps of each source, resumably and verified.

:mod:`kllama.download.http` is the single resumable HTTP fetch (also meant for ``kllama models fetch``);
:mod:`kllama.download.sources` knows each source's public layout and turns it into a list of files;
:func:`download_files` fetches such a list with bounded concurrency and one progress bar.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kllama.download.http import ChecksumError, DownloadError, fetch_url


@dataclass(frozen=True)
class RemoteFile:
    """One file to fetch: ``url`` -> ``OUTPUT/path``, with its size and checksums when the source publishes them."""

    url: str
    path: str
    size: int | None = None
    checksums: dict[str, str] = field(default_factory=dict, hash=False)
    #: a fetcher other than HTTP (the arXiv requester-pays bucket); called as ``fetch(file, dest)``
    fetch: Callable[..., Path] | None = field(default=None, hash=False, compare=False)


@dataclass
class DownloadReport:
    """What a download did: files fetched (or already complete) and the failures with their reason."""

    done: list[Path] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failed


class _Progress:
    """Thread-safe byte counter behind one tqdm bar."""

    def __init__(self, total: int | None, enabled: bool, desc: str):
        from tqdm import tqdm

        self.lock = threading.Lock()
        self.bar = tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=desc,
                        disable=not enabled or not sys.stderr.isatty(), leave=True)

    def __call__(self, n: int) -> None:
        with self.lock:
            self.bar.update(n)

    def close(self) -> None:
        self.bar.close()


def download_files(files: list[RemoteFile], output: str | Path, *, concurrency: int = 4, retries: int = 5,
                   backoff: float = 1.0, timeout: float = 60.0, progress: bool = True, desc: str = "download",
                   **http_options: Any) -> DownloadReport:
    """Fetch ``files`` under ``output`` with at most ``concurrency`` transfers at a time.

    A failing file does not stop the others; it is listed in the report's ``failed`` with its reason.
    """
    output = Path(output)
    report = DownloadReport()
    sizes = [f.size for f in files]
    bar = _Progress(sum(sizes) if files and all(s is not None for s in sizes) else None, progress, desc)

    def one(f: RemoteFile) -> Path:
        dest = output / f.path
        if not dest.resolve().is_relative_to(output.resolve()):
            raise DownloadError(f"{f.path!r} would be written outside {output}")
        if f.fetch is not None:
            return f.fetch(f, dest, on_bytes=bar)
        return fetch_url(f.url, dest, size=f.size, checksums=f.checksums, retries=retries, backoff=backoff,
                         timeout=timeout, on_bytes=bar, **http_options)

    try:
        with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
            futures = {pool.submit(one, f): f for f in files}
            for fut in as_completed(futures):
                f = futures[fut]
                try:
                    report.done.append(fut.result())
                except (DownloadError, OSError, ValueError) as exc:
                    report.failed[f.path] = str(exc)
    finally:
        bar.close()
    report.done.sort()
    return report


__all__ = ["ChecksumError", "DownloadError", "DownloadReport", "RemoteFile", "download_files", "fetch_url"]
