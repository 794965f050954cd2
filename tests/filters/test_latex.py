"""LaTeX cleaning: comments, macro expansion (every definition form, limits) and the LLaMA cuts, on the real
arXiv samples and on small constructed cases."""

from __future__ import annotations

import re
import time
from collections import Counter

import pytest

from kllama.core.document import Document
from kllama.core.ledger import Ledger
from kllama.filters.latex import LatexClean
from kllama.sources.arxiv import decode_tex
from kllama.text.latex_clean import clean_latex, remove_comments
from kllama.text.latex_macros import ExpansionLimit, MacroExpander, expand_macros, extract_definitions
from tests.conftest import samples_dir


def sample(pid: str) -> str:
    return decode_tex((samples_dir("arxiv", "src", pid) / "main.tex").read_bytes())[0]


def wrap(body: str, preamble: str = "") -> str:
    return f"\\documentclass{{article}}\n{preamble}\n\\begin{{document}}\n{body}\n\\end{{document}}\n"


# ---- comments

def test_comments_removed_but_escaped_percent_kept():
    text = ("a 50\\% rate % a comment\n% whole line\n  % indented whole line\nb\\\\% after a line break\n"
            "c \\% d % e\n\\begin{comment}\nhidden\n\\end{comment}\nkeep\n\\iffalse\nold\n\\fi\nend")
    out = remove_comments(text)
    assert out == "a 50\\% rate \nb\\\\\nc \\% d \n\nkeep\n\nend"


def test_iffalse_with_nested_conditional_is_left_alone():
    text = "\\iffalse a \\ifdim x \\fi b \\fi"
    assert remove_comments(text) == text


# ---- macro definitions and expansion

def test_every_definition_form_expands_and_definitions_vanish():
    pre = r"""\newcommand  {\shA}     {\mathcal{A}}
\newcommand{\norm}[1]{\|#1\|}
\newcommand{\pn}[2][p]{\|#2\|_{#1}}
\newcommand*{\R}{\mathbb{R}}
\newcommand\bare{BARE}
\renewcommand{\vec}[1]{\mathbf{#1}}
\providecommand{\eps}{\varepsilon}
\DeclareMathOperator{\Tr}{Tr}
\DeclareMathOperator*{\argmax}{arg\,max}
\def\pair#1#2{\langle #1,#2\rangle}
\long\def\dl#1.{[#1]}
\gdef\g{G}
\newcommand{\nested}[1]{\norm{\vec{#1}}}"""
    body = (r"$\shA \subset \R$, $\norm{x}$, $\pn{x}$, $\pn[\infty]{x}$, \bare{} $\vec v$, $\eps$, $\Tr A$, "
            r"$\argmax_x$, $\pair ab$, \dl some text. \g, $\nested{y}$")
    st = Counter()
    out = expand_macros(pre + "\n" + body, stats=st)
    assert out.strip() == (
        r"$\mathcal{A} \subset \mathbb{R}$, $\|x\|$, $\|x\|_{p}$, $\|x\|_{\infty}$, BARE{} $\mathbf{v}$, "
        r"$\varepsilon$, $\operatorname{Tr} A$, $\operatorname*{arg\,max}_x$, $\langle a,b\rangle$, "
        r"[some text] G, $\|\mathbf{y}\|$"
    )
    assert st["macro_defs"] == 13


def test_providecommand_does_not_override_and_renewcommand_does():
    macros, _ = extract_definitions(r"\newcommand{\a}{1}\providecommand{\a}{2}\newcommand{\b}{1}\renewcommand{\b}{2}")
    assert macros["a"].body == "1" and macros["b"].body == "2"


def test_unparseable_definition_is_left_in_text_and_counted():
    st = Counter()
    macros, text = extract_definitions(r"\newcommand{\broken}[x]{y} rest", st)
    assert not macros and text.startswith(r"\newcommand") and st["macro_def_unparsed"] == 1


def test_control_word_boundaries_and_protected_names():
    out = expand_macros(r"\newcommand{\a}{X}\renewcommand{\section}{S} \a \ab \a1 \\a \section{T}")
    assert out == r" X \ab X1 \\a \section{T}"


def test_control_word_body_does_not_swallow_following_letter():
    assert expand_macros(r"\newcommand{\al}{\alpha}$\al{}x \al x$") == r"$\alpha{}x \alpha x$"


def test_recursive_def_ends_as_partial_expansion_quickly():
    st = Counter()
    t0 = time.perf_counter()
    out = expand_macros(r"\def\a{\a\a} text \a and \a", stats=st)
    assert time.perf_counter() - t0 < 1.0
    assert out == r" text \a and \a" and st["macro_recursion"] == 1


def test_mutual_recursion_is_bounded():
    st = Counter()
    out = expand_macros(r"\def\x{\y x}\def\y{\x y} go \x", stats=st)
    assert st["macro_recursion"] == 1 and out.endswith(r"go \x")


