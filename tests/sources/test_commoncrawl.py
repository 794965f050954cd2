import gzip
import json
import shutil

import pytest

from kllama.config import DATA_DIR, load_recipe
from kllama.core.ledger import Ledger
from kllama.sources.commoncrawl import CommonCrawlSource
from tests.conftest import samples_dir
from tools.wet_writer import block_digest, write_wet

PAGE_LINES = [f"line number {i} of a page that is long enough to pass the minimum length filter" for i in range(6)]


def _pages(n, prefix="p"):
    return [{"url": f"https://ex.org/{prefix}{i}", "date": f"2024-05-18T01:0{i % 10}:00Z", "title": f"T{i}",
             "lines": [f"{prefix}{i} {ln}" for ln in PAGE_LINES]} for i in range(n)]


def _read(path, **opts):
    ledger = Ledger()
    docs = list(CommonCrawlSource(**opts).read(str(path), ledger))
    return docs, ledger


def test_whirlwind_wet_with_language_header_is_read_by_name():
    cc = samples_dir("commoncrawl")
    raw = (cc / "whirlwind.warc.wet").read_bytes()
    assert b"WARC-Identified-Content-Language: spa" in raw  # the header that shifts cc_net's positions
    docs, ledger = _read(cc / "whirlwind.warc.wet.gz")
    assert len(docs) == 1 and ledger.stats["warcinfo_records"] == 1 and not ledger.dropped
    d = docs[0]
    assert d.url == "https://an.wikipedia.org/wiki/Escopete"
    assert d.meta["title"] == "Escopete - Biquipedia, a enciclopedia libre"
    assert d.meta["date_download"] == "2024-05-18T01:58:10Z"
    assert d.meta["digest"] == "sha1:RDTSR52RUHWDA7QK4BK7OUHU3EXTXYUL"
    assert d.meta["length"] == 4456  # Content-Length, as cc_net's `length`, not the header after it
    assert d.meta["source_domain"] == "an.wikipedia.org"
    assert d.meta["snapshot"] == "CC-MAIN-2024-22"
    assert d.meta["nlines"] == len(d.text.split("\n"))
    assert not d.text.startswith("Escopete - Biquipedia")  # title is not part of raw_content
    # the block digest is sha1/base32 of the body: our writer computes the same function
    body = raw.split(b"Content-Length: 4456\r\n\r\n", 1)[1][:4456]
    assert block_digest(body) == d.meta["digest"]
    # the uncompressed file gives the same text
    plain, _ = _read(cc / "whirlwind.warc.wet")
    assert plain[0].text == d.text and plain[0].meta["title"] == d.meta["title"]


def test_ccnet_lf_framed_sample_becomes_counted_drops():
    docs, ledger = _read(samples_dir("commoncrawl") / "ccnet-sample.warc.wet.txt", min_length=0)
    assert docs == []
    assert ledger.dropped["malformed_record"] == 4  # warcinfo + 3 conversions, each counted


def test_field_names_match_ccnet_schema(tmp_path):
    """Every cc_net metadata field of the real cc_net/RedPajama sample exists after read + line dedup
    (except the ones later steps add as columns: language, language_score, perplexity, bucket)."""
    import pyarrow as pa

    from kllama.core.document import documents_to_table, schema_with
    from kllama.dedup.ccnet_lines import CCNetLineDedup

    with gzip.open(samples_dir("commoncrawl") / "dolma-ccnet-cc_en_head-0091.jsonl.gz", "rt") as f:
        sample = json.loads(f.readline())["metadata"]
    write_wet(tmp_path / "a.warc.wet.gz", _pages(3), "CC-MAIN-2024-22")
    docs, _ = _read(tmp_path / "a.warc.wet.gz")
    table = documents_to_table(docs, schema_with({}))
    out = CCNetLineDedup().apply(table, pa.table({"part": pa.array([], pa.int32()), "scope": pa.array([], pa.uint64()),
                                                   "key": pa.array([], pa.uint64())}), Ledger())
    meta = json.loads(out.column("meta")[0].as_py())
    have = set(meta) | {"url"}
    later = {"language", "language_score", "perplexity", "bucket", "provenance"}
    assert set(sample) - later <= have


def test_malformed_records_are_counted_and_the_rest_kept(tmp_path):
    pages = _pages(4)
    pages[1]["corrupt_length"] = True
    path = tmp_path / "x.warc.wet.gz"
    write_wet(path, pages, "CC-MAIN-2024-22")
    docs, ledger = _read(path)
    assert [d.url for d in docs] == ["https://ex.org/p0", "https://ex.org/p2", "https://ex.org/p3"]
    assert ledger.dropped == {"malformed_record": 1}


