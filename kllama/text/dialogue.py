"""Conversation documents (G2 A.5): ``Speaker: text`` turns, one per line, and stable pseudonyms.

The format every dialogue source writes (docs/dialogue.md):

* a turn is ``{speaker}: {text}``; the text keeps its own line breaks (a Reddit comment's paragraphs), but blank
  lines and trailing spaces inside it are removed and carriage returns become ``\\n``, so a turn never holds an
  empty line;
* turns are separated by one ``\\n``; a blank line (``\\n\\n``) separates independent parts of one document (the
  comment chains of a Reddit thread);
* speaker names contain no ``:`` or line break (replaced by ``_``).
"""

from __future__ import annotations

import hashlib
import re

_BLANKS = re.compile(r"[ \t]*\r?\n(?:[ \t]*\r?\n)+")
_TRAILING = re.compile(r"[ \t]+(?=\n)")
#: characters an IRC nick (RFC 2812 plus common extensions) or a Reddit user name is made of
NAME_CHARS = r"A-Za-z0-9_\-\[\]\\^{}|`"
_NAME_RUN = re.compile(f"[{NAME_CHARS}]+")


def clean_turn(text: str) -> str:
    """A turn's text: CR/CRLF -> LF, blank lines removed, trailing spaces removed, stripped."""
    if "\n" not in text and "\r" not in text:  # one line (IRC): nothing but the ends to strip
        return text.strip()
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _BLANKS.sub("\n", text)
    return _TRAILING.sub("", text).strip()


def speaker_name(name: str) -> str:
    """``name`` made safe as a speaker label (no ``:``, no line break; empty -> ``unknown``)."""
    if ":" in name or "\n" in name or "\r" in name:
        name = re.sub(r"[:\r\n]+", "_", name)
    name = name.strip()
    return name or "unknown"


def format_turns(turns: list[tuple[str, str]]) -> str:
    """``Speaker: text`` lines (turns with no text left are skipped)."""
    lines = []
    for speaker, text in turns:
        text = clean_turn(text)
        if text:
            lines.append(f"{speaker_name(speaker)}: {text}")
    return "\n".join(lines)


def format_parts(parts: list[list[tuple[str, str]]]) -> str:
    """Several turn lists in one document, separated by a blank line (empty parts skipped)."""
    return "\n\n".join(p for p in (format_turns(t) for t in parts) if p)


def pseudonym(name: str, salt: str = "", prefix: str = "user") -> str:
    """A stable pseudonym: ``{prefix}_{first 8 hex of sha1(salt + lower-cased name)}``. The same name gets the same
    pseudonym in every file and run (for the same salt); case differences do not matter (IRC nicks are
    case-insensitive)."""
    digest = hashlib.sha1((salt + name.lower()).encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"{prefix}_{digest}"


def replace_names(text: str, mapping: dict[str, str]) -> str:
    """Every whole name-character run of ``text`` that is a key of ``mapping`` (exact case) replaced by its value
    (``bob2: try this`` -> ``user_1a2b3c4d: try this``)."""
    if not mapping or mapping.keys().isdisjoint(_NAME_RUN.findall(text)):  # the common case, without a callback
        return text
    return _NAME_RUN.sub(lambda m: mapping.get(m.group(0), m.group(0)), text)
