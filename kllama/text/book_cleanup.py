"""Cleaning of text extracted from book pages (PDF text layers, DjVu text layers, OCR).

:func:`clean_pages` runs, in order:

1. **characters**: ligatures (ﬁ ﬂ ﬀ ﬃ ﬄ ﬅ ﬆ) spelled out, soft hyphens and zero-width characters removed,
   no-break and other Unicode spaces made plain spaces, CRLF made LF;
2. **running headers, footers and page numbers**: the first and last two lines of each page are candidates; a
   candidate is removed when it is a bare page number (``12``, ``- 12 -``, ``xiv``, ``Page 12``, ``12 of 300``), or
   when its *shape* (lower case, digits as ``#``) recurs at the same end of at least ``min_running_share`` of the
   pages (and at least ``min_running_pages``); an upper-case first line is also a running title when the book
   has it in another case elsewhere (the chapter heading) or the text under it continues a sentence;
3. **garbage pages** dropped: too little text, too many symbols (``max_symbol_ratio`` of the non-space
   characters are neither letters nor digits), too few dictionary words (``min_word_ratio`` of the word tokens
   are among the common words of the book's language; English and a few others have a list, other languages
   skip this test);
4. **hyphenation at line ends** joined: ``exam-⏎ple`` becomes ``example``; the book itself is the dictionary --
   when ``well-known`` occurs elsewhere in the book with its hyphen and ``wellknown`` does not, the hyphen stays
   (``well-known``); a capitalized continuation (``Navier-⏎Stokes``) keeps its hyphen;
5. **reflow**: the lines of a page become paragraphs (a line ends a paragraph when it is blank, or short and ends
   a sentence; a short line without final punctuation between paragraphs is a heading of its own), and a
   paragraph cut by a page break is joined to its continuation on the next page.

:func:`book_verdict` then says whether enough survived: the whole book is dropped when fewer than
``min_book_chars`` characters, or less than ``min_kept_share`` of the extracted characters, are left.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field

LIGATURES = {"\ufb00": "ff", "\ufb01": "fi", "\ufb02": "fl", "\ufb03": "ffi", "\ufb04": "ffl", "\ufb05": "st",
             "\ufb06": "st", "\u0132": "IJ", "\u0133": "ij", "\u0152": "OE", "\u0153": "oe", "\ua732": "AA",
             "\ua733": "aa"}
_DROP_CHARS = dict.fromkeys(map(ord, "\u00ad\u200b\u200c\u200d\u2060\ufeff"), None)
_SPACES = dict.fromkeys(map(ord, "\u00a0\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
                             "\u202f\u205f\u3000\t"), " ")
_PAGE_NUMBER = re.compile(
    r"^\s*(?:page\s+|p\.\s*)?[\[(\-\u2013\u2014]?\s*(?:\d{1,4}|[ivxlcdm]{1,8})\s*[\])\-\u2013\u2014]?"
    r"(?:\s*(?:of|/)\s*\d{1,4})?\s*$", re.I)
_DIGITS = re.compile(r"\d+")
_WS = re.compile(r"[ ]{2,}")
_WORD = re.compile(r"[^\W\d_]+")
_HYPHEN_BREAK = re.compile(r"(\w+)-[ ]*\n[ ]*(\w+)")
_SENTENCE_END = re.compile(r"[.!?:;\"\u201d')\]]$")

#: common words per language (ISO 639-1): function words and the commonest words of science prose
COMMON_WORDS: dict[str, frozenset[str]] = {
    "en": frozenset("""
a about above after again against all also although always among an and another any are as at be because been
before being below between both but by can could did do does done down during each either even every few first
for from further had has have having he her here hers him his how however i if in into is it its itself just
last least less let like made make many may me might more most much must my near neither never new next no nor
not now of off often on once one only or other our out over own per perhaps same second several shall she should
show shown since so some such than that the their them then there therefore these they third this those though
three through thus to too two under until up upon us used using very was we well were what when where whether
which while who whom whose why will with within without would yet you your
equation equations function functions value values given hence consider figure table section chapter theorem
proof example solution problem result results case cases number numbers point points set sets system systems
time order form field energy data method methods model models theory general small large high low first
""".split()),
    "de": frozenset("der die das und ist in zu den von mit sich des auf für nicht als auch es an werden aus er hat "
                    "dass sie nach wird bei einer um am sind noch wie einem über einen so zum war haben nur oder "
                    "aber vor zur bis mehr durch man dann soll kann wenn ein eine dem im".split()),
    "fr": frozenset("le la les de des du un une et est en que qui dans pour pas par sur au aux avec ce cette il "
                    "elle ne se sont plus ou son sa ses on mais comme tout nous vous leur été être fait peut donc "
                    "si où entre sans sous".split()),
    "es": frozenset("el la los las de del un una y es en que por con para no se su sus al lo como más pero este "
                    "esta son entre cuando muy sin sobre también hasta hay donde desde todo nos ser fue ha".split()),
}


def normalize_chars(text: str) -> str:
    """Ligatures spelled out, soft hyphens and zero-width characters removed, Unicode spaces plain, LF lines."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = text.translate(_DROP_CHARS).translate(_SPACES)
    if any(c in LIGATURES for c in text):
        text = "".join(LIGATURES.get(c, c) for c in text)
    return unicodedata.normalize("NFC", text)


