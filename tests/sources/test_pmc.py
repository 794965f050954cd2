"""PMC Open Access JATS reader on four real articles and on synthetic ones written by kllama."""

from __future__ import annotations

import gzip
import io
import tarfile
from pathlib import Path

import pytest

from kllama.core.ledger import Ledger
from kllama.formats.jats import normalize_license
from kllama.sources.pmc import PMCSource
from tools.make_demo.pubmed import pmc_package, synthetic_jats

DATA = Path(__file__).resolve().parents[1] / "data" / "pubmed" / "pmc"
ARTICLES = sorted(DATA.glob("*.nxml"))


def _read(path: Path | str, **options) -> tuple[list, Ledger]:
    ledger = Ledger()
    src = PMCSource(**options)
    docs = [d for unit in src.list_inputs([str(path)]) for d in src.read(unit, ledger)]
    return docs, ledger


def _one(data: bytes, **options):
    ledger = Ledger()
    return PMCSource(**options).article(data, "x.nxml", "", ledger), ledger


def test_real_articles_text_and_meta():
    docs, ledger = _read(DATA)
    assert len(docs) == 4 and not ledger.dropped
    by = {d.meta["pmcid"]: d for d in docs}
    assert set(by) == {"PMC3166277", "PMC2599765", "PMC3585041", "PMC1790863"}
    assert {d.meta["license"] for d in docs} == {"cc-by", "public-domain"}
    bmc = by["PMC3166277"]
    assert bmc.meta["license_url"] == "http://creativecommons.org/licenses/by/2.0"
    assert bmc.meta["pmid"] == 21810267 and bmc.meta["year"] == 2011 and bmc.meta["journal"] == "BMC Microbiology"
    assert bmc.text.startswith("Factors influencing lysis time stochasticity in bacteriophage \u03bb\n\nBackground\n\n")
    # headings in order, captions kept, citation markers removed, back matter gone
    t = bmc.text
    assert t.index("\n\nResults\n\n") < t.index("\n\nDiscussion\n\n") < t.index("\n\nMethods\n\n")
    assert "Table 1 Effects of holin allelic sequences on the stochasticity of lysis time." in t
    assert "Figure 1 Schematic presentation of two models of holin hole formation." in t
    assert "following the method of Powell et al.." not in t and "following the method of Powell et al." in t
    assert "[28" not in t and "[]" not in t and "[," not in t
    assert "The authors are grateful for insightful comments" not in t  # acknowledgements
    assert "Competing interests" not in t and "Authors' contributions" not in t
    assert "IN56 (WT) | 230" not in t  # table cells are dropped by default
    for d in docs:
        assert d.url == f"https://www.ncbi.nlm.nih.gov/pmc/articles/{d.meta['pmcid']}/"
        assert "\x01" not in d.text and "  " not in d.text
    assert "We thank the Zamb\u00e9zia Veterinary Services" not in by["PMC3585041"].text
    # an old (DTD 2.3) PLoS article has no <license>, only the copyright statement's text
    assert by["PMC1790863"].meta["license"] == "cc-by" and by["PMC1790863"].meta["license_url"] is None
    assert ledger.stats["pmc_formula_image_only"] == 24


def test_tables_as_rows():
    docs, _ = _read(DATA / "1471-2180-11-174.nxml", tables="rows")
    assert "Strain | na | MLT (min) | SD (min)\nIN61 | 274 | 45.7 | 2.92" in docs[0].text


def test_licence_choice():
    docs, ledger = _read(DATA, licenses=["cc-by", "cc-by-sa", "cc0"])
    assert len(docs) == 3 and ledger.dropped == {"pmc_license_excluded": 1}
    data = synthetic_jats(1, "A title", None)
    assert _one(data, licenses=["cc-by"])[1].dropped == {"pmc_license_unknown": 1}
    assert _one(data, licenses=["cc-by"], keep_unknown_license=True)[0] is not None
    assert _one(data)[0] is not None  # no licence choice: every article


@pytest.mark.parametrize("url, text, expected", [
    ("http://creativecommons.org/licenses/by/4.0/", None, "cc-by"),
    ("https://creativecommons.org/licenses/by-nc-nd/3.0/igo/", None, "cc-by-nc-nd"),
    ("http://creativecommons.org/licenses/by-sa/4.0", None, "cc-by-sa"),
    ("https://creativecommons.org/publicdomain/zero/1.0/", None, "cc0"),
    (None, "This is an open-access article distributed under the terms of the Creative Commons Attribution "
           "License, which permits unrestricted use", "cc-by"),
    (None, "distributed under the Creative Commons Attribution-NonCommercial License", "cc-by-nc"),
    (None, "All rights reserved.", None),
])
def test_normalize_license(url, text, expected):
    assert normalize_license(url, None, text) == expected


