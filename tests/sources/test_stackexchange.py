"""Stack Exchange source on the real sample dumps (tests/data/stackexchange) and on broken inputs."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import py7zr
import pytest

from kllama.core.ledger import Ledger
from kllama.engine.partition import PartitionTask, run_task
from kllama.formats.safexml import UnsafeXMLError
from kllama.sources.stackexchange import (
    ArchiveLimitError,
    PostSpill,
    StackExchangeSource,
    parse_tags,
    site_of,
)
from tests.conftest import samples_dir

DEMO = Path(__file__).resolve().parents[2] / "kllama" / "data" / "demo" / "stackexchange"


def read(path, **options) -> tuple[list, Ledger]:
    ledger = Ledger()
    docs = list(StackExchangeSource(**options).read(str(path), ledger))
    return docs, ledger


@pytest.fixture(scope="module")
def coffee():
    return read(samples_dir("stackexchange") / "coffee.stackexchange.com-2015-Posts.xml")


@pytest.fixture(scope="module")
def history():
    return read(samples_dir("stackexchange") / "history.meta.stackexchange.com-2018" / "Posts.xml")


def test_coffee_one_document_per_question(coffee):
    docs, ledger = coffee
    # 592 rows: 225 questions, 327 answers, 40 tag-wiki posts (PostTypeId 4/5)
    assert len(docs) == 225
    assert ledger.dropped == {"se_other_post_type": 40}
    assert ledger.stats["se_answers_merged"] == 327
    d = docs[0]
    assert d.url == "https://coffee.stackexchange.com/questions/1" and d.lang == "en"
    assert d.meta["site"] == "coffee.stackexchange.com" and d.meta["question_id"] == 1
    assert d.meta["tags"] == ["storage", "whole-bean"] and d.meta["score"] == 20
    assert d.meta["accepted_answer_id"] == 24 and d.meta["content_license"] is None  # 2015 dumps have none
    assert d.text.startswith("Q: How should I store whole bean coffee?\n\nI just got a pound of microroasted")
    assert d.text.count("\n\nA: ") == 3
    assert [d.meta["question_id"] for d in docs] == sorted(d.meta["question_id"] for d in docs)
    for doc in docs:
        assert "<p>" not in doc.text and "&lt;" not in doc.text and "&#xA;" not in doc.text


def test_answers_sorted_by_numeric_score_then_date(history):
    docs, _ = history
    first = docs[0]
    assert first.meta["question_id"] == 1  # the row right after the inserted DOCTYPE line is not lost
    assert first.meta["answer_scores"] == [26, 10, 5, 5, 2, 1]  # as strings, "5" would sort above "26" and "10"
    mixed = 0
    for d in docs:
        s = d.meta["answer_scores"]
        assert s == sorted(s, reverse=True)
        if s != sorted(s, key=str, reverse=True):
            mixed += 1
    assert mixed > 10  # the sample really tells numeric and string sorting apart
    # the answer texts follow in that order: the top answer comes first
    assert first.text.index("A: I know it's considered in bad form") < first.text.index("A: I agree with GPierce")


def test_history_meta_counts(history):
    docs, ledger = history
    assert len(docs) == 556 and ledger.dropped == {"se_other_post_type": 6}
    assert ledger.stats["se_answers_merged"] == 1095


def test_7z_archive_gives_the_same_documents(coffee):
    docs, ledger = read(samples_dir("stackexchange") / "constructed-7z" / "coffee.stackexchange.com.7z")
    assert [(d.id, d.text, d.meta) for d in docs] == [(d.id, d.text, d.meta) for d in coffee[0]]
    assert ledger.dropped == coffee[1].dropped


def test_spill_partition_size_does_not_change_the_output(coffee):
    docs, _ = read(samples_dir("stackexchange") / "coffee.stackexchange.com-2015-Posts.xml", partition_mb=0.02)
    assert [(d.id, d.text) for d in docs] == [(d.id, d.text) for d in coffee[0]]


def test_post_spill_partitions_by_question_range(tmp_path):
    spill = PostSpill(str(tmp_path), partition_bytes=100, flush_bytes=150)
    rows = []
    for q in range(1, 30, 3):
        rows.append({"qid": q, "kind": 1, "id": q, "body": "x" * 60})
        rows.append({"qid": max(1, q - 3), "kind": 2, "id": 1000 + q, "body": "y" * 10})  # answers to older questions
    for r in rows:
        spill.add({"score": 0, "created": "", "title": "", "tags": None, "license": None, "accepted": None, **r}, 70)
    assert len(spill.starts) > 3 and spill.starts == sorted(spill.starts)
    parts = list(spill.partitions())
    assert sum(len(p) for p in parts) == len(rows)
    for p, rows_p in enumerate(parts):
        lo = spill.starts[p]
        hi = spill.starts[p + 1] if p + 1 < len(spill.starts) else float("inf")
        assert all(lo <= r["qid"] < hi for r in rows_p)
    assert not list(tmp_path.iterdir())  # partition files are removed once read


POSTS_2024 = """\ufeff<?xml version="1.0" encoding="utf-8"?>
<posts>
  <row Id="5" PostTypeId="2" ParentId="3" CreationDate="2024-01-02T00:00:00.000" Score="9" Body="&lt;p&gt;nine&lt;/p&gt;" ContentLicense="CC BY-SA 4.0" />
  <row Id="3" PostTypeId="1" CreationDate="2024-01-01T00:00:00.000" Score="4" Title="Sort &amp; tags?" Body="&lt;p&gt;Why?&lt;/p&gt;&#xA;&lt;pre&gt;&lt;code&gt;a = 1&#xA;  b = 2&#xA;&lt;/code&gt;&lt;/pre&gt;" Tags="|python|sorting|" ContentLicense="CC BY-SA 4.0" AnswerCount="3" />
  <row Id="6" PostTypeId="2" ParentId="3" CreationDate="2024-01-03T00:00:00.000" Score="10" Body="&lt;ul&gt;&lt;li&gt;ten&lt;/li&gt;&lt;li&gt;items&lt;/li&gt;&lt;/ul&gt;" ContentLicense="CC BY-SA 4.0" />
  <row Id="7" PostTypeId="2" ParentId="3" CreationDate="2024-01-01T12:00:00.000" Score="9" Body="&lt;p&gt;earlier nine&lt;/p&gt;" ContentLicense="CC BY-SA 4.0" />
  <row Id="8" PostTypeId="2" ParentId="99" CreationDate="2024-01-01T12:00:00.000" Score="1" Body="&lt;p&gt;orphan&lt;/p&gt;" />
  <row Id="9" PostTypeId="1" CreationDate="2024-01-05T00:00:00.000" Score="0" Title="Unanswered" Body="&lt;p&gt;hello&lt;/p&gt;" Tags="&lt;a&gt;&lt;b&gt;" />
  <row PostTypeId="1" Title="no id" Body="x" />
  <row Id="10" PostTypeId="5" Body="&lt;p&gt;tag wiki&lt;/p&gt;" />
