from kllama.core.document import Document
from kllama.core.ledger import Ledger
from kllama.filters.c4_rules import C4Rules

GOOD = "This is a perfectly fine sentence here. Another good sentence is right here! And a third one follows now?"


def _run(text, **kw):
    ledger = Ledger()
    out = C4Rules(**kw).process([Document(id="x", text=text, source="c4")], ledger)
    return out, ledger


def test_line_rules_remove_short_unpunctuated_javascript_and_policy_lines():
    text = "\n".join([GOOD, "Menu Home About", "Please enable Javascript to view this page properly.",
                      "By using this site you accept our privacy policy today.", "Too few words.",
                      "This closing line has enough words to stay."])
    out, ledger = _run(text)
    assert out[0].text == GOOD + "\nThis closing line has enough words to stay."
    assert ledger.stats["c4_lines_removed:no_terminal_punct"] == 1
    assert ledger.stats["c4_lines_removed:javascript"] == 1
    assert ledger.stats["c4_lines_removed:policy"] == 1
    assert ledger.stats["c4_lines_removed:too_few_words"] == 1


def test_page_rules_are_named_drops(tmp_path):
    assert _run(GOOD + "\nlorem ipsum dolor sit amet is here.")[1].dropped == {"c4_lorem_ipsum": 1}
    assert _run(GOOD + "\nfunction f() { return 1; } is code here.")[1].dropped == {"c4_curly_bracket": 1}
    assert _run("One sentence only is here in this page.")[1].dropped == {"c4_too_few_sentences": 1}
    words = tmp_path / "bad.txt"
    words.write_text("frobnicate\n")
    assert _run(GOOD + " We frobnicate daily here.", badwords_path=str(words))[1].dropped == {"c4_badword": 1}
    out, ledger = _run(GOOD + " We frobnicated daily here.", badwords_path=str(words))
    assert len(out) == 1 and not ledger.dropped


def test_citation_markers_are_removed():
    out, _ = _run(GOOD.replace("here.", "here[1].", 1) + " [citation needed]")
    assert "[1]" not in out[0].text and "citation needed" not in out[0].text
