"""A dataset mirror on 127.0.0.1 for the download tests: serves files by name from a dict, each
as given, cut short mid-transfer, or with a status; it logs the paths asked for."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar


class Mirror:
    """What a mirror holds: name → bytes; names in `cut` break off after half their bytes
    (a Content-Length promising all of them), names in `status` get that HTTP status."""

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files
        self.cut: set[str] = set()
        self.status: dict[str, int] = {}
        self.asked: list[str] = []
        self.url = ""


class _Handler(BaseHTTPRequestHandler):
    mirrors: ClassVar[dict[int, Mirror]] = {}

    def do_GET(self) -> None:
        mirror = self.mirrors[self.server.server_port]
        name = self.path.rsplit("/", 1)[-1]
        mirror.asked.append(name)
        if name in mirror.status or name not in mirror.files:
            self.send_error(mirror.status.get(name, 404))
            return
        data = mirror.files[name]
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data[: len(data) // 2] if name in mirror.cut else data)
        if name in mirror.cut:
            self.close_connection = True

    def log_message(self, format: str, *args: object) -> None:
        pass  # keep pytest's output clean


@contextmanager
def serving(mirror: Mirror) -> Iterator[Mirror]:
    """Serve `mirror` on a free port of 127.0.0.1 for the `with` block; `mirror.url` ends in
    a slash, as a DataModule's mirrors do."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    _Handler.mirrors[httpd.server_port] = mirror
    mirror.url = f"http://127.0.0.1:{httpd.server_port}/mnist/"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield mirror
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()
        del _Handler.mirrors[httpd.server_port]
