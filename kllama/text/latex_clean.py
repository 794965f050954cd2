"""LaTeX cleaning as LLaMA did it (after Minerva): comments out, macros expanded, the preamble and the
bibliography dropped.

Choices (see docs/arxiv.md): the abstract sits before the first section, so LLaMA's rule drops it;
``keep_abstract=True`` keeps it (as an ``\\begin{abstract}...\\end{abstract}`` block in front). Appendices are
paper content, not bibliography: they are kept by default (``keep_appendix=False`` cuts at ``\\appendix``).
The bibliography is removed wherever it is (``thebibliography``/``references`` environments,
``\\bibliography{...}``, ``\\printbibliography``), so an appendix placed after it survives.
"""

from __future__ import annotations

import re
from collections import Counter

from kllama.text.latex_macros import ExpansionLimit, MacroExpander, extract_definitions

_COMMENT_ENV = re.compile(r"\\begin\{comment\}.*?\\end\{comment\}", re.DOTALL)
_IFFALSE = re.compile(r"\\iffalse(?![A-Za-z]).*?\\fi(?![A-Za-z])", re.DOTALL)
_SECTION = re.compile(r"\\(?:part|chapter|section|subsection|subsubsection|paragraph|subparagraph)\*?\s*[\[{]")
_BEGIN_DOC = re.compile(r"\\begin\s*\{document\}")
_END_DOC = re.compile(r"\\end\s*\{document\}")
_ABSTRACT = re.compile(r"\\begin\{abstract\}(.*?)\\end\{abstract\}", re.DOTALL)
_BIB_ENV = re.compile(r"\\begin\{(thebibliography|references)\}.*?(?:\\end\{\1\}|\Z)", re.DOTALL)
_BIB_CMD = re.compile(r"\\(?:bibliography|bibliographystyle|nobibliography)\s*\{[^{}]*\}|\\printbibliography(?:\[[^\]]*\])?")
_BIB_HEADING = re.compile(
    r"\\(?:sub)?section\*?\s*\{\s*(?:references|bibliography|literature cited|works cited)\s*\}[ \t]*\n?",
    re.IGNORECASE,
)
_APPENDIX = re.compile(r"\\appendix(?![A-Za-z])|\\begin\{appendices\}")
_BLANKS = re.compile(r"\n[ \t]*\n(?:[ \t]*\n)+")


def _strip_line_comment(line: str) -> str | None:
    """``line`` up to its first unescaped ``%`` (``None`` when the whole line is a comment)."""
    pos = line.find("%")
    while pos >= 0:
        k = pos
        while k > 0 and line[k - 1] == "\\":
            k -= 1
        if (pos - k) % 2 == 0:  # an even number of backslashes before it: a real comment
            head = line[:pos]
            return None if not head.strip() else head
        pos = line.find("%", pos + 1)
    return line


def remove_comments(text: str) -> str:
    """Remove ``%`` comments (never ``\\%``, but also right after ``\\\\``), ``comment`` environments and
    ``\\iffalse ... \\fi`` blocks that hold no other conditional. A line that was only a comment goes whole."""
    if "%" in text:
        out = []
        for line in text.split("\n"):
            if "%" in line:
                line = _strip_line_comment(line)
                if line is None:
                    continue
            out.append(line)
        text = "\n".join(out)
    if "\\begin{comment}" in text:
        text = _COMMENT_ENV.sub("", text)
    if "\\iffalse" in text:
        text = _IFFALSE.sub(lambda m: m.group() if re.search(r"\\if[A-Za-z]", m.group()[7:]) else "", text)
    return text


def normalize_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def clean_latex(text: str, *, keep_abstract: bool = False, keep_appendix: bool = True, expand: bool = True,
                max_depth: int = 16, max_growth: float = 4.0, min_budget: int = 1 << 20,
                stats: Counter | None = None) -> tuple[str, str | None]:
    """Clean one flattened paper. Returns ``(text, None)`` or ``("", drop_reason)``.

    Drop reasons: ``no_section`` (no sectioning command: LLaMA keeps nothing), ``macro_expansion_limit``,
    ``empty_after_clean``.
    """
    stats = stats if stats is not None else Counter()
    text = remove_comments(normalize_newlines(text))
    macros, text = extract_definitions(text, stats)
    begin = _BEGIN_DOC.search(text)
    body = text[begin.end():] if begin else text
    end = _END_DOC.search(body)
    if end:
        body = body[: end.start()]
    # expand before cutting: a paper may section with its own macro (\newcommand{\sect}[1]{\section{#1}})
    if expand and macros:
        exp = MacroExpander(macros, max_depth=max_depth, max_growth=max_growth, min_budget=min_budget)
        try:
            body = exp.expand(body)
        except ExpansionLimit:
            stats.update(exp.stats)
            return "", "macro_expansion_limit"
        stats.update(exp.stats)
    first = _SECTION.search(body)
    if first is None:
        return "", "no_section"
    abstract = ""
    if keep_abstract:
        m = _ABSTRACT.search(body, 0, first.start())
        if m:
            abstract = "\\begin{abstract}" + m.group(1) + "\\end{abstract}\n\n"
    body = abstract + body[first.start():]
    n_bib = len(_BIB_ENV.findall(body))
    body = _BIB_ENV.sub("", body)
    body, n_cmd = _BIB_CMD.subn("", body)
    if n_bib or n_cmd:
        body = _BIB_HEADING.sub("", body)
        stats["bibliography_removed"] += 1
    if not keep_appendix:
        m = _APPENDIX.search(body)
        if m:
            body = body[: m.start()]
            stats["appendix_removed"] += 1
    body = _BLANKS.sub("\n\n", body).strip()
    if not body:
        return "", "empty_after_clean"
    return body + "\n", None
