"""Reddit from the Pushshift monthly dumps (G2 A.5): ``RC_YYYY-MM.zst`` (comments), ``RS_YYYY-MM.zst``
(submissions), newline-delimited JSON compressed with zstd's 2 GiB window (``--long=31``).

The reader turns every record that passes the per-record rules into one small document (a comment's body, or a
submission's title and text) with the thread fields in ``meta``; the threads are rebuilt afterwards on the engine
by two global steps keyed by ``link_id`` (:mod:`kllama.dedup.reddit_threads`): ``reddit_threads`` picks each
submission's best comment chains from ids and scores only, ``reddit_assemble`` writes the chosen turns into the
submission's document. See docs/dialogue.md.
"""

from __future__ import annotations

import html
import os
import re
from collections.abc import Iterator
from typing import Any

from kllama.core.document import Document, make_id
from kllama.core.ledger import Ledger
from kllama.core.registry import register
from kllama.core.steps import Source
from kllama.formats.jsonlines import PUSHSHIFT_WINDOW_SIZE, is_utf8, iter_json_records
from kllama.text.dialogue import clean_turn, pseudonym

#: accounts that post automatically (AutoModerator and the usual helpers); ``bot_pattern`` catches the rest
REDDIT_BOTS: tuple[str, ...] = ("AutoModerator", "RemindMeBot", "WikiTextBot", "sneakpeekbot", "RepostSleuthBot",
                                "SaveVideo", "savevideobot", "haikusbot", "B0tRank", "GifReversingBot",
                                "LinkFixerBot", "TweetPoster", "totesmessenger", "alphabot", "converter-bot")
#: bodies that mean the text is gone
GONE = frozenset({"[deleted]", "[removed]", "[ Removed by Reddit ]", "[removed by reddit]"})
AUTHOR_MODES = ("keep", "pseudonym")


def kind_of(rec: dict[str, Any], path: str) -> str | None:
    """``comment``, ``submission`` or ``None``: by the file name (``RC_``/``RS_``), else by the fields."""
    base = os.path.basename(path)
    if base.startswith("RC_"):
        return "comment"
    if base.startswith("RS_"):
        return "submission"
    if "body" in rec and "link_id" in rec:
        return "comment"
    if "title" in rec:
        return "submission"
    return None


def _fullname(prefix: str, value: Any) -> str | None:
    if not isinstance(value, str) or not value:
        return None
    return value if value.startswith(("t1_", "t3_")) else f"{prefix}{value}"


def _score(rec: dict[str, Any]) -> int | None:
    v = rec.get("score")
    if isinstance(v, bool):
        return None
    if isinstance(v, int | float):
        return int(v)
    if isinstance(v, str) and re.fullmatch(r"-?\d+", v):
        return int(v)
    return None


