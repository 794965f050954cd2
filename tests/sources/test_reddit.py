"""The Reddit reader on generated Pushshift-like monthly dumps (zstd, 2 GiB window)."""

import io
import json

import pytest
import zstandard

from kllama.core.ledger import Ledger
from kllama.formats.jsonlines import open_decompressed
from kllama.sources.reddit import RedditSource, kind_of
from kllama.text.dialogue import pseudonym
from tools.make_demo.dialogue import pushshift_month, zst_pushshift


def _read(path, **kw):
    src = RedditSource(**kw)
    src.source_name = "reddit"
    ledger = Ledger()
    return list(src.read(str(path), ledger)), ledger


@pytest.fixture(scope="module")
def month(tmp_path_factory):
    root = tmp_path_factory.mktemp("pushshift")
    subs, coms = pushshift_month(seed=2, submissions=26, comments_per=10)
    (root / "RS_2006-01.zst").write_bytes(zst_pushshift(subs))
    (root / "RC_2006-01.zst").write_bytes(zst_pushshift(coms))
    return root, subs, coms


def test_pushshift_window_is_read(month):
    root, _, coms = month
    blob = (root / "RC_2006-01.zst").read_bytes()
    assert zstandard.get_frame_parameters(blob).window_size == 1 << 31
    with pytest.raises(zstandard.ZstdError):  # the default window limit refuses it
        open_decompressed(io.BytesIO(blob), "RC_2006-01.zst").read()
    docs, ledger = _read(root / "RC_2006-01.zst")
    assert len(docs) + sum(ledger.dropped.values()) == len(coms)


def test_comment_and_submission_rules(month):
    root, subs, coms = month
    docs, ledger = _read(root / "RC_2006-01.zst", authors="keep")
    by_name = {d.meta["name"]: d for d in docs}
    expected = {"deleted": 0, "bot_author": 0, "low_score": 0}
    for c in coms:
        if c["author"] == "AutoModerator":
            expected["bot_author"] += 1
        elif c["body"] in ("[deleted]", "[removed]"):
            expected["deleted"] += 1
        elif c["score"] < 2:
            expected["low_score"] += 1
        else:
            d = by_name[f"t1_{c['id']}"]
            assert d.meta["link_id"] == c["link_id"] and d.meta["parent_id"] == c["parent_id"]
            assert d.meta["author"] == ("deleted" if c["author"] == "[deleted]" else c["author"])
            assert "&gt;" not in d.text and "&amp;" not in d.text
    assert {k: v for k, v in ledger.dropped.items() if v} == {k: v for k, v in expected.items() if v}
    sdocs, sled = _read(root / "RS_2006-01.zst")
    assert sled.dropped["nsfw"] == sum(1 for s in subs if s["over_18"])
    assert sled.dropped["deleted"] == sum(1 for s in subs if s["selftext"] == "[removed]")
    for d in sdocs:
        s = next(x for x in subs if f"t3_{x['id']}" == d.meta["name"])
        assert d.text.split("\n")[0] == s["title"] and d.url == f"https://www.reddit.com{s['permalink']}"
        assert d.meta["author"] == pseudonym(s["author"])  # pseudonyms by default
    assert all(d.id.startswith("reddit/") for d in sdocs)


def test_subreddit_lists_and_constructed_records(tmp_path):
    recs = [
        {"id": "a1", "link_id": "t3_x", "parent_id": "t3_x", "author": "ann", "subreddit": "Linux", "score": 5,
         "body": "ask u/bob_the_user or /u/carol1 &lt;3", "created_utc": "1136073600"},
        {"id": "a2", "link_id": "t3_x", "parent_id": "t1_a1", "author": "helpful-bot", "subreddit": "linux",
         "score": 9, "body": "beep"},
        {"id": "a3", "link_id": "t3_y", "parent_id": "t3_y", "author": "dan", "subreddit": "pics", "score": 9,
         "body": "nice"},
        {"id": "a4", "link_id": "t3_y", "parent_id": "t3_y", "author": "dan", "subreddit": "linux", "score": 9,
         "body": "   "},
        {"no": "id"},
    ]
    path = tmp_path / "comments.jsonl"  # not RC_: the kind comes from the fields
    path.write_text("\n".join(json.dumps(r) for r in recs) + "\n{oops\n")
    docs, ledger = _read(path, subreddits=["linux"])
    assert [d.meta["name"] for d in docs] == ["t1_a1"]
    assert docs[0].text == f"ask u/{pseudonym('bob_the_user')} or /u/{pseudonym('carol1')} <3"
    assert docs[0].meta["created_utc"] == 1136073600
    assert dict(ledger.dropped) == {"bot_author": 1, "subreddit": 1, "empty_text": 1, "not_reddit": 1,
                                    "invalid_json": 1}
    _, led = _read(path, exclude_subreddits=["PICS"], authors="keep")
    assert led.dropped["subreddit"] == 1
    assert kind_of({"title": "t"}, "x.jsonl") == "submission" and kind_of({}, "RC_2020-01.zst") == "comment"
    with pytest.raises(ValueError):
        RedditSource(authors="hide")
