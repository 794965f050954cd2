"""PubMed reader on an excerpt of a real 2020 baseline file, and the PMID-keyed update step."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import pytest

from kllama.core.document import CORE_SCHEMA, documents_to_table
from kllama.core.ledger import Ledger
from kllama.engine.inprocess import run_global_in_process
from kllama.formats.safexml import UnsafeXMLError
from kllama.sources.pubmed import PubMedSource, PubMedUpdate, file_order_key

DATA = Path(__file__).resolve().parents[1] / "data" / "pubmed"
EXCERPT = DATA / "pubmed20n0014-excerpt.xml.gz"
RECORDS = 157  # PubmedArticle elements in the excerpt


def _read(path: Path, **options) -> tuple[list, Ledger]:
    ledger = Ledger()
    docs = list(PubMedSource(**options).read(str(path), ledger))
    return docs, ledger


def _xml() -> bytes:
    return gzip.decompress(EXCERPT.read_bytes())


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(gzip.compress(data, mtime=0))
    return path


def test_every_record_is_a_document_or_a_named_drop():
    docs, ledger = _read(EXCERPT, languages=["eng"])
    assert len(docs) + sum(ledger.dropped.values()) == RECORDS
    assert dict(ledger.dropped) == {"pubmed_no_abstract": 82, "pubmed_language": 15, "pubmed_retracted": 2,
                                    "pubmed_notice": 2}
    assert len(docs) == 56
    assert not ledger.quarantined
    # without a language choice the non-English articles' English abstracts stay
    all_docs, ledger = _read(EXCERPT)
    assert len(all_docs) == 71 and "pubmed_language" not in ledger.dropped


def test_document_layout_and_meta():
    docs, _ = _read(EXCERPT, languages=["en"])  # ISO 639-1 works too
    first = docs[0]
    assert first.text.startswith("Monitoring of bacteriological contamination and assessment of carcase surface")
    title, abstract = first.text.split("\n\n", 1)
    assert abstract.startswith("Two hundred and sixty nine beef, 230 sheep and 165 pig carcase")
    m = first.meta
    assert m["pmid"] == 399296 and m["pmid_version"] == 1 and m["year"] == 1979
    assert m["journal"] == "Journal of the South African Veterinary Association"
    assert m["languages"] == ["eng"] and m["publication_types"] == ["Journal Article"]
    assert "Food Microbiology" in m["mesh"]
    assert first.url == "https://pubmed.ncbi.nlm.nih.gov/399296/" and first.lang == "en"
    assert len({d.id for d in docs}) == len(docs)


def test_structured_abstract_keeps_labels_as_headings():
    docs, _ = _read(EXCERPT)
    labelled = [d for d in docs if re.search(r"\n\n[A-Z][A-Z ]+\n", d.text)]
    assert labelled
    text = next(d.text for d in labelled if "lymphocytes" in d.text)
    assert "\n\nMETHOD\nPeripheral blood obtained from five healthy individuals" in text
    assert "UNLABELLED" not in "".join(d.text for d in docs)


def test_translated_title_loses_brackets():
    docs, _ = _read(EXCERPT)
    translated = [d for d in docs if d.meta.get("title_translated")]
    assert translated
    for d in translated:
        assert not d.text.startswith("[")


def test_inline_markup_whitespace(tmp_path):
    record = b"""<PubmedArticleSet><PubmedArticle><MedlineCitation><PMID Version="1">1</PMID><Article>
      <ArticleTitle>A <i>title</i></ArticleTitle><Abstract><AbstractText>A fast-acting &#946;
        <sub>2</sub>-agonist and CO<sub>2</sub> in <i>vivo</i>.</AbstractText></Abstract>
      <Language>eng</Language></Article></MedlineCitation></PubmedArticle></PubmedArticleSet>"""
    docs, _ = _read(_write(tmp_path / "pubmed20n0001.xml.gz", record))
    assert docs[0].text == "A title\n\nA fast-acting \u03b22-agonist and CO2 in vivo."


def test_book_article(tmp_path):
    record = b"""<PubmedArticleSet><PubmedBookArticle><BookDocument><PMID Version="1">20301295</PMID>
      <Book><BookTitle>GeneReviews</BookTitle><PubDate><Year>1993</Year></PubDate></Book>
      <ArticleTitle>Cystic Fibrosis</ArticleTitle><Language>eng</Language>
      <Abstract><AbstractText Label="CLINICAL CHARACTERISTICS">Cystic fibrosis affects the lungs.</AbstractText>
      </Abstract><PublicationType UI="D000000">Review</PublicationType></BookDocument>
      </PubmedBookArticle></PubmedArticleSet>"""
    docs, _ = _read(_write(tmp_path / "pubmed20n0009.xml.gz", record), languages=["eng"])
    assert docs[0].text == "Cystic Fibrosis\n\nCLINICAL CHARACTERISTICS\nCystic fibrosis affects the lungs."
    assert docs[0].meta["kind"] == "book" and docs[0].meta["year"] == 1993
    assert docs[0].meta["publication_types"] == ["Review"]


def test_dtd_is_never_loaded(tmp_path):
    # a DTD that would give PMID a default Version of 9 if it were read
    dtd = tmp_path / "pubmed.dtd"
    dtd.write_text('<!ATTLIST PMID Version CDATA "9">\n')
    body = _xml().split(b"<PubmedArticleSet>\n", 1)[1].replace(b' Version="1"', b"")
    xml = f'<?xml version="1.0"?>\n<!DOCTYPE PubmedArticleSet SYSTEM "{dtd.as_uri()}">\n<PubmedArticleSet>\n'.encode()
    docs, _ = _read(_write(tmp_path / "pubmed20n0002.xml.gz", xml + body))
    assert len(docs) == 71 and all(d.meta["pmid_version"] == 1 for d in docs)


def test_entity_declarations_are_refused(tmp_path):
    bomb = b'<?xml version="1.0"?>\n<!DOCTYPE PubmedArticleSet [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;">]>\n' \
        b"<PubmedArticleSet></PubmedArticleSet>"
    with pytest.raises(UnsafeXMLError):
        _read(_write(tmp_path / "pubmed20n0003.xml.gz", bomb))


def test_truncated_file_keeps_the_records_before_the_cut(tmp_path):
    data = _xml()
    starts = [m.start() for m in re.finditer(rb"<PubmedArticle>", data)]
    cut = data[: starts[20] + 500]  # inside record 21
    docs, ledger = _read(_write(tmp_path / "pubmed20n0004.xml.gz", cut))
    full, _ = _read(EXCERPT)
    assert ledger.dropped["truncated_file"] == 1 and ledger.stats["truncated_file:xml"] == 1
    assert len(docs) + sum(ledger.dropped.values()) == 21
    assert [d.meta["pmid"] for d in docs] == [d.meta["pmid"] for d in full[: len(docs)]]
    assert ledger.quarantined and ledger.quarantined[0]["partial"] == "true"
    # a gzip stream cut in the middle: the records decompressed before the cut are kept
    raw = EXCERPT.read_bytes()
    (tmp_path / "pubmed20n0005.xml.gz").write_bytes(raw[: len(raw) // 2])
    docs, ledger = _read(tmp_path / "pubmed20n0005.xml.gz")
    assert 10 < len(docs) < 71
    assert ledger.quarantined and ledger.dropped["truncated_file"] == 1
    assert ledger.stats["truncated_file:compressed"] == 1


def _update_file(tmp_path: Path, name: str, revised_pmid: int, deleted: list[int]) -> Path:
    data = _xml()
    head = data[: data.index(b"<PubmedArticleSet>") + len(b"<PubmedArticleSet>\n")]
    rec = re.search(rb"  <PubmedArticle>\s*<MedlineCitation[^>]*>\s*<PMID Version=\"1\">%d</PMID>.*?</PubmedArticle>\n"
                    % revised_pmid, data, re.S).group(0)
    rec = rec.replace(b"</AbstractText>", b" REVISED.</AbstractText>", 1)
    dele = b"<DeleteCitation>" + b"".join(b'<PMID Version="1">%d</PMID>' % p for p in deleted) + b"</DeleteCitation>"
    return _write(tmp_path / name, head + rec + dele + b"</PubmedArticleSet>\n")


def test_update_file_order():
    assert file_order_key("pubmed20n0014.xml.gz") < file_order_key("pubmed20n1016.xml.gz")
    assert file_order_key("pubmed20n1016.xml.gz") < file_order_key("pubmed21n0001.xml.gz")
    assert file_order_key("pubmed20n0999.xml.gz") < file_order_key("pubmed20n1000.xml.gz")


def test_update_step_keeps_newest_and_applies_deletions(tmp_path):
    base_docs, _ = _read(EXCERPT)
    pmids = [d.meta["pmid"] for d in base_docs]
    revised, deleted = pmids[0], pmids[1:3]
    upd = _update_file(tmp_path, "pubmed20n1016.xml.gz", revised, deleted)
    upd_docs, ledger = _read(upd)
    assert ledger.stats["pubmed_delete_citations"] == 2
    markers = [d for d in upd_docs if d.meta.get("delete")]
    assert len(markers) == 2 and all(d.text == "" for d in markers)
    # the update file is partition 0 and the baseline partition 1: order comes from file names, not partitions
    tables = [documents_to_table(upd_docs, CORE_SCHEMA), documents_to_table(base_docs, CORE_SCHEMA)]
    res = run_global_in_process(PubMedUpdate(num_buckets=4), tables)
    led = res.ledger
    assert led.balanced
    assert dict(led.dropped) == {"pubmed_superseded": 1, "pubmed_deleted": 2, "pubmed_delete_marker": 2}
    kept = [d for t in res.tables for d in t.to_pylist()]
    by_pmid = {}
    for d in kept:
        by_pmid.setdefault(json.loads(d["meta"])["pmid"], []).append(d)
    assert all(len(v) == 1 for v in by_pmid.values())
    assert by_pmid[revised][0]["text"].endswith("REVISED.")
    assert not set(deleted) & set(by_pmid)
    assert len(kept) == len(base_docs) - 2


def test_a_record_added_after_its_deletion_survives(tmp_path):
    base_docs, _ = _read(EXCERPT)
    pmid = base_docs[0].meta["pmid"]
    first = _update_file(tmp_path, "pubmed20n1016.xml.gz", base_docs[1].meta["pmid"], [pmid])
    second = _update_file(tmp_path, "pubmed20n1017.xml.gz", pmid, [])
    tables = [documents_to_table(_read(p)[0], CORE_SCHEMA) for p in (EXCERPT, first, second)]
    res = run_global_in_process(PubMedUpdate(num_buckets=2), tables)
    kept = {json.loads(d["meta"])["pmid"]: d for t in res.tables for d in t.to_pylist()}
    assert kept[pmid]["text"].endswith("REVISED.")
    assert json.loads(kept[pmid]["meta"])["file"] == "pubmed20n1017.xml.gz"
    assert res.ledger.dropped["pubmed_deleted"] == 1


def test_pipeline_on_a_cluster(dask_client, tmp_path):
    """Reader + update step through the engine: named drops in the stage ledgers, ledgers balance."""
    from kllama.config import load_recipe
    from kllama.pipeline import run_recipe

    base_docs, _ = _read(EXCERPT, languages=["eng"])
    inputs = tmp_path / "in"
    inputs.mkdir()
    (inputs / EXCERPT.name.replace("-excerpt", "")).write_bytes(EXCERPT.read_bytes())
    _update_file(inputs, "pubmed20n1016.xml.gz", base_docs[0].meta["pmid"], [base_docs[1].meta["pmid"]])
    recipe = tmp_path / "r.toml"
    recipe.write_text(f"""
name = "t"
[sources.pubmed]
reader = "pubmed"
inputs = ["{inputs}"]
group = "extra"
options = {{ languages = ["eng"] }}
pipeline = [ {{ step = "pubmed_update", num_buckets = 2 }}, {{ step = "exact_dedup", num_buckets = 2 }} ]
[variants.G2]
groups = ["extra"]
""")
    summary = run_recipe(load_recipe(str(recipe)), tmp_path / "run", dask_client, progress=False)
    read = summary.stages["pubmed.00-read"]
    upd = summary.stages["pubmed.01-pubmed_update"]
    assert read.balanced and upd.balanced
    assert read.dropped["pubmed_no_abstract"] == 82 and read.dropped["pubmed_language"] == 15
    assert dict(upd.dropped) == {"pubmed_superseded": 1, "pubmed_deleted": 1, "pubmed_delete_marker": 1}
    assert sum(s["docs"] for s in summary.shards) == len(base_docs) - 1