def test_exponential_growth_hits_the_output_budget():
    defs = "".join("\\def\\" + a + "{" + ("\\" + b) * 10 + "}" for a, b in zip("abcdefg", "bcdefgh", strict=True))
    text = defs + r"\def\h{xxxxxxxxxx}" + " \\a"
    with pytest.raises(ExpansionLimit):
        expand_macros(text, min_budget=1 << 16)
    # and the cleaner turns it into a named drop
    _, reason = clean_latex(wrap("\\section{A}\n\\a", defs + r"\def\h{xxxxxxxxxx}"), min_budget=1 << 16)
    assert reason == "macro_expansion_limit"


def test_missing_arguments_leave_the_call():
    exp = MacroExpander(extract_definitions(r"\newcommand{\f}[2]{#1-#2}")[0])
    assert exp.expand(r"end \f{a}") == r"end \f{a}" and exp.stats["macro_args_missing"] == 1


# ---- the LLaMA cuts

def test_cuts_preamble_bibliography_and_keeps_appendix_by_choice():
    body = ("\\begin{abstract}ABSTRACT\\end{abstract}\n\\section{Intro}\nText.\n"
            "\\begin{thebibliography}{1}\\bibitem{a} A.\\end{thebibliography}\n\\appendix\n\\section{Proofs}\nP.\n")
    text, reason = clean_latex(wrap(body))
    assert reason is None and text.startswith("\\section{Intro}") and "ABSTRACT" not in text
    assert "bibitem" not in text and "\\section{Proofs}" in text
    text2, _ = clean_latex(wrap(body), keep_abstract=True, keep_appendix=False)
    assert text2.startswith("\\begin{abstract}ABSTRACT") and "Proofs" not in text2


def test_bibliography_command_style_and_references_heading():
    body = "\\section{A}\nText.\n\\section*{References}\n\\bibliographystyle{plain}\n\\bibliography{refs,more}\n"
    text, reason = clean_latex(wrap(body))
    assert text == "\\section{A}\nText.\n" and reason is None


def test_no_section_and_empty_drops():
    assert clean_latex(wrap("Just text, no sections."))[1] == "no_section"
    assert clean_latex("")[1] == "no_section"


def test_step_counts_drops_and_statistics():
    led = Ledger()
    docs = [Document(id=str(i), text=t, source="arxiv") for i, t in
            enumerate([wrap("\\section{A}\nok"), wrap("none"), wrap("\\section{B}", r"\def\a{\a\a}")])]
    out = LatexClean().process(docs, led)
    assert [d.id for d in out] == ["0", "2"] and led.dropped == {"no_section": 1}


# ---- the real samples

def test_latin1_crlf_paper_with_234_newcommands():
    raw = sample("1707.08043")
    assert len(re.findall(r"\\newcommand", raw)) == 234
    st = Counter()
    text, reason = clean_latex(raw, stats=st)
    assert reason is None and st["macro_defs"] >= 234
    assert text.startswith("\\section*{Introduction}")
    assert "\\newcommand" not in text and "\r" not in text and "\\bibitem" not in text
    # spacing variants like "\newcommand  {\shA}     {...}" were parsed: no defined macro is left in the text
    macros, _ = extract_definitions(remove_comments(raw))
    assert len(macros) >= 230
    left = [n for n in macros if re.search(r"\\" + re.escape(n) + r"(?![A-Za-z])", text)]
    assert left == []


def test_macros_with_arguments_and_inline_bibliography():
    raw = sample("1708.00137")
    st = Counter()
    text, reason = clean_latex(raw, stats=st)
    assert reason is None and st["macro_expansions"] > 10
    assert "\\ket{" not in text and "\\braket{" not in text and "\\left|" in text
    assert "\\begin{thebibliography}" not in text and "\\bibitem" not in text
    # the appendix after the bibliography is kept
    assert "\\section{Wharton's retrocausal toy model}" in text
    # the commented-out \bibliography{} is gone with the comments
    assert "biblio}" not in text


def test_bibliography_command_with_bbl_paper():
    raw = sample("1803.00001")  # constructed: \bibliography{refs} + main.bbl, \renewcommand, macros with arguments
    text, reason = clean_latex(raw)
    assert reason is None and "\\bibliography{" not in text and "\\bibitem" not in text
    assert text.startswith("\\section{Introduction}")
    assert "\\norm{" not in text and "\\left\\lVert \\mathbf{v} \\right\\rVert" in text


def test_sectioning_through_a_user_macro_is_found_after_expansion():
    text, reason = clean_latex(wrap("Preface.\n\\sect{Intro}\nBody.", r"\newcommand{\sect}[1]{\section{#1}}"))
    assert reason is None and text == "\\section{Intro}\nBody.\n"
