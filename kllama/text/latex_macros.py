"""User macro definitions in LaTeX: find them, remove them, expand them where used -- with limits.

Handles ``\\newcommand``, ``\\renewcommand``, ``\\providecommand``, ``\\DeclareRobustCommand`` (starred or not,
``[n]`` arguments, ``[default]`` for an optional first argument, the name braced or bare, any spacing such as
``\\newcommand  {\\shA}     {...}``), ``\\DeclareMathOperator`` (starred too) and ``\\def``/``\\gdef``/``\\edef``/
``\\xdef`` (with ``\\long``/``\\global`` prefixes) with parameters ``#1``..``#9``, undelimited or delimited by
literal text (``\\def\\a#1.{...}``).

Expansion is bounded: nesting deeper than ``max_depth`` leaves the innermost call unexpanded (partial expansion,
counted), and producing more than ``max_growth`` times the input (plus ``min_budget`` characters) raises
:class:`ExpansionLimit` -- a recursive ``\\def\\a{\\a\\a}`` ends there, never in a hang or a memory blow-up.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

#: Never expanded even when a paper redefines them: structure the cleaner still needs to see.
PROTECTED = frozenset({
    "section", "subsection", "subsubsection", "paragraph", "subparagraph", "chapter", "part", "begin", "end",
    "item", "label", "ref", "eqref", "cite", "input", "include", "documentclass", "documentstyle", "usepackage",
    "bibliography", "bibliographystyle", "appendix", "newcommand", "renewcommand", "providecommand", "def",
    "gdef", "edef", "xdef", "let", "DeclareMathOperator", "DeclareRobustCommand", "maketitle", "title",
})

_DEF_RE = re.compile(
    r"\\(?:(?P<cmd>newcommand|renewcommand|providecommand|DeclareRobustCommand|DeclareMathOperator)(?P<star>\*?)"
    r"|(?:(?:long|global|protected|outer)\s*\\)*(?P<def>[gex]?def)(?![A-Za-z@]))"
)
_CS_AT = re.compile(r"\\(?:([A-Za-z]+)|.)", re.DOTALL)
_NAME = re.compile(r"\\([A-Za-z@]+|[^A-Za-z@\s])")
_PARAM = re.compile(r"#(#|[1-9])")


class ExpansionLimit(Exception):
    """Macro expansion produced more output than allowed (the document should be dropped)."""


class _TooDeep(Exception):
    """Nesting passed ``max_depth`` (a recursive macro); unwinds to the outermost call."""


@dataclass(frozen=True)
class Macro:
    """One user macro: ``nargs`` parameters, an optional-argument ``default`` (first parameter), the ``body``
    with ``#n`` placeholders, and for ``\\def`` the literal ``delimiters`` after each parameter ('' = none)
    and a literal ``prefix`` required before the first one."""

    name: str
    nargs: int
    body: str
    default: str | None = None
    delimiters: tuple[str, ...] = ()
    prefix: str = ""


def _skip_ws(s: str, i: int) -> int:
    n = len(s)
    while i < n and s[i] in " \t\n":
        i += 1
    return i


def read_group(s: str, i: int, open_c: str = "{", close_c: str = "}", limit: int = 1 << 20) -> tuple[str, int] | None:
    """Content of the balanced group opening at ``s[i]`` and the index after it (``None`` if unbalanced).

    For ``[...]`` groups, brackets inside braces do not count (``[{a]b}]`` is one group).
    """
    if i >= len(s) or s[i] != open_c:
        return None
    braces = 0
    depth = 0
    j = i
    end = min(len(s), i + limit)
    while j < end:
        c = s[j]
        if c == "\\":
            j += 2
            continue
        if c == "{":
            braces += 1
        elif c == "}":
            braces -= 1
        if open_c == "{":
            if braces == 0:
                return s[i + 1 : j], j + 1
        elif braces == 0:
            if c == open_c:
                depth += 1
            elif c == close_c:
                depth -= 1
                if depth == 0:
                    return s[i + 1 : j], j + 1
        elif braces < 0:
            return None
        j += 1
    return None


def read_arg(s: str, i: int) -> tuple[str, int] | None:
    """One undelimited TeX argument after optional spaces: a brace group, a control sequence or a character."""
    i = _skip_ws(s, i)
    if i >= len(s):
        return None
    c = s[i]
    if c == "{":
        return read_group(s, i)
    if c in "}":
        return None
    if c == "\\":
        m = _NAME.match(s, i)
        if not m:
            return None
        return m.group(), m.end()
    return c, i + 1


def _read_name(s: str, i: int) -> tuple[str, int] | None:
    """The macro name being defined: ``{\\name}``, ``\\name`` (spaces allowed before/inside the braces)."""
    i = _skip_ws(s, i)
    if i < len(s) and s[i] == "{":
        g = read_group(s, i)
        if g is None:
            return None
        inner = g[0].strip()
        m = _NAME.fullmatch(inner)
        return (m.group(1), g[1]) if m else None
    m = _NAME.match(s, i)
    return (m.group(1), m.end()) if m else None


def _parse_newcommand(s: str, i: int, cmd: str, star: str) -> tuple[Macro, int] | None:
    got = _read_name(s, i)
    if got is None:
        return None
    name, i = got
    if cmd == "DeclareMathOperator":
        j = _skip_ws(s, i)
        body = read_group(s, j)
        if body is None:
            return None
        return Macro(name, 0, f"\\operatorname{star}{{{body[0]}}}"), body[1]
    nargs = 0
    default = None
    j = _skip_ws(s, i)
    if j < len(s) and s[j] == "[":
        g = read_group(s, j, "[", "]")
        if g is None or not g[0].strip().isdigit():
            return None
        nargs = int(g[0].strip())
        if not 0 <= nargs <= 9:
            return None
        j = _skip_ws(s, g[1])
        if j < len(s) and s[j] == "[":
            g = read_group(s, j, "[", "]")
            if g is None:
                return None
            default = g[0]
            j = _skip_ws(s, g[1])
    body = read_group(s, j)
    if body is None:
        return None
    return Macro(name, nargs, body[0], default), body[1]


def _parse_def(s: str, i: int) -> tuple[Macro, int] | None:
    m = _NAME.match(s, _skip_ws(s, i))
    if not m:
        return None
    name = m.group(1)
    j = m.end()
    brace = s.find("{", j)
    if brace < 0 or brace - j > 200:
        return None
    ptext = s[j:brace]
    if "}" in ptext or "%" in ptext:
        return None
    parts = re.split(r"#([1-9])", ptext)
    prefix = parts[0]
    nums = [int(x) for x in parts[1::2]]
    if nums != list(range(1, len(nums) + 1)):
        return None
    delimiters = tuple(parts[2::2])
    body = read_group(s, brace)
    if body is None:
        return None
    return Macro(name, len(nums), body[0], None, delimiters, prefix.strip() if not nums else prefix), body[1]


def extract_definitions(text: str, stats: Counter | None = None) -> tuple[dict[str, Macro], str]:
    """All parseable macro definitions in ``text`` and the text with those definitions removed.

    ``\\renewcommand`` and ``\\def`` replace an earlier definition; ``\\providecommand`` and ``\\newcommand`` do
    not replace one (LaTeX would keep the first or stop with an error). Unparseable definitions stay in the text.
    """
    macros: dict[str, Macro] = {}
    out: list[str] = []
    pos = 0
    for m in _DEF_RE.finditer(text):
        if m.start() < pos:
            continue
        if m.group("def"):
            got = _parse_def(text, m.end())
            kind = "def"
        else:
            got = _parse_newcommand(text, m.end(), m.group("cmd"), m.group("star"))
            kind = m.group("cmd")
        if got is None:
            if stats is not None:
                stats["macro_def_unparsed"] += 1
            continue
        macro, end = got
        if kind in ("renewcommand", "def", "DeclareRobustCommand", "DeclareMathOperator") or macro.name not in macros:
            macros[macro.name] = macro
        out.append(text[pos : m.start()])
        pos = end
        if stats is not None:
            stats["macro_defs"] += 1
    out.append(text[pos:])
    return macros, "".join(out)


class MacroExpander:
    """Expands user macros in text with depth and output-growth limits."""

    def __init__(self, macros: dict[str, Macro], max_depth: int = 16, max_growth: float = 4.0,
                 min_budget: int = 1 << 20) -> None:
        self.macros = {k: v for k, v in macros.items() if k not in PROTECTED}
        self.max_depth = max_depth
        self.max_growth = max_growth
        self.min_budget = min_budget
        self.stats: Counter = Counter()
        self.disabled: set[str] = set()
        self._budget = 0

    def expand(self, text: str) -> str:
        """``text`` with every user macro call replaced by its body; raises :class:`ExpansionLimit`."""
        if not self.macros:
            return text
        self._budget = int(len(text) * self.max_growth) + self.min_budget
        return self._expand(text, 0)

    def _spend(self, n: int) -> None:
        self._budget -= n
        if self._budget < 0:
            raise ExpansionLimit("macro expansion exceeded its output budget")

    def _args(self, macro: Macro, s: str, i: int) -> tuple[list[str], int] | None:
        args: list[str] = []
        n = macro.nargs
        if macro.default is not None and n:
            j = _skip_ws(s, i)
            if j < len(s) and s[j] == "[":
                g = read_group(s, j, "[", "]")
                if g is None:
                    return None
                args.append(g[0])
                i = g[1]
            else:
                args.append(macro.default)
        if macro.delimiters or macro.prefix:
            # TeX drops the spaces after a control word before delimited parameters too
            while i < len(s) and s[i] in " \t":
                i += 1
        if macro.prefix:
            j = _skip_ws(s, i) if macro.prefix[:1] not in " \n" else i
            if not s.startswith(macro.prefix, j):
                return None
            i = j + len(macro.prefix)
        while len(args) < n:
            k = len(args)
            delim = macro.delimiters[k] if k < len(macro.delimiters) else ""
            if delim:
                # delimited parameter: text up to the delimiter at brace depth 0
                j = i
                depth = 0
                limit = min(len(s), i + 100_000)
                while j < limit:
                    c = s[j]
                    if c == "\\" and depth == 0 and s.startswith(delim, j):
                        break
                    if c == "\\":
                        j += 2
                        continue
                    if c == "{":
                        depth += 1
                    elif c == "}":
                        depth -= 1
                        if depth < 0:
                            return None
                    elif depth == 0 and s.startswith(delim, j):
                        break
                    j += 1
                else:
                    return None
                arg = s[i:j]
                if len(arg) >= 2 and arg[0] == "{" and arg[-1] == "}" and read_group(arg, 0) == (arg[1:-1], len(arg)):
                    arg = arg[1:-1]
                args.append(arg)
                i = j + len(delim)
            else:
                got = read_arg(s, i)
                if got is None:
                    return None
                args.append(got[0])
                i = got[1]
        return args, i

    def _expand(self, s: str, depth: int) -> str:
        out: list[str] = []
        pos = 0
        i = 0
        n = len(s)
        while i < n:
            j = s.find("\\", i)
            if j < 0:
                break
            m = _CS_AT.match(s, j)
            name = m.group(1) if m else None
            macro = self.macros.get(name) if name else None
            if macro is None or name in self.disabled:
                i = m.end() if m else j + 1
                continue
            if depth >= self.max_depth:
                raise _TooDeep(name)
            got = self._args(macro, s, m.end()) if (macro.nargs or macro.prefix) else ([], m.end())
            if got is None:
                self.stats["macro_args_missing"] += 1
                i = m.end()
                continue
            args, end = got
            body = _PARAM.sub(lambda p, a=args: "#" if p.group(1) == "#" else
                              (a[int(p.group(1)) - 1] if int(p.group(1)) <= len(a) else ""), macro.body)
            self._spend(len(body) + 1)
            if depth == 0:
                try:
                    expanded = self._expand(body, 1)
                except _TooDeep as exc:
                    # recursive macro: leave this call as written, never expand that macro again
                    self.stats["macro_recursion"] += 1
                    self.disabled.update({name, exc.args[0]})
                    i = end
                    continue
            else:
                expanded = self._expand(body, depth + 1)
            out.append(s[pos:j])
            # keep a control word in the body from swallowing letters that follow the call
            if expanded and end < n and s[end].isalpha() and re.search(r"\\[A-Za-z]+$", expanded):
                expanded += " "
            out.append(expanded)
            self.stats["macro_expansions"] += 1
            pos = i = end
        if not out:
            return s
        out.append(s[pos:])
        return "".join(out)


def expand_macros(text: str, max_depth: int = 16, max_growth: float = 4.0, min_budget: int = 1 << 20,
                  stats: Counter | None = None) -> str:
    """Remove the definitions in ``text`` and expand them where used (see :class:`MacroExpander`)."""
    macros, body = extract_definitions(text, stats)
    exp = MacroExpander(macros, max_depth, max_growth, min_budget)
    result = exp.expand(body)
    if stats is not None:
        stats.update(exp.stats)
    return result
