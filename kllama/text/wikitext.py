"""Wikitext -> plain prose, for Wikipedia pages (LLaMA: "removed hyperlinks, comments and other formatting
boilerplate").

Built on mwparserfromhell's parse tree (its C tokenizer), but with our own renderer instead of
``Wikicode.strip_code()``, because strip_code (verified on 0.7.2) keeps ``<ref>`` contents and table cells,
turns ``[[File:X.jpg|thumb|caption]]`` into ``thumb|caption`` and ``[[Category:X]]`` into ``Category:X``,
and knows only English namespace names. Here:

- templates, parser functions, template arguments, comments, ``<ref>``/``<references>``, tables (wiki
  ``{| |}`` and HTML), galleries, math/chem/score/timeline/maps, ``<templatestyles>``, ``<includeonly>``
  and magic words (``__NOTOC__`` and localized forms) are removed;
- file/image/media and category links are removed under every name that the dump declares for
  namespaces -2, 6 and 14 (``<siteinfo><namespaces>``), the canonical English names, the legacy ``Image``
  aliases of LLaMA's 20 languages (from MediaWiki's ``$namespaceAliases``) and any extra names passed in;
  interlanguage links (``[[de:Foo]]``) are removed;
- other links keep their text (``[[Target|text]]`` -> ``text``, ``[[Target]]`` -> ``Target``), external
  links keep their label, bare URLs go;
- section headings are kept on their own line; a heading whose section ends up empty (only references,
  a table or links) is removed with it;
- a few inline templates that carry prose keep their text (``lang``, ``nowrap``, ``convert`` ...);
- ``<pre>``/``<code>``/``<syntaxhighlight>``/``<nowiki>`` keep their text; bold/italic quotes go.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable

import mwparserfromhell
from mwparserfromhell.nodes import (
    Argument,
    Comment,
    ExternalLink,
    Heading,
    HTMLEntity,
    Tag,
    Template,
    Text,
    Wikilink,
)
from mwparserfromhell.wikicode import Wikicode

#: canonical (English) names of the namespaces whose links are not prose: Media (-2), File (6), Category (14)
CANONICAL_DROP_NAMESPACES = ("Media", "File", "Image", "Category")

#: legacy aliases of the File namespace in LLaMA's 20 languages (+ vi for the viwiki sample), which dumps do
#: not list in <namespaces> but which still occur in old wikitext ("Bild:", "Изображение:", "Grafika:" ...)
FILE_ALIASES: dict[str, tuple[str, ...]] = {
    "bg": ("Картинка", "Файл"),
    "ca": ("Imatge", "Fitxer", "Arxiu"),
    "cs": ("Obrázek", "Soubor"),
    "da": ("Billede", "Fil"),
    "de": ("Bild", "Datei"),
    "en": ("Image",),
    "es": ("Imagen", "Archivo"),
    "fr": ("Image", "Fichier"),
    "hr": ("Slika", "Datoteka"),
    "hu": ("Kép", "Fájl"),
    "it": ("Immagine", "File"),
    "nl": ("Afbeelding", "Bestand"),
    "pl": ("Grafika", "Plik"),
    "pt": ("Imagem", "Ficheiro", "Arquivo"),
    "ro": ("Imagine", "Fișier", "Fişier"),
    "ru": ("Изображение", "Файл"),
    "sl": ("Slika", "Datoteka"),
    "sr": ("Слика", "Датотека", "Slika", "Datoteka"),
    "sv": ("Bild", "Fil"),
    "uk": ("Зображення", "Файл"),
    "vi": ("Hình", "Tập tin"),
}

#: non-language interwiki prefixes (their links render their text)
_INTERWIKI_PROJECTS = frozenset(
    "w wikipedia wikt wiktionary s wikisource b wikibooks q wikiquote n wikinews v wikiversity voy wikivoyage "
    "c commons m meta species wikispecies d wikidata mw mediawikiwiki".split()
)
_LANG_PREFIX = re.compile(r"^[a-z]{2,3}(?:-[a-z0-9]{2,8})*$")

#: tags removed with their contents
DROP_TAGS = frozenset(
    "ref references table gallery imagemap timeline math chem ce score graph mapframe maplink templatestyles "
    "includeonly indicator categorytree inputbox hiero charinsert section style script".split()
)
#: tags whose contents are kept verbatim (not parsed as wikitext markup)
RAW_TAGS = frozenset("pre code syntaxhighlight source nowiki tt kbd samp".split())
#: tags that start a new line
BLOCK_TAGS = frozenset("p div blockquote center poem dl ul ol h1 h2 h3 h4 h5 h6".split())

#: inline templates whose text is prose: name -> which positional parameter(s) to keep
KEEP_TEMPLATES: dict[str, tuple[int, ...]] = {
    "lang": (2,), "nowrap": (1,), "nobr": (1,), "small": (1,), "smaller": (1,), "big": (1,), "sic": (1,),
    "transl": (2,), "not a typo": (1,), "ill": (1,), "interlanguage link": (1,), "convert": (1, 2),
    "cvt": (1, 2), "nowrap begin": (), "ndash": (), "mdash": (),
}
_TEMPLATE_LITERALS = {"ndash": "–", "mdash": "—", "snd": " – ", "spaced ndash": " – ", "·": " · ", "!": "|"}

#: <ref>…</ref>, <ref …/> and comments, removed before parsing (they are dropped anyway; parsing them is ~40%
#: of the tokenizer's time on enwiki). The paired form may not contain another <ref, so an unclosed <ref> never
#: swallows the text up to a later </ref>; unclosed comments are left to the parser.
_PRESTRIP = re.compile(r"<ref\b[^>]*?/\s*>|<ref\b[^>]*>[^<]*(?:<(?!/?ref\b)[^<]*)*</ref\s*>|<!--.*?-->",
                       re.S | re.I)
_MAGIC_WORD = re.compile(r"__(?:[^\W_]|_(?!_))+__")
_HEAD_MARK = "\x00H"
_ITEM_MARK = "\x00L"  # start of a bulleted/numbered list item
_LINK_OPEN, _LINK_CLOSE = "\x01", "\x02"  # around link text, to find link-only list items
_LINK_SPAN = re.compile("\x01[^\x01\x02]*\x02")
_HAS_WORD = re.compile(r"[^\W_]")
_DOUBLE_COMMA = re.compile(r",(?:\s*,)+")
_QUOTES = re.compile(r"'{2,}")
_EMPTY_PARENS = re.compile(r"[ \t]*[(\[](?:[\s,;:–—-]|&nbsp;)*[)\]]")
_SPACE_BEFORE_PUNCT = re.compile(r"[ \t]+([,.])(?=\s|$)")
_LEADING_PUNCT_IN_PARENS = re.compile(r"\((?:\s*[,;:]\s*)+")
_MULTISPACE = re.compile(r"[ \t\u00a0]{2,}")
_MANY_NEWLINES = re.compile(r"\n{3,}")


def _norm_ns(name: str) -> str:
    return " ".join(name.replace("_", " ").split()).casefold()


def drop_namespace_names(siteinfo_names: Iterable[str] = (), lang: str | None = None,
                         extra: Iterable[str] = ()) -> frozenset[str]:
    """Normalized namespace prefixes whose links are dropped: the dump's own names for namespaces -2/6/14,
    the canonical English names, the language's legacy file aliases and ``extra``."""
    names = set(CANONICAL_DROP_NAMESPACES)
    names.update(siteinfo_names)
    if lang:
        names.update(FILE_ALIASES.get(lang.split("-")[0], ()))
    names.update(extra)
    return frozenset(_norm_ns(n) for n in names if n)


