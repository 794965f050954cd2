"""WikitextCleaner: what goes (templates, refs, tables, file/category links in every language) and what stays."""

from __future__ import annotations

import mwparserfromhell

from kllama.text.wikitext import WikitextCleaner, drop_namespace_names


def clean(text: str, names=("Datei", "Kategorie", "Medium"), lang: str | None = "de") -> str:
    return WikitextCleaner(drop_namespace_names(names, lang)).clean(text)


def test_links_keep_text_and_file_category_links_go_in_every_language():
    text = (
        "[[Datei:Berlin.jpg|mini|Ein [[Bild]] von Berlin]]\n"
        "'''Berlin''' ist die [[Hauptstadt]] der [[Deutschland|Bundesrepublik]].\n"
        "[[Bild:Alt.png|thumb|links|Altes Bild]][[File:X.svg|thumb|x]][[Image:Y.png]]\n"
        "[[Kategorie:Stadt]] [[category:Ort| ]] [[en:Berlin]] [[:Kategorie:Sichtbar|Sichtbar]]"
    )
    out = clean(text)
    assert "Berlin ist die Hauptstadt der Bundesrepublik." in out
    assert "Sichtbar" in out  # a colon-link to a category is a visible link
    for leftover in ("mini", "thumb", "Altes Bild", "Kategorie:", "Category", "Stadt", "en:", "Datei", "[[", "]]", "'''"):
        assert leftover not in out, leftover


def test_templates_refs_comments_magic_words_tables_go():
    text = (
        "__NOTOC__{{Infobox|name=X|pop=3}}Alpha<ref name=a>{{cite web|url=http://x}}</ref> beta"
        "<ref name=a/><!-- hidden --> gamma {{#if:1|x|y}} delta.\n"
        "{| class=\"wikitable\"\n|-\n! H1 !! H2\n|-\n| cell1 || cell2\n|}\n"
        "Epsilon <math>x^2</math> zeta.\n<references/>\n__KHÔNG_MỤC_LỤC__"
    )
    out = clean(text)
    assert out.startswith("Alpha beta gamma delta.")
    assert "Epsilon zeta." in out
    for leftover in ("Infobox", "cite", "http", "hidden", "H1", "cell", "{|", "|}", "x^2", "__", "#if"):
        assert leftover not in out, leftover


def test_headings_kept_and_empty_sections_dropped():
    text = (
        "Intro text.\n== History ==\nOld times.\n=== Details ===\nMore.\n"
        "== References ==\n{{Reflist}}\n== External links ==\n* [http://example.org Site]\n* [[Other page]]\n"
        "== See also ==\n* [[A]], a related topic\n"
    )
    out = clean(text, (), "en")
    assert out == ("Intro text.\n\nHistory\n\nOld times.\n\nDetails\n\nMore.\n\nSee also\n\nA, a related topic")


def test_prose_templates_and_list_items_with_text_stay():
    text = "It is {{convert|10|km|mi}} long and {{nowrap|very old}}.\n* item one has words\n# second item"
    out = clean(text, (), "en")
    assert "It is 10 km long and very old." in out
    assert "item one has words" in out and "second item" in out


def test_pipe_trick_interwiki_and_external_links():
    out = clean("See [[Paris (France)|]] and [[wikt:word|word]] or [http://x.org the site] http://bare.org end.",
                (), "en")
    assert out == "See Paris and word or the site end."


def test_unparsed_indented_table_is_removed():
    out = clean("Before.\n:{| class=wikitable\n|-\n! [[A|a]]\n| ''m'' {{IPA|[m]}}\n|}\nAfter.", (), "vi")
    assert out == "Before.\n\nAfter." or out == "Before.\nAfter."


def test_better_than_plain_strip_code_on_leftovers():
    text = "[[Tập tin:X.jpg|nhỏ|Chú thích]] Văn bản [[Thể loại:Ví dụ]]<ref>Nguồn</ref>"
    plain = mwparserfromhell.parse(text).strip_code()
    assert "Chú thích" in plain or "nhỏ" in plain  # strip_code leaves the caption
    ours = WikitextCleaner(drop_namespace_names(["Tập tin", "Thể loại"], "vi")).clean(text)
    assert ours == "Văn bản"


def test_namespace_names_are_normalized():
    names = drop_namespace_names(["Tập_tin", "Thể loại"], "vi")
    assert "tập tin" in names and "thể loại" in names and "file" in names and "hình" in names


def test_code_keeps_quotes_and_dunders_while_magic_words_go():
    text = "Use <code>__init__</code> and <syntaxhighlight lang=python>x = ''\n</syntaxhighlight> '''bold''' __NOTOC__ __init__ end"
    assert WikitextCleaner().clean(text) == "Use __init__ and x = ''\nbold __init__ end"


def test_link_lists_in_the_body_stay_trailing_ones_go():
    text = ("Members:\n* [[Alice]]\n* [[Bob]]\nThey met in 1990.\n== See also ==\n* [[Carol]]\n"
            "* [[Dave]], a friend\n== External links ==\n* [http://x.org Site]\n")
    assert clean(text, (), "en") == "Members:\nAlice\nBob\nThey met in 1990.\n\nSee also\n\nDave, a friend"


def test_vietnamese_file_and_category_links_go_under_their_localized_and_legacy_names():
    """Constructed viwiki markup (the localized names a real viwiki dump uses: Tập tin, Hình, Thể loại)."""
    from kllama.text.wikitext import WikitextCleaner, drop_namespace_names

    cleaner = WikitextCleaner(drop_namespace_names(["Tập tin", "Thể loại", "Bản mẫu"], lang="vi"))
    text = cleaner.clean(
        "'''Ohio''' là một [[tiểu bang]] của [[Hoa Kỳ]].<ref>Nguồn</ref>\n"
        "[[Tập tin:Ohio map.png|nhỏ|phải|Bản đồ Ohio]]\n[[Hình:Flag of Ohio.svg|thumb|Cờ]]\n"
        "Thủ phủ là [[Columbus, Ohio|Columbus]].\n\n[[Thể loại:Tiểu bang Hoa Kỳ]]\n")
    assert "Ohio là một tiểu bang của Hoa Kỳ." in text and "Thủ phủ là Columbus." in text
    for bad in ("Tập tin:", "Hình:", "Thể loại:", "nhỏ|", "thumb|", "[[", "<ref", "Nguồn", "Bản đồ"):
        assert bad not in text, bad