def is_page_number(line: str) -> bool:
    """``12``, ``- 12 -``, ``[12]``, ``xiv``, ``Page 12``, ``12 of 300``, ``12/300``."""
    return bool(_PAGE_NUMBER.match(line))


def _shape(line: str) -> str:
    return _WS.sub(" ", _DIGITS.sub("#", line.strip().lower()))


@dataclass
class CleanStats:
    pages: int = 0
    pages_kept: int = 0
    pages_empty: int = 0
    pages_garbage: Counter = field(default_factory=Counter)
    running_lines: int = 0
    page_numbers: int = 0
    hyphens_joined: int = 0
    hyphens_kept: int = 0
    chars_extracted: int = 0
    chars_kept: int = 0


def strip_running_lines(pages: list[list[str]], min_running_share: float = 0.2, min_running_pages: int = 3,
                        edge: int = 2, stats: CleanStats | None = None) -> list[list[str]]:
    """Remove page numbers and running headers/footers from the first/last ``edge`` non-blank lines of pages."""
    stats = stats if stats is not None else CleanStats()
    tops: Counter = Counter()
    bottoms: Counter = Counter()
    for lines in pages:
        idx = [i for i, line in enumerate(lines) if line.strip()]
        tops.update({_shape(lines[i]) for i in idx[:edge]})
        bottoms.update({_shape(lines[i]) for i in idx[-edge:]})
    need = max(min_running_pages, int(min_running_share * len(pages) + 0.999))
    # every line of the book by its case-folded text, to recognize a chapter's title printed as a running header
    folded: Counter = Counter(" ".join(line.split()).casefold() for lines in pages for line in lines if line.strip())
    out = []
    for lines in pages:
        idx = [i for i, line in enumerate(lines) if line.strip()]
        drop = set()
        for pos, counter in ((idx[:edge], tops), (idx[-edge:], bottoms)):
            for i in pos:
                line = lines[i]
                if is_page_number(line):
                    drop.add(i)
                    stats.page_numbers += 1
                elif len(line.strip()) <= 120 and counter[_shape(line)] >= need:
                    drop.add(i)
                    stats.running_lines += 1
        if idx and idx[0] not in drop and _running_title(lines, idx, folded):
            drop.add(idx[0])
            stats.running_lines += 1
        out.append([line for i, line in enumerate(lines) if i not in drop])
    return out


def _running_title(lines: list[str], idx: list[int], folded: Counter) -> bool:
    """Whether the page's first line is an upper-case running title too rare to recur often enough (a chapter of
    a few pages): it repeats a line of the book in other case (the chapter's heading), or the text under it
    continues a sentence (starts in lower case)."""
    first = " ".join(lines[idx[0]].split())
    if len(first) > 80 or not first.isupper():
        return False
    if folded[first.casefold()] >= 2:
        return True
    nxt = next((lines[i].strip() for i in idx[1:] if not is_page_number(lines[i])), "")
    return nxt[:1].islower()


def page_problem(text: str, lang: str | None, min_page_chars: int = 40, max_symbol_ratio: float = 0.3,
                 min_word_ratio: float = 0.08, min_tokens_for_ratio: int = 25) -> str | None:
    """Why a page is not worth keeping (``empty``, ``symbols``, ``words``), or None."""
    letters = sum(1 for c in text if c.isalnum())
    if letters < min_page_chars:
        return "empty"
    nonspace = sum(1 for c in text if not c.isspace())
    if (nonspace - letters) > max_symbol_ratio * nonspace:
        return "symbols"
    words = COMMON_WORDS.get((lang or "").split("-")[0].lower())
    if words:
        tokens = [t.lower() for t in _WORD.findall(text)]
        if len(tokens) >= min_tokens_for_ratio and sum(1 for t in tokens if t in words) < min_word_ratio * len(tokens):
            return "words"
    return None


