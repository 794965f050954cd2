"""Every XML reader on a truncated input: the record the cut broke is a counted ``truncated_file`` drop, never a
document (whatever libxml2 closes or recovers by itself), and the cut input shows in the run summary and in
``kllama status``. Inputs are built here from the bundled demo dumps."""

from __future__ import annotations

import bz2
import json
import re
from pathlib import Path

from kllama.commands._common import summary_table
from kllama.core.ledger import Ledger
from kllama.engine.partition import PartitionTask, run_task
from kllama.engine.status import format_status, run_status
from kllama.pipeline import RunSummary
from kllama.sources.stackexchange import StackExchangeSource
from kllama.sources.wikipedia import WikipediaSource

DEMO = Path(__file__).resolve().parents[2] / "kllama" / "data" / "demo"
WIKI = DEMO / "wikipedia" / "enwiki-demo-pages-articles-multistream.xml.bz2"
POSTS = DEMO / "stackexchange" / "history.meta.stackexchange.com" / "Posts.xml"


def _read(source, path: Path) -> tuple[list, Ledger]:
    ledger = Ledger()
    return list(source.read(str(path), ledger)), ledger


def _wiki_cut_in_last_page(tmp_path: Path, compress: bool) -> Path:
    """The demo dump cut 60 bytes into the wikitext of its last page (Ampere): ``{{Other uses}} {{Infobox ...``."""
    xml = bz2.open(WIKI).read()
    last = xml.rindex(b"<page>")
    cut = xml[: xml.index(b'<text xml:space="preserve">', last) + 90]
    path = tmp_path / ("enwiki-20160501-pages-articles.xml" + (".bz2" if compress else ""))
    path.write_bytes(bz2.compress(cut) if compress else cut)
    return path


def test_wikipedia_page_cut_by_truncation_is_a_counted_drop(tmp_path):
    full, full_ledger = _read(WikipediaSource(), WIKI)
    for compress in (False, True):
        docs, ledger = _read(WikipediaSource(), _wiki_cut_in_last_page(tmp_path, compress))
        assert [d.meta["title"] for d in docs] == [d.meta["title"] for d in full][:-1]  # Ampere is gone
        assert not any("Infobox" in d.text or "bgcolour" in d.text for d in docs)
        assert ledger.dropped == {**full_ledger.dropped, "truncated_file": 1}
        # the same pages went in: every page of the full dump is a document or a named drop here too
        assert len(docs) + sum(ledger.dropped.values()) == len(full) + sum(full_ledger.dropped.values())
        assert ledger.stats["truncated_file:xml"] == 1 and ledger.stats["wiki_input_error:truncated"] == 1
        assert ledger.quarantined[0]["partial"] == "true"


def test_wikipedia_cut_between_pages_drops_nothing(tmp_path):
    xml = bz2.open(WIKI).read()
    cut = tmp_path / "enwiki-cut.xml"
    cut.write_bytes(xml[: xml.rindex(b"</page>") + len(b"</page>\n")])  # only </mediawiki> is missing
    full, full_ledger = _read(WikipediaSource(), WIKI)
    docs, ledger = _read(WikipediaSource(), cut)
    assert len(docs) == len(full) and ledger.dropped == full_ledger.dropped
    assert ledger.stats["truncated_file:xml"] == 1  # still a truncated input


def _last_question(raw: bytes) -> tuple[int, int]:
    """(offset, id) of the last question row of a Posts.xml."""
    m = list(re.finditer(rb'<row Id="(\d+)" PostTypeId="1"', raw))[-1]
    return m.start(), int(m.group(1))


def test_stackexchange_row_cut_by_truncation_is_a_counted_drop(tmp_path):
    raw = POSTS.read_bytes()
    start, qid = _last_question(raw)
    full, full_ledger = _read(StackExchangeSource(include_meta=True), POSTS)
    assert qid in [d.meta["question_id"] for d in full]
    line_end = raw.index(b"\n", start)
    title_end = raw.index(b'" ', raw.index(b' Title="', start, line_end) + 8) + 2
    # cut mid-attribute, and just after a complete attribute (libxml2 2.13+ recovers that row with the
    # attributes read so far: Id, PostTypeId, Body, Title -- it must not become a question)
    for end in (start + 40, title_end):
        site = tmp_path / f"cut{end}" / "history.meta.stackexchange.com"
        site.mkdir(parents=True)
        (site / "Posts.xml").write_bytes(raw[:end])
        docs, ledger = _read(StackExchangeSource(include_meta=True), site / "Posts.xml")
        assert qid not in [d.meta["question_id"] for d in docs]
        assert ledger.dropped["truncated_file"] == 1
        assert ledger.stats["truncated_file:xml"] == 1 and ledger.quarantined[0]["partial"] == "true"
        assert [d.meta["question_id"] for d in docs] == [d.meta["question_id"] for d in full
                                                         if d.meta["question_id"] != qid][: len(docs)]
    # cut at a line boundary: a truncated input, but no row was cut
    site = tmp_path / "line" / "history.meta.stackexchange.com"
    site.mkdir(parents=True)
    (site / "Posts.xml").write_bytes(raw[:start])
    docs, ledger = _read(StackExchangeSource(include_meta=True), site / "Posts.xml")
    assert "truncated_file" not in ledger.dropped and ledger.stats["truncated_file:xml"] == 1


def test_truncated_input_shows_in_the_summary_and_in_status(tmp_path):
    dump = _wiki_cut_in_last_page(tmp_path, compress=True)
    stage = tmp_path / "run" / "stages" / "wikipedia.00-read"
    stage.mkdir(parents=True)
    (stage / "_plan.json").write_text(json.dumps({"partitions_total": 1, "created": 0}))
    marker = run_task(PartitionTask(kind="read", stage_dir=str(stage), name="part-00000", inputs=[str(dump)],
                                    source="wikipedia", reader="wikipedia"))
    ledger = Ledger.from_dict(marker["ledger"])
    assert ledger.balanced and ledger.dropped["truncated_file"] == 1
    text = summary_table(RunSummary(run_dir=tmp_path / "run", stages={"wikipedia.00-read": ledger}))
    assert "truncated_file=1" in text
    assert re.search(r"wikipedia\.00-read: 1 truncated input .*enwiki-20160501-pages-articles\.xml\.bz2", text)
    status = run_status(tmp_path / "run")
    assert status["stages"]["wikipedia.00-read"]["truncated_inputs"] == 1
    shown = format_status(status)
    assert "truncated_file=1" in shown and "1 truncated input" in shown
