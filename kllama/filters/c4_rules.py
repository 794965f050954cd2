"""The C4 page and line rules (Raffel et al. 2020, section 2.2; values as in the TFDS ``c4_utils`` that built C4).

Reusable on any web text (e.g. raw CommonCrawl pages). Line rules remove lines; page rules drop pages.
"""

from __future__ import annotations

import re
from pathlib import Path

from kllama.core.document import Document
from kllama.core.ledger import Ledger
from kllama.core.registry import register
from kllama.core.steps import Mapper

_CITATION = re.compile(r"\[\d*\]|\[edit\]|\[citation needed\]", re.IGNORECASE)
_SENTENCE_END = re.compile(r"[.!?][\"')\]]*(?=\s|$)")
_POLICY = ("terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies", "use cookies")
_END_MARKS = (".", "?", "!", '"')


@register
class C4Rules(Mapper):
    """C4's cleaning of one page.

    Lines: citation markers removed; a line is kept only if it ends in terminal punctuation (``. ? ! "``), has at
    least ``min_words_per_line`` words, no word longer than ``max_word_length``, does not mention "javascript" and
    is not a policy/cookie notice. Pages: dropped for ``c4_lorem_ipsum``, ``c4_curly_bracket``, ``c4_badword``
    (only if ``badwords_path`` is given: one word/phrase per line), or ``c4_too_few_sentences`` (fewer than
    ``min_sentences`` sentences left; sentences split on terminal punctuation -- TFDS used NLTK's punkt).
    """

    name = "c4_rules"
    drop_reasons = ("c4_lorem_ipsum", "c4_curly_bracket", "c4_badword", "c4_too_few_sentences")

    def __init__(self, min_words_per_line: int = 5, min_sentences: int = 3, max_word_length: int = 1000,
                 drop_curly_bracket: bool = True, badwords_path: str | None = None) -> None:
        self.min_words_per_line = min_words_per_line
        self.min_sentences = min_sentences
        self.max_word_length = max_word_length
        self.drop_curly_bracket = drop_curly_bracket
        self.badwords: re.Pattern | None = None
        if badwords_path:
            words = [w.strip().lower() for w in Path(badwords_path).read_text(encoding="utf-8").splitlines() if w.strip()]
            if words:
                self.badwords = re.compile(r"(?<!\w)(?:" + "|".join(map(re.escape, words)) + r")(?!\w)")

    def clean_lines(self, text: str, ledger: Ledger | None = None) -> list[str]:
        kept = []
        for raw in text.split("\n"):
            line = _CITATION.sub("", raw).strip()
            reason = self._line_reason(line)
            if reason is None:
                kept.append(line)
            elif ledger is not None:
                ledger.count(f"c4_lines_removed:{reason}")
        return kept

    def _line_reason(self, line: str) -> str | None:
        if not line.endswith(_END_MARKS):
            return "no_terminal_punct"
        words = line.split()
        if len(words) < self.min_words_per_line:
            return "too_few_words"
        if max(len(w) for w in words) > self.max_word_length:
            return "long_word"
        low = line.lower()
        if "javascript" in low:
            return "javascript"
        if any(p in low for p in _POLICY):
            return "policy"
        return None

    def page_reason(self, text: str) -> str | None:
        low = text.lower()
        if "lorem ipsum" in low:
            return "c4_lorem_ipsum"
        if self.drop_curly_bracket and "{" in text:
            return "c4_curly_bracket"
        if self.badwords is not None and self.badwords.search(low):
            return "c4_badword"
        return None

    def transform(self, doc: Document, ledger: Ledger) -> Document | str:
        reason = self.page_reason(doc.text)
        if reason is not None:
            return reason
        text = "\n".join(self.clean_lines(doc.text, ledger))
        if len(_SENTENCE_END.findall(text)) < self.min_sentences:
            return "c4_too_few_sentences"
        doc.text = text
        return doc
