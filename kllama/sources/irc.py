"""IRC channel logs in the layout of irclogs.ubuntu.com (G2 A.5): ``YYYY/MM/DD/#channel.txt``, one day per file.

Lines: ``[HH:MM] <nick> text`` (messages; ``[HH:MM:SS]`` too), ``[HH:MM]  * nick text`` (actions, ``/me``) and
system lines ``=== ...`` (joins, parts, quits, nick changes; with or without a time stamp). A day is cut into
conversations wherever nobody spoke for more than ``gap_minutes``; each conversation becomes one document of
``nick: text`` lines (:mod:`kllama.text.dialogue`, docs/dialogue.md).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from kllama.core.document import Document, make_id
from kllama.core.ledger import Ledger
from kllama.core.registry import register
from kllama.core.steps import Source
from kllama.formats.jsonlines import TruncatedInput, count_truncation, iter_lines, open_decompressed
from kllama.text.dialogue import format_turns, pseudonym, replace_names

#: the bots of the Ubuntu channels (factoids, feeds, services); ``bot_pattern`` catches the rest
UBUNTU_BOTS: tuple[str, ...] = ("ubottu", "ubotu", "ubot2", "ubot3", "ubot4", "ubot5", "lubotu1", "lubotu2",
                                "lubotu3", "lubottu", "ubuntulog", "ChanServ", "NickServ", "MemoServ", "OperServ",
                                "Guardian", "floodBot1", "floodBot2", "floodBot3")
NICK_MODES = ("keep", "pseudonym")

_STAMP = re.compile(r"^\[(\d{1,2}):(\d{2})(?::(\d{2}))?\]\s?(.*)$")
_MESSAGE = re.compile(r"^<[@+%&~]?([^>\s]+)>\s?(.*)$")
_ACTION = re.compile(r"^\s*\*\s+(\S+)\s?(.*)$")
_SYSTEM = re.compile(r"^\s*(?:===|-!-|\*\*\*|--\s)")
_DAY_PATH = re.compile(r"(\d{4})/(\d{2})/(\d{2})/([^/]+?)\.txt$")
_DAY_NAME = re.compile(r"(\d{4})-(\d{2})-(\d{2})")


def day_and_channel(path: str) -> tuple[str | None, str | None]:
    """(``YYYY-MM-DD``, ``#channel``) from ``.../YYYY/MM/DD/#channel.txt``; else a date in the file name."""
    norm = path.replace(os.sep, "/")
    m = _DAY_PATH.search(norm)
    if m:
        return f"{m.group(1)}-{m.group(2)}-{m.group(3)}", m.group(4)
    m = _DAY_NAME.search(os.path.basename(norm))
    return (f"{m.group(1)}-{m.group(2)}-{m.group(3)}" if m else None), None


@dataclass
class _Conversation:
    start_line: int = 0
    start: str = ""
    end: str = ""
    turns: list[tuple[str, str]] = field(default_factory=list)
    nbytes: int = 0


@register
class IrcSource(Source):
    """IRC day logs (irclogs.ubuntu.com layout) as conversations of ``nick: text`` lines.

    ``gap_minutes``: a silence longer than this starts a new conversation. ``nicks``: ``keep`` or ``pseudonym``
    (stable ``user_xxxxxxxx`` names from a hash of the lower-cased nick and ``pseudonym_salt``, also where a nick is
    written inside a message). System lines (``=== ...``) and the lines of ``bots`` (or nicks matching
    ``bot_pattern``) are removed (counted as statistics); ``actions``: ``keep`` (as ``nick: /me text``) or ``drop``.
    A conversation longer than ``max_turns`` is cut into several documents.
    Drops: ``short_conversation`` (fewer than ``min_turns`` turns or ``min_speakers`` speakers),
    ``truncated_file``.
    """

    name = "irc"
    drop_reasons = ("short_conversation", "truncated_file")
    patterns = ("*.txt", "*.txt.gz", "*.txt.zst", "*.log")

    def __init__(self, gap_minutes: float = 30.0, nicks: str = "keep", pseudonym_salt: str = "",
                 bots: list[str] | tuple[str, ...] = UBUNTU_BOTS, bot_pattern: str | None = r"(?i)bot\d*$",
                 actions: str = "keep", min_turns: int = 3, min_speakers: int = 2, max_turns: int = 400,
                 channel: str | None = None, lang: str | None = "en", url_base: str | None = None,
                 max_line_bytes: int = 1 << 16, **options: Any) -> None:
        super().__init__(**options)
        if nicks not in NICK_MODES:
            raise ValueError(f"nicks {nicks!r}: use one of {', '.join(NICK_MODES)}")
        if actions not in ("keep", "drop"):
            raise ValueError(f"actions {actions!r}: use keep or drop")
        if float(gap_minutes) <= 0 or int(max_turns) < 1:
            raise ValueError("gap_minutes and max_turns must be positive")
        self.gap_minutes = float(gap_minutes)
        self.nicks = nicks
        self.salt = pseudonym_salt
        self.bots = frozenset(b.lower() for b in bots)
        self.bot_re = re.compile(bot_pattern) if bot_pattern else None
        self.actions = actions
        self.min_turns, self.min_speakers, self.max_turns = int(min_turns), int(min_speakers), int(max_turns)
        self.channel = channel
        self.lang = lang
        self.url_base = url_base.rstrip("/") if url_base else None
        self.max_line_bytes = int(max_line_bytes)

    def is_bot(self, nick: str) -> bool:
        return nick.lower() in self.bots or bool(self.bot_re and self.bot_re.search(nick))

    def read(self, path: str, ledger: Ledger) -> Iterator[Document]:
        day, channel = day_and_channel(path)
        channel = channel or self.channel
        parts = path.replace(os.sep, "/").split("/")
        locator_base = "/".join(parts[-4:]) if day and _DAY_PATH.search("/".join(parts[-4:])) else parts[-1]
        url = None
        if self.url_base and day and channel:
            url = f"{self.url_base}/{day.replace('-', '/')}/{channel.replace('#', '%23')}.txt"
        conv = _Conversation()
        last_minute: float | None = None
        wrap = 0.0
        raw_prev = -1.0
        names: dict[str, str] = {}  # nick -> pseudonym, every nick seen speaking in this file

        def emit(c: _Conversation) -> Iterator[Document]:
            speakers = {s for s, _ in c.turns}
            if len(c.turns) < self.min_turns or len(speakers) < self.min_speakers:
                if c.turns:
                    ledger.drop("short_conversation", 1, c.nbytes)
                return
            turns = c.turns
            if self.nicks == "pseudonym":
                turns = [(names[s], replace_names(t, names)) for s, t in turns]
            text = format_turns(turns)
            meta = {"file": locator_base, "date": day, "channel": channel, "start": c.start, "end": c.end,
                    "turns": len(turns), "speakers": len(speakers), "first_line": c.start_line}
            yield Document(id=make_id(self.source_name, f"{locator_base}:{c.start_line}"), text=text,
                           source=self.source_name, url=url, lang=self.lang, meta=meta)

        with open(path, "rb") as raw:
            stream = open_decompressed(raw, path)
            try:
                for line_no, line in iter_lines(stream, self.max_line_bytes):
                    if line is None:
                        ledger.count("irc:long_lines")
                        continue
                    try:
                        s = line.decode("utf-8")
                    except UnicodeDecodeError:
                        s = line.decode("latin-1")
                        ledger.count("irc:latin1_lines")
                    s = s.rstrip("\r\n")
                    if not s.strip():
                        continue
                    m = _STAMP.match(s)
                    body = m.group(4) if m else s
                    if _SYSTEM.match(body):
                        ledger.count("irc:system_lines")
                        continue
                    if m is None:
                        ledger.count("irc:unparsed_lines")
                        continue
                    msg = _MESSAGE.match(body)
                    if msg:
                        nick, text = msg.group(1), msg.group(2)
                    else:
                        act = _ACTION.match(body)
                        if act is None:
                            ledger.count("irc:unparsed_lines")
                            continue
                        if self.actions == "drop":
                            ledger.count("irc:action_lines")
                            continue
                        nick, text = act.group(1), "/me " + act.group(2)
                    if self.is_bot(nick):
                        ledger.count("irc:bot_lines")
                        continue
                    if not text.strip():
                        continue
                    hh, mm = int(m.group(1)), int(m.group(2))
                    minute = hh * 60 + mm + (int(m.group(3)) / 60 if m.group(3) else 0)
                    if minute < raw_prev - 1:  # the clock went back: past midnight
                        wrap += 1440
                    raw_prev = minute
                    minute += wrap
                    stamp = f"{hh:02d}:{mm:02d}"
                    split = last_minute is not None and minute - last_minute > self.gap_minutes
                    if split or len(conv.turns) >= self.max_turns:
                        yield from emit(conv)
                        conv = _Conversation()
                    last_minute = minute
                    if nick not in names:
                        names[nick] = pseudonym(nick, self.salt)
                    if not conv.turns:
                        conv.start_line, conv.start = line_no, stamp
                    conv.end = stamp
                    conv.turns.append((nick, text))
                    conv.nbytes += len(line)
            except TruncatedInput as exc:  # the conversations before the cut are kept
                count_truncation(ledger, exc)
        yield from emit(conv)
