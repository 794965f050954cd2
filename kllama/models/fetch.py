"""Download the public models that real runs use, with resume (HTTP Range) and size/checksum checks.

* ``lid.176.bin`` -- fastText's 176-language identifier (what cc_net uses);
* ``{lang}.sp.model`` and ``{lang}.arpa.bin`` -- cc_net's per-language SentencePiece and KenLM models,
  trained on Wikipedia (cc_net's ``Makefile``: ``dl_lm``).

A download goes to ``NAME.part``; a rerun asks the server for the rest with ``Range: bytes=N-`` (a server
that ignores it and answers 200 restarts the file). The finished file must have the size the server announced
(and the registry's size or sha256 when known, or ``--sha256``); otherwise it is deleted and an error raised.
``$KLLAMA_MODELS_URL`` (or ``base_url``) replaces the public hosts with a mirror that has the same file names.
"""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

FASTTEXT_BASE = "https://dl.fbaipublicfiles.com/fasttext/supervised-models"
CCNET_LM_BASE = "http://dl.fbaipublicfiles.com/cc_net/lm"


@dataclass(frozen=True)
class ModelFile:
    """One downloadable model file. ``size``/``sha256`` are checked when known."""

    name: str
    url: str
    size: int | None = None
    sha256: str | None = None


def registry(languages: list[str] | tuple[str, ...] = ("en",)) -> list[ModelFile]:
    """The files a LLaMA CommonCrawl run needs, for cc_net's LMs of ``languages``."""
    files = [ModelFile("lid.176.bin", f"{FASTTEXT_BASE}/lid.176.bin")]
    for lang in languages:
        files.append(ModelFile(f"{lang}.sp.model", f"{CCNET_LM_BASE}/{lang}.sp.model"))
        files.append(ModelFile(f"{lang}.arpa.bin", f"{CCNET_LM_BASE}/{lang}.arpa.bin"))
    return files


class FetchError(RuntimeError):
    """A download that failed its size or checksum check."""


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def fetch(model: ModelFile, dest_dir: str | os.PathLike, base_url: str | None = None,
          sha256: str | None = None, timeout: float = 60.0, chunk: int = 1 << 20) -> Path:
    """Download ``model`` into ``dest_dir`` (resuming a ``.part`` file); returns the final path."""
    dest_dir = Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    final = dest_dir / model.name
    want_sha = sha256 or model.sha256
    if final.exists():
        if (model.size is None or final.stat().st_size == model.size) and (
                want_sha is None or _sha256(final) == want_sha):
            return final
        final.unlink()
    base = base_url or os.environ.get("KLLAMA_MODELS_URL")
    url = f"{base.rstrip('/')}/{model.name}" if base else model.url
    part = dest_dir / f"{model.name}.part"
    have = part.stat().st_size if part.exists() else 0
    req = urllib.request.Request(url, headers={"User-Agent": "kllama"})
    if have:
        req.add_header("Range", f"bytes={have}-")
    try:
        resp = urllib.request.urlopen(req, timeout=timeout)  # noqa: S310 - fixed registry or user mirror
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:  # the .part is already complete (or longer than the file)
            resp = None
        else:
            raise
    total: int | None = None
    if resp is not None:
        with resp:
            if have and resp.status == 206:
                crange = resp.headers.get("Content-Range", "")
                if not crange.startswith(f"bytes {have}-"):
                    raise FetchError(f"{url}: server resumed at the wrong offset ({crange!r})")
                if "/" in crange and crange.rsplit("/", 1)[1].isdigit():
                    total = int(crange.rsplit("/", 1)[1])
                mode = "ab"
            else:
                have, mode = 0, "wb"
                length = resp.headers.get("Content-Length")
                total = int(length) if length and length.isdigit() else None
            with open(part, mode) as f:
                while block := resp.read(chunk):
                    f.write(block)
    size = part.stat().st_size
    for expected, what in ((total, "announced by the server"), (model.size, "in the registry")):
        if expected is not None and size != expected:
            if size > expected:
                part.unlink()
            raise FetchError(f"{model.name}: {size} bytes, but {expected} {what}"
                             + ("; rerun to resume" if size < expected else ""))
    if want_sha is not None:
        got = _sha256(part)
        if got != want_sha:
            part.unlink()
            raise FetchError(f"{model.name}: sha256 {got} != expected {want_sha}; the download was deleted")
    os.replace(part, final)
    (dest_dir / f"{model.name}.sha256").write_text(f"{_sha256(final)}  {model.name}\n")
    return final
