"""``kllama steps``: sources and steps with their options, defaults and drop reasons."""

import json

from kllama.cli import main as kllama
from kllama.core.registry import known_sources, known_steps


def test_steps_lists_every_source_and_step_with_options_and_reasons(capsys):
    assert kllama(["steps"]) == 0
    out = capsys.readouterr().out
    for name in [*known_sources(), *known_steps()]:
        assert f"\n{name}  (" in out, name
    assert "c4_rules  (step, kllama.filters.c4_rules.C4Rules)\n  C4's cleaning of one page.\n" in out
    assert "min_sentences=3" in out and "c4_lorem_ipsum, c4_curly_bracket" in out
    assert "exact_dedup  (global step," in out and "commoncrawl  (source," in out


def test_steps_name_shows_one_in_full(capsys):
    assert kllama(["steps", "minhash_lsh"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("minhash_lsh  (global step, kllama.dedup.minhash_lsh.MinHashLSH)")
    assert "    threshold = 0.8\n" in out and "    reason = 'near_duplicate'\n" in out
    assert "  drop reasons: near_duplicate" in out and "``containment``" in out  # the whole docstring
    assert kllama(["steps", "c4", "--json"]) == 0
    (c4,) = json.loads(capsys.readouterr().out)
    assert c4["kind"] == "source" and c4["options"] == {"split": "'train'", "max_line_bytes": "16777216"}
    assert "invalid_json" in c4["drop_reasons"] and not c4["more_options"]


def test_an_unknown_name_suggests_the_close_one(capsys):
    assert kllama(["steps", "c4_rule"]) == 2
    assert "no source or step named 'c4_rule'; did you mean c4_rules?" in capsys.readouterr().err
