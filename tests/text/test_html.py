"""html_to_text: paragraphs, lists, code blocks and links of Stack Exchange bodies."""

from __future__ import annotations

from bs4 import BeautifulSoup

from kllama.text.html import html_to_text


def test_paragraphs_and_line_breaks():
    assert html_to_text("<p>Hello <b>world</b>,\nnext   line.</p><p>Second<br>line</p>") == (
        "Hello world, next line.\n\nSecond\nline")


def test_lists_nested_and_numbered():
    html = "<p>Steps:</p><ol start='3'><li>grind</li><li><p>brew</p></li><li>pour<ul><li>slowly</li></ul></li></ol><p>End</p>"
    assert html_to_text(html) == "Steps:\n\n3. grind\n4. brew\n5. pour\n  - slowly\n\nEnd"


def test_code_blocks_keep_their_layout():
    html = "<p>Try:</p>\n<pre><code>def f(x):\n    return  x\n\nprint(f(1))\n</code></pre>\n<p>Inline <code>a  =  1</code>.</p>"
    assert html_to_text(html) == "Try:\n\ndef f(x):\n    return  x\n\nprint(f(1))\n\nInline a = 1."


def test_entities_links_images_scripts_and_tables():
    html = ("<p>A &amp; B &lt;tag&gt; <a href='http://x'>link text</a> <img src='i.png' alt='a diagram'></p>"
            "<script>alert(1)</script><table><tr><th>k</th><th>v</th></tr><tr><td>1</td><td>2</td></tr></table>"
            "<blockquote><p>quoted</p></blockquote><hr><p>after<!-- c --></p>")
    assert html_to_text(html) == "A & B <tag> link text a diagram\n\nk | v\n1 | 2\n\nquoted\n\nafter"


def test_plain_text_broken_html_and_empty():
    assert html_to_text("just text") == "just text"
    assert html_to_text("<p>unclosed <b>bold") == "unclosed bold"
    assert html_to_text("") == "" and html_to_text("   ") == ""


def test_keeps_structure_that_get_text_loses():
    html = "<ul><li>one</li><li>two</li></ul><p>para</p>"
    assert BeautifulSoup(html, "lxml").get_text() == "onetwopara"
    assert html_to_text(html) == "- one\n- two\n\npara"
