"""The reasoning source: GSM8K (real test-set excerpt), MATH and steps layouts in Galactica's <work> format."""

import gzip
import json

import pytest

from kllama.core.ledger import Ledger
from kllama.sources.reasoning import ReasoningSource, detect_layout
from kllama.text.reasoning import boxed, calculator, galactica, gsm8k_steps
from tests.conftest import samples_dir

GSM8K = samples_dir("reasoning", "gsm8k-test-excerpt.jsonl")
SOCRATIC = samples_dir("reasoning", "gsm8k-test_socratic-excerpt.jsonl")


def _read(path, **kw):
    src = ReasoningSource(**kw)
    src.source_name = "reasoning"
    ledger = Ledger()
    return list(src.read(str(path), ledger)), ledger


def test_gsm8k_real_excerpt_exact_format():
    docs, ledger = _read(GSM8K)
    assert len(docs) == 12 and not ledger.dropped
    first = docs[0]
    assert first.text == (
        "Question: Janet\u2019s ducks lay 16 eggs per day. She eats three for breakfast every morning and bakes "
        "muffins for her friends every day with four. She sells the remainder at the farmers' market daily for $2 "
        "per fresh duck egg. How much in dollars does she make every day at the farmers' market?\n"
        "<work>\n"
        "Janet sells 16 - 3 - 4 = 9 duck eggs a day.\n"
        "She makes 9 * 2 = $18 every day at the farmer\u2019s market.\n"
        "</work>\n"
        "Answer: 18")
    assert first.id.startswith("reasoning/") and first.source == "reasoning" and first.lang == "en"
    assert first.meta["layout"] == "gsm8k" and first.meta["line"] == 1
    for d in docs:
        assert "<<" not in d.text and "####" not in d.text
        assert d.text.count("<work>") == 1 and d.text.count("</work>") == 1


def test_gsm8k_calculator_written_inside_work():
    docs, _ = _read(GSM8K, calculator="work")
    assert docs[0].text.split("<work>\n")[1].split("\n</work>")[0].splitlines() == [
        "16-3-4 = 9", "Janet sells 16 - 3 - 4 = 9 duck eggs a day.",
        "9*2 = 18", "She makes 9 * 2 = $18 every day at the farmer\u2019s market."]
    kept, _ = _read(GSM8K, calculator="keep")
    assert "<<16-3-4=9>>9" in kept[0].text


def test_gsm8k_socratic_subquestions():
    keep, _ = _read(SOCRATIC)
    assert "How many eggs does Janet sell?\nJanet sells 16 - 3 - 4 = 9 duck eggs a day." in keep[0].text
    drop, _ = _read(SOCRATIC, subquestions="drop")
    assert "How many eggs" not in drop[0].text and "Janet sells 16 - 3 - 4 = 9" in drop[0].text


def test_math_and_steps_layouts_and_drops(tmp_path):
    recs = [
        {"problem": "What is $\\frac12+\\frac14$?", "level": "Level 1", "type": "Prealgebra",
         "solution": "We add: $\\frac12+\\frac14=\\frac34$.\n\nSo the sum is $\\boxed{\\frac{3}{4}}$."},
        {"question": "What is 3 squared plus 1?", "steps": ["3^2 = <<3**2=9>>9", "9 + 1 = 10"], "answer": 10},
        {"problem": "No box here", "solution": "It is 4."},
        {"question": "Q", "answer": "no final line"},
        {"title": "not a problem"},
        {"question": "", "answer": "x\n#### 1"},
        ["not", "an", "object"],
    ]
    path = tmp_path / "mixed.jsonl.gz"
    lines = [json.dumps(r) for r in recs] + ["{broken", ""]
    path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    docs, ledger = _read(path)
    assert [d.meta["layout"] for d in docs] == ["math", "steps"]
    assert docs[0].text == ("Question: What is $\\frac12+\\frac14$?\n<work>\nWe add: $\\frac12+\\frac14=\\frac34$.\n"
                            "So the sum is $\\frac{3}{4}$.\n</work>\nAnswer: \\frac{3}{4}")
    assert docs[0].meta["level"] == "Level 1" and docs[0].meta["type"] == "Prealgebra"
    assert docs[1].text == "Question: What is 3 squared plus 1?\n<work>\n3^2 = 9\n9 + 1 = 10\n</work>\nAnswer: 10"
    assert dict(ledger.dropped) == {"no_final_answer": 2, "unknown_layout": 1, "empty_question": 1,
                                    "invalid_json": 2}
    assert set(ledger.dropped) <= set(ReasoningSource.drop_reasons)


def test_truncated_zstd_keeps_the_records_before_the_cut(tmp_path):
    import zstandard

    cctx = zstandard.ZstdCompressor()
    frames = [cctx.compress(line) for line in GSM8K.read_bytes().splitlines(keepends=True)]
    blob = b"".join(frames)
    path = tmp_path / "cut.jsonl.zst"  # cut inside the 9th of 12 frames (one record each)
    path.write_bytes(blob[: sum(map(len, frames[:8])) + len(frames[8]) // 2])
    docs, ledger = _read(path)
    assert len(docs) == 8 and ledger.dropped["truncated_file"] == 1


def test_text_helpers():
    assert calculator("a <<2*3=6>>6 b <<x>>", "work") == ("a 6 b ", ["2*3 = 6", "x"])
    assert calculator("a <<2*3=6>>6", "result") == ("a 6", ["2*3 = 6"])
    with pytest.raises(ValueError):
        calculator("x", "python")
    assert gsm8k_steps("one\n\n####  1,000 ") == (["one"], "1,000")
    assert gsm8k_steps("no answer") == (["no answer"], None)
    assert boxed("x \\boxed{a{b}c} y \\boxed 7$") == ("7", "x a{b}c y 7$")
    assert boxed("\\boxed{\\{1\\}}") == ("\\{1\\}", "\\{1\\}")
    assert boxed("\\boxed{unclosed") == (None, "\\boxed{unclosed")
    assert galactica(" Q ", ["s"], " A ") == "Question: Q\n<work>\ns\n</work>\nAnswer: A"
    assert detect_layout({"question": 1, "answer": 2}) == "gsm8k" and detect_layout({"x": 1}) is None


def test_bad_options_refused():
    with pytest.raises(ValueError):
        ReasoningSource(layout="csv")
    with pytest.raises(ValueError):
        ReasoningSource(calculator="python")
    with pytest.raises(TypeError, match="unknown option"):
        ReasoningSource(calculater="work")
