"""GitHub code cleaning as LLaMA/RedPajama did it, without RedPajama's defects.

Steps (in recipe order): ``code_license`` (MIT / any BSD / any Apache), ``code_extension`` (RedPajama's 66-suffix
allow-list; ``.crt`` and files named ``LICENSE`` skipped), ``code_binary`` (binary content), ``code_header``
(strips a *leading licence/copyright comment block* with the file language's own comment syntax, never code,
preprocessor lines, shebangs, encoding lines or docstrings) and ``code_quality`` (max line > 1000, mean line > 100,
alphanumeric share < 0.25, alphabetic characters per token < 1.5). Exact file-level dedup is the generic
``exact_dedup`` global step.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from fnmatch import fnmatchcase
from functools import lru_cache
from typing import Any

from kllama.core.document import Document
from kllama.core.ledger import Ledger
from kllama.core.registry import register
from kllama.core.steps import Filter, Mapper

#: RedPajama v1 ``github_run_filter.py`` ``extensions_whitelist`` (66 suffixes, matched with ``str.endswith``,
#: so ``Dockerfile``/``Makefile`` match whole names and ``.C``/``.H`` are case-sensitive).
REDPAJAMA_EXTENSIONS: tuple[str, ...] = (
    ".asm", ".bat", ".cmd", ".c", ".h", ".cs", ".cpp", ".hpp", ".c++", ".h++", ".cc", ".hh", ".C", ".H",
    ".cmake", ".css", ".dockerfile", ".f90", ".f", ".f03", ".f08", ".f77", ".f95", ".for", ".fpp", ".go", ".hs",
    ".html", ".java", ".js", ".jl", ".lua", ".md", ".markdown", ".php", ".php3", ".php4", ".php5", ".phps",
    ".phpt", ".pl", ".pm", ".pod", ".perl", ".ps1", ".psd1", ".psm1", ".py", ".rb", ".rs", ".sql", ".scala",
    ".sh", ".bash", ".command", ".zsh", ".ts", ".tsx", ".tex", ".vb", "Dockerfile", "Makefile", ".xml", ".rst",
    ".m", ".smali",
)

#: LLaMA kept "projects distributed under the Apache, BSD and MIT licenses" (glob patterns over SPDX-like ids).
DEFAULT_LICENSES: tuple[str, ...] = ("mit", "mit-0", "bsd*", "0bsd", "apache*")


def normalize_license(value: str) -> str:
    """``"Apache License 2.0"`` -> ``"apache-license-2.0"``; SPDX ids are lower-cased (``"BSD-3-Clause"``)."""
    return re.sub(r"[\s_]+", "-", value.strip().lower())


def license_list(meta: dict[str, Any]) -> list[str]:
    """Licences of a record's meta (``license`` string, ``licenses`` list, or an SPDX ``A OR B`` expression)."""
    raw = meta.get("licenses")
    if raw is None:
        raw = meta.get("license")
    if raw is None:
        return []
    items = [raw] if isinstance(raw, str) else list(raw)
    out: list[str] = []
    for item in items:
        if not isinstance(item, str):
            continue
        for part in re.split(r"\s+(?:OR|or)\s+|[(),]", item):
            if part.strip():
                out.append(normalize_license(part))
    return out


@register
class LicenseFilter(Filter):
    """Keep a file when one of its licences matches ``allowed`` (globs over normalized SPDX-like ids).

    A list of licences (the-stack's ``max_stars_repo_licenses``) passes when *any* entry is allowed
    (``mode="any"``, the repository may be used under that licence) or, with ``mode="all"``, only when every
    entry is. Drops: ``license_not_allowed``, ``license_missing``.
    """

    name = "code_license"
    drop_reasons = ("license_missing", "license_not_allowed")

    def __init__(self, allowed: Iterable[str] = DEFAULT_LICENSES, mode: str = "any") -> None:
        if mode not in ("any", "all"):
            raise ValueError("mode must be 'any' or 'all'")
        self.allowed = tuple(normalize_license(a) for a in allowed)
        self.mode = mode

    def allowed_license(self, lic: str) -> bool:
        return any(fnmatchcase(lic, pat) for pat in self.allowed)

    def keep(self, doc: Document) -> bool | str:
        lics = license_list(doc.meta)
        if not lics:
            return "license_missing"
        hits = [self.allowed_license(lic) for lic in lics]
        ok = any(hits) if self.mode == "any" else all(hits)
        return True if ok else "license_not_allowed"


