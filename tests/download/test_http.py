"""The resumable fetch against a real HTTP server on 127.0.0.1: dropped connections, bad checksums, retries."""

from __future__ import annotations

import hashlib
import os

import pytest

from kllama.download.http import ChecksumError, DownloadError, fetch_bytes, fetch_url

DATA = os.urandom(300_000)
SHA1 = hashlib.sha1(DATA).hexdigest()
SHA256 = hashlib.sha256(DATA).hexdigest()
NO_WAIT = {"sleep": lambda s: None}


def test_connection_dropped_mid_file_resumes_with_range(server, tmp_path):
    server.files["/dump.bin"] = DATA
    server.fault("/dump.bin", "drop")
    got = []
    dest = fetch_url(f"{server.url}/dump.bin", tmp_path / "dump.bin", checksums={"sha1": SHA1}, chunk=16384,
                     on_bytes=got.append, **NO_WAIT)
    assert dest.read_bytes() == DATA
    ranges = server.requests_for("/dump.bin")
    assert ranges[0] is None and len(ranges) == 2
    # the second request asked only for what was missing, and no byte was fetched twice
    start = int(ranges[1].removeprefix("bytes=").rstrip("-"))
    assert 0 < start < len(DATA)
    assert sum(got) == len(DATA)
    assert not (tmp_path / "dump.bin.part").exists()


def test_interrupted_part_file_resumes_in_a_later_run(server, tmp_path):
    server.files["/a.gz"] = DATA
    server.fault("/a.gz", "drop", "drop", "drop")
    with pytest.raises(DownloadError, match="rerun to resume"):
        fetch_url(f"{server.url}/a.gz", tmp_path / "a.gz", retries=2, **NO_WAIT)
    part = tmp_path / "a.gz.part"
    assert 0 < part.stat().st_size < len(DATA)
    kept = part.stat().st_size
    fetch_url(f"{server.url}/a.gz", tmp_path / "a.gz", checksums={"sha256": SHA256}, **NO_WAIT)
    assert (tmp_path / "a.gz").read_bytes() == DATA
    assert server.requests_for("/a.gz")[-1] == f"bytes={kept}-"


def test_wrong_checksum_is_rejected_and_nothing_kept(server, tmp_path):
    server.files["/x.7z"] = DATA
    with pytest.raises(ChecksumError, match="sha1"):
        fetch_url(f"{server.url}/x.7z", tmp_path / "x.7z", checksums={"sha1": "0" * 40}, **NO_WAIT)
    assert not (tmp_path / "x.7z").exists() and not (tmp_path / "x.7z.part").exists()
    # data corrupted in transit: the right checksum catches it
    server.fault("/x.7z", "corrupt")
    with pytest.raises(ChecksumError):
        fetch_url(f"{server.url}/x.7z", tmp_path / "x.7z", checksums={"md5": hashlib.md5(DATA).hexdigest()},
                  **NO_WAIT)
    assert not (tmp_path / "x.7z").exists()
    # a wrong size is rejected too
    with pytest.raises(ChecksumError, match="bytes"):
        fetch_url(f"{server.url}/x.7z", tmp_path / "x.7z", size=len(DATA) + 1, **NO_WAIT)


def test_retries_with_exponential_backoff(server, tmp_path):
    server.files["/f"] = DATA
    server.fault("/f", "503", "503", "503")
    waits = []
    fetch_url(f"{server.url}/f", tmp_path / "f", retries=4, backoff=0.5, sleep=waits.append)
    assert waits == [0.5, 1.0, 2.0]
    assert (tmp_path / "f").read_bytes() == DATA
    server.fault("/f2", "503")
    with pytest.raises(DownloadError, match="HTTP 404"):  # not retried: 404 is permanent
        fetch_url(f"{server.url}/f2", tmp_path / "f2", retries=4, sleep=waits.append)
    assert len(waits) == 4  # one wait (after the 503), then the 404 ends it


def test_server_ignoring_range_restarts_the_file(server, tmp_path):
    server.files["/r"] = DATA
    (tmp_path / "r.part").write_bytes(b"stale partial bytes")
    server.fault("/r", "ignore-range")
    fetch_url(f"{server.url}/r", tmp_path / "r", checksums={"sha1": SHA1}, **NO_WAIT)
    assert (tmp_path / "r").read_bytes() == DATA


def test_complete_part_and_complete_file(server, tmp_path):
    server.files["/c"] = DATA
    (tmp_path / "c.part").write_bytes(DATA)  # killed after the last byte, before the rename
    fetch_url(f"{server.url}/c", tmp_path / "c", size=len(DATA), checksums={"sha1": SHA1}, **NO_WAIT)
    assert server.requests_for("/c") == [f"bytes={len(DATA)}-"]  # answered 416: nothing to add
    assert (tmp_path / "c").read_bytes() == DATA
    fetch_url(f"{server.url}/c", tmp_path / "c", checksums={"sha1": SHA1}, **NO_WAIT)
    assert len(server.requests_for("/c")) == 1  # verified on disk, no request


def test_fetch_bytes_retries_and_limits(server):
    server.files["/list"] = b"a\nb\n"
    server.fault("/list", "drop")
    assert fetch_bytes(f"{server.url}/list", **NO_WAIT) == b"a\nb\n"
    with pytest.raises(DownloadError, match="larger than"):
        fetch_bytes(f"{server.url}/list", max_bytes=2, **NO_WAIT)