def dehyphenate(text: str, vocabulary: set[str], hyphenated: set[str], stats: CleanStats | None = None) -> str:
    """Join words hyphenated at line ends (see the module docstring); the line break goes with the hyphen."""
    stats = stats if stats is not None else CleanStats()

    def fix(m: re.Match) -> str:
        a, b = m.group(1), m.group(2)
        if b[:1].isupper() or a[-1:].isdigit() or b[:1].isdigit():
            stats.hyphens_kept += 1
            return f"{a}-{b}"
        joined = (a + b).lower()
        if f"{a}-{b}".lower() in hyphenated and joined not in vocabulary:
            stats.hyphens_kept += 1
            return f"{a}-{b}"
        stats.hyphens_joined += 1
        return a + b

    return _HYPHEN_BREAK.sub(fix, text)


def reflow(lines: list[str]) -> list[str]:
    """Lines of one page -> paragraphs (see the module docstring)."""
    nonblank = [len(line.strip()) for line in lines if line.strip()]
    if not nonblank:
        return []
    typical = sorted(nonblank)[len(nonblank) // 2] if len(nonblank) >= 3 else max(nonblank)
    paragraphs: list[str] = []
    cur: list[str] = []
    for i, raw in enumerate(lines):
        line = _WS.sub(" ", raw.strip())
        if not line:
            if cur:
                paragraphs.append(" ".join(cur))
                cur = []
            continue
        short = len(line) < 0.75 * typical
        nxt = next((x.strip() for x in lines[i + 1:] if x.strip()), "")
        heading = (short and not _SENTENCE_END.search(line) and len(line) <= 80 and bool(nxt)
                   and not nxt[:1].islower() and not line[:1].islower() and len(nonblank) > 2
                   and (not cur or (len(line) < 0.6 * typical and bool(_SENTENCE_END.search(cur[-1])))))
        if heading and cur:  # a heading right under a paragraph whose last line was nearly full
            paragraphs.append(" ".join(cur))
            cur = []
        cur.append(line)
        if heading or (short and _SENTENCE_END.search(line)):
            paragraphs.append(" ".join(cur))
            cur = []
    if cur:
        paragraphs.append(" ".join(cur))
    return paragraphs


@dataclass
class CleanBook:
    text: str
    stats: CleanStats
    #: indices of the pages kept
    kept: list[int]


def clean_pages(pages: list[str], lang: str | None = "en", reflow_lines: bool = True, min_page_chars: int = 40,
                max_symbol_ratio: float = 0.3, min_word_ratio: float = 0.08, min_running_share: float = 0.2,
                min_running_pages: int = 3, skip_pages: set[int] | None = None) -> CleanBook:
    """Page texts of one book -> the book's clean text (see the module docstring). ``skip_pages`` are pages the
    caller already rejected (e.g. OCR with too low a confidence): counted as garbage, not read."""
    stats = CleanStats(pages=len(pages))
    norm = [normalize_chars(p) for p in pages]
    stats.chars_extracted = sum(len(p.strip()) for p in norm)
    lines = strip_running_lines([p.split("\n") for p in norm], min_running_share, min_running_pages, 2, stats)
    page_texts = ["\n".join(ls).strip("\n") for ls in lines]
    kept: list[int] = []
    for i, text in enumerate(page_texts):
        if skip_pages and i in skip_pages:
            stats.pages_garbage["ocr_confidence"] += 1
            continue
        problem = page_problem(text, lang, min_page_chars, max_symbol_ratio, min_word_ratio)
        if problem == "empty":
            stats.pages_empty += 1
        elif problem:
            stats.pages_garbage[problem] += 1
        else:
            kept.append(i)
    body = "\n\f".join(page_texts[i] for i in kept)
    vocabulary = {w.lower() for w in re.findall(r"(?<![\w-])\w+(?![\w-])", _HYPHEN_BREAK.sub(" ", body))}
    hyphenated = {w.lower() for w in re.findall(r"\w+-\w+", _HYPHEN_BREAK.sub(" ", body))}
    body = dehyphenate(body, vocabulary, hyphenated, stats)
    out: list[str] = []
    for page in body.split("\n\f"):
        paras = reflow(page.split("\n")) if reflow_lines else [page.strip()]
        paras = [p for p in paras if p]
        if not paras:
            continue
        if out and reflow_lines and not _SENTENCE_END.search(out[-1]) and paras[0][:1].islower():
            out[-1] = out[-1] + " " + paras[0]  # a paragraph continued on the next page
            paras = paras[1:]
        out.extend(paras)
    text = "\n\n".join(out)
    stats.pages_kept = len(kept)
    stats.chars_kept = len(text)
    return CleanBook(text=text, stats=stats, kept=kept)


def book_verdict(stats: CleanStats, min_book_chars: int = 2000, min_kept_share: float = 0.5) -> str | None:
    """``book_too_little_text`` when too little of the book survived cleaning, else None."""
    if stats.chars_kept < min_book_chars:
        return "book_too_little_text"
    if stats.chars_extracted and stats.chars_kept < min_kept_share * stats.chars_extracted:
        return "book_too_little_text"
    return None
