"""Helpers for NLM XML (PubMed/MEDLINE citations and JATS full texts): inline text with pretty-print
whitespace removed, and licence normalization.

NLM files are often pretty-printed *inside* running text (``&#946;\\n\\t\\t<sub>2</sub>-agonist``); a browser-like
whitespace collapse would then print ``β 2-agonist``. :func:`inline_text` drops whitespace that contains a line
break where it touches a ``<sub>``/``<sup>`` element, and collapses the rest to single spaces.
"""

from __future__ import annotations

import re
from typing import Any

from lxml import etree

_WS = re.compile(r"\s+")
_NL_WS = re.compile(r"^\s*\n\s*$")


def _local(tag: object) -> str:
    if not isinstance(tag, str):
        return ""
    return tag.rpartition("}")[2]


def _edge_strip(piece: str, left: bool, right: bool) -> str:
    """Remove pretty-print whitespace (whitespace containing a newline) at the piece's left/right edge."""
    if left:
        m = re.match(r"\s+", piece)
        if m and "\n" in m.group(0):
            piece = piece[m.end():]
    if right:
        m = re.search(r"\s+$", piece)
        if m and "\n" in m.group(0):
            piece = piece[: m.start()]
    return piece


#: inline elements that attach to the neighbouring token (pretty-print whitespace around them is removed)
ATTACHED = frozenset({"sub", "sup"})


def inline_pieces(el: etree._Element, skip: frozenset[str] = frozenset(), out: list[str] | None = None
                  ) -> list[str]:
    """Text pieces of ``el`` in document order (children whose local name is in ``skip`` are left out, their
    tails kept), with pretty-print whitespace around ``<sub>``/``<sup>`` removed."""
    if out is None:
        out = []
    if el.text:
        out.append(el.text)
    for child in el:
        name = _local(child.tag)
        attached = name in ATTACHED
        if attached and out:
            out[-1] = _edge_strip(out[-1], False, True)
        if name and name not in skip:
            start = len(out)
            inline_pieces(child, skip, out)
            if attached and len(out) > start:
                out[start] = _edge_strip(out[start], True, False)
                out[-1] = _edge_strip(out[-1], False, True)
        if child.tail:
            out.append(_edge_strip(child.tail, True, False) if attached else child.tail)
    return out


def inline_text(el: etree._Element | None, skip: frozenset[str] = frozenset()) -> str:
    """The running text of ``el`` on one line: inline markup dropped, whitespace collapsed."""
    if el is None:
        return ""
    return _WS.sub(" ", "".join(inline_pieces(el, skip))).strip()


_CC_URL = re.compile(r"creativecommons\.org/licen[cs]es/([a-z\-]+)", re.I)
_CC_PD = re.compile(r"creativecommons\.org/publicdomain/(zero|mark)", re.I)


def normalize_license(url: str | None, license_type: str | None, text: str | None) -> str | None:
    """A short licence name (``cc-by``, ``cc-by-sa``, ``cc-by-nc``, ``cc-by-nc-sa``, ``cc-by-nd``, ``cc-by-nc-nd``,
    ``cc0``, ``public-domain``) from a licence URL, a ``license-type`` attribute or the licence text; None when
    nothing says which."""
    for candidate in (url or "", text or ""):
        m = _CC_URL.search(candidate)
        if m:
            return "cc-" + m.group(1).lower().strip("-")
        m = _CC_PD.search(candidate)
        if m:
            return "cc0" if m.group(1).lower() == "zero" else "public-domain"
    lt = (license_type or "").strip().lower()
    if lt.startswith("cc-") or lt in ("cc0", "public-domain"):
        return lt
    if lt.startswith("cc by"):
        return "cc-" + lt[3:].replace(" ", "-")
    t = _WS.sub(" ", (text or "")).lower()
    if not t:
        return None
    if "cc0" in t or "public domain dedication" in t:
        return "cc0"
    if "creative commons" in t:
        nc = "noncommercial" in t or "non-commercial" in t
        nd = "noderivative" in t or "no derivative" in t or "no-derivative" in t
        sa = "sharealike" in t or "share alike" in t or "share-alike" in t
        if "attribution" in t or nc or nd or sa:
            return "cc-by" + ("-nc" if nc else "") + ("-nd" if nd else "") + ("-sa" if sa and not nd else "")
    if "public domain" in t or lt == "public-domain":
        return "public-domain"
    return None


def local_name(tag: object) -> str:
    """``{namespace}name`` -> ``name``."""
    return _local(tag)


# --------------------------------------------------------------------------------------------------------------
# JATS (PMC Open Access ``.nxml``) -> text