</posts>
"""


def test_modern_dump_tags_license_ties_orphans(tmp_path):
    site = tmp_path / "cs.stackexchange.com"
    site.mkdir()
    (site / "Posts.xml").write_text(POSTS_2024, encoding="utf-8")
    docs, ledger = read(site / "Posts.xml")
    assert [d.meta["question_id"] for d in docs] == [3, 9]
    d = docs[0]
    assert d.meta["tags"] == ["python", "sorting"] and docs[1].meta["tags"] == ["a", "b"]
    assert d.meta["content_license"] == "CC BY-SA 4.0"
    assert d.meta["answer_ids"] == [6, 7, 5] and d.meta["answer_scores"] == [10, 9, 9]  # tie -> earlier first
    assert d.text == "Q: Sort & tags?\n\nWhy?\n\na = 1\n  b = 2\n\nA: - ten\n- items\n\nA: earlier nine\n\nA: nine"
    assert ledger.dropped == {"se_orphan_answer": 1, "se_bad_row": 1, "se_other_post_type": 1}
    docs2, ledger2 = read(site / "Posts.xml", min_answers=1, qa_markers=False)
    assert [d.meta["question_id"] for d in docs2] == [3] and ledger2.dropped["se_unanswered"] == 1
    assert docs2[0].text.startswith("Sort & tags?\n\nWhy?")


def _make_7z(path: Path, posts: bytes, extra: dict[str, bytes] | None = None) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="se7z-"))
    (tmp / "Posts.xml").write_bytes(posts)
    for name, data in (extra or {}).items():
        (tmp / name).write_bytes(data)
    with py7zr.SevenZipFile(path, "w") as z:
        for f in sorted(tmp.iterdir()):
            z.write(f, f.name)
    shutil.rmtree(tmp)


def test_top_sites_selection_and_split_stack_overflow(tmp_path):
    posts = POSTS_2024.encode()
    sizes = {"a.stackexchange.com": 1, "b.stackexchange.com": 20, "c.stackexchange.com": 5, "meta.b.stackexchange.com": 50}
    for site, n in sizes.items():
        _make_7z(tmp_path / f"{site}.7z", posts, {"Filler.xml": os.urandom(n * 1000)})
    _make_7z(tmp_path / "stackoverflow.com-Posts.7z", posts, {"Filler.xml": os.urandom(30000)})
    _make_7z(tmp_path / "stackoverflow.com-Comments.7z", posts, {"Filler.xml": os.urandom(90000)})
    names = [Path(p).name for p in StackExchangeSource(top_sites=2).list_inputs([str(tmp_path)])]
    assert names == ["b.stackexchange.com.7z", "stackoverflow.com-Posts.7z"]
    names = [Path(p).name for p in StackExchangeSource(top_sites=2, include_meta=True).list_inputs([str(tmp_path)])]
    assert names == ["meta.b.stackexchange.com.7z", "stackoverflow.com-Posts.7z"]
    names = [Path(p).name for p in StackExchangeSource(sites=["a.stackexchange.com"]).list_inputs([str(tmp_path)])]
    assert names == ["a.stackexchange.com.7z"]
    assert len(StackExchangeSource(top_sites=0).list_inputs([str(tmp_path)])) == 4
    docs, _ = read(tmp_path / "stackoverflow.com-Posts.7z")
    assert docs[0].url == "https://stackoverflow.com/questions/3"


def test_site_names():
    assert site_of("/x/coffee.stackexchange.com.7z") == "coffee.stackexchange.com"
    assert site_of("/x/stackoverflow.com-Posts.7z") == "stackoverflow.com"
    assert site_of("/x/history.meta.stackexchange.com-2018/Posts.xml") == "history.meta.stackexchange.com"
    assert site_of("/x/coffee.stackexchange.com-2015-Posts.xml") == "coffee.stackexchange.com"
    assert parse_tags("<c#><.net>") == ["c#", ".net"] and parse_tags("|c#|.net|") == ["c#", ".net"]
    assert parse_tags(None) == []


def test_truncated_7z_is_quarantined_by_the_engine(tmp_path):
    data = (DEMO / "coffee.stackexchange.com.7z").read_bytes()
    cut = tmp_path / "coffee.stackexchange.com.7z"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(Exception):  # noqa: B017 - py7zr's own error for a missing header
        read(cut)
    task = PartitionTask(kind="read", stage_dir=str(tmp_path / "stage"), name="part-00000", inputs=[str(cut)],
                         source="stackexchange", reader="stackexchange")
    marker = run_task(task)
    assert marker["rows"] == 0 and marker["ledger"]["quarantined"]


def test_xml_broken_midway_keeps_what_came_before(tmp_path):
    raw = (samples_dir("stackexchange") / "coffee.stackexchange.com-2015-Posts.xml").read_bytes()
    i = raw.index(b"<row", len(raw) // 2)
    bad = tmp_path / "coffee.stackexchange.com-Posts.xml"
    bad.write_bytes(raw[:i] + b"<row Id='x' <<broken\n" + raw[i:])
    docs, ledger = read(bad)
    assert 50 < len(docs) < 225
    assert ledger.stats["se_input_error:xml_error"] == 1 and ledger.quarantined[0]["partial"] == "true"


def test_billion_laughs_doctype_is_refused(tmp_path):
    bomb = tmp_path / "Posts.xml"
    bomb.write_bytes(b'<?xml version="1.0"?>\n<!DOCTYPE posts [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>\n'
                     b'<posts><row Id="1" PostTypeId="1" Title="&b;" Body="x"/></posts>')
    with pytest.raises(UnsafeXMLError):
        read(bomb)


def test_7z_size_limits(tmp_path):
    arch = tmp_path / "x.stackexchange.com.7z"
    _make_7z(arch, POSTS_2024.encode() + b"<!--" + b" " * (4 << 20) + b"-->")
    with pytest.raises(ArchiveLimitError):
        read(arch, max_ratio=2.0)
    docs, _ = read(arch)
    assert len(docs) == 2


def test_huge_post_is_dropped(tmp_path):
    body = "&lt;p&gt;" + "word " * (1 << 20) + "&lt;/p&gt;"
    xml = POSTS_2024.replace('Body="&lt;p&gt;hello&lt;/p&gt;"', f'Body="{body}"')
    (tmp_path / "Posts.xml").write_text(xml, encoding="utf-8")
    docs, ledger = read(tmp_path / "Posts.xml", max_post_bytes=1 << 20)
    assert [d.meta["question_id"] for d in docs] == [3]
    assert ledger.dropped["se_post_too_large"] == 1


def test_demo_inputs():
    src = StackExchangeSource(include_meta=True)
    files = src.list_inputs([str(DEMO)])
    assert [Path(f).name for f in files] == ["coffee.stackexchange.com.7z", "Posts.xml"]
    docs, ledger = read(files[0])
    assert len(docs) == 30 and ledger.dropped == {"se_other_post_type": 4} and not ledger.quarantined


@pytest.mark.slow
def test_demo_recipe_end_to_end_on_local_cluster(tmp_path, dask_client):
    """``kllama run demo --input stackexchange=SAMPLES``: real cluster, ledger balanced at every stage."""
    import pyarrow.parquet as pq

    from kllama.config import load_recipe
    from kllama.pipeline import run_recipe

    recipe = load_recipe("demo", {"stackexchange": [str(samples_dir("stackexchange"))]})
    summary = run_recipe(recipe, tmp_path / "run", dask_client, progress=False)
    read_stage = summary.stages["stackexchange.00-read"]
    assert read_stage.docs_out == 225 + 556 and read_stage.docs_in == 225 + 556 + 40 + 6
    for name, ledger in summary.stages.items():
        assert ledger.balanced, name
    assert read_stage.stats["se_answers_merged"] == 327 + 1095
    run = tmp_path / "run"
    tables = [pq.read_table(s["path"] if Path(s["path"]).is_absolute() else run / s["path"]) for s in summary.shards]
    assert sum(t.num_rows for t in tables) == 781
    assert all(t.startswith("Q: ") for tb in tables for t in tb.column("text").to_pylist())


def test_sites_xml_limits_the_candidates(tmp_path):
    posts = POSTS_2024.encode()
    for site, n in {"a.stackexchange.com": 1, "b.stackexchange.com": 20, "c.stackexchange.com": 5}.items():
        _make_7z(tmp_path / f"{site}.7z", posts, {"Filler.xml": os.urandom(n * 1000)})
    (tmp_path / "Sites.xml").write_text(
        '\ufeff<?xml version="1.0" encoding="utf-8"?>\n<sitelist>\n'
        '  <row Id="1" TinyName="a" Name="A" Url="https://a.stackexchange.com" />\n'
        '  <row Id="2" TinyName="c" Name="C" Url="https://c.stackexchange.com" />\n</sitelist>\n', encoding="utf-8")
    names = [Path(p).name for p in StackExchangeSource(top_sites=1).list_inputs([str(tmp_path)])]
    assert names == ["c.stackexchange.com.7z"]  # b is larger but not listed
    alone = tmp_path / "elsewhere"
    alone.mkdir()
    (tmp_path / "Sites.xml").rename(alone / "Sites.xml")
    src = StackExchangeSource(top_sites=1, sites_xml=str(alone / "Sites.xml"))
    assert [Path(p).name for p in src.list_inputs([str(tmp_path)])] == ["c.stackexchange.com.7z"]
    assert [Path(p).name for p in StackExchangeSource(top_sites=1).list_inputs([str(tmp_path)])] == [
        "b.stackexchange.com.7z"]
