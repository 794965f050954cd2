"""Download throughput on 127.0.0.1: kllama's resumable, verified fetch beside plain alternatives.

    python benchmarks/bench_download.py [--mb 256] [--repeat 3]

A local ``http.server`` (threaded, Range support) serves one random file. Compared: ``fetch_url`` with a sha256
check (what ``kllama download`` does), ``fetch_url`` without a checksum, a bare ``urllib`` + ``shutil.copyfileobj``
copy (no resume, no check), and ``curl`` when installed. Then a resume after a connection dropped at 50%:
bytes transferred in total. Loopback speed measures the client's overhead, not the network.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from kllama.download.http import fetch_url  # noqa: E402


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    data = b""
    drop_next = False
    sent = 0

    def log_message(self, *a):
        pass

    def do_GET(self):  # noqa: N802
        cls = type(self)
        m = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")
        start = int(m.group(1)) if m else 0
        body = memoryview(cls.data)[start:]
        self.send_response(206 if m else 200)
        if m:
            self.send_header("Content-Range", f"bytes {start}-{len(cls.data) - 1}/{len(cls.data)}")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        limit = len(body) // 2 if cls.drop_next else len(body)
        step = 1 << 20
        for i in range(0, limit, step):
            self.wfile.write(body[i:min(i + step, limit)])
        cls.sent += limit
        if cls.drop_next:
            cls.drop_next = False
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True


def timed(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=int, default=256)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    import hashlib

    Handler.data = os.urandom(args.mb << 20)
    sha = hashlib.sha256(Handler.data).hexdigest()
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{srv.server_address[1]}/file"
    tmp = Path(tempfile.mkdtemp(prefix="kllama-bench-dl-"))
    dest = tmp / "file"

    def clean():
        for p in (dest, dest.with_name("file.part")):
            p.unlink(missing_ok=True)

    def kllama_verified():
        clean()
        fetch_url(url, dest, checksums={"sha256": sha})

    def kllama_plain():
        clean()
        fetch_url(url, dest)

    def urllib_copy():
        clean()
        with urllib.request.urlopen(url) as r, open(dest, "wb") as f:
            shutil.copyfileobj(r, f, 1 << 20)

    rows = [("kllama fetch_url + sha256 check", timed(kllama_verified, args.repeat)),
            ("kllama fetch_url (size check only)", timed(kllama_plain, args.repeat)),
            ("urllib + copyfileobj (no resume, no check)", timed(urllib_copy, args.repeat))]
    if shutil.which("curl"):
        rows.append(("curl -s -o", timed(lambda: (clean(), subprocess.run(["curl", "-s", "-o", str(dest), url],
                                                                          check=True)), args.repeat)))
    base = rows[0][1]
    print(f"{args.mb} MiB over 127.0.0.1, best of {args.repeat}")
    print(f"{'method':46} {'s':>7} {'MB/s':>8} {'time vs kllama+sha256':>22}")
    for name, s in rows:
        print(f"{name:46} {s:7.3f} {args.mb * 1.048576 / s:8.0f} {s / base:21.2f}x")

    clean()
    Handler.sent = 0
    Handler.drop_next = True
    t = time.perf_counter()
    fetch_url(url, dest, checksums={"sha256": sha}, sleep=lambda s: None)
    s = time.perf_counter() - t
    print(f"\nresume after a drop at 50%: {s:.3f} s, {Handler.sent / len(Handler.data):.2f}x the file's bytes sent "
          f"(a restart would send 1.50x)")
    srv.shutdown()
    shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