class WikitextCleaner:
    """Turn one page's wikitext into plain text (see the module docstring for what goes and what stays).

    ``drop_namespaces``: normalized prefixes (from :func:`drop_namespace_names`) of links to remove.
    ``drop_empty_sections``: remove headings whose section has no text left.
    ``drop_link_lists``: remove bulleted/numbered list items that hold nothing but links after the last prose
    paragraph ("See also", "External links", navigation lists); items with prose, and lists in the body, stay.
    """

    def __init__(self, drop_namespaces: Iterable[str] | None = None, drop_empty_sections: bool = True,
                 drop_link_lists: bool = True) -> None:
        self.drop_ns = frozenset(drop_namespaces) if drop_namespaces is not None else drop_namespace_names()
        self.drop_empty_sections = drop_empty_sections
        self.drop_link_lists = drop_link_lists

    # -- public -------------------------------------------------------------------------------------
    def clean(self, wikitext: str) -> str:
        """Plain text of ``wikitext`` (headings on their own lines, paragraphs separated by a blank line)."""
        code = mwparserfromhell.parse(_PRESTRIP.sub("", wikitext), skip_style_tags=True)
        out: list[str] = []
        self._render(code, out)
        return self._finish("".join(out))

    # -- rendering ----------------------------------------------------------------------------------
    def _render(self, code: Wikicode, out: list[str]) -> None:
        for node in code.nodes:
            if isinstance(node, Text):
                out.append(_prose(node.value))
            elif isinstance(node, Wikilink):
                self._link(node, out)
            elif isinstance(node, Template):
                self._template(node, out)
            elif isinstance(node, Tag):
                self._tag(node, out)
            elif isinstance(node, Heading):
                title: list[str] = []
                self._render(node.title, title)
                text = " ".join("".join(title).split())
                out.append(f"\n\n{_HEAD_MARK}{node.level}\x00{text}\n")
            elif isinstance(node, HTMLEntity):
                try:
                    ch = node.normalize()
                except (ValueError, OverflowError):
                    ch = ""
                out.append(" " if ch == "\u00a0" else ch)
            elif isinstance(node, ExternalLink):
                if node.brackets and node.title is not None:
                    out.append(_LINK_OPEN)
                    self._render(node.title, out)
                    out.append(_LINK_CLOSE)
            elif isinstance(node, (Comment, Argument)):
                continue
            # any other node kind (none exist in 0.7) is dropped

    def _link(self, node: Wikilink, out: list[str]) -> None:
        title = str(node.title).strip()
        visible = title.startswith(":")
        target = title.lstrip(":").strip()
        prefix, sep, rest = target.partition(":")
        if sep:
            p = _norm_ns(prefix)
            if not visible and p in self.drop_ns:
                return  # file/image/media/category link: no prose
            if p in _INTERWIKI_PROJECTS:
                target = rest
            elif not visible and node.text is None and _LANG_PREFIX.match(prefix.strip()):
                return  # interlanguage link ([[de:Foo]])
        if node.text is not None:
            inner: list[str] = []
            self._render(node.text, inner)
            text = "".join(inner)
            if text.strip():
                out.append(f"{_LINK_OPEN}{text}{_LINK_CLOSE}")
                return
            # pipe trick [[Foo (bar)|]] -> Foo
            text = re.sub(r"\s*\([^)]*\)\s*$", "", target.split(":", 1)[-1] if visible else target)
        else:
            text = target
        out.append(f"{_LINK_OPEN}{text}{_LINK_CLOSE}")

    def _template(self, node: Template, out: list[str]) -> None:
        name = " ".join(str(node.name).replace("_", " ").split()).casefold()
        if name.startswith("#") or ":" in name:
            return  # parser function / magic word
        if name in _TEMPLATE_LITERALS:
            out.append(_TEMPLATE_LITERALS[name])
            return
        keep = KEEP_TEMPLATES.get(name)
        if keep is None and name.startswith("lang-"):
            keep = (1,)
        if not keep:
            return
        parts = []
        for i in keep:
            if node.has(str(i)):
                val: list[str] = []
                self._render(node.get(str(i)).value, val)
                parts.append("".join(val).strip())
        out.append(" ".join(p for p in parts if p))

    def _tag(self, node: Tag, out: list[str]) -> None:
        tag = str(node.tag).strip().lower()
        markup = node.wiki_markup
        if markup is not None:
            if tag in ("li", "dd", "dt"):
                if markup in (";", ":"):
                    out.append("\n" if out and not out[-1].endswith("\n") else "")
                else:
                    out.append(_ITEM_MARK)
                return
            if tag == "hr":
                out.append("\n")
                return
            if tag == "table":
                return
        if tag in DROP_TAGS or tag in ("tr", "td", "th", "caption"):
            return
        if tag == "br":
            out.append("\n")
            return
        if tag in RAW_TAGS:
            if node.contents is not None:
                out.append(html.unescape(str(node.contents)))
            return
        if node.contents is None:
            return
        if tag in BLOCK_TAGS or tag == "li":
            out.append("\n")
            self._render(node.contents, out)
            out.append("\n")
            return
        self._render(node.contents, out)

    # -- whitespace and leftovers -------------------------------------------------------------------
    def _finish(self, text: str) -> str:
        lines = []
        raw_lines = _strip_unparsed_tables(text.split("\n"))
        # link-only list items are dropped only in the trailing zone (after the last prose paragraph): "See also",
        # "External links", navigation lists; lists inside the body stay whole
        last_prose = -1
        for i, line in enumerate(raw_lines):
            if line.strip() and not line.startswith((_HEAD_MARK, _ITEM_MARK)) and _HAS_WORD.search(line):
                last_prose = i
        for i, line in enumerate(raw_lines):
            if line.startswith(_HEAD_MARK):
                lines.append(line.replace(_LINK_OPEN, "").replace(_LINK_CLOSE, ""))
                continue
            if line.startswith(_ITEM_MARK):
                line = line.replace(_ITEM_MARK, "")
                if self.drop_link_lists and i > last_prose and not _HAS_WORD.search(_LINK_SPAN.sub("", line)):
                    continue
            line = line.replace(_LINK_OPEN, "").replace(_LINK_CLOSE, "").replace(_ITEM_MARK, "")
            line = _DOUBLE_COMMA.sub(",", line)
            line = _LEADING_PUNCT_IN_PARENS.sub("(", line)
            line = _EMPTY_PARENS.sub("", line)
            line = _MULTISPACE.sub(" ", line)
            line = _SPACE_BEFORE_PUNCT.sub(r"\1", line)
            line = line.strip()
            lines.append(line)
        lines = self._headings(lines)
        text = "\n".join(lines)
        text = _MANY_NEWLINES.sub("\n\n", text)
        return text.strip()

    def _headings(self, lines: list[str]) -> list[str]:
        """Replace heading markers by the heading text; drop headings of empty sections."""
        heads = [i for i, ln in enumerate(lines) if ln.startswith(_HEAD_MARK)]
        if not heads:
            return lines
        drop: set[int] = set()
        if self.drop_empty_sections:
            # walk backwards: a heading is empty when everything up to the next heading of the same or
            # a higher level (or the end) is blank or an (already) empty subsection
            has_text_after = False
            level_seen: list[tuple[int, bool]] = []  # stack of (level, section has text)
            for i in range(len(lines) - 1, -1, -1):
                ln = lines[i]
                if ln.startswith(_HEAD_MARK):
                    level = int(ln[len(_HEAD_MARK)])
                    # content of this section = text directly below + kept subsections
                    sub_text = any(t for lv, t in level_seen if lv > level)
                    keep = has_text_after or sub_text
                    level_seen = [(lv, t) for lv, t in level_seen if lv <= level]
                    level_seen.append((level, keep))
                    if not keep:
                        drop.add(i)
                    has_text_after = False
                elif ln.strip():
                    has_text_after = True
        result = []
        for i, ln in enumerate(lines):
            if i in drop:
                continue
            if ln.startswith(_HEAD_MARK):
                ln = ln.split("\x00", 2)[2].strip()
                if not ln:
                    continue
            result.append(ln)
        return result


