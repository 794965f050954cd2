"""Write WET files (one gzip member per record, as Common Crawl does) from generated pages: for the demo
data, tests and benchmarks. Not part of the installed package."""

from __future__ import annotations

import gzip
import os
from typing import Any


def wet_record(headers: list[tuple[str, str]], body: bytes) -> bytes:
    """One WARC record: ``WARC/1.0``, CRLF headers (Content-Length added), blank line, body, CRLF CRLF."""
    lines = ["WARC/1.0", *[f"{k}: {v}" for k, v in headers], f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + body + b"\r\n\r\n"


def block_digest(body: bytes) -> str:
    """``sha1:`` + base32 of the body's sha1, as CommonCrawl's ``WARC-Block-Digest``."""
    import base64
    import hashlib

    return "sha1:" + base64.b32encode(hashlib.sha1(body).digest()).decode("ascii")


def write_wet(path: str | os.PathLike, pages: list[dict[str, Any]], snapshot: str, filename: str | None = None,
              seed: int = 0) -> None:
    """Write a gzipped WET file (one gzip member per record) of ``pages`` -- dicts with ``url``, ``date``,
    ``title``, ``lines`` and optionally ``lang`` (ISO-639-3 for ``WARC-Identified-Content-Language``)."""
    import random
    import uuid

    rng = random.Random(seed)

    def uid() -> str:
        return f"<urn:uuid:{uuid.UUID(int=rng.getrandbits(128), version=4)}>"

    name = filename or os.path.basename(str(path))
    info = (f"Software-Info: kllama demo generator\r\nExtracted-Date: {pages[0]['date'] if pages else ''}\r\n"
            f"isPartOf: {snapshot}\r\noperator: kllama\r\ndescription: generated demo crawl\r\n"
            "publisher: kllama\r\n").encode()
    out = [gzip.compress(wet_record([("WARC-Type", "warcinfo"), ("WARC-Date", pages[0]["date"] if pages else ""),
                                     ("WARC-Filename", name), ("WARC-Record-ID", uid()),
                                     ("Content-Type", "application/warc-fields")], info), mtime=0)]
    for p in pages:
        body = ("\n".join([p["title"], *p["lines"]]) + "\n").encode("utf-8")
        headers = [("WARC-Type", "conversion"), ("WARC-Target-URI", p["url"]), ("WARC-Date", p["date"]),
                   ("WARC-Record-ID", uid()), ("WARC-Refers-To", uid()), ("WARC-Block-Digest", block_digest(body))]
        if p.get("lang"):
            headers.append(("WARC-Identified-Content-Language", p["lang"]))
        headers.append(("Content-Type", "text/plain"))
        rec = wet_record(headers, body)
        if p.get("corrupt_length"):
            rec = rec.replace(f"Content-Length: {len(body)}".encode(), f"Content-Length: {len(body) + 7}".encode())
        out.append(gzip.compress(rec, mtime=0))
    with open(path, "wb") as f:
        f.write(b"".join(out))
