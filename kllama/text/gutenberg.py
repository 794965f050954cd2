"""Project Gutenberg texts: the header fields, and the body without the PG header, credits and licence footer.

Marker spellings vary over 30 years of PG files (spaces inside the asterisks, THIS/THE, EBOOK/E-BOOK/ETEXT, the
credit lines after the START marker, German and French footers); the lists below hold those seen in practice.
"""

from __future__ import annotations

import re

# Lines that end the PG header (the last one within the first HEADER_SCAN_LINES lines wins). Spellings vary:
# spaces inside the asterisks, THIS/THE, "EBOOK"/"E-BOOK"/"ETEXT", and the credits lines that follow the marker.
_START_MARKERS = (
    "*** START OF THE PROJECT GUTENBERG", "*** START OF THIS PROJECT GUTENBERG", "***START OF THE PROJECT GUTENBERG",
    "***START OF THIS PROJECT GUTENBERG", "*** START OF THE COPYRIGHTED", "*END*THE SMALL PRINT",
    "*END THE SMALL PRINT", "*SMALL PRINT!", "****     SMALL PRINT!", '["Small Print" V.',
    "Produced by", "This etext was prepared by", "This Etext was prepared by", "This eBook was prepared by",
    "This etext was produced by", "This Project Gutenberg Etext was prepared by", "E-text prepared by",
    "Distributed Proofreading Team", "Proofreading Team at http://www.pgdp.net", "http://www.pgdp.net",
    "by The Internet Archive)", "by The Internet Archive/Canadian Libraries",
    "by The Internet Archive/American Libraries", "public domain material from the Internet Archive",
    "Internet Archive)", "Internet Archive/Canadian Libraries", "Internet Archive/American Libraries",
    "material from the Google Print project", "The Project Gutenberg", "**The Project Gutenberg",
    "Beginning of this Project Gutenberg", "Project Gutenberg Online Distributed", "Gutenberg Online Distributed",
    "the Project Gutenberg Online Distributed", "Gutenberg Distributed Proofreaders",
    "Project Gutenberg Distributed Proofreaders", "and the Project Gutenberg Online Distributed Proofreading Team",
    "Project Gutenberg TEI", "More information about this book is at the top of this file.",
    "tells you about restrictions in how the file may be used.", "of the etext through OCR.",
    "*****These eBooks Were Prepared By Thousands of Volunteers!*****", "We need your donations more than ever!",
    "      (http://www.ibiblio.org/gutenberg/", "      http://archive.org/details/", "http://gallica.bnf.fr)",
    "Project Runeberg publishes", "http://gutenberg.spiegel.de/ erreichbar.", "http://gutenberg2000.de erreichbar.",
    "                this Project Gutenberg edition.",
)
# Lines that begin the PG footer (the first one after FOOTER_MIN_LINE body lines wins).
_END_MARKERS = (
    "*** END OF THE PROJECT GUTENBERG", "*** END OF THIS PROJECT GUTENBERG", "***END OF THE PROJECT GUTENBERG",
    "***END OF THIS PROJECT GUTENBERG", "*** END OF THE COPYRIGHTED", "End of the Project Gutenberg",
    "End of The Project Gutenberg", "End of Project Gutenberg", "End of this Project Gutenberg",
    "END OF PROJECT GUTENBERG", "End of this is COPYRIGHTED", "by Project Gutenberg",
    "**This is a COPYRIGHTED Project Gutenberg Etext, Details Above**", "The Project Gutenberg Etext of ",
    "More information about this book is at the top of this file.", "We need your donations more than ever!",
    "Ende dieses Project Gutenberg", "Ende dieses Projekt Gutenberg", "Ende diese Project Gutenberg",
    "Ende dieses Etextes ", "Fin de Project Gutenberg", "Ce document fut presente en lecture",
    "Ce document fut présenté en lecture", "*** START: FULL LICENSE ***",
)
HEADER_SCAN_LINES = 600
FOOTER_MIN_LINE = 100

_START_RE = re.compile(r"^\s*\*{3}\s*START OF (THE|THIS) PROJECT GUTENBERG", re.I)
_END_RE = re.compile(r"^\s*\*{3}\s*END OF (THE|THIS) PROJECT GUTENBERG", re.I)
_HEADER_FIELD_RE = re.compile(r"^(Title|Author|Language|Release Date|Character set encoding|Editor|Translator)"
                              r"\s*:\s*(.*)$", re.I)
_EBOOK_NO_RE = re.compile(r"\[E-?(?:Book|Text)\s*#\s*(\d+)\]", re.I)


def has_gutenberg_header(lines: list[str]) -> bool:
    """True when one of the first ``HEADER_SCAN_LINES`` lines is a PG ``*** START OF ...`` marker."""
    return any(_START_RE.match(line) for line in lines[:HEADER_SCAN_LINES])


def strip_gutenberg(text: str) -> str:
    """The body of a raw Project Gutenberg text: header, credits and licence footer removed.

    Header: everything up to and including the *last* marker line among the first ``HEADER_SCAN_LINES``
    lines (the START line, then possibly "Produced by ..." credit lines). Footer: everything from the first
    END/licence marker line after ``FOOTER_MIN_LINE`` body lines. Markers match at the line start,
    case-sensitively except for the ``*** START/END OF THE/THIS PROJECT GUTENBERG`` family, which also
    tolerates missing spaces and leading blanks. Line ends become ``\\n``; leading and trailing blank lines go.
    """
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    out: list[str] = []
    body_lines = 0
    for i, line in enumerate(lines):
        if i < HEADER_SCAN_LINES and (_START_RE.match(line) or line.startswith(_START_MARKERS)):
            out = []
            body_lines = 0
            continue
        if body_lines >= FOOTER_MIN_LINE and (_END_RE.match(line) or line.startswith(_END_MARKERS)):
            break
        out.append(line.rstrip())
        body_lines += 1
    return "\n".join(out).strip("\n")


def gutenberg_header(lines: list[str]) -> dict[str, str]:
    """``Title``/``Author``/``Language``/... fields of a PG header (continuation lines joined)."""
    fields: dict[str, str] = {}
    current = None
    for line in lines[:HEADER_SCAN_LINES]:
        if _START_RE.match(line):
            break
        m = _HEADER_FIELD_RE.match(line.strip())
        if m:
            current = m.group(1).lower()
            fields[current] = m.group(2).strip()
        elif current and line.strip():
            fields[current] = f"{fields[current]} {line.strip()}".strip()
        else:
            current = None
    for line in lines[:HEADER_SCAN_LINES]:
        m = _EBOOK_NO_RE.search(line)
        if m:
            fields["ebook"] = m.group(1)
            break
    return {k: re.sub(r"\s+", " ", v) for k, v in fields.items()}
