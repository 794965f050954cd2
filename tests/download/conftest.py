"""A real HTTP server on 127.0.0.1 for the download tests: Range support and injectable faults."""

from __future__ import annotations

import re
import socket
import threading
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


class DumpServer(ThreadingHTTPServer):
    """Serves ``files`` (path -> bytes). ``faults[path]`` is a queue of what to do on the next requests:
    ``drop`` (send half the body, then cut the connection), ``503``, ``ignore-range`` (answer 200 in full),
    ``corrupt`` (flip a byte), ``slow`` (hold the request briefly). Every request is logged with its Range."""

    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.files: dict[str, bytes] = {}
        self.faults: dict[str, deque[str]] = {}
        self.log: list[tuple[str, str | None]] = []
        self.active = 0
        self.max_active = 0
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def fault(self, path: str, *kinds: str) -> None:
        self.faults.setdefault(path, deque()).extend(kinds)

    def requests_for(self, path: str) -> list[str | None]:
        return [r for p, r in self.log if p == path]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # quiet
        pass

    def do_GET(self):  # noqa: N802 - http.server's naming
        srv: DumpServer = self.server
        path = self.path.split("?", 1)[0]
        rng = self.headers.get("Range")
        with srv.lock:
            srv.log.append((path, rng))
            srv.active += 1
            srv.max_active = max(srv.max_active, srv.active)
            queue = srv.faults.get(path)
            fault = queue.popleft() if queue else None
        try:
            self._serve(srv, path, rng, fault)
        finally:
            with srv.lock:
                srv.active -= 1

    def _serve(self, srv, path, rng, fault):
        import time

        if fault == "slow":
            time.sleep(0.3)
        if fault == "503":
            self.send_response(503)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        data = srv.files.get(path)
        if data is None:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if fault == "corrupt":
            data = bytes([data[0] ^ 0xFF]) + data[1:]
        start = 0
        m = re.fullmatch(r"bytes=(\d+)-", rng or "")
        if m and fault != "ignore-range":
            start = int(m.group(1))
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
            self.send_header("Accept-Ranges", "bytes")
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if fault == "drop":
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
            return
        self.wfile.write(body)


@pytest.fixture()
def server():
    srv = DumpServer()
    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    t.start()
    yield srv
    srv.shutdown()
    srv.server_close()
