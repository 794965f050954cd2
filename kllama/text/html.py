"""Rendered HTML (Stack Exchange post bodies) -> readable plain text.

Paragraphs and block elements are separated by a blank line, ``<br>`` is a line break, list items become
``- item`` / ``1. item`` lines (nested lists indented), ``<pre>`` code blocks keep their exact text and line
breaks, inline ``<code>`` keeps its text, links keep their text, images give their alt text, table rows become
lines with cells separated by `` | ``. Whitespace elsewhere is collapsed as a browser would.
``BeautifulSoup.get_text()`` (the Pile, RedPajama) instead glues list items and paragraphs together unless the
source already had newlines, and keeps ``<script>``/``<style>`` text.
"""

from __future__ import annotations

import re

import lxml.html
from lxml import etree

_PARA = "\x00P"
_LINE = "\x00N"
_LIST = "\x00L"  # start/end of a top-level list: a paragraph break
_RAW_OPEN, _RAW_CLOSE = "\x03", "\x04"
_ITEM_OPEN, _ITEM_CLOSE = "\x05", "\x06"
_WS = re.compile(r"[ \t\r\n\f\v\u00a0\u200b]+")
_TOKENS = re.compile("(\x00P|\x00N|\x00L|\x03[^\x04]*\x04|\x05[^\x06]*\x06)")
_CTRL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")

_BLOCKS = frozenset(
    "p div blockquote h1 h2 h3 h4 h5 h6 table thead tbody tfoot dl section article header footer aside "
    "figure figcaption details summary address center form fieldset nav main".split()
)
_SKIP = frozenset("script style head title noscript template button input select textarea iframe svg".split())


class _Renderer:
    def __init__(self) -> None:
        self.parts: list[str] = []
        self.list_stack: list[list] = []  # [ordered, counter]

    def text(self, s: str | None) -> None:
        if s:
            self.parts.append(_CTRL.sub("", s))

    def walk(self, el: etree._Element) -> None:
        if not isinstance(el.tag, str):  # comment or processing instruction
            self.text(el.tail)
            return
        tag = el.tag.lower()
        if tag in _SKIP:
            self.text(el.tail)
            return
        if tag == "br":
            self.parts.append(_LINE)
        elif tag == "hr":
            self.parts.append(_PARA)
        elif tag == "pre":
            self.parts.append(_PARA)
            code = _CTRL.sub("", el.text_content()).strip("\n")
            self.parts.append(f"{_RAW_OPEN}{code}{_RAW_CLOSE}")
            self.parts.append(_PARA)
        elif tag in ("ul", "ol", "menu"):
            self.parts.append(_LIST if not self.list_stack else _LINE)
            self.list_stack.append([tag == "ol", _start(el)])
            self.text(el.text)
            for child in el:
                self.walk(child)
            self.list_stack.pop()
            self.parts.append(_LIST if not self.list_stack else _LINE)
        elif tag == "li":
            self.parts.append(_LINE)
            indent = "  " * max(0, len(self.list_stack) - 1)
            if self.list_stack and self.list_stack[-1][0]:
                marker = f"{self.list_stack[-1][1]}. "
                self.list_stack[-1][1] += 1
            else:
                marker = "- "
            self.parts.append(f"{_ITEM_OPEN}{indent}{marker}{_ITEM_CLOSE}")
            self._children(el)
            self.parts.append(_LINE)
        elif tag == "tr":
            self.parts.append(_LINE)
            first = True
            for cell in el:
                if not first:
                    self.parts.append(f"{_RAW_OPEN} | {_RAW_CLOSE}")
                first = False
                self._children(cell)
                # the cell's tail is whitespace between cells
            self.parts.append(_LINE)
        elif tag in ("dt", "dd", "caption"):
            self.parts.append(_LINE)
            self._children(el)
            self.parts.append(_LINE)
        elif tag in _BLOCKS:
            self.parts.append(_PARA)
            self._children(el)
            self.parts.append(_PARA)
        elif tag == "img":
            alt = el.get("alt")
            if alt and alt.strip() and alt.strip().lower() not in ("enter image description here", "image"):
                self.text(f" {alt.strip()} ")
        else:
            self._children(el)
        self.text(el.tail)

    def _children(self, el: etree._Element) -> None:
        self.text(el.text)
        for child in el:
            self.walk(child)

    def result(self) -> str:
        out: list[str] = []
        pending = ""  # strongest break waiting to be written: "", "\n" or "\n\n"
        line_has_text = False
        after_marker = False
        in_items = False  # an item marker was written and no list boundary since
        for tok in _TOKENS.split("".join(self.parts)):
            if not tok:
                continue
            if tok == _PARA or tok == _LIST:
                pending = "\n\n"
                if tok == _LIST:
                    in_items = False
                continue
            if tok == _LINE:
                if pending != "\n\n":
                    pending = "\n"
                continue
            if tok.startswith(_ITEM_OPEN):
                if out:
                    out.append("\n" if in_items else (pending or "\n"))
                pending = ""
                out.append(tok[1:-1])
                line_has_text = after_marker = in_items = True
                continue
            if after_marker and tok.startswith(_RAW_OPEN) and "\n" not in tok:
                pending = ""  # inline code right after a list marker stays on its line
            if tok.startswith(_RAW_OPEN):
                after_marker = False
                raw = tok[1:-1]
                if not raw:
                    continue
                if out and pending:
                    out.append(pending)
                    line_has_text = False
                pending = ""
                out.append(raw)
                line_has_text = True
                continue
            s = _WS.sub(" ", tok)
            if after_marker:
                s = s.lstrip()
                if not s:
                    continue
                pending = ""
                after_marker = False
            if pending:
                s = s.lstrip()
                if not s:
                    continue
                if out:
                    out.append(pending)
                pending = ""
                line_has_text = False
            elif not line_has_text:
                s = s.lstrip()
            if s:
                out.append(s)
                line_has_text = True
        text = "".join(out)
        return "\n".join(line.rstrip() for line in text.split("\n")).strip("\n")


def _start(el: etree._Element) -> int:
    try:
        return int(el.get("start", "1"))
    except ValueError:
        return 1


def html_to_text(html: str) -> str:
    """Readable text of an HTML fragment (see the module docstring)."""
    if not html or not html.strip():
        return ""
    try:
        root = lxml.html.fragment_fromstring(html, create_parent="div")
    except (etree.ParserError, ValueError):
        return _WS.sub(" ", re.sub(r"<[^>]*>", " ", html)).strip()
    r = _Renderer()
    r._children(root)
    return r.result()


def element_to_text(root: etree._Element) -> str:
    """Readable text of an already parsed HTML element (e.g. an EPUB chapter's ``<body>``), as :func:`html_to_text`."""
    r = _Renderer()
    r._children(root)
    return r.result()