@register
class ExtensionFilter(Filter):
    """Keep files whose path ends with an allowed suffix (``"redpajama"``: RedPajama's 66, the default; in a list,
    the entry ``"redpajama"`` stands for those 66, so ``["redpajama", ".kt", ".swift"]`` widens them).

    Drops: ``certificate_file`` (``.crt``), ``license_file`` (files named ``LICENSE``, also ``LICENSE.md`` etc.
    when ``skip_license_variants``), ``extension_not_allowed``, ``path_missing``.
    """

    name = "code_extension"
    drop_reasons = ("path_missing", "certificate_file", "license_file", "extension_not_allowed")

    def __init__(self, extensions: Iterable[str] | str = "redpajama", skip_license_variants: bool = True) -> None:
        if isinstance(extensions, str):
            if extensions != "redpajama":
                raise ValueError('extensions must be "redpajama" or a list of suffixes')
            extensions = REDPAJAMA_EXTENSIONS
        wide = [e for x in extensions for e in (REDPAJAMA_EXTENSIONS if x == "redpajama" else (x,))]
        self.extensions = tuple(dict.fromkeys(wide))
        self.skip_license_variants = skip_license_variants

    def keep(self, doc: Document) -> bool | str:
        path = doc.meta.get("path") or ""
        if not path:
            return "path_missing"
        base = path.rsplit("/", 1)[-1]
        if path.lower().endswith(".crt"):
            return "certificate_file"
        if base == "LICENSE" or (self.skip_license_variants and re.fullmatch(r"(?i)(licen[cs]e|copying)(\.\w+)?", base)):
            return "license_file"
        if not path.endswith(self.extensions):
            return "extension_not_allowed"
        return True


_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")


@register
class BinaryFilter(Filter):
    """Drop binary content: a NUL character, or more than ``max_control_share`` of C0 control characters
    (tab, newline, carriage return, vertical tab and form feed excepted) in the first ``sample_chars``.
    Drop: ``binary_file``.
    """

    name = "code_binary"
    drop_reasons = ("binary_file",)

    def __init__(self, max_control_share: float = 0.01, sample_chars: int = 65536) -> None:
        self.max_control_share = max_control_share
        self.sample_chars = sample_chars

    def keep(self, doc: Document) -> bool | str:
        head = doc.text[: self.sample_chars]
        if "\x00" in head or "\ufffd\ufffd\ufffd\ufffd" in head:
            return "binary_file"
        if head and len(_CONTROL.findall(head)) / len(head) > self.max_control_share:
            return "binary_file"
        return True


# --------------------------------------------------------------------------------------------------------
# Licence header removal, scoped by language.

_C_STYLE = {"line": ("//",), "block": (("/*", "*/"),)}
_HASH = {"line": ("#",), "block": ()}
COMMENT_SYNTAX: dict[str, dict[str, tuple]] = {}
for _ext in (".c", ".h", ".cs", ".cpp", ".hpp", ".c++", ".h++", ".cc", ".hh", ".C", ".H", ".java", ".js", ".ts",
             ".tsx", ".go", ".rs", ".scala", ".m", ".php", ".php3", ".php4", ".php5", ".phps", ".phpt", ".swift",
             ".kt", ".jsx", ".mjs", ".cxx", ".hxx", ".dart", ".groovy"):
    COMMENT_SYNTAX[_ext] = _C_STYLE
COMMENT_SYNTAX[".css"] = {"line": (), "block": (("/*", "*/"),)}
for _ext in (".py", ".sh", ".bash", ".zsh", ".command", ".rb", ".pl", ".pm", ".perl", ".cmake", ".dockerfile",
             "Dockerfile", "Makefile", ".mk", ".jl", ".r", ".R", ".yml", ".yaml", ".toml"):
    COMMENT_SYNTAX[_ext] = _HASH
for _ext in (".ps1", ".psd1", ".psm1"):
    COMMENT_SYNTAX[_ext] = {"line": ("#",), "block": (("<#", "#>"),)}
COMMENT_SYNTAX[".sql"] = {"line": ("--",), "block": (("/*", "*/"),)}
COMMENT_SYNTAX[".lua"] = {"line": ("--",), "block": (("--[[", "]]"),)}
COMMENT_SYNTAX[".hs"] = {"line": ("--",), "block": (("{-", "-}"),)}
for _ext in (".f90", ".f03", ".f08", ".f95", ".fpp", ".f", ".for", ".f77"):
    COMMENT_SYNTAX[_ext] = {"line": ("!",), "block": ()}
COMMENT_SYNTAX[".tex"] = {"line": ("%",), "block": ()}
COMMENT_SYNTAX[".asm"] = {"line": (";",), "block": ()}
COMMENT_SYNTAX[".vb"] = {"line": ("'",), "block": ()}
COMMENT_SYNTAX[".bat"] = COMMENT_SYNTAX[".cmd"] = {"line": ("::", "REM ", "rem "), "block": ()}
for _ext in (".html", ".xml", ".md", ".markdown"):
    COMMENT_SYNTAX[_ext] = {"line": (), "block": (("<!--", "-->"),)}