def test_truncated_and_corrupt_gzip_members(tmp_path):
    path = tmp_path / "x.warc.wet.gz"
    write_wet(path, _pages(5), "CC-MAIN-2024-22")
    data = path.read_bytes()
    cut = tmp_path / "cut.warc.wet.gz"
    cut.write_bytes(data[:-40])  # the last member loses its end
    docs, ledger = _read(cut)
    assert len(docs) == 4 and ledger.dropped == {"malformed_record": 1}
    # flip bytes inside the 3rd member's deflate stream: that record is lost, later ones are read
    members = [m for m in data.split(b"\x1f\x8b\x08") if m]
    bad = bytearray(members[3])
    bad[20:40] = b"\xff" * 20
    members[3] = bytes(bad)
    corrupt = tmp_path / "corrupt.warc.wet.gz"
    corrupt.write_bytes(b"".join(b"\x1f\x8b\x08" + m for m in members))
    docs, ledger = _read(corrupt)
    assert len(docs) == 4 and ledger.dropped == {"malformed_record": 1}
    assert "https://ex.org/p4" in [d.url for d in docs]


def test_record_over_the_size_limit_is_a_named_drop(tmp_path):
    pages = _pages(2)
    pages[0]["lines"] = ["x" * 1000] * 300  # 300 kB decompressed, tiny compressed
    path = tmp_path / "bomb.warc.wet.gz"
    write_wet(path, pages, "CC-MAIN-2024-22")
    docs, ledger = _read(path, max_record_bytes=100_000)
    assert [d.url for d in docs] == ["https://ex.org/p1"]
    assert ledger.dropped == {"record_too_large": 1}


def test_short_documents_and_stable_ids(tmp_path):
    pages = _pages(2)
    pages[0]["lines"] = ["too short"]
    path = tmp_path / "s.warc.wet.gz"
    write_wet(path, pages, "CC-MAIN-2024-22")
    docs, ledger = _read(path)
    assert len(docs) == 1 and ledger.dropped == {"short": 1}
    again, _ = _read(path)
    assert again[0].id == docs[0].id


def test_wet_paths_listing_with_local_root(tmp_path):
    listing = (samples_dir("commoncrawl") / "ungoliant-test.wet.paths").read_text().split()
    gz = tmp_path / "wet.paths.gz"
    with gzip.open(gz, "wt") as f:
        f.write("\n".join(listing) + "\n")
    root = tmp_path / "mirror"
    first = root / listing[0]
    first.parent.mkdir(parents=True)
    write_wet(first, _pages(2), "CC-MAIN-2021-10")
    src = CommonCrawlSource(paths_root=str(root))
    files = src.list_inputs([str(gz)])
    assert files == sorted(str(root / rel) for rel in listing)
    docs, _ = _read(first)
    assert docs[0].meta["cc_segment"] == listing[0]  # cc_net's cc_segment: the listing's relative path
    assert docs[0].meta["snapshot"] == "CC-MAIN-2021-10"
    urls = CommonCrawlSource(base_url="https://data.commoncrawl.org").list_inputs([str(gz)])
    assert urls[0].startswith("https://data.commoncrawl.org/crawl-data/CC-MAIN-2021-10/")


def test_listing_with_path_traversal_is_refused(tmp_path):
    bad = tmp_path / "wet.paths"
    bad.write_text("crawl-data/../../etc/passwd\n")
    with pytest.raises(ValueError):
        CommonCrawlSource(paths_root=str(tmp_path)).list_inputs([str(bad)])


