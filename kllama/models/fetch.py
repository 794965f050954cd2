"""Download the public models that real runs use, with resume (HTTP Range) and size/checksum checks.

* ``lid.176.bin`` -- fastText's 176-language identifier (what cc_net uses);
* ``{lang}.sp.model`` and ``{lang}.arpa.bin`` -- cc_net's per-language SentencePiece and KenLM models,
  trained on Wikipedia (cc_net's ``Makefile``: ``dl_lm``).

Downloads use kllama's one resumable fetch (``kllama.download.http.fetch_url``): ``NAME.part`` is resumed with
``Range: bytes=N-`` (a server that ignores it restarts the file), failures are retried with backoff, and the
finished file must have the size the server announced (and the registry's size or sha256 when known, or
``--sha256``); otherwise it is deleted and an error raised.
``$KLLAMA_MODELS_URL`` (or ``base_url``) replaces the public hosts with a mirror that has the same file names.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from kllama.download.http import DownloadError, fetch_url, file_digests

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


class FetchError(DownloadError):
    """A model download that failed (after its retries) or failed its size or checksum check."""


def _sha256(path: Path) -> str:
    return file_digests(path, ["sha256"])["sha256"]


def fetch(model: ModelFile, dest_dir: str | os.PathLike, base_url: str | None = None,
          sha256: str | None = None, timeout: float = 60.0, chunk: int = 1 << 20, retries: int = 5) -> Path:
    """Download ``model`` into ``dest_dir`` with the shared resumable fetch (``kllama.download.http``):
    a ``.part`` file resumed with HTTP Range, retries with backoff, size and sha256 checked; returns the path."""
    dest_dir = Path(dest_dir)
    want_sha = sha256 or model.sha256
    base = base_url or os.environ.get("KLLAMA_MODELS_URL")
    url = f"{base.rstrip('/')}/{model.name}" if base else model.url
    try:
        final = fetch_url(url, dest_dir / model.name, size=model.size,
                          checksums={"sha256": want_sha} if want_sha else None, retries=retries,
                          timeout=timeout, chunk=chunk)
    except DownloadError as exc:
        raise FetchError(f"{model.name}: {exc}") from exc
    (dest_dir / f"{model.name}.sha256").write_text(f"{_sha256(final)}  {model.name}\n")
    return final
