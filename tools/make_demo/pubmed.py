"""Excerpts of the real PubMed baseline file and PMC OA articles for the tests and the demo.

    python -m tools.make_demo.pubmed [SAMPLES_DIR]      (default ../shared/samples)

Writes (byte-identical on every run: gzip mtime 0, tar members with fixed metadata):

- ``tests/data/pubmed/pubmed20n0014-excerpt.xml.gz``: the XML declaration, DOCTYPE and ``<PubmedArticleSet>`` of
  ``pubmed20n0014.xml.gz`` and a verbatim selection of its ``<PubmedArticle>`` records (the first 150, the
  retracted and retraction-notice records, the structured abstracts).
- ``tests/data/pubmed/pmc/*.nxml``: four of the PMC OA articles, unchanged.
- ``kllama/data/demo/pubmed/pubmed20n0014.xml.gz``: the first 40 records and the special ones above;
  ``pubmed20n1016.xml.gz``: a *constructed* update file (a revised copy of one record, a record new to the
  demo, and a ``<DeleteCitation>`` of two PMIDs of the baseline excerpt).
- ``kllama/data/demo/pmc/``: one loose ``.nxml`` and a constructed ``oa_comm_xml.PMC000xxxxxx.baseline.*.tar.gz``
  package holding two more (members ``PMC000xxxxxx/PMC<n>.xml``, as in PMC's bulk packages), and a short
  synthetic article written by kllama under a CC BY-NC-ND licence (dropped by the demo's licence choice).

NLM's terms allow redistributing PubMed/MEDLINE data; abstracts may carry their publishers' copyright. The PMC
articles are CC BY or public domain (each one's ``<license>`` is checked here).
"""

from __future__ import annotations

import gzip
import io
import re
import sys
import tarfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
RECORD = re.compile(rb"  <PubmedArticle>.*?</PubmedArticle>\n", re.S)
SPECIAL = (rb"Retracted Publication", rb"Retraction of Publication", rb'Label="')
PMC_TESTS = ("1471-2180-11-174.nxml", "ehp-116-1694.nxml", "pntd.0002065.nxml", "pone.0000217.nxml")
PMC_DEMO_LOOSE = "pntd.0002065.nxml"
PMC_DEMO_PACKAGE = ("1471-2180-11-174.nxml", "ehp-116-1694.nxml")


def _gzip(data: bytes) -> bytes:
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0, compresslevel=9, filename="") as f:
        f.write(data)
    return buf.getvalue()


def split_baseline(path: Path) -> tuple[bytes, list[bytes], bytes]:
    data = gzip.decompress(path.read_bytes())
    records = RECORD.findall(data)
    head = data[: data.index(b"<PubmedArticleSet>") + len(b"<PubmedArticleSet>\n")]
    return head, records, b"</PubmedArticleSet>\n"


def select(records: list[bytes], first: int, special_each: int) -> list[bytes]:
    chosen = list(range(first))
    for marker in SPECIAL:
        hits = [i for i, r in enumerate(records) if marker in r and i >= first]
        chosen.extend(hits[:special_each])
    return [records[i] for i in sorted(set(chosen))]


def pmid_of(record: bytes) -> str:
    return re.search(rb'<PMID Version="\d+">(\d+)</PMID>', record).group(1).decode()


def _kept(record: bytes) -> bool:
    return b"<AbstractText" in record and b"<Language>eng" in record and not any(m in record for m in SPECIAL[:2])


def update_file(head: bytes, baseline: list[bytes], unused: list[bytes]) -> bytes:
    """A constructed update file: the first kept record revised, one record new to the demo, the second and third
    kept records deleted."""
    kept = [r for r in baseline if _kept(r)]
    revised = kept[0].replace(b"</AbstractText>",
                              b" [Revised record: constructed by kllama for the update demo.]</AbstractText>", 1)
    deleted = [pmid_of(kept[1]), pmid_of(kept[2])]
    body = revised + unused[0]
    body += b"  <DeleteCitation>\n" + b"".join(
        b'    <PMID Version="1">' + p.encode() + b"</PMID>\n" for p in deleted) + b"  </DeleteCitation>\n"
    return head + body + b"</PubmedArticleSet>\n"


def _license_ok(data: bytes) -> bool:
    from kllama.sources.pmc import article_meta, parse_article

    return article_meta(parse_article(data))["license"] in ("cc-by", "cc0", "public-domain")