@pytest.mark.slow
def test_demo_pipeline_end_to_end_on_local_cluster(tmp_path, dask_client):
    """The whole CC pipeline through kllama.pipeline on a real LocalCluster: every named drop appears and
    the ledger balances at every stage; a second run resumes to the same bytes."""
    from kllama.pipeline import run_recipe

    inputs = tmp_path / "wet"
    shutil.copytree(DATA_DIR / "demo" / "commoncrawl", inputs, ignore=shutil.ignore_patterns("train"))
    recipe = load_recipe("demo", {"commoncrawl": [str(inputs)]})
    summary = run_recipe(recipe, tmp_path / "run", dask_client, progress=False)
    drops = {}
    for name, ledger in summary.stages.items():
        assert ledger.balanced, name
        drops.update(ledger.dropped)
    for reason in ("malformed_record", "short", "line_dedup_empty", "lang", "perplexity_bucket",
                   "wiki_classifier", "doc_dedup"):
        assert drops.get(reason, 0) > 0, reason
    stages = [led for name, led in summary.stages.items() if name.startswith("commoncrawl.")]  # not the Pile index
    assert stages[0].docs_in == 94 and stages[-1].docs_out == 45
    shards = sorted((tmp_path / "run" / "shards").rglob("*.parquet"))
    import pyarrow.parquet as pq

    from tools.demo_corpus import BOILERPLATE

    texts = [t for p in shards for t in pq.read_table(p, columns=["text"]).column("text").to_pylist()]
    assert len(texts) == 45
    lines = {ln for t in texts for ln in t.split("\n")}
    assert not lines & set(BOILERPLATE)  # shared across pages and partitions: every copy removed
    digests = [p.read_bytes() for p in shards]
    again = run_recipe(recipe, tmp_path / "run", dask_client, progress=False)
    assert [p.read_bytes() for p in sorted((tmp_path / "run" / "shards").rglob("*.parquet"))] == digests
    assert [led for name, led in again.stages.items() if name.startswith("commoncrawl.")][-1].docs_out == 45


def test_fast_and_warcio_header_parsers_agree(tmp_path):
    cc = samples_dir("commoncrawl")
    write_wet(tmp_path / "g.warc.wet.gz", _pages(5), "CC-MAIN-2024-22")
    for path in (cc / "whirlwind.warc.wet.gz", cc / "whirlwind.warc.wet", tmp_path / "g.warc.wet.gz"):
        fast, lf = _read(path)
        slow, ls = _read(path, header_parser="warcio")
        assert [(d.id, d.url, d.text, d.meta) for d in fast] == [(d.id, d.url, d.text, d.meta) for d in slow]
        assert lf.to_dict() == ls.to_dict()
    _, lf = _read(cc / "ccnet-sample.warc.wet.txt", min_length=0)
    _, ls = _read(cc / "ccnet-sample.warc.wet.txt", min_length=0, header_parser="warcio")
    assert lf.dropped == ls.dropped == {"malformed_record": 4}


def test_source_domain_equals_urlparse():
    from urllib.parse import urlparse

    from kllama.sources.commoncrawl import source_domain

    for url in ["https://an.wikipedia.org/wiki/X", "http://user:pw@host:8080?q=1", "https://h#frag", "http://h",
                "ftp://files.org/a", "mailto:x@y", "", "https://", "HTTPS://Upper.org/x", "https://h/p?x=//y", "https://a\tb.org/x"]:
        assert source_domain(url) == urlparse(url).netloc, url


def test_warc_files_and_garbage_are_counted_not_fatal(tmp_path):
    import random

    docs, ledger = _read(samples_dir("commoncrawl") / "resiliparse-CC-MAIN-2020-34-excerpt.warc.gz")
    assert docs == [] and ledger.dropped == {"non_conversion_record": 49}
    (tmp_path / "g.wet.gz").write_bytes(b"\x00junk" + random.Random(0).randbytes(4000).replace(b"\x1f\x8b", b"ab"))
    (tmp_path / "e.wet").write_bytes(b"")
    assert _read(tmp_path / "g.wet.gz")[1].dropped == {"malformed_record": 1}
    assert _read(tmp_path / "e.wet")[1].dropped == {}


def test_gzip_member_resync_counts_one_drop_per_bad_stretch():
    import io
    import random

    from kllama.sources.commoncrawl import _Malformed, iter_gzip_members

    def run(data):
        return [m.reason if isinstance(m, _Malformed) else len(m) for m in iter_gzip_members(io.BytesIO(data), 1 << 20)]

    a, b = gzip.compress(b"x" * 100), gzip.compress(b"y" * 50)
    assert run(a + b) == [100, 50]
    assert run(b"junk" + a + b"\0\0\0" + b) == ["malformed_record", 100, 50]  # zero padding is not junk
    assert run(a + b"junk" + b) == [100, "malformed_record", 50]
    assert run(a + b + b"trailing") == [100, 50, "malformed_record"]
    assert run(a[:-5] + b) == ["malformed_record", 50]
    assert run(a + b[:-3]) == [100, "malformed_record"]
    junk = random.Random(1).randbytes(3 << 20).replace(b"\x1f\x8b", b"zz")  # spans several read blocks
    assert run(junk + a) == ["malformed_record", 100]