@register
class RedditSource(Source):
    """Pushshift comment and submission dumps as thread pieces (one document per record; the threads are built
    by the ``reddit_threads`` and ``reddit_assemble`` steps).

    ``subreddits`` (an allow list, case-insensitive; ``None``: all) and ``exclude_subreddits``; ``min_score``
    (comments) and ``min_submission_score``; ``bots`` and ``bot_pattern`` (authors dropped); ``drop_nsfw``
    (``over_18`` submissions); ``authors``: ``keep`` or ``pseudonym`` (stable ``user_xxxxxxxx`` names, also for
    ``u/name`` mentions). Drops: ``invalid_json``, ``invalid_utf8``, ``line_too_long``, ``truncated_file``,
    ``not_reddit`` (neither a comment nor a submission, or without ids), ``subreddit``, ``deleted`` (text
    ``[deleted]``/``[removed]``), ``bot_author``, ``low_score``, ``nsfw``, ``empty_text``.
    """

    name = "reddit"
    drop_reasons = ("invalid_json", "invalid_utf8", "line_too_long", "truncated_file", "not_reddit", "subreddit",
                    "deleted", "bot_author", "low_score", "nsfw", "empty_text")
    patterns = ("RC_*.zst", "RS_*.zst", "RC_*.jsonl", "RS_*.jsonl", "RC_*.ndjson", "RS_*.ndjson", "RC_*.json",
                "RS_*.json", "RC_*.gz", "RS_*.gz")

    def __init__(self, subreddits: list[str] | None = None, exclude_subreddits: list[str] | None = None,
                 min_score: int = 2, min_submission_score: int = 1, bots: list[str] | tuple[str, ...] = REDDIT_BOTS,
                 bot_pattern: str | None = r"(?i)bot$", drop_nsfw: bool = True,
                 authors: str = "pseudonym", pseudonym_salt: str = "", lang: str | None = "en",
                 max_line_bytes: int = 1 << 20, max_window_size: int = PUSHSHIFT_WINDOW_SIZE,
                 **options: Any) -> None:
        super().__init__(**options)
        if authors not in AUTHOR_MODES:
            raise ValueError(f"authors {authors!r}: use one of {', '.join(AUTHOR_MODES)}")
        self.subreddits = frozenset(s.lower() for s in subreddits) if subreddits else None
        self.exclude = frozenset(s.lower() for s in (exclude_subreddits or []))
        self.min_score = int(min_score)
        self.min_submission_score = int(min_submission_score)
        self.bots = frozenset(b.lower() for b in bots)
        self.bot_re = re.compile(bot_pattern) if bot_pattern else None
        self.drop_nsfw = bool(drop_nsfw)
        self.authors = authors
        self.salt = pseudonym_salt
        self.lang = lang
        self.max_line_bytes = int(max_line_bytes)
        self.max_window_size = int(max_window_size)

    def speaker(self, author: Any) -> str:
        """The name a turn is written with."""
        if not isinstance(author, str) or not author or author in GONE:
            return "deleted"
        return pseudonym(author, self.salt) if self.authors == "pseudonym" else author

    def _mentions(self, text: str) -> str:
        if self.authors != "pseudonym":
            return text
        return re.sub(r"(?<![\w/])(/?u/)([A-Za-z0-9_-]{3,20})", lambda m: m.group(1) + pseudonym(m.group(2), self.salt),
                      text)

    def record_document(self, rec: Any, kind: str | None) -> Document | str:
        """The document of one record, or the drop reason."""
        if not isinstance(rec, dict) or kind is None:
            return "not_reddit"
        rid = rec.get("id")
        if not isinstance(rid, str) or not rid:
            return "not_reddit"
        sub = rec.get("subreddit")
        sub_l = sub.lower() if isinstance(sub, str) else ""
        if (self.subreddits is not None and sub_l not in self.subreddits) or sub_l in self.exclude:
            return "subreddit"
        author = rec.get("author")
        if isinstance(author, str) and (author.lower() in self.bots or (self.bot_re and self.bot_re.search(author))):
            return "bot_author"
        score = _score(rec)
        if kind == "comment":
            body = rec.get("body")
            link = _fullname("t3_", rec.get("link_id"))
            parent = _fullname("t3_", rec.get("parent_id"))
            if link is None or parent is None:
                return "not_reddit"
            if not isinstance(body, str) or body.strip() in GONE:
                return "deleted"
            if score is None or score < self.min_score:
                return "low_score"
            name = f"t1_{rid}"
            text = clean_turn(html.unescape(body))
        else:
            title = rec.get("title")
            selftext = rec.get("selftext") if isinstance(rec.get("selftext"), str) else ""
            if not isinstance(title, str) or title.strip() in GONE or selftext.strip() in GONE:
                return "deleted"
            if rec.get("removed_by_category") or rec.get("removed_by") or rec.get("banned_by"):
                return "deleted"
            if self.drop_nsfw and rec.get("over_18"):
                return "nsfw"
            if score is None or score < self.min_submission_score:
                return "low_score"
            name = f"t3_{rid}"
            link, parent = name, None
            text = clean_turn(html.unescape(title))
            body = clean_turn(html.unescape(selftext))
            if text and body:
                text = f"{text}\n{body}"
        text = self._mentions(text)
        if not text:
            return "empty_text"
        created = rec.get("created_utc")
        meta = {"kind": kind, "name": name, "link_id": link, "parent_id": parent, "score": score,
                "author": self.speaker(author), "subreddit": sub if isinstance(sub, str) else None,
                "created_utc": int(float(created)) if isinstance(created, int | float | str)
                and re.fullmatch(r"\d+(\.\d+)?", str(created)) else None}
        permalink = rec.get("permalink")
        url = f"https://www.reddit.com{permalink}" if isinstance(permalink, str) and permalink.startswith("/") \
            else None
        return Document(id=make_id(self.source_name, name), text=text, source=self.source_name, url=url,
                        lang=self.lang, meta=meta)

    def read(self, path: str, ledger: Ledger) -> Iterator[Document]:
        for _line_no, rec, nbytes in iter_json_records(path, ledger, self.max_line_bytes, self.max_window_size):
            doc = self.record_document(rec, kind_of(rec, path) if isinstance(rec, dict) else None)
            if isinstance(doc, str):
                ledger.drop(doc, 1, nbytes)
                continue
            if not is_utf8(doc.text):
                ledger.drop("invalid_utf8", 1, nbytes)
                continue
            yield doc
