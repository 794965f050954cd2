"""OCR of page images with the Tesseract binary (Debian ``tesseract-ocr`` + ``tesseract-ocr-eng``).

The page is written as a binary PGM to a private temporary folder and ``tesseract`` runs on it once with its TSV
output, from which both the text (words joined into lines, lines into paragraphs, as Tesseract found them) and
the mean word confidence are read. One Tesseract thread per call (``OMP_THREAD_LIMIT=1``): a Dask worker is one
core. A run that takes longer than ``timeout`` seconds is killed and counts as a failed page.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass

import numpy as np


class OcrUnavailable(RuntimeError):
    """The ``tesseract`` binary (or the language's traineddata) is not installed."""


@dataclass
class OcrResult:
    text: str
    #: mean confidence (0-100) of the recognized words; None when no word was found
    confidence: float | None
    words: int


def tesseract_path() -> str | None:
    """The ``tesseract`` binary on PATH, or None."""
    return shutil.which("tesseract")


def tesseract_languages() -> list[str]:
    """Languages Tesseract has traineddata for (``eng``, ...); [] without Tesseract."""
    exe = tesseract_path()
    if exe is None:
        return []
    proc = subprocess.run([exe, "--list-langs"], capture_output=True, text=True, timeout=60)
    return [line.strip() for line in proc.stdout.splitlines()[1:] if line.strip()]


def pgm_bytes(gray: np.ndarray) -> bytes:
    """A binary PGM (P5) of an 8-bit grayscale image."""
    gray = np.ascontiguousarray(gray, dtype=np.uint8)
    h, w = gray.shape
    return b"P5\n%d %d\n255\n" % (w, h) + gray.tobytes()


def parse_tsv(tsv: str) -> OcrResult:
    """Text and mean word confidence from Tesseract's TSV output (level 5 rows are words)."""
    lines: dict[tuple[int, int, int, int], list[str]] = {}
    confs: list[float] = []
    rows = tsv.splitlines()
    for row in rows[1:]:
        cols = row.split("\t")
        if len(cols) < 12 or cols[0] != "5":
            continue
        word = cols[11].strip()
        try:
            conf = float(cols[10])
        except ValueError:
            continue
        if not word or conf < 0:
            continue
        key = (int(cols[1]), int(cols[2]), int(cols[3]), int(cols[4]))  # page, block, paragraph, line
        lines.setdefault(key, []).append(word)
        confs.append(conf)
    paragraphs: dict[tuple[int, int, int], list[str]] = {}
    for key in sorted(lines):
        paragraphs.setdefault(key[:3], []).append(" ".join(lines[key]))
    text = "\n\n".join("\n".join(ls) for _, ls in sorted(paragraphs.items()))
    return OcrResult(text=text, confidence=(sum(confs) / len(confs)) if confs else None, words=len(confs))


def ocr_image(gray: np.ndarray, lang: str = "eng", psm: int = 3, timeout: float = 300.0) -> OcrResult:
    """OCR of an 8-bit grayscale page image (300 dpi or so works best)."""
    exe = tesseract_path()
    if exe is None:
        raise OcrUnavailable("tesseract is not installed (Debian: apt-get install tesseract-ocr tesseract-ocr-eng)")
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
    with tempfile.TemporaryDirectory(prefix="kllama-ocr-") as tmp:
        img = os.path.join(tmp, "page.pgm")
        with open(img, "wb") as f:
            f.write(pgm_bytes(gray))
        proc = subprocess.run([exe, img, os.path.join(tmp, "out"), "-l", lang, "--psm", str(psm), "tsv"],
                              capture_output=True, text=True, timeout=timeout, env=env)
        if proc.returncode != 0:
            if "Failed loading language" in proc.stderr or "Error opening data file" in proc.stderr:
                raise OcrUnavailable(f"tesseract has no traineddata for {lang!r}: {proc.stderr.strip()[:200]}")
            raise RuntimeError(f"tesseract failed ({proc.returncode}): {proc.stderr.strip()[:300]}")
        with open(os.path.join(tmp, "out.tsv"), encoding="utf-8", errors="replace") as f:
            return parse_tsv(f.read())


def character_error_rate(reference: str, hypothesis: str) -> float:
    """Levenshtein distance between the two texts (whitespace runs collapsed) divided by the reference length."""
    a = " ".join(reference.split())
    b = " ".join(hypothesis.split())
    if not a:
        return float(bool(b))
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, start=1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb))
        prev = cur
    return prev[-1] / len(a)