def _magic(m: re.Match) -> str:
    word = m.group(0)
    return "" if word.upper() == word else word  # __NOTOC__, __KHÔNG_MỤC_LỤC__ go; __init__ stays


def _prose(text: str) -> str:
    """A text node: behaviour switches (magic words) and bold/italic quote runs removed (not in <pre>/<code>)."""
    if "__" in text:
        text = _MAGIC_WORD.sub(_magic, text)
    if "''" in text:
        text = _QUOTES.sub("", text)
    return text


def _is_table_line(line: str) -> bool:
    t = line.lstrip(_ITEM_MARK + ": \t")
    return t.startswith(("{|", "|", "!"))


def _strip_unparsed_tables(lines: list[str]) -> list[str]:
    """Remove ``{| ... |}`` blocks that the parser left as text (malformed or indented tables)."""
    if not any("{|" in ln for ln in lines):
        return lines
    out: list[str] = []
    i = 0
    n = len(lines)
    while i < n:
        t = lines[i].lstrip(_ITEM_MARK + ": \t")
        if t.startswith("{|"):
            depth, j = 0, i
            while j < n:
                tj = lines[j].lstrip(_ITEM_MARK + ": \t")
                if tj.startswith("{|"):
                    depth += 1
                elif tj.startswith("|}"):
                    depth -= 1
                    if depth == 0:
                        break
                j += 1
            if j < n:
                i = j + 1
                continue
            # no end: drop only the lines that look like table markup
            while i < n and _is_table_line(lines[i]):
                i += 1
            continue
        out.append(lines[i])
        i += 1
    return out
