"""Dialogue demo inputs and test data (G2 A.5): IRC excerpts, Pushshift-like Reddit months, OpenAssistant-like trees.

    python -m tools.make_demo.dialogue SAMPLES   # SAMPLES = the shared sample folder (holds dialogue/ubuntu-irc)

Writes, byte-identical on every run:

* IRC: excerpts of the real #ubuntu logs (irclogs.ubuntu.com, public domain; taken from
  jkkummerfeld/irc-disentanglement, data CC BY 4.0) laid out as ``YYYY/MM/DD/#ubuntu.txt``:
  ``kllama/data/demo/irc/`` (two days, 160 lines each) and ``tests/data/dialogue/ubuntu-irc/`` (three days);
* Reddit: ``kllama/data/demo/reddit/RS_2006-01.zst`` and ``RC_2006-01.zst``, generated Pushshift-like records
  (:func:`pushshift_month`), zstd with a 2 GiB window and no content size, as Pushshift's ``--long=31`` files;
* OpenAssistant: ``kllama/data/demo/oasst/trees.jsonl.gz``, generated message trees (:func:`oasst_trees`).

The Reddit and OpenAssistant text is made up by these functions (Apache-2.0), no real posts. Tests and the
benchmark call the same functions with other sizes.
"""

from __future__ import annotations

import gzip
import io
import json
import random
import sys
from pathlib import Path

import zstandard

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "kllama" / "data" / "demo"
TESTS = REPO / "tests" / "data" / "dialogue"

#: (sample file, day, lines for the demo, lines for the tests)
IRC_DAYS = [("2004-11-15_03.raw.txt", "2004/11/15", 0, 220), ("2008-12-11_11.raw.txt", "2008/12/11", 160, 220),
            ("2016-02-22_17.raw.txt", "2016/02/22", 160, 260)]

_WORDS = ("the kernel module loads but the wifi card stays down after resume and I tried the driver from the "
          "vendor site plus the one in the repository with no change so far any idea what else to check before "
          "I reinstall everything from scratch tonight").split()
_SUBS = ["linux", "learnpython", "askscience", "cooking", "AskHistorians"]


def _sentence(rng: random.Random, lo: int = 6, hi: int = 20) -> str:
    words = [rng.choice(_WORDS) for _ in range(rng.randint(lo, hi))]
    return " ".join(words).capitalize() + rng.choice([".", "?", "!", "."])


def _b36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if not n:
            return out


def pushshift_month(seed: int = 1, submissions: int = 20, comments_per: int = 12, start_id: int = 100000,
                    t0: int = 1136073600) -> tuple[list[dict], list[dict]]:
    """(submissions, comments) in the Pushshift fields (``id, name, author, subreddit, score, created_utc, title,
    selftext, over_18, permalink`` / ``id, link_id, parent_id, author, subreddit, score, created_utc, body``),
    with deleted and removed texts, bots, low scores, an NSFW post, a deleted submission and comments whose
    submission is in an earlier month (orphans)."""
    rng = random.Random(seed)
    subs: list[dict] = []
    coms: list[dict] = []
    next_id = start_id
    for s in range(submissions):
        sid = _b36(next_id)
        next_id += 1
        sub = _SUBS[s % len(_SUBS)]
        created = t0 + s * 3600
        selftext = "" if s % 4 == 3 else "\n\n".join(_sentence(rng) for _ in range(rng.randint(1, 3)))
        rec = {"id": sid, "name": f"t3_{sid}", "author": f"poster{s % 7}", "subreddit": sub,
               "score": rng.randint(-1, 60), "created_utc": created, "title": _sentence(rng, 4, 10),
               "selftext": selftext, "over_18": s % 13 == 12, "num_comments": comments_per,
               "permalink": f"/r/{sub}/comments/{sid}/demo/"}
        if s % 11 == 10:
            rec["selftext"] = "[removed]"
        subs.append(rec)
        ids = [f"t3_{sid}"]
        for c in range(comments_per):
            cid = _b36(next_id)
            next_id += 1
            parent = ids[0] if c < 3 or rng.random() < 0.3 else rng.choice(ids[1:])
            author = rng.choice(["AutoModerator", "[deleted]"]) if rng.random() < 0.08 else f"user{rng.randint(0, 40)}"
            body = _sentence(rng, 3, 25) if rng.random() > 0.1 else rng.choice(["[deleted]", "[removed]"])
            if rng.random() < 0.1:
                body += "\n\n&gt; quoted line &amp; more"
            coms.append({"id": cid, "link_id": f"t3_{sid}", "parent_id": parent, "author": author,
                         "subreddit": sub, "score": rng.randint(-5, 40), "created_utc": created + 60 * (c + 1),
                         "body": body})
            ids.append(f"t1_{cid}")
    for k in range(3):  # replies to a submission of an earlier month
        cid = _b36(next_id)
        next_id += 1
        coms.append({"id": cid, "link_id": "t3_0old", "parent_id": "t3_0old", "author": f"user{k}",
                     "subreddit": "linux", "score": 5, "created_utc": t0 + k, "body": _sentence(rng)})
    return subs, coms


