"""The IRC reader on real #ubuntu log excerpts (irclogs.ubuntu.com layout) and on constructed edge cases."""

import gzip
import re

import pytest

from kllama.core.ledger import Ledger
from kllama.sources.irc import IrcSource, day_and_channel
from kllama.text.dialogue import format_parts, format_turns, pseudonym, replace_names
from tests.conftest import samples_dir

IRC = samples_dir("dialogue", "ubuntu-irc")
DAY_2016 = IRC / "2016" / "02" / "22" / "#ubuntu.txt"
TURN = re.compile(r"^[^:\n]+: \S")
STAMP = re.compile(r"^\[(\d\d):(\d\d)\] <([^>]+)> ")


def _read(path, **kw):
    src = IrcSource(**kw)
    src.source_name = "irc"
    ledger = Ledger()
    return list(src.read(str(path), ledger)), ledger


def test_real_day_split_at_silences():
    docs, ledger = _read(DAY_2016, gap_minutes=5, min_turns=1, min_speakers=1, max_turns=10_000)
    assert not ledger.dropped
    assert ledger.stats["irc:system_lines"] > 0 and ledger.stats["irc:bot_lines"] > 0
    # the reference: message lines of the file (bots out), cut where the clock jumps by more than 5 minutes
    convs, last = [], None
    for line in DAY_2016.read_text("utf-8").splitlines():
        m = STAMP.match(line)
        if not m or m.group(3) == "ubottu":
            continue
        t = int(m.group(1)) * 60 + int(m.group(2))
        if last is None or t - last > 5:
            convs.append(0)
        convs[-1] += 1
        last = t
    assert [d.meta["turns"] for d in docs] == convs and len(convs) > 3
    for d in docs:
        lines = d.text.split("\n")
        assert len(lines) == d.meta["turns"] and all(TURN.match(x) for x in lines)
        assert not any(x.startswith(("ubottu:", "===")) for x in lines)
        assert d.meta["date"] == "2016-02-22" and d.meta["channel"] == "#ubuntu"
        assert d.id.startswith("irc/")
    assert docs[0].text.startswith("hossein: thats right\nhossein: thanks a lot <noboy>\n")


def test_pseudonyms_are_stable_and_replace_mentions(tmp_path):
    a, _ = _read(DAY_2016, nicks="pseudonym")
    b, _ = _read(DAY_2016, nicks="pseudonym")
    assert [d.text for d in a] == [d.text for d in b]
    kept, _ = _read(DAY_2016)
    assert len(kept) == len(a)
    alias = pseudonym("hossein")
    assert a[0].text.startswith(f"{alias}: thats right")
    joined = "\n".join(d.text for d in a)
    assert "hossein" not in joined and "ndboy" not in joined
    assert f"yes it seems to be ok {alias}" in joined  # a nick inside a message is replaced too
    speakers = {line.split(":", 1)[0] for d in a for line in d.text.split("\n")}
    assert all(re.fullmatch(r"user_[0-9a-f]{8}", s) for s in speakers)
    # the same nick in another day's file gets the same pseudonym
    other = tmp_path / "2016" / "02" / "23" / "#ubuntu.txt"
    other.parent.mkdir(parents=True)
    other.write_text("[10:00] <hossein> back again\n[10:01] <Zed> welcome back hossein\n[10:02] <hossein> thx\n")
    again, _ = _read(other, nicks="pseudonym")
    assert again[0].text.split("\n")[:2] == [f"{alias}: back again", f"{pseudonym('Zed')}: welcome back {alias}"]
    assert pseudonym("X", salt="s") != pseudonym("X") == pseudonym("x")


def test_old_log_system_lines_without_time_and_short_conversations():
    path = IRC / "2004" / "11" / "15" / "#ubuntu.txt"
    messages = sum(1 for line in path.read_text("utf-8").splitlines() if STAMP.match(line))
    docs, ledger = _read(path, max_turns=30, min_turns=30)
    assert ledger.stats["irc:system_lines"] > 10  # "=== nick [...] has joined #ubuntu", without a time stamp
    assert [d.meta["turns"] for d in docs] == [30] * (messages // 30)
    assert ledger.dropped["short_conversation"] == 1 and messages % 30


def test_constructed_edge_cases(tmp_path):
    log = "\n".join([
        "=== alice [~a@host] has joined #kllama",
        "[23:50] <alice> hello, anyone here?",
        "[23:51] <@bob> yes: alice, what is up",
        "[23:52]  * alice waves",
        "[23:53] <ubottu> Factoid: read the manual",
        "[23:54] <helperbot> automatic message",
        "[23:55] <alice> caf\xe9 crashed",  # latin-1 line
        "[00:02] <bob> past midnight but only 7 minutes later",
        "no time stamp here",
        "[00:03] <carol>    ",
        "[01:00] <carol> a new conversation after the silence",
        "[01:01] <alice> short one",
    ]).encode("latin-1")
    path = tmp_path / "2024" / "01" / "31" / "#kllama.txt.gz"
    path.parent.mkdir(parents=True)
    path.write_bytes(gzip.compress(log))
    # the day from the folders, the channel from the file name (.txt.gz: taken as #kllama.txt)
    docs, ledger = _read(path, gap_minutes=30, min_turns=2, url_base="https://irclogs.ubuntu.com")
    assert [d.text for d in docs] == [
        "alice: hello, anyone here?\nbob: yes: alice, what is up\nalice: /me waves\nalice: caf\xe9 crashed\n"
        "bob: past midnight but only 7 minutes later",
        "carol: a new conversation after the silence\nalice: short one"]
    assert ledger.stats["irc:latin1_lines"] == 1 and ledger.stats["irc:bot_lines"] == 2
    assert ledger.stats["irc:system_lines"] == 1 and ledger.stats["irc:unparsed_lines"] == 1
    assert docs[0].meta["start"] == "23:50" and docs[0].meta["end"] == "00:02"
    no_actions, _ = _read(path, actions="drop", min_turns=1)
    assert "/me waves" not in no_actions[0].text
    capped, led = _read(path, max_turns=2, min_turns=2)
    assert [d.meta["turns"] for d in capped] == [2, 2] and led.dropped["short_conversation"] == 2
    trunc = tmp_path / "cut.txt.gz"
    blob = gzip.compress(log * 50)
    trunc.write_bytes(blob[: len(blob) // 2])
    cut, led = _read(trunc, min_turns=1, min_speakers=1, max_turns=100_000)
    assert led.dropped["truncated_file"] == 1 and cut


def test_day_and_channel_and_options():
    assert day_and_channel("/logs/2016/02/22/#ubuntu.txt") == ("2016-02-22", "#ubuntu")
    assert day_and_channel("2016-02-22_17.raw.txt") == ("2016-02-22", None)
    assert day_and_channel("x.txt") == (None, None)
    with pytest.raises(ValueError):
        IrcSource(nicks="hide")
    with pytest.raises(TypeError, match="unknown option"):
        IrcSource(gap=5)


def test_dialogue_format_helpers():
    assert format_turns([("a:b", "x\r\n\r\n  y  \n"), ("c", "   "), ("", "z")]) == "a_b: x\n  y\nunknown: z"
    assert format_parts([[("a", "1")], [], [("b", "2"), ("c", "3")]]) == "a: 1\n\nb: 2\nc: 3"
    assert replace_names("bob2: ask bob2_ or [bob2]", {"bob2": "u1"}) == "u1: ask bob2_ or [bob2]"
