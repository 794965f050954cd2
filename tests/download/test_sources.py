"""Each source's public layout, served by a real HTTP server on 127.0.0.1, fetched through ``kllama download``."""

from __future__ import annotations

import gzip
import hashlib
import json
import os

import pytest

from kllama.cli import main as kllama
from kllama.download import RemoteFile, download_files
from kllama.download import sources as s
from kllama.download.http import DownloadError


def blob(name: str, n: int = 5000) -> bytes:
    return hashlib.sha256(name.encode()).digest() * (n // 32)


def test_commoncrawl_wet_paths_and_files(server, tmp_path):
    snap = "CC-MAIN-2023-06"
    paths = [f"crawl-data/{snap}/segments/1674764494826.88/wet/CC-MAIN-2023-{i:05d}.warc.wet.gz" for i in range(3)]
    server.files[f"/crawl-data/{snap}/wet.paths.gz"] = gzip.compress(("\n".join(paths) + "\n").encode())
    for p in paths:
        server.files[f"/{p}"] = blob(p)
    server.fault(f"/{paths[1]}", "drop")  # one transfer breaks mid-file and resumes
    rc = kllama(["download", "commoncrawl", "--output", str(tmp_path), "--snapshot", snap, "--limit", "2",
                 "--base-url", server.url, "--no-progress"])
    assert rc == 0
    for p in paths[:2]:
        assert (tmp_path / "commoncrawl" / p).read_bytes() == blob(p)
    assert not (tmp_path / "commoncrawl" / paths[2]).exists()  # --limit 2
    assert (tmp_path / "commoncrawl" / "crawl-data" / snap / "wet.paths.gz").exists()
    record = json.loads((tmp_path / "commoncrawl.download.json").read_text())
    assert all(f["ok"] for f in record["files"]) and not record["failed"]
    assert server.requests_for(f"/{paths[1]}")[-1].startswith("bytes=")


def test_commoncrawl_listing_with_traversal_is_refused(server, tmp_path):
    snap = "CC-MAIN-2023-06"
    server.files[f"/crawl-data/{snap}/wet.paths.gz"] = gzip.compress(b"crawl-data/../../etc/passwd.warc.wet.gz\n")
    with pytest.raises(DownloadError, match="unsafe"):
        s.commoncrawl_files([snap], base_url=server.url)


def wiki_status(date: str, files: dict[str, bytes], status: str = "done", wrong_sha1: str | None = None) -> bytes:
    entries = {name: {"size": len(data), "url": f"/enwiki/{date}/{name}",
                      "sha1": wrong_sha1 or hashlib.sha1(data).hexdigest(), "md5": hashlib.md5(data).hexdigest()}
               for name, data in files.items()}
    return json.dumps({"jobs": {"articlesdump": {"status": status, "files": entries},
                                "metacurrentdump": {"status": "done", "files": {}}}}).encode()


def test_wikipedia_dumpstatus_sha1_and_latest(server, tmp_path):
    files = {"enwiki-20240601-pages-articles1.xml-p1p41242.bz2": blob("a"),
             "enwiki-20240601-pages-articles2.xml-p41243p151573.bz2": blob("b")}
    for name, data in files.items():
        server.files[f"/enwiki/20240601/{name}"] = data
    server.files["/enwiki/"] = b'<a href="20240520/">20240520/</a> <a href="20240601/">20240601/</a>'
    server.files["/enwiki/20240601/dumpstatus.json"] = wiki_status("20240601", files)
    server.files["/enwiki/20240520/dumpstatus.json"] = wiki_status("20240520", {})
    rc = kllama(["download", "wikipedia", "--output", str(tmp_path), "--languages", "en", "--base-url", server.url,
                 "--date", "latest", "--no-progress"])
    assert rc == 0
    for name, data in files.items():
        assert (tmp_path / "wikipedia" / "enwiki" / "20240601" / name).read_bytes() == data
    # a dump still running is not taken; an older finished one is
    server.files["/enwiki/"] = b'<a href="20240701/">x</a><a href="20240601/">y</a>'
    server.files["/enwiki/20240701/dumpstatus.json"] = wiki_status("20240701", {}, status="in-progress")
    planned = s.wikipedia_files(["en"], date="latest", base_url=server.url)
    assert {f.path.split("/")[2] for f in planned} == {"20240601"}
    assert all(set(f.checksums) == {"sha1", "md5"} and f.size for f in planned)


def test_commoncrawl_defaults_to_five_snapshots_in_llamas_window(server, tmp_path, capsys):
    assert len(s.LLAMA_CC_SNAPSHOTS) == 5 and s.CC_SNAPSHOTS == s.LLAMA_CC_SNAPSHOTS
    years = [int(n.split("-")[2]) for n in s.LLAMA_CC_SNAPSHOTS]
    assert min(years) == 2017 and max(years) == 2020 and set(years) == {2017, 2018, 2019, 2020}
    assert len(set(s.LLAMA_CC_SNAPSHOTS)) == 5 and not set(s.LLAMA_CC_SNAPSHOTS) & {"CC-MAIN-2018-34"}  # WARC errata
    assert sum(int(n.split("-")[2]) > 2020 for n in s.REDPAJAMA_CC_SNAPSHOTS) == 3
    for snap in (*s.LLAMA_CC_SNAPSHOTS, *s.REDPAJAMA_CC_SNAPSHOTS):
        server.files[f"/crawl-data/{snap}/wet.paths.gz"] = gzip.compress(
            f"crawl-data/{snap}/segments/1/wet/{snap}-00000.warc.wet.gz\n".encode())
    for extra, expected in (([], s.LLAMA_CC_SNAPSHOTS), (["--snapshots", "redpajama"], s.REDPAJAMA_CC_SNAPSHOTS),
                            (["--snapshot", "CC-MAIN-2019-18"], ("CC-MAIN-2019-18",))):
        rc = kllama(["download", "commoncrawl", "--output", str(tmp_path), "--base-url", server.url, "--dry-run",
                     *extra])
        assert rc == 0
        listed = {line.split("\t")[1].split("/")[2] for line in capsys.readouterr().out.splitlines()}
        assert listed == set(expected)


def test_wikipedia_defaults_to_llamas_2022_dumps(server, tmp_path):
    files = {"dewiki-20220701-pages-articles.xml.bz2": blob("de")}
    server.files["/dewiki/20220701/dewiki-20220701-pages-articles.xml.bz2"] = files[
        "dewiki-20220701-pages-articles.xml.bz2"]
    server.files["/dewiki/20220701/dumpstatus.json"] = wiki_status("20220701", files).replace(b"/enwiki/", b"/dewiki/")
    server.files["/dewiki/20220801/dumpstatus.json"] = wiki_status("20220801", {}, status="failed")
    # a newer dump than LLaMA's window exists but is never taken by default
    server.files["/dewiki/"] = b'<a href="20240601/">x</a>'
    rc = kllama(["download", "wikipedia", "--output", str(tmp_path), "--languages", "de", "--base-url", server.url,
                 "--no-progress"])
    assert rc == 0
    assert (tmp_path / "wikipedia" / "dewiki" / "20220701" / "dewiki-20220701-pages-articles.xml.bz2").exists()
    tried = [p for p, _ in server.log if p.endswith("dumpstatus.json")]
    assert tried[:3] == ["/dewiki/20220820/dumpstatus.json", "/dewiki/20220801/dumpstatus.json",
                         "/dewiki/20220720/dumpstatus.json"] and "/dewiki/" not in [p for p, _ in server.log]


def test_wikipedia_dump_no_longer_served_names_the_archive(server, tmp_path, capsys):
    with pytest.raises(DownloadError, match=r"archive\.org/details/frwiki-20220601"):
        s.wikipedia_files(["fr"], base_url=server.url)  # nothing served: every 2022 date is a 404
    rc = kllama(["download", "wikipedia", "--output", str(tmp_path), "--languages", "fr", "--date", "20220620",
                 "--base-url", server.url, "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 2 and "no longer serves" in err and "archive.org/details/frwiki-20220620" in err
    assert "--date latest" in err


def test_wikipedia_wrong_sha1_fails_that_file(server, tmp_path):
    files = {"frwiki-20240601-pages-articles.xml.bz2": blob("fr")}
    server.files["/frwiki/20240601/frwiki-20240601-pages-articles.xml.bz2"] = files[
        "frwiki-20240601-pages-articles.xml.bz2"]
    server.files["/frwiki/20240601/dumpstatus.json"] = wiki_status("20240601", files, wrong_sha1="1" * 40).replace(
        b"/enwiki/", b"/frwiki/")
    rc = kllama(["download", "wikipedia", "--output", str(tmp_path), "--languages", "fr", "--date", "20240601",
                 "--base-url", server.url, "--no-progress"])
    assert rc == 1
    record = json.loads((tmp_path / "wikipedia.download.json").read_text())
    assert "sha1" in next(iter(record["failed"].values()))
    assert not list((tmp_path / "wikipedia").rglob("*.bz2"))


def test_stackexchange_largest_sites_from_files_xml(server, tmp_path):
    archives = {"math.stackexchange.com.7z": blob("m", 9000), "tex.stackexchange.com.7z": blob("t", 7000),
                "coffee.stackexchange.com.7z": blob("c", 3000), "meta.stackexchange.com.7z": blob("ms", 20000),
                "stackoverflow.com-Posts.7z": blob("so", 12000), "stackoverflow.com-Users.7z": blob("su", 30000)}
    rows = "".join(
        f'<file name="{n}" source="original"><size>{len(d)}</size><md5>{hashlib.md5(d).hexdigest()}</md5>'
        f"<sha1>{hashlib.sha1(d).hexdigest()}</sha1></file>" for n, d in archives.items())
    server.files["/stackexchange_files.xml"] = f'<?xml version="1.0"?><files>{rows}</files>'.encode()
    for n, d in archives.items():
        server.files[f"/{n}"] = d
    planned = s.stackexchange_files(top_sites=3, base_url=server.url)
    assert [f.path for f in planned] == ["stackexchange/stackoverflow.com-Posts.7z",
                                         "stackexchange/math.stackexchange.com.7z",
                                         "stackexchange/tex.stackexchange.com.7z"]
    rc = kllama(["download", "stackexchange", "--output", str(tmp_path), "--top-sites", "3", "--base-url",
                 server.url, "--concurrency", "2", "--no-progress"])
    assert rc == 0
    assert sorted(p.name for p in (tmp_path / "stackexchange").glob("*.7z")) == [
        "math.stackexchange.com.7z", "stackoverflow.com-Posts.7z", "tex.stackexchange.com.7z"]
    assert s.stackexchange_files(sites=["coffee.stackexchange.com"], base_url=server.url)[0].size == len(
        archives["coffee.stackexchange.com.7z"])


def test_xml_listing_with_entities_is_refused(server):
    server.files["/stackexchange_files.xml"] = (
        b'<?xml version="1.0"?><!DOCTYPE f [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><files>&b;</files>')
    with pytest.raises(DownloadError, match="refused"):
        s.stackexchange_files(base_url=server.url)


def test_c4_names_and_url_lists(server, tmp_path):
    planned = s.c4_files(limit=2, base_url=server.url)
    assert [f.path for f in planned] == ["c4/en/c4-train.00000-of-01024.json.gz",
                                         "c4/en/c4-train.00001-of-01024.json.gz"]
    assert len(s.c4_files(splits=("validation",))) == 8
    code = {"/dumps/code-000.parquet": blob("code0"), "/dumps/code-001.parquet": blob("code1")}
    server.files.update(code)
    lines = ["# the-stack style shards", *(f"{server.url}{p} sha256:{hashlib.sha256(d).hexdigest()} {len(d)}"
                                          for p, d in code.items())]
    (tmp_path / "urls.txt").write_text("\n".join(lines) + "\n")
    rc = kllama(["download", "github", "--urls", str(tmp_path / "urls.txt"), "--output", str(tmp_path / "out"),
                 "--no-progress"])
    assert rc == 0
    host = f"127.0.0.1_{server.server_address[1]}"
    for p, d in code.items():
        assert (tmp_path / "out" / "github" / host / p.lstrip("/")).read_bytes() == d
    assert kllama(["download", "github", "--output", str(tmp_path / "o2")]) == 2  # no --urls: a clear error


def test_bounded_concurrency(server, tmp_path):
    files = []
    for i in range(8):
        server.files[f"/f{i}"] = blob(str(i))
        server.fault(f"/f{i}", "slow")
        files.append(RemoteFile(f"{server.url}/f{i}", f"x/f{i}", size=len(blob(str(i)))))
    report = download_files(files, tmp_path, concurrency=3, progress=False)
    assert report.ok and len(report.done) == 8
    assert 2 <= server.max_active <= 3


def test_arxiv_manifest_and_missing_credentials(tmp_path, monkeypatch):
    manifest = tmp_path / "arXiv_src_manifest.xml"
    manifest.write_text(
        "<arXivSRC><file><filename>src/arXiv_src_0001_001.tar</filename><md5sum>" + "a" * 32 +
        "</md5sum><size>225571</size><yymm>0001</yymm><seq_num>1</seq_num><num_items>2</num_items></file>"
        "<file><filename>src/arXiv_src_2301_042.tar</filename><md5sum>" + "b" * 32 + "</md5sum><size>5</size>"
        "<yymm>2301</yymm><seq_num>42</seq_num><num_items>1</num_items></file></arXivSRC>")
    planned = s.arxiv_files(manifest=str(manifest), yymm_from="2001")
    assert [(f.url, f.path, f.size) for f in planned] == [
        ("s3://arxiv/src/arXiv_src_2301_042.tar", "arxiv/src/arXiv_src_2301_042.tar", 5)]
    assert planned[0].checksums == {"md5": "b" * 32}
    # without boto3 or credentials: a clear error that says what to do
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(DownloadError, match="requester-pays|credentials"):
        s.arxiv_files()


def test_dry_run_lists_without_fetching(server, tmp_path, capsys):
    server.files["/stackexchange_files.xml"] = (
        b'<files><file name="ai.stackexchange.com.7z"><size>10</size><sha1>' + b"0" * 40 + b"</sha1></file></files>")
    assert kllama(["download", "stackexchange", "--output", str(tmp_path), "--base-url", server.url,
                   "--dry-run"]) == 0
    assert "ai.stackexchange.com.7z" in capsys.readouterr().out
    assert not os.listdir(tmp_path)
