"""The OpenAssistant reader on generated message trees in the export layout."""

import gzip
import json

import pytest

from kllama.core.ledger import Ledger
from kllama.sources.oasst import OasstSource
from tools.make_demo.dialogue import _message, oasst_trees


def _read(path, **kw):
    src = OasstSource(**kw)
    src.source_name = "oasst"
    ledger = Ledger()
    return list(src.read(str(path), ledger)), ledger


def _write(tmp_path, trees, extra_lines=()):
    path = tmp_path / "2023-04-12_oasst_ready.trees.jsonl.gz"
    lines = [json.dumps(t) for t in trees] + list(extra_lines)
    path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    return path


def test_best_ranked_path_skips_deleted_and_failed_replies(tmp_path):
    prompt = _message("p", "prompter", "How do I boil an egg?")
    best = _message("a0", "assistant", "Deleted answer", rank=0, deleted=True)
    second = _message("a1", "assistant", "Boil it for 8 minutes.", rank=1)
    third = _message("a2", "assistant", "Failed review", rank=None, review_result=False)
    unranked = _message("a3", "assistant", "Unranked answer", rank=None)
    second["replies"] = [_message("q1", "prompter", "Soft or hard?", rank=1),
                         _message("q0", "prompter", "And for a soft one?", rank=0)]
    second["replies"][1]["replies"] = [_message("b", "assistant", "Six minutes.\n\n\nThen cool it.", rank=0)]
    prompt["replies"] = [unranked, third, best, second]
    docs, ledger = _read(_write(tmp_path, [{"message_tree_id": "t1", "tree_state": "ready_for_export",
                                            "prompt": prompt}]))
    assert not ledger.dropped
    assert docs[0].text == ("User: How do I boil an egg?\nAssistant: Boil it for 8 minutes.\n"
                            "User: And for a soft one?\nAssistant: Six minutes.\nThen cool it.")
    assert docs[0].meta["message_ids"] == ["p", "a1", "q0", "b"] and docs[0].meta["turns"] == 4
    assert docs[0].id.startswith("oasst/") and docs[0].lang == "en"
    named, _ = _read(_write(tmp_path, [{"message_tree_id": "t1", "tree_state": "ready_for_export",
                                        "prompt": prompt}]), speakers={"prompter": "Human"})
    assert named[0].text.startswith("Human: How do I boil an egg?\nAssistant: ")


def test_generated_export_and_drops(tmp_path):
    trees = oasst_trees(seed=3, n=10)
    path = _write(tmp_path, trees, ["{not json", json.dumps({"message_tree_id": "x"}), json.dumps([1])])
    docs, ledger = _read(path)
    assert dict(ledger.dropped) == {"tree_state": 1, "no_reply": 1, "invalid_json": 1, "not_a_tree": 2}
    assert {d.lang for d in docs} == {"en", "de"}
    for d in docs:
        roles = [line.split(":", 1)[0] for line in d.text.split("\n")]
        assert roles == ["User", "Assistant"] * (len(roles) // 2) and len(roles) == d.meta["turns"] == 4
        assert "deleted" not in d.meta["message_ids"]
    en, led = _read(path, languages=["en"])
    assert {d.lang for d in en} == {"en"} and led.dropped["language"] == 2
    any_state, led = _read(path, tree_states=None)
    assert len(any_state) == len(docs) + 1 and "tree_state" not in led.dropped
    # deterministic
    again, _ = _read(path)
    assert [(d.id, d.text) for d in again] == [(d.id, d.text) for d in docs]


def test_bad_prompt_and_options(tmp_path):
    prompt = _message("p", "prompter", "   ")
    prompt["replies"] = [_message("a", "assistant", "x", rank=0)]
    docs, ledger = _read(_write(tmp_path, [{"message_tree_id": "t", "tree_state": "ready_for_export",
                                            "prompt": prompt}]))
    assert not docs and ledger.dropped["bad_prompt"] == 1
    with pytest.raises(TypeError, match="unknown option"):
        OasstSource(language=["en"])