#: citation-like cross references whose text is removed (figure/table/section references are words of the
#: sentence and stay)
CITATION_XREFS = frozenset({"bibr", "fn", "table-fn", "author-notes", "corresp", "aff"})
#: elements dropped wherever they appear, with their content
DROPPED = frozenset({"ref-list", "ack", "author-notes", "fn-group", "fn", "supplementary-material", "graphic",
                     "inline-graphic", "media", "object-id", "alt-text", "long-desc", "notes", "glossary",
                     "app-group", "back", "table-wrap-foot", "attrib", "permissions", "funding-group",
                     "counts", "custom-meta-group", "kwd-group", "contrib-group", "aff", "label-ignore"})
#: body sections that are back matter in all but name (by ``sec-type``, or by title, lower case)
BACK_MATTER_SEC_TYPES = frozenset({"coi-statement", "author-contributions", "supplementary-material", "funding",
                                   "acknowledgment", "acknowledgments", "acknowledgement", "data-availability",
                                   "display-objects"})
BACK_MATTER_TITLES = re.compile(
    r"^(competing interests?|conflicts? of interests?|declaration of (competing )?interests?|"
    r"authors?'? ?contributions?|contributions? of authors|acknowledge?ments?|funding( statement| information)?|"
    r"supporting information|supplementary (material|information|data)|additional files?|"
    r"pre-publication history|data availability( statement)?|ethics statement|financial disclosures?)\.?$", re.I)
#: abstracts that are not the article's summary
SKIPPED_ABSTRACTS = frozenset({"graphical", "teaser", "toc", "web-summary", "precis"})
_BLOCK = frozenset({"p", "sec", "list", "list-item", "disp-formula", "fig", "table-wrap", "boxed-text",
                    "statement", "def-list", "def-item", "disp-quote", "preformat", "code", "speech",
                    "verse-group", "table-wrap-group", "fig-group", "title", "caption", "abstract", "body",
                    "trans-abstract", "disp-formula-group", "array", "question", "answer", "explanation"})
_TEX_DOC = re.compile(r"\\begin\{document\}(.*?)\\end\{document\}", re.S)
_CITE = "\x01"
#: a run of removed citation markers with the separators and brackets between them: ``1]-[3``, ``1, 2``
_CITE_RUN = re.compile("\x01(?:[ \t]*[\\])]?[ \t]*(?:[,;\u2013\u2014\\-]|and)?[ \t]*[\\[(]?[ \t]*\x01)*")
_PAIRS = {"[": "]", "(": ")"}
_EMPTY_BRACKETS = re.compile(r"\s*[\[(]\s*(?:[,;\u2013\u2014\-]\s*)*[\])]")
_SPACE_BEFORE_PUNCT = re.compile(r"[ \t]+([.,;:!?])")
_TEXLIKE = re.compile(r"[\\^_{]")


def tex_of(el: etree._Element) -> str:
    """The formula of a ``<tex-math>`` element without its LaTeX document wrapper (``\\documentclass``...)."""
    raw = "".join(el.itertext())
    m = _TEX_DOC.search(raw)
    return (m.group(1) if m else raw).strip()


def formula_text(el: etree._Element, stats: dict[str, int] | None = None, display: bool = False) -> str:
    """A formula element (``inline-formula``, ``disp-formula``, ``alternatives``): its ``<tex-math>`` (as the
    article wrote it, delimiters included), else the MathML's ``alttext`` (in ``$...$``/``$$...$$`` when it is
    TeX-like), else the MathML's text; ``""`` for an image-only formula."""
    tex = next((x for x in el.iter() if _local(x.tag) == "tex-math"), None)
    if tex is not None:
        if stats is not None:
            stats["formula_tex"] = stats.get("formula_tex", 0) + 1
        return tex_of(tex)
    math = next((x for x in el.iter() if _local(x.tag) == "math"), None)
    if math is not None:
        alt = (math.get("alttext") or "").strip()
        if stats is not None:
            key = "formula_mathml_alttext" if alt else "formula_mathml_text"
            stats[key] = stats.get(key, 0) + 1
        if alt:
            if _TEXLIKE.search(alt) and "$" not in alt:
                return f"$${alt}$$" if display else f"${alt}$"
            return alt
        return _WS.sub(" ", "".join(math.itertext())).strip()
    if stats is not None:
        stats["formula_image_only"] = stats.get("formula_image_only", 0) + 1
    return ""