_LICENSE_WORDS = re.compile(
    r"copyright|\(c\)\s*\d{4}|©|licen[cs]e|spdx-license-identifier|all rights reserved|"
    r"permission is hereby granted|redistribution and use|warranty",
    re.IGNORECASE,
)
#: Lines kept at the top of a file before a header block: shebang, encoding declaration, PHP/XML openers, BOM.
_PROLOGUE = re.compile(r"^(\ufeff?#!|\s*#.*coding[:=]|\s*<\?(php|xml)\b|\s*<!DOCTYPE|\s*@echo off)", re.IGNORECASE)


def comment_syntax(path: str) -> dict[str, tuple] | None:
    """The comment syntax of a file by its suffix (``None`` when unknown: nothing is stripped)."""
    base = path.rsplit("/", 1)[-1]
    if base in COMMENT_SYNTAX:
        return COMMENT_SYNTAX[base]
    if base.startswith(("Dockerfile", "Makefile")):
        return _HASH
    dot = base.rfind(".")
    if dot <= 0:
        return None
    return COMMENT_SYNTAX.get(base[dot:]) or COMMENT_SYNTAX.get(base[dot:].lower())


def _comment_block_end(lines: list[str], i: int, syntax: dict[str, tuple]) -> int:
    """Index after the comment block starting at ``lines[i]`` (``i`` when no comment starts there).

    A block comment must close; code after its closing marker on the same line means it is not a pure
    comment block (returns ``i``). A run of line comments stops at the first non-comment line.
    """
    first = lines[i].lstrip()
    for start, end in syntax["block"]:
        if first.startswith(start):
            j = i
            rest = first[len(start):]
            while True:
                pos = rest.find(end)
                if pos >= 0:
                    if rest[pos + len(end):].strip():
                        return i  # code after the comment on the same line: keep all
                    return j + 1
                j += 1
                if j >= len(lines):
                    return i  # unterminated: not a header we can remove safely
                rest = lines[j]
    line_markers = syntax["line"]
    if not line_markers:
        return i
    j = i
    while j < len(lines):
        s = lines[j].lstrip()
        if not s.startswith(line_markers) or s.startswith("#!"):
            break
        j += 1
    return j


def strip_license_header(text: str, path: str, max_blocks: int = 3) -> tuple[str, int]:
    """Remove leading licence/copyright comment blocks from ``text``; returns (text, lines removed).

    Only comment lines in the syntax of the file's language are candidates (so ``#include``/``#pragma``/
    ``#define`` in C are never comments), a block goes only if it names a licence or copyright, and
    prologue lines (shebang, encoding line, ``<?php``) stay. Python docstrings are code and stay.
    """
    syntax = comment_syntax(path)
    if syntax is None:
        return text, 0
    lines = text.split("\n")
    keep_prefix: list[str] = []
    i = 0
    while i < len(lines) and i < 3 and _PROLOGUE.match(lines[i]):
        keep_prefix.append(lines[i])
        i += 1
    removed = 0
    for _ in range(max_blocks):
        j = i
        while j < len(lines) and not lines[j].strip():
            j += 1
        if j >= len(lines):
            break
        end = _comment_block_end(lines, j, syntax)
        if end == j:
            break
        block = "\n".join(lines[j:end])
        if not _LICENSE_WORDS.search(block):
            break
        removed += end - i
        # drop blank lines right after the block too
        while end < len(lines) and not lines[end].strip():
            end += 1
            removed += 1
        del lines[i:end]
    if not removed:
        return text, 0
    return "\n".join(keep_prefix + lines[i:]), removed


@register
class CodeHeader(Mapper):
    """Strip a leading licence/copyright comment block (see :func:`strip_license_header`).

    Drop: ``empty_after_header`` when nothing but the header was in the file.
    """

    name = "code_header"
    drop_reasons = ("empty_after_header",)

    def __init__(self, max_blocks: int = 3) -> None:
        self.max_blocks = max_blocks

    def transform(self, doc: Document, ledger: Ledger) -> Document | str:
        text, n = strip_license_header(doc.text, doc.meta.get("path") or "", self.max_blocks)
        if n:
            if not text.strip():
                return "empty_after_header"
            doc.text = text
            doc.meta["header_lines_removed"] = n
        return doc


# --------------------------------------------------------------------------------------------------------
# Quality rules.

_ALNUM = re.compile(r"[^\W_]+")
_ALPHA = re.compile(r"[^\W\d_]+")
_WORD_RUN = re.compile(r"[^\W\d_]+")
_WORD_MORE = re.compile(r"[^\W\d_]{5}(?=[^\W\d_])")
_DIGIT_RUN = re.compile(r"\d+")
_DIGIT_MORE = re.compile(r"\d{3}(?=\d)")
_SPACE_TOK = re.compile(r"\s{2,}|[^\S ]")
_SPACE_MORE = re.compile(r"\s{16}(?=\s)")
_REPEAT = re.compile(r"([^\s\w])\1{3,}")
_PUNCT_RUN = re.compile(r"[^\s\w]+|_+")
_PUNCT_MORE = re.compile(r"[^\s\w]{2}(?=[^\s\w])")


