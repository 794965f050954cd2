"""Wikipedia source on the real sample dumps (tests/data/wikipedia) and on broken/hostile inputs."""

from __future__ import annotations

import bz2
import hashlib
import html
import json
import re
import resource
from pathlib import Path

import pytest

from kllama.core.ledger import Ledger
from kllama.engine.partition import PartitionTask, run_task
from kllama.formats.safexml import UnsafeXMLError
from kllama.sources.wikipedia import ChecksumError, WikipediaSource, language_of
from tests.conftest import samples_dir

DEMO = Path(__file__).resolve().parents[2] / "kllama" / "data" / "demo" / "wikipedia"
ENWIKI = "gensim-enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"
LEFTOVERS = ("thumb|", "Category:", "File:", "Image:", "[[", "]]", "{{", "}}", "<ref", "&lt;", "&amp;", "__NOTOC__",
             "{|", "|}", "\x00", "\x01", "\x02")


def read(path, **options) -> tuple[list, Ledger]:
    ledger = Ledger()
    docs = list(WikipediaSource(**options).read(str(path), ledger))
    return docs, ledger


@pytest.fixture(scope="module")
def enwiki():
    return read(samples_dir("wikipedia") / ENWIKI)


def test_enwiki_pages_redirects_and_namespaces(enwiki):
    docs, ledger = enwiki
    assert len(docs) + sum(ledger.dropped.values()) == 206
    assert ledger.dropped["wiki_redirect"] == 99  # + 1 redirect in namespace 4, counted as not main
    assert ledger.dropped["wiki_not_main_namespace"] == 1
    assert len(docs) == 106
    assert len({d.id for d in docs}) == len(docs)
    d = docs[0]
    assert d.meta["title"] == "Anarchism" and d.meta["page_id"] == 12 and d.lang == "en"
    assert d.url == "https://en.wikipedia.org/wiki/Anarchism"
    assert d.meta["language"] == "en" and "dump_date" in d.meta and d.meta["wiki"] == "enwiki"
    assert d.text.startswith("Anarchism is a political philosophy")
    assert "\n\nHistory\n\n" in d.text  # section headings kept on their own lines


def test_enwiki_has_no_markup_leftovers(enwiki):
    docs, _ = enwiki
    for d in docs:
        for bad in LEFTOVERS:
            assert bad not in d.text, (d.meta["title"], bad)


def test_table_markup_pages_lose_tables_keep_prose():
    docs, ledger = read(samples_dir("wikipedia") / "gensim-enwiki-table-markup.xml.bz2")
    assert len(docs) == 5 and not ledger.dropped
    assert docs[0].lang == "en"  # no <siteinfo>: language from xml:lang
    assert docs[0].url.startswith("https://en.wikipedia.org/wiki/")
    for d in docs:
        assert not re.search(r"^\s*(\{\||\|-|\|\}|!)", d.text, re.M), d.meta["title"]
        assert "||" not in d.text and "wikitable" not in d.text
    assert "constructive vote of no confidence" in docs[0].text


def test_bgwiki_utf16_with_bom():
    docs, ledger = read(samples_dir("wikipedia") / "gensim-bgwiki-latest-pages-articles-shortened.xml.bz2")
    assert len(docs) == 1 and ledger.dropped["wiki_not_main_namespace"] == 2
    d = docs[0]
    assert d.lang == "bg" and d.meta["title"] == "Григориански календар"
    assert d.text.startswith("Григорианският календар")
    for bad in ("thumb", "File:", "Файл:", "Категория:", "cite web", "\r"):
        assert bad not in d.text


def _wikiextractor_docs(path: Path) -> dict[str, str]:
    raw = path.read_text(encoding="utf-8")
    return {html.unescape(m.group(1)): html.unescape(m.group(2)).split("\n", 1)[1]
            for m in re.finditer(r'<doc id="\d+" url="[^"]*" title="([^"]*)">\n(.*?)</doc>', raw, re.S)}


