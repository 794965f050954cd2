"""DjVu books: the hidden text layer of every page, through DjVuLibre's tools (Debian ``djvulibre-bin``).

``djvused FILE -e print-pure-txt`` prints every page's text followed by a form feed, also for a page without a
text layer (``djvutxt`` itself prints nothing for such a page, so pages could not be told apart). It runs as a
subprocess with a time limit and an output limit; a missing binary is reported, not guessed around.
"""

from __future__ import annotations

import shutil
import subprocess


class DjvuError(ValueError):
    """A DjVu file that cannot be read (``reason`` is the ledger's drop name)."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


def djvutxt_path() -> str | None:
    """The DjVuLibre tool used (``djvused``; installed with ``djvutxt`` by djvulibre-bin), or None."""
    return shutil.which("djvused")


def djvu_pages(path: str, timeout: float = 600.0, max_bytes: int = 256 << 20) -> list[str]:
    """The text layer of each page (``""`` for a page without one)."""
    exe = djvutxt_path()
    if exe is None:
        raise DjvuError("djvutxt_missing", "install djvulibre-bin (Debian) to read DjVu books")
    try:
        proc = subprocess.run([exe, path, "-e", "print-pure-txt"], capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        raise DjvuError("djvu_unreadable", f"djvused took over {timeout:.0f} s") from exc
    if proc.returncode != 0:
        raise DjvuError("djvu_unreadable", proc.stderr.decode("utf-8", "replace").strip()[:300])
    if len(proc.stdout) > max_bytes:
        raise DjvuError("djvu_unreadable", f"text layer over {max_bytes} bytes")
    pages = proc.stdout.decode("utf-8", "replace").split("\f")
    if pages and not pages[-1].strip():
        pages = pages[:-1]  # every page, the last one too, ends with a form feed
    return [p.replace("\r\n", "\n").strip("\n") for p in pages]
