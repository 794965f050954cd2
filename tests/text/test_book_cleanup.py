"""Book text cleaning: characters, running headers/footers and page numbers, garbage pages, hyphens, reflow."""

from __future__ import annotations

import random
import textwrap

import pytest

from kllama.text.book_cleanup import (
    CleanStats,
    book_verdict,
    clean_pages,
    dehyphenate,
    is_page_number,
    normalize_chars,
    page_problem,
    reflow,
    strip_running_lines,
)
from tools.make_demo.science_books import paragraph


def test_normalize_chars():
    assert normalize_chars("the \ufb01rst \ufb02ow, e\ufb00ect, o\ufb03ce\r\n") == "the first flow, effect, office\n"
    assert normalize_chars("hy\u00adphen\u200bated\u00a0word") == "hyphenated word"


@pytest.mark.parametrize("line", ["12", " - 12 - ", "[7]", "xiv", "Page 12", "p. 3", "12 of 300", "12/300"])
def test_page_numbers(line):
    assert is_page_number(line)


@pytest.mark.parametrize("line", ["12 apples", "Chapter 12", "x = 12", "1. Introduction", "Figure 3"])
def test_not_page_numbers(line):
    assert not is_page_number(line)


def _book(n_pages: int = 12, seed: int = 1) -> list[list[str]]:
    rng = random.Random(seed)
    pages = []
    for i in range(n_pages):
        body = textwrap.wrap(paragraph(rng, 6), 70)
        header = "THERMODYNAMICS FOR ENGINEERS" if i % 2 else f"CHAPTER {1 + i // 4}. HEAT FLOW"
        pages.append([header, *body, "", str(i + 1)])
    return pages


def test_running_headers_footers_and_page_numbers_removed():
    pages = _book()
    stats = CleanStats()
    out = strip_running_lines(pages, stats=stats)
    for original, cleaned in zip(pages, out, strict=True):
        assert original[1:-2] == [x for x in cleaned if x]  # the body untouched
    assert stats.page_numbers == 12 and stats.running_lines == 12


def test_a_recurring_first_line_of_few_pages_stays():
    pages = _book(20)
    pages[3][1] = pages[7][1] = "Example 3.1 shows the method."
    out = strip_running_lines(pages)
    assert "Example 3.1 shows the method." in out[3] and "Example 3.1 shows the method." in out[7]


def test_garbage_pages():
    text = paragraph(random.Random(2), 5)
    assert page_problem(text, "en") is None
    assert page_problem("   12  ", "en") == "empty"
    assert page_problem("#$%& @@ {}[] " * 20 + "a1 b2 c3 d4 e5 f6 g7 h8 i9 j0 k1 l2 m3 n4 o5 p6 q7 r8 s9 t0", "en") == "symbols"
    salad = " ".join("".join(random.Random(k).choice("qxzjkvwbgf") for _ in range(6)) for k in range(60))
    assert page_problem(salad, "en") == "words"
    assert page_problem(salad, "fi") is None  # no word list for Finnish: the dictionary test is skipped


def test_dehyphenation_uses_the_book_as_dictionary():
    stats = CleanStats()
    vocab = {"example", "the"}
    hyph = {"well-known"}
    text = "an exam-\nple of a well-\nknown rule for Navier-\nStokes and a tri-\nvial case"
    out = dehyphenate(text, vocab, hyph, stats)
    assert out == "an example of a well-known rule for Navier-Stokes and a trivial case"
    assert stats.hyphens_joined == 2 and stats.hyphens_kept == 2


def test_reflow_paragraphs_and_headings():
    body = textwrap.wrap(paragraph(random.Random(3), 4), 70)
    lines = ["2.1 Heat Flow", *body[:-1], body[-1][:20] + ".", "Next paragraph starts here and goes on for a while",
             "and ends here."]
    paras = reflow(lines)
    assert paras[0] == "2.1 Heat Flow"
    assert paras[1].startswith(body[0]) and paras[1].endswith(".")
    assert paras[2] == "Next paragraph starts here and goes on for a while and ends here."


def test_clean_pages_end_to_end():
    pages = ["\n".join(p) for p in _book(10)]
    pages[4] = "@@@ ### $$$ %%% ^^^ &&& *** ((( ))) +++ === {{{ }}} [[[ ]]] ||| ~~~ 123 456 789 000 " * 4
    pages[2] = pages[2].replace("the ", "the \ufb01rst ", 1)
    book = clean_pages(pages, "en")
    assert book.stats.pages_garbage == {"symbols": 1} and book.stats.pages_kept == 9
    assert "THERMODYNAMICS" not in book.text and "CHAPTER" not in book.text
    assert "\ufb01" not in book.text and "first" in book.text
    assert "\n\n" in book.text and all(len(p) > 60 for p in book.text.split("\n\n"))
    assert book_verdict(book.stats, min_book_chars=1000) is None
    assert book_verdict(book.stats, min_book_chars=10**6) == "book_too_little_text"
    garbage = clean_pages(["#$%&*" * 200] * 5, "en")
    assert book_verdict(garbage.stats) == "book_too_little_text"


def test_paragraph_continued_on_the_next_page():
    p1 = "A long paragraph starts on one page and keeps going across the page\nbreak without any"
    p2 = "interruption of the sentence, which ends on the next page after all.\nA new one follows here."
    book = clean_pages([p1, p2], "en", min_page_chars=10)
    assert "without any interruption of the sentence" in book.text