def test_dump_cut_inside_its_last_page_keeps_the_pages_before_the_cut():
    docs, ledger = read(samples_dir("wikipedia") / "enwiki-table-markup-truncated.xml")
    full, _ = read(samples_dir("wikipedia") / "gensim-enwiki-table-markup.xml.bz2")
    # the page cut by truncation is never a document; the complete pages before it are kept
    assert [d.meta["title"] for d in docs] == [d.meta["title"] for d in full][: len(docs)]
    assert len(docs) < len(full)
    assert ledger.stats["wiki_input_error:truncated"] == 1
    assert ledger.quarantined[0]["partial"] == "true" and "truncated" in ledger.quarantined[0]["error"]


def test_multistream_demo_dump_reads_both_streams():
    docs, ledger = read(DEMO / "enwiki-demo-pages-articles-multistream.xml.bz2")
    assert len(docs) == 14 and ledger.dropped == {"wiki_redirect": 3, "wiki_not_main_namespace": 1}
    assert not ledger.quarantined
    assert docs[-1].meta["title"] == "Ampere"  # the last page is in the second bz2 stream


def _sample_xml() -> bytes:
    return bz2.open(samples_dir("wikipedia") / ENWIKI).read()


def test_truncated_bz2_keeps_pages_before_the_cut(tmp_path):
    data = (samples_dir("wikipedia") / ENWIKI).read_bytes()
    cut = tmp_path / "enwiki-20160501-pages-articles.xml.bz2"
    cut.write_bytes(data[: len(data) // 4])
    docs, ledger = read(cut)
    assert 5 < len(docs) < 106
    assert ledger.stats["wiki_input_error:truncated"] == 1
    assert ledger.dropped["truncated_file"] == 1
    assert docs[0].meta["dump_date"] == "2016-05-01"


def test_xml_not_well_formed_midway(tmp_path):
    xml = _sample_xml()
    i = xml.index(b"<page>", len(xml) // 4)
    bad = tmp_path / "enwiki-bad.xml"
    bad.write_bytes(xml[:i] + b"<page><title>X</titel></page>" + xml[i:])
    docs, ledger = read(bad)
    assert 5 < len(docs) < 106
    assert ledger.stats["wiki_input_error:xml_error"] == 1 and ledger.quarantined


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE mediawiki [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<mediawiki xml:lang="en"><page><title>A</title><ns>0</ns><id>1</id><revision><text>&lol3;</text></revision></page>
</mediawiki>"""


def test_billion_laughs_is_refused_and_the_engine_quarantines_the_file(tmp_path):
    bomb = tmp_path / "enwiki-bomb.xml"
    bomb.write_bytes(BILLION_LAUGHS)
    with pytest.raises(UnsafeXMLError):
        read(bomb)
    task = PartitionTask(kind="read", stage_dir=str(tmp_path / "stage"), name="part-00000", inputs=[str(bomb)],
                         source="wikipedia", reader="wikipedia")
    marker = run_task(task)
    assert marker["rows"] == 0
    assert "UnsafeXMLError" in marker["ledger"]["quarantined"][0]["error"]


def _page(pid: int, title: str, text: str, ns: int = 0) -> str:
    return (f"<page><title>{title}</title><ns>{ns}</ns><id>{pid}</id><revision><id>{pid}0</id>"
            f"<timestamp>2024-01-01T00:00:00Z</timestamp><model>wikitext</model><format>text/x-wiki</format>"
            f'<text xml:space="preserve">{text}</text></revision></page>\n')


SITEINFO_DE = """<siteinfo><sitename>Wikipedia</sitename><dbname>dewiki</dbname>
<base>https://de.wikipedia.org/wiki/Wikipedia:Hauptseite</base><namespaces>
<namespace key="-2" case="first-letter">Medium</namespace><namespace key="0" case="first-letter" />
<namespace key="6" case="first-letter">Datei</namespace><namespace key="14" case="first-letter">Kategorie</namespace>
</namespaces></siteinfo>
"""


def test_page_of_50_mb_is_dropped_and_memory_stays_fine(tmp_path):
    big = tmp_path / "dewiki-20240101-pages-articles.xml"
    with open(big, "w", encoding="utf-8") as f:
        f.write('<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.11/" version="0.11" xml:lang="de">\n')
        f.write(SITEINFO_DE)
        f.write(_page(1, "Riesig", "wort " * (10 << 20)))
        f.write(_page(2, "Klein", "Ein kleiner Artikel."))
        f.write("</mediawiki>\n")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    docs, ledger = read(big)
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert [d.meta["title"] for d in docs] == ["Klein"]
    assert ledger.dropped == {"wiki_page_too_large": 1}
    assert grown_mb < 600


def test_export_011_localized_namespaces_and_legacy_aliases(tmp_path):
    text = ("[[Datei:A.jpg|mini|Bildtext]][[Bild:B.png|links|Alt]]'''Köln''' liegt am [[Rhein|Fluss Rhein]]."
            "&lt;ref&gt;Quelle&lt;/ref&gt;\n== Weblinks ==\n* [http://koeln.de Köln]\n[[Kategorie:Stadt]]")
    dump = tmp_path / "dewiki-20240101-pages-articles1.xml-p1p100.bz2"
    xml = ('<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.11/" version="0.11" xml:lang="de">\n'
           + SITEINFO_DE + _page(7, "Köln", text) + _page(8, "Diskussion:Köln", "x", ns=1)
           + _page(9, "Weiter", '#WEITERLEITUNG [[Köln]]').replace("<revision>", '<redirect title="Köln" /><revision>')
           + "</mediawiki>\n")
    dump.write_bytes(bz2.compress(xml.encode("utf-8")))
    docs, ledger = read(dump)
    assert [d.text for d in docs] == ["Köln liegt am Fluss Rhein."]
    assert docs[0].url == "https://de.wikipedia.org/wiki/K%C3%B6ln" and docs[0].lang == "de"
    assert docs[0].meta["dump_date"] == "2024-01-01"
    assert ledger.dropped == {"wiki_not_main_namespace": 1, "wiki_redirect": 1}


def test_dumpstatus_checksums(tmp_path):
    src = DEMO / "enwiki-demo-pages-articles-multistream.xml.bz2"
    dump = tmp_path / "enwiki-20160501-pages-articles-multistream.xml.bz2"
    dump.write_bytes(src.read_bytes())
    sha1 = hashlib.sha1(dump.read_bytes()).hexdigest()
    status = {"jobs": {"articlesmultistreamdump": {"status": "done", "files": {
        dump.name: {"size": dump.stat().st_size, "sha1": sha1, "url": "/enwiki/20160501/" + dump.name}}}}}
    (tmp_path / "dumpstatus.json").write_text(json.dumps(status))
    docs, ledger = read(dump)
    assert len(docs) == 14 and ledger.stats["wiki_checksum_verified"] == 1
    status["jobs"]["articlesmultistreamdump"]["files"][dump.name]["sha1"] = "0" * 40
    (tmp_path / "dumpstatus.json").write_text(json.dumps(status))
    with pytest.raises(ChecksumError):
        read(dump)
    docs, _ = read(dump, verify_checksums=False)
    assert len(docs) == 14


def test_list_inputs_languages_and_skipped_files(tmp_path):
    for name in ("enwiki-20240101-pages-articles-multistream.xml.bz2",
                 "enwiki-20240101-pages-articles-multistream-index.txt.bz2",
                 "viwiki-20240101-pages-articles.xml.bz2", "dewiki-20240101-pages-articles2.xml-p10p20.bz2",
                 "dumpstatus.json"):
        (tmp_path / name).write_bytes(b"")
    src = WikipediaSource(languages=["en", "de"])
    assert [Path(p).name for p in src.list_inputs([str(tmp_path)])] == [
        "dewiki-20240101-pages-articles2.xml-p10p20.bz2", "enwiki-20240101-pages-articles-multistream.xml.bz2"]
    assert len(WikipediaSource().list_inputs([str(tmp_path)])) == 3
    assert language_of("be_x_oldwiki", None, "x") == "be-x-old"
    assert language_of(None, "vi", "x") == "vi"


def test_ids_do_not_depend_on_the_file(tmp_path):
    docs, _ = read(DEMO / "enwiki-demo-pages-articles-multistream.xml.bz2")
    copy = tmp_path / "renamed.xml.bz2"
    copy.write_bytes((DEMO / "enwiki-demo-pages-articles-multistream.xml.bz2").read_bytes())
    again, _ = read(copy)
    assert [d.id for d in again] == [d.id for d in docs]
    assert [d.text for d in again] == [d.text for d in docs]


@pytest.mark.slow
def test_demo_recipe_end_to_end_on_local_cluster(tmp_path, dask_client):
    """``kllama run demo --input wikipedia=SAMPLES``: real cluster, ledger balanced at every stage."""
    from kllama.config import load_recipe
    from kllama.pipeline import run_recipe

    folder = samples_dir("wikipedia")
    inputs = [str(folder / n) for n in ("gensim-enwiki-table-markup.xml.bz2", "enwiki-table-markup-truncated.xml",
                                        "gensim-bgwiki-latest-pages-articles-shortened.xml.bz2")]
    recipe = load_recipe("demo", {"wikipedia": inputs})
    summary = run_recipe(recipe, tmp_path / "run", dask_client, progress=False)
    read_stage = summary.stages["wikipedia.00-read"]
    assert read_stage.docs_in == 5 + 5 + 3 and read_stage.docs_out == 10
    for name, ledger in summary.stages.items():
        assert ledger.balanced, name
    assert read_stage.quarantined and read_stage.quarantined[0]["partial"] == "true"  # the truncated dump
    ledger_json = json.loads((tmp_path / "run" / "ledger.json").read_text())
    assert ledger_json["wikipedia.00-read"]["dropped"] == {"wiki_not_main_namespace": 2, "truncated_file": 1}
    assert sum(s["docs"] for s in summary.shards) == 6  # the 4 pages before the cut are exact duplicates


def _multistream_dump(tmp_path: Path, pages_per_stream: int = 3) -> tuple[Path, int]:
    """A real-layout multistream dump + index (``offset:page_id:title``) from the demo pages."""
    xml = bz2.open(DEMO / "enwiki-demo-pages-articles-multistream.xml.bz2").read().decode("utf-8")
    head, rest = xml.split("  <page>", 1)
    pages = ["  <page>" + p for p in rest.split("  <page>")]
    pages[-1], tail = pages[-1].split("</mediawiki>")
    streams = [head] + ["".join(pages[i:i + pages_per_stream]) for i in range(0, len(pages), pages_per_stream)]
    streams[-1] += "</mediawiki>" + tail
    dump = tmp_path / "enwiki-20160501-pages-articles-multistream.xml.bz2"
    index_lines, offset = [], 0
    with open(dump, "wb") as f:
        for k, s in enumerate(streams):
            block = bz2.compress(s.encode("utf-8"))
            if k:
                for m in re.finditer(r"<title>(.*?)</title>\s*<ns>\d+</ns>\s*<id>(\d+)</id>", s):
                    index_lines.append(f"{offset}:{m.group(2)}:{html.unescape(m.group(1))}\n")
            f.write(block)
            offset += len(block)
    index = tmp_path / "enwiki-20160501-pages-articles-multistream-index.txt.bz2"
    index.write_bytes(bz2.compress("".join(index_lines).encode("utf-8")))
    return dump, len(streams) - 1


def test_multistream_dump_splits_into_partitions_at_stream_boundaries(tmp_path):
    dump, n_streams = _multistream_dump(tmp_path)
    whole = WikipediaSource(split_multistream_mb=0)
    assert whole.list_inputs([str(tmp_path)]) == [str(dump)]
    units = WikipediaSource(split_multistream_mb=1e-6).list_inputs([str(tmp_path)])
    assert len(units) == n_streams and all("#" in u for u in units)
    ref_docs, ref_ledger = read(dump, split_multistream_mb=0)
    docs, dropped = [], Ledger()
    for u in units:
        part_docs, part_ledger = read(u)
        assert not part_ledger.quarantined
        docs += part_docs
        dropped.merge(part_ledger)
    assert [(d.id, d.text, d.meta) for d in docs] == [(d.id, d.text, d.meta) for d in ref_docs]
    assert dropped.dropped == ref_ledger.dropped
    assert docs[0].meta["dump_date"] == "2016-05-01"
    assert len(WikipediaSource().list_inputs([str(tmp_path)])) == 1  # 256 MB units: one for this small file
