"""cc_net's text normalization (``text_normalizer.py``): for line dedup hashes and before SentencePiece.

Kept exactly as cc_net has it, quirks included (its punctuation table has 34 characters; digits become 0
before punctuation is removed). The C core's ``ccnet_line_hashes`` implements ``normalize_for_dedup`` too.
"""

from __future__ import annotations

import re
import unicodedata

#: cc_net's text_normalizer.UNICODE_PUNCT (kept exactly, including its quirks such as the fullwidth 1).
UNICODE_PUNCT: dict[str, str] = {
    "，": ",", "。": ".", "、": ",", "„": '"', "”": '"', "“": '"', "«": '"', "»": '"', "１": '"', "」": '"',
    "「": '"', "《": '"', "》": '"', "´": "'", "∶": ":", "：": ":", "？": "?", "！": "!", "（": "(", "）": ")",
    "；": ";", "–": "-", "—": " - ", "．": ". ", "～": "~", "’": "'", "…": "...", "━": "-", "〈": "<", "〉": ">",
    "【": "[", "】": "]", "％": "%", "►": "-",
}
_PUNCT_CLASS = "".join(UNICODE_PUNCT)
_NON_PRINTING = "".join(map(chr, list(range(0, 32)) + list(range(127, 160))))
DIGIT_RE = re.compile(r"\d")
NON_PRINTING_RE = re.compile(f"[{re.escape(_NON_PRINTING)}]")
PUNCT_OR_NON_PRINTING_RE = re.compile(f"[{re.escape(_PUNCT_CLASS + _NON_PRINTING)}]")
# the same set without "\n": used on whole documents whose lines were already split out and stripped
_PUNCT_OR_NON_PRINTING_NO_NL_RE = re.compile(f"[{re.escape(_PUNCT_CLASS + _NON_PRINTING.replace(chr(10), ''))}]")


def normalize_for_dedup(line: str) -> str:
    """cc_net's ``normalize_for_dedup``: strip, lowercase, digits -> 0, drop unicode punctuation and
    non-printing characters."""
    line = line.strip()
    if not line:
        return line
    line = line.lower()
    line = DIGIT_RE.sub("0", line)
    return PUNCT_OR_NON_PRINTING_RE.sub("", line)


def normalized_lines(text: str) -> list[str]:
    """``[normalize_for_dedup(l) for l in text.split("\\n")]``, computed on the whole text at once.

    Lines are stripped first (as cc_net does), then lowercasing, digit folding and character removal run
    once over the joined text; ``\\n`` is kept as the separator. Equal to the per-line form (tested).
    """
    stripped = "\n".join([ln.strip() for ln in text.split("\n")])
    stripped = _PUNCT_OR_NON_PRINTING_NO_NL_RE.sub("", DIGIT_RE.sub("0", stripped.lower()))
    return stripped.split("\n")


_PUNCT_TABLE = str.maketrans(UNICODE_PUNCT)


_MN_RE: re.Pattern | None = None


def _mn_re() -> re.Pattern:
    """A character class of every combining mark (category Mn) of this Python's Unicode database."""
    global _MN_RE
    if _MN_RE is None:
        marks = [chr(c) for c in range(0x300, 0x110000) if unicodedata.category(chr(c)) == "Mn"]
        _MN_RE = re.compile(f"[{re.escape(''.join(marks))}]")
    return _MN_RE


def strip_accents(line: str) -> str:
    """cc_net's ``strip_accents``: NFD, then drop combining marks (category Mn). ASCII text is returned as is;
    other text goes through one regex substitution instead of a per-character loop (same result)."""
    if line.isascii():
        return line
    return _mn_re().sub("", unicodedata.normalize("NFD", line))


def normalize(line: str, accent: bool = True, case: bool = True, numbers: bool = True, punct: int = 1) -> str:
    """cc_net's ``text_normalizer.normalize`` (defaults as cc_net calls it before SentencePiece)."""
    line = line.strip()
    if not line:
        return line
    if case:
        line = line.lower()
    if accent:
        line = strip_accents(line)
    if numbers:
        line = DIGIT_RE.sub("0", line)
    if punct == 1:
        line = line.translate(_PUNCT_TABLE)
    elif punct == 2:
        line = re.sub(f"[{re.escape(''.join(UNICODE_PUNCT))}]", "", line)
    return NON_PRINTING_RE.sub("", line)