def zst_pushshift(records: list[dict]) -> bytes:
    """NDJSON compressed as Pushshift's files are: streamed (no content size) with a 2 GiB window."""
    buf = io.BytesIO()
    params = zstandard.ZstdCompressionParameters(window_log=31, enable_ldm=True, compression_level=3)
    with zstandard.ZstdCompressor(compression_params=params).stream_writer(buf, closefd=False) as w:
        for r in records:
            w.write((json.dumps(r) + "\n").encode())
    return buf.getvalue()


def _message(mid: str, role: str, text: str, lang: str = "en", rank: int | None = None, **extra) -> dict:
    return {"message_id": mid, "parent_id": None, "user_id": f"u-{mid}", "created_date": f"2023-02-0{len(mid) % 9 + 1}",
            "text": text, "role": role, "lang": lang, "review_count": 3, "review_result": True, "deleted": False,
            "rank": rank, "synthetic": False, "model_name": None, "replies": [], **extra}


def oasst_trees(seed: int = 1, n: int = 8) -> list[dict]:
    """Message trees in the OpenAssistant export layout: ranked assistant replies, a deleted best reply, a
    review failure, a German tree, a tree still growing, a prompt without replies."""
    rng = random.Random(seed)
    trees = []
    for t in range(n):
        lang = "de" if t % 5 == 4 else "en"
        prompt = _message(f"p{t}", "prompter", _sentence(rng, 5, 12), lang)
        for r in range(0 if t % 7 == 6 else 3):
            reply = _message(f"p{t}a{r}", "assistant", _sentence(rng, 8, 30), lang, rank=r)
            if t % 3 == 1 and r == 0:
                reply["deleted"] = True
            if t % 4 == 2 and r == 1:
                reply["review_result"] = False
            for q in range(2):
                follow = _message(f"p{t}a{r}q{q}", "prompter", _sentence(rng, 4, 10), lang, rank=1 - q)
                follow["replies"] = [_message(f"p{t}a{r}q{q}b", "assistant", _sentence(rng, 6, 20), lang, rank=0)]
                reply["replies"].append(follow)
            prompt["replies"].append(reply)
        rng.shuffle(prompt["replies"])
        trees.append({"message_tree_id": f"tree-{t}", "tree_state": "growing" if t == 3 else "ready_for_export",
                      "prompt": prompt})
    return trees


def irc_excerpt(samples: Path, name: str, lines: int) -> bytes:
    data = (samples / "dialogue" / "ubuntu-irc" / name).read_bytes()
    return b"".join(data.splitlines(keepends=True)[:lines])


def main(samples: Path) -> None:
    for name, day, demo_lines, test_lines in IRC_DAYS:
        for root, n in ((DEMO / "irc", demo_lines), (TESTS / "ubuntu-irc", test_lines)):
            if n:
                out = root / day / "#ubuntu.txt"
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_bytes(irc_excerpt(samples, name, n))
    subs, coms = pushshift_month(seed=1, submissions=12, comments_per=10)
    (DEMO / "reddit").mkdir(parents=True, exist_ok=True)
    (DEMO / "reddit" / "RS_2006-01.zst").write_bytes(zst_pushshift(subs))
    (DEMO / "reddit" / "RC_2006-01.zst").write_bytes(zst_pushshift(coms))
    (DEMO / "oasst").mkdir(parents=True, exist_ok=True)
    data = "".join(json.dumps(t, sort_keys=True) + "\n" for t in oasst_trees(seed=1, n=8)).encode()
    (DEMO / "oasst" / "trees.jsonl.gz").write_bytes(gzip.compress(data, mtime=0))


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/samples"))