class JatsRenderer:
    """Walks a JATS article's title, abstracts and body into plain text (see :func:`jats_text`)."""

    def __init__(self, tables: str = "drop") -> None:
        if tables not in ("drop", "rows"):
            raise ValueError(f"tables must be 'drop' or 'rows', not {tables!r}")
        self.tables = tables
        self.blocks: list[str] = []
        self.stats: dict[str, int] = {}

    # -- inline ----------------------------------------------------------------------------------
    def inline(self, el: etree._Element, out: list[str]) -> None:
        """Append the inline text of ``el``'s content to ``out`` (children handled by kind)."""
        if el.text:
            out.append(el.text)
        for child in el:
            name = _local(child.tag)
            if not name:
                pass
            elif name in DROPPED:
                pass
            elif name == "xref" and child.get("ref-type", "") in CITATION_XREFS:
                self.stats["citations_removed"] = self.stats.get("citations_removed", 0) + 1
                out.append(_CITE)
            elif name in ("inline-formula", "disp-formula", "alternatives", "math", "tex-math"):
                f = formula_text(child, self.stats, display=name == "disp-formula")
                if f:
                    out.append(f" {f} " if name == "disp-formula" else f)
            elif name in ("sub", "sup"):
                if out:
                    out[-1] = _edge_strip(out[-1], False, True)
                inner: list[str] = []
                self.inline(child, inner)
                out.append(_edge_strip(_edge_strip("".join(inner), True, False), False, True))
            elif name in ("table-wrap", "fig", "list", "boxed-text", "def-list", "disp-quote", "preformat",
                          "code", "statement", "table-wrap-group", "fig-group"):
                pass  # block content inside a paragraph: rendered as its own block by the caller
            else:
                self.inline(child, out)
            if child.tail:
                out.append(_edge_strip(child.tail, True, False) if name in ("sub", "sup") else child.tail)

    def inline_str(self, el: etree._Element) -> str:
        out: list[str] = []
        self.inline(el, out)
        return clean_line("".join(out))

    # -- blocks ----------------------------------------------------------------------------------
    def para(self, text: str) -> None:
        if text:
            self.blocks.append(text)

    def block(self, el: etree._Element, depth: int = 0) -> None:
        name = _local(el.tag)
        if not name or name in DROPPED:
            return
        if name == "sec":
            if (el.get("sec-type") or "").lower() in BACK_MATTER_SEC_TYPES:
                self.stats["back_matter_sections"] = self.stats.get("back_matter_sections", 0) + 1
                return
            title_el = next((c for c in el if _local(c.tag) == "title"), None)
            if title_el is not None and BACK_MATTER_TITLES.match(inline_text(title_el)):
                self.stats["back_matter_sections"] = self.stats.get("back_matter_sections", 0) + 1
                return
            start = len(self.blocks)
            titled = False
            for child in el:
                cname = _local(child.tag)
                if cname == "title":
                    title = self.inline_str(child)
                    if title:
                        self.para(title)
                        titled = True
                elif cname == "label":
                    continue
                else:
                    self.block(child, depth + 1)
            if titled and len(self.blocks) == start + 1:  # a heading with nothing left under it
                self.blocks.pop()
        elif name == "p":
            self.para(self.inline_str(el))
            for child in el:  # blocks nested in the paragraph come after its text
                if _local(child.tag) in ("table-wrap", "fig", "list", "boxed-text", "def-list", "disp-quote",
                                         "preformat", "code", "statement", "table-wrap-group", "fig-group"):
                    self.block(child, depth + 1)
        elif name == "list":
            items = []
            for i, item in enumerate(c for c in el if _local(c.tag) == "list-item"):
                inner = JatsRenderer(self.tables)
                for child in item:
                    inner.block(child, depth + 1)
                self._merge_stats(inner)
                label = next((c for c in item if _local(c.tag) == "label"), None)
                marker = (self.inline_str(label) + " ") if label is not None else \
                    (f"{i + 1}. " if el.get("list-type") in ("order", "arabic", "roman-lower", "alpha-lower")
                     else "- ")
                body = "\n".join(inner.blocks)
                if body:
                    items.append(marker + body.replace("\n", "\n  "))
            if items:
                self.para("\n".join(items))
        elif name == "disp-formula":
            f = formula_text(el, self.stats, display=True)
            if f:
                self.para(f)
        elif name in ("fig", "table-wrap"):
            self.caption(el)
            if name == "table-wrap":
                self.stats["tables"] = self.stats.get("tables", 0) + 1
                if self.tables == "rows":
                    for table in (x for x in el.iter() if _local(x.tag) == "table"):
                        rows = []
                        for tr in (x for x in table.iter() if _local(x.tag) == "tr"):
                            cells = [self.inline_str(c) for c in tr if _local(c.tag) in ("td", "th")]
                            if any(cells):
                                rows.append(" | ".join(cells))
                        self.para("\n".join(rows))
        elif name in ("preformat", "code"):
            self.para("".join(el.itertext()).strip("\n"))
        elif name == "def-list":
            for item in (c for c in el if _local(c.tag) == "def-item"):
                term = next((c for c in item if _local(c.tag) == "term"), None)
                defs = [self.inline_str(c) for c in item if _local(c.tag) == "def"]
                self.para(f"{self.inline_str(term) if term is not None else ''}: {' '.join(defs)}".strip(": "))
        elif name in ("title", "label", "caption"):
            self.para(self.inline_str(el))
        else:  # boxed-text, statement, disp-quote, body, abstract, fig-group, ...: their children in order
            for child in el:
                self.block(child, depth + 1)

    def caption(self, el: etree._Element) -> None:
        """``Figure 1. Title. Caption text.`` (label, caption title and paragraphs on one paragraph)."""
        label = next((c for c in el if _local(c.tag) == "label"), None)
        cap = next((c for c in el if _local(c.tag) == "caption"), None)
        parts = [self.inline_str(label)] if label is not None else []
        if cap is not None:
            parts += [self.inline_str(c) for c in cap if _local(c.tag) in ("title", "p")]
        text = " ".join(p for p in parts if p)
        if text:
            self.para(text)
            self.stats["captions"] = self.stats.get("captions", 0) + 1

    def _merge_stats(self, other: JatsRenderer) -> None:
        for k, v in other.stats.items():
            self.stats[k] = self.stats.get(k, 0) + v