def test_formulas_captions_and_removed_parts():
    doc, ledger = _one(synthetic_jats(9, "Sediment", "http://creativecommons.org/licenses/by/4.0/"))
    t = doc.text
    assert "the slope of the bed. The measurements are shown in Figure 1." in t
    assert "The flux obeys $q = k S^{3/2}$ on every reach" in t  # tex-math without its LaTeX document
    assert "$$\\frac{dM}{dt} = q_{in} - q_{out}$$" in t  # MathML alttext
    assert "Figure 1 Flux against slope. Each point is one reach." in t
    assert "Table 1 Reaches surveyed." in t
    for gone in ("We thank the survey team", "Author A. A paper", "Corresponding author", "[1]"):
        assert gone not in t
    assert ledger.stats == {"pmc_citations_removed": 2, "pmc_formula_tex": 1, "pmc_formula_mathml_alttext": 1,
                            "pmc_tables": 1, "pmc_captions": 2}


def test_named_drops():
    lic = "http://creativecommons.org/licenses/by/4.0/"
    assert _one(synthetic_jats(1, "Erratum", lic, article_type="correction"))[1].dropped == {"pmc_notice": 1}
    assert _one(b"<article><front/></article>")[1].dropped == {"pmc_no_body": 1}
    assert _one(b"<article><body><p>unclosed</body></article>")[1].dropped == {"pmc_xml_error": 1}
    assert _one(b"<article><body><p>&nbsp;</p></body></article>")[1].dropped == {"pmc_xml_error": 1}
    bomb = b'<?xml version="1.0"?><!DOCTYPE article [<!ENTITY a "aaaa">]><article><body><p>&a;</p></body></article>'
    assert _one(bomb)[1].dropped == {"pmc_unsafe_xml": 1}
    big = synthetic_jats(2, "Big", lic)
    assert _one(big, max_article_bytes=100)[1].dropped == {"pmc_article_too_large": 1}
    short = b"<article><body><p>Too short.</p></body></article>"
    assert _one(short)[1].dropped == {"pmc_too_short": 1}
    assert _one(short, min_chars=1)[0].text == "Too short."


def test_bulk_package_is_streamed(tmp_path):
    pkg = tmp_path / "oa_comm_xml.PMC000xxxxxx.baseline.2023-12-18.tar.gz"
    pkg.write_bytes(pmc_package(ARTICLES))
    docs, ledger = _read(tmp_path)
    assert len(docs) == 4 and not ledger.dropped
    assert {d.meta["package"] for d in docs} == {"oa_comm"}
    assert docs[0].meta["member"].startswith("PMC000xxxxxx/PMC") and docs[0].meta["record"] == 1
    # the same texts as the loose files
    loose = {d.meta["pmcid"]: d.text for d in _read(DATA)[0]}
    assert {d.meta["pmcid"]: d.text for d in docs} == loose
    # a package cut short keeps the articles before the cut
    raw = gzip.decompress(pkg.read_bytes())
    cut = tmp_path / "cut" / "oa_comm_xml.PMC000xxxxxx.baseline.2023-12-19.tar.gz"
    cut.parent.mkdir()
    cut.write_bytes(gzip.compress(raw[: len(raw) * 3 // 5], mtime=0))
    docs, ledger = _read(cut)
    assert 1 <= len(docs) < 4 and ledger.dropped == {"truncated_file": 1}
    assert ledger.quarantined[0]["partial"] == "true"


def test_oversized_package_member_is_skipped_unread(tmp_path):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in (("a/PMC1.xml", b"x" * 5000), ("a/PMC2.xml", (DATA / "pntd.0002065.nxml").read_bytes())):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    pkg = tmp_path / "oa_noncomm_xml.incr.2024-01-01.tar.gz"
    pkg.write_bytes(buf.getvalue())
    docs, ledger = _read(pkg, max_article_bytes=4000)
    assert ledger.dropped == {"pmc_article_too_large": 2}
    docs, ledger = _read(pkg, max_article_bytes=200_000)
    assert len(docs) == 1 and ledger.dropped == {"pmc_xml_error": 1} and docs[0].meta["package"] == "oa_noncomm"


def test_newer_package_copy_replaces_the_older(tmp_path):
    """pubmed_update keyed by PMCID: an article in an incremental package replaces its baseline copy."""
    from kllama.core.document import CORE_SCHEMA, documents_to_table
    from kllama.engine.inprocess import run_global_in_process
    from kllama.sources.pubmed import PubMedUpdate

    base = tmp_path / "oa_comm_xml.PMC003xxxxxx.baseline.2023-12-18.tar.gz"
    base.write_bytes(pmc_package(ARTICLES))
    revised = tmp_path / "rev" / "pntd.0002065.nxml"
    revised.parent.mkdir()
    revised.write_bytes((DATA / "pntd.0002065.nxml").read_bytes().replace(b"Rift Valley fever (RVF) is endemic",
                                                                            b"REVISED. Rift Valley fever is endemic"))
    incr = tmp_path / "oa_comm_xml.incr.2024-01-05.tar.gz"
    incr.write_bytes(pmc_package([revised]))
    tables = [documents_to_table(_read(p)[0], CORE_SCHEMA) for p in (incr, base)]
    res = run_global_in_process(PubMedUpdate(key_field="pmc_num", num_buckets=2), tables)
    assert res.ledger.dropped == {"pubmed_superseded": 1}
    kept = [r for t in res.tables for r in t.to_pylist()]
    assert len(kept) == 4
    assert "REVISED. Rift Valley fever" in next(r["text"] for r in kept if "PMC3585041" in r["meta"])