def pmc_package(files: list[Path]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for f in files:
            data = f.read_bytes()
            pmc = re.search(rb'<article-id pub-id-type="pmc">(\d+)</article-id>', data).group(1).decode()
            info = tarfile.TarInfo(f"PMC000xxxxxx/PMC{pmc}.xml")
            info.size, info.mtime, info.mode, info.uname, info.gname = len(data), 0, 0o644, "", ""
            tar.addfile(info, io.BytesIO(data))
    return _gzip(buf.getvalue())


def synthetic_jats(pmc: int, title: str, license_url: str | None, article_type: str = "research-article",
                   paragraphs: tuple[str, ...] = (), formulas: bool = True) -> bytes:
    """A small JATS article written by kllama (no third-party text): a title, an abstract, a body with a
    citation, an inline TeX formula, a MathML formula with alttext, a figure, a table, acknowledgements and
    references (the last two must not reach the text)."""
    lic = (f'<permissions><license xlink:href="{license_url}"><license-p>Licence: {license_url}</license-p>'
           f'</license></permissions>') if license_url else ""
    paras = "".join(f"<p>{p}</p>" for p in paragraphs) or (
        "<p>Rivers carry sediment to the sea, and the rate depends on the slope of the bed "
        '<xref ref-type="bibr" rid="r1">[1]</xref>, <xref ref-type="bibr" rid="r2">[2]</xref>. '
        'The measurements are shown in <xref ref-type="fig" rid="f1">Figure 1</xref>.</p>')
    math = ("<p>The flux obeys <inline-formula><tex-math>\\documentclass{minimal}\\begin{document}$q = k S^{3/2}$"
            "\\end{document}</tex-math></inline-formula> on every reach, and the mass balance "
            '<disp-formula><mml:math alttext="\\frac{dM}{dt} = q_{in} - q_{out}"><mml:mi>M</mml:mi></mml:math>'
            "</disp-formula> closes the budget.</p>") if formulas else ""
    xml = f"""<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE article PUBLIC "-//NLM//DTD JATS (Z39.96) Journal Archiving and Interchange DTD v1.0 20120330//EN" "JATS-archivearticle1.dtd">
<article xmlns:xlink="http://www.w3.org/1999/xlink" xmlns:mml="http://www.w3.org/1998/Math/MathML" article-type="{article_type}">
<front><journal-meta><journal-title-group><journal-title>Journal of Synthetic Hydrology</journal-title></journal-title-group></journal-meta>
<article-meta><article-id pub-id-type="pmc">{pmc}</article-id><article-id pub-id-type="doi">10.0000/kllama.{pmc}</article-id>
<title-group><article-title>{title}</article-title></title-group>
<author-notes><fn><p>Corresponding author: nobody at example dot org.</p></fn></author-notes>
<pub-date pub-type="epub"><year>2020</year></pub-date>{lic}
<abstract><p>We describe how sediment moves along a river bed and how the flux depends on slope.</p></abstract>
</article-meta></front>
<body><sec><title>Introduction</title>{paras}{math}
<fig id="f1"><label>Figure 1</label><caption><title>Flux against slope.</title><p>Each point is one reach.</p></caption><graphic xlink:href="f1.jpg"/></fig>
<table-wrap id="t1"><label>Table 1</label><caption><p>Reaches surveyed.</p></caption><table><tr><th>Reach</th><th>Slope</th></tr><tr><td>A</td><td>0.01</td></tr></table></table-wrap>
</sec></body>
<back><ack><p>We thank the survey team.</p></ack><ref-list><ref id="r1"><mixed-citation>Author A. A paper. 1999.</mixed-citation></ref></ref-list></back>
</article>
"""
    return xml.encode("utf-8")


def main(samples: Path) -> None:
    src = samples / "pubmed"
    head, records, tail = split_baseline(src / "pubmed20n0014.xml.gz")
    tests = REPO / "tests" / "data" / "pubmed"
    demo = REPO / "kllama" / "data" / "demo" / "pubmed"
    demo_pmc = REPO / "kllama" / "data" / "demo" / "pmc"
    for d in (tests / "pmc", demo, demo_pmc):
        d.mkdir(parents=True, exist_ok=True)
    test_records = select(records, 150, 3)
    (tests / "pubmed20n0014-excerpt.xml.gz").write_bytes(_gzip(head + b"".join(test_records) + tail))
    demo_records = select(records, 40, 1)
    (demo / "pubmed20n0014.xml.gz").write_bytes(_gzip(head + b"".join(demo_records) + tail))
    with_abstract = [r for r in records[40:] if _kept(r) and r not in demo_records]
    (demo / "pubmed20n1016.xml.gz").write_bytes(_gzip(update_file(head, demo_records, with_abstract)))
    for name in PMC_TESTS:
        data = (src / name).read_bytes()
        assert _license_ok(data), name
        (tests / "pmc" / name).write_bytes(data)
    (demo_pmc / PMC_DEMO_LOOSE).write_bytes((src / PMC_DEMO_LOOSE).read_bytes())
    (demo_pmc / "oa_comm_xml.PMC000xxxxxx.baseline.2020-01-01.tar.gz").write_bytes(
        pmc_package([src / n for n in PMC_DEMO_PACKAGE]))
    # written by kllama: a non-commercial licence, to show the licence drop in the demo
    (demo_pmc / "kllama-synthetic-noncommercial.nxml").write_bytes(synthetic_jats(
        9000001, "Sediment flux on synthetic rivers", "http://creativecommons.org/licenses/by-nc-nd/4.0/"))
    print(f"tests: {len(test_records)} PubMed records, {len(PMC_TESTS)} PMC articles; "
          f"demo: {len(demo_records)} PubMed records + update file, {1 + len(PMC_DEMO_PACKAGE)} PMC articles")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else REPO.parent / "shared" / "samples")