def remove_citation_runs(s: str) -> str:
    """Remove runs of citation markers; brackets that only held them go too (``shown [1]-[3].`` -> ``shown.``)."""
    out = []
    pos = 0
    for m in _CITE_RUN.finditer(s):
        left = s[pos: m.start()].rstrip(" \t")
        end = m.end()
        after = s[end:].lstrip(" \t")
        if left and left[-1] in _PAIRS and after.startswith(_PAIRS[left[-1]]):
            left = left[:-1].rstrip(" \t")
            end = len(s) - len(after) + 1
        if left.endswith(".") and s[end:].startswith("."):
            end += 1
        elif left and left[-1] in _PAIRS:  # "[[1], their figure 5]" -> "[their figure 5]"
            rest = s[end:].lstrip(" \t")
            if rest[:1] in (",", ";"):
                end = len(s) - len(rest[1:].lstrip(" \t"))
        out.append(left)
        pos = end
    out.append(s[pos:])
    return "".join(out).replace(_CITE, "")


def clean_line(s: str) -> str:
    """Collapse whitespace and tidy what removed citation markers leave (``[, ]``, ``()``, `` .``)."""
    s = _WS.sub(" ", s)
    if _CITE in s:
        s = remove_citation_runs(s)
    s = _EMPTY_BRACKETS.sub("", s)
    s = _SPACE_BEFORE_PUNCT.sub(r"\1", s)
    return s.strip()


def article_parts(root: etree._Element) -> dict[str, etree._Element | list[etree._Element] | None]:
    """The article's ``front/article-meta``, ``body`` and ``back`` elements (top-level article only)."""
    front = next((c for c in root if _local(c.tag) == "front"), None)
    meta = next((c for c in front if _local(c.tag) == "article-meta"), None) if front is not None else None
    body = next((c for c in root if _local(c.tag) == "body"), None)
    return {"front": front, "meta": meta, "body": body}


def jats_text(root: etree._Element, tables: str = "drop") -> tuple[str, dict[str, Any]]:
    """``(text, info)`` of a JATS ``<article>``: title, abstracts, then body sections in order with their headings,
    figure and table captions (table rows with ``tables="rows"``), formulas as TeX. References, acknowledgements,
    author notes, footnotes, supplementary material and the back matter are left out; citation ``<xref>``
    markers are removed. ``info`` holds ``has_body``, ``body_chars`` and the renderer's counts."""
    parts = article_parts(root)
    meta = parts["meta"]
    r = JatsRenderer(tables)
    if meta is not None:
        tg = next((c for c in meta if _local(c.tag) == "title-group"), None)
        title = next((c for c in tg if _local(c.tag) == "article-title"), None) if tg is not None else None
        if title is not None:
            r.para(r.inline_str(title))
        for ab in (c for c in meta if _local(c.tag) == "abstract"):
            if ab.get("abstract-type", "") in SKIPPED_ABSTRACTS:
                continue
            r.block(ab)
    head = len(r.blocks)
    if parts["body"] is not None:
        r.block(parts["body"])
    body_chars = sum(len(b) for b in r.blocks[head:])
    info: dict[str, Any] = {"has_body": body_chars > 0, "body_chars": body_chars, **r.stats}
    return "\n\n".join(r.blocks), info