def proxy_token_count(text: str) -> int:
    """Cheap estimate of the 20B tokenizer's token count, from regex counts only (see docs/github.md).

    GPT-NeoX pre-tokenization shape: a letter run is one token per 5 letters (rounded up), a digit run one per 3
    digits, a punctuation run one per 2 characters (a run of one repeated character counts once), whitespace
    runs other than the single space that joins the next token count once per 16 characters.
    """
    n = len(_WORD_RUN.findall(text)) + len(_WORD_MORE.findall(text))
    n += len(_DIGIT_RUN.findall(text)) + len(_DIGIT_MORE.findall(text))
    n += len(_SPACE_TOK.findall(text)) + len(_SPACE_MORE.findall(text))
    if _REPEAT.search(text):
        text = _REPEAT.sub(r"\1", text)
    n += len(_PUNCT_RUN.findall(text)) + len(_PUNCT_MORE.findall(text))
    return n


@lru_cache(maxsize=4)
def _load_tokenizer(path: str):
    from tokenizers import Tokenizer

    return Tokenizer.from_file(path)


def code_stats(text: str) -> dict[str, float]:
    """RedPajama's per-file statistics: max and mean line length (``len(text) / lines``), alphanumeric share."""
    lines = text.splitlines()
    if not lines:
        return {"max_line_length": 0, "avg_line_length": 0.0, "alnum_prop": 0.0}
    alnum = sum(map(len, _ALNUM.findall(text)))
    return {
        "max_line_length": max(map(len, lines)),
        "avg_line_length": len(text) / len(lines),
        "alnum_prop": alnum / len(text),
    }


@register
class CodeQuality(Filter):
    """RedPajama/LLaMA code quality rules, each a named drop, checked cheapest first.

    ``tokens``: ``"20b"`` (the real GPT-NeoX-20B tokenizer from ``tokenizer_path``, as RedPajama; default when a
    tokenizer path is given) or ``"proxy"`` (:func:`proxy_token_count`, ~3x faster, same decision on ~97% of
    real source files; numbers in docs/github.md).
    Drops: ``empty_file``, ``max_line_length``, ``mean_line_length``, ``alnum_share``, ``alpha_per_token``.
    """

    name = "code_quality"
    drop_reasons = ("empty_file", "max_line_length", "mean_line_length", "alnum_share", "alpha_per_token")

    def __init__(self, max_line_length: int = 1000, max_mean_line_length: float = 100.0,
                 min_alnum_share: float = 0.25, min_alpha_per_token: float = 1.5, tokens: str | None = None,
                 tokenizer_path: str | None = None) -> None:
        tokens = tokens or ("20b" if tokenizer_path else "proxy")
        if tokens not in ("proxy", "20b"):
            raise ValueError("tokens must be 'proxy' or '20b'")
        if tokens == "20b" and not tokenizer_path:
            raise ValueError("tokens='20b' needs tokenizer_path (20B_tokenizer.json)")
        self.max_line_length = max_line_length
        self.max_mean_line_length = max_mean_line_length
        self.min_alnum_share = min_alnum_share
        self.min_alpha_per_token = min_alpha_per_token
        self.tokens = tokens
        self.tokenizer_path = tokenizer_path

    def real_token_count(self, text: str) -> int:
        return len(_load_tokenizer(self.tokenizer_path).encode(text, add_special_tokens=False).ids)

    def alpha_per_token(self, text: str) -> float:
        """Alphabetic characters per token, by the configured token counter."""
        n_alpha = sum(map(len, _ALPHA.findall(text)))
        if self.tokens == "20b":
            return n_alpha / max(1, self.real_token_count(text))
        return n_alpha / max(1, proxy_token_count(text))

    def keep(self, doc: Document) -> bool | str:
        text = doc.text
        if not text:
            return "empty_file"
        # cheapest first: a single overlong line ends the check without splitting the whole file
        start = 0
        n_lines = 0
        size = len(text)
        while start < size:
            nl = text.find("\n", start)
            end = size if nl < 0 else nl
            if end - start > self.max_line_length and len(text[start:end].rstrip("\r")) > self.max_line_length:
                return "max_line_length"
            n_lines += 1
            start = end + 1
        if size / max(1, n_lines) > self.max_mean_line_length:
            return "mean_line_length"
        if sum(map(len, _ALNUM.findall(text))) / size < self.min_alnum_share:
            return "alnum_share"
        if self.alpha_per_token(text) < self.min_alpha_per_token:
            return "alpha_per_token"
        return True
