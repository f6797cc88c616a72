"""The HTTP side of `zoo serve`: routes, request validation, JSON errors and static files.

Standard library only. Every response, errors included, is JSON or a file from `static/`; a bad
request gets a status and `{"error": "..."}` saying what to fix, and never a traceback. A body
that is too large or has no length is refused from its headers, before a byte of it is read.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import re
import socket
import socketserver
import sys
import traceback
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from zoo.inference.imaging import ImageError
from zoo.serve.app import CURVES_URL, DigitApp

MAX_BODY_BYTES = 2 * 2**20
DISCARD_LIMIT_BYTES = 8 * MAX_BODY_BYTES
DISCARD_TIMEOUT_S = 2
REQUEST_TIMEOUT_S = 30
STATIC_URL = "/static/"
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}
DATA_URL = re.compile(r"^data:(?P<type>[^;,]*)(?P<params>(?:;[^;,]*)*),", re.ASCII)
PREDICT_HINT = 'POST a JSON object {"image": "data:image/png;base64,..."}'


class ApiError(Exception):
    """A request that cannot be answered: its status and what the client should fix."""

    def __init__(self, status: HTTPStatus, message: str, allow: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.allow = allow


def static_files() -> dict[str, Path]:
    """The page's files by name: only these are ever served, so no path can escape `static/`."""
    folder = Path(str(resources.files("zoo.serve") / "static"))
    return {p.name: p for p in folder.iterdir() if p.is_file() and p.suffix in CONTENT_TYPES}


def decode_image_field(payload: Any) -> bytes:
    """The image bytes of a predict request: `{"image": data URL or plain base64}`."""
    if not isinstance(payload, dict):
        raise ApiError(HTTPStatus.BAD_REQUEST, f"expected a JSON object; {PREDICT_HINT}")
    if "image" not in payload:
        raise ApiError(HTTPStatus.BAD_REQUEST, f"missing field 'image'; {PREDICT_HINT}")
    value = payload["image"]
    if not isinstance(value, str):
        raise ApiError(HTTPStatus.BAD_REQUEST, "'image' must be a string (a base64 data URL)")
    match = DATA_URL.match(value)
    if match:
        if not match["type"].lower().startswith("image/"):
            raise ApiError(
                HTTPStatus.BAD_REQUEST,
                f"'image' is a {match['type'] or 'text/plain'!r} data URL, not an image one "
                "(image/png, image/jpeg, image/bmp or image/webp)",
            )
        if ";base64" not in match["params"].lower():
            raise ApiError(HTTPStatus.BAD_REQUEST, "'image' data URL must be base64-encoded")
        value = value[match.end() :]
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(HTTPStatus.BAD_REQUEST, "'image' is not valid base64") from None


class Handler(BaseHTTPRequestHandler):
    """One request (HTTP/1.0: one per connection); the app and static files come from the server."""

    server: ZooServer
    server_version = "zoo-serve"
    sys_version = ""
    # Answers to malformed request lines still carry a status line and headers.
    default_request_version = "HTTP/1.0"
    timeout = REQUEST_TIMEOUT_S  # a client that stalls mid-request frees its thread
    body_read = False

    def do_GET(self) -> None:
        """Pages, static files, curves and the read-only API."""
        self._dispatch(self.command)

    def do_POST(self) -> None:
        """`/api/predict`; elsewhere 405 (or 404 for unknown paths)."""
        self._dispatch(self.command)

    # HEAD is GET without the body; the other methods get a JSON 405 (or 404), not http.server's
    # HTML 501.
    do_HEAD = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_GET

    def _dispatch(self, method: str) -> None:
        # A client that left needs no answer.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self._answer(method)

    def _answer(self, method: str) -> None:
        try:
            self._route(method)
        except ApiError as error:
            self._send_json({"error": error.message}, error.status, allow=error.allow)
            self._discard_body()
        except Exception:
            traceback.print_exc(file=sys.stderr)
            message = "internal server error; the server's log has the details"
            self._send_json({"error": message}, HTTPStatus.INTERNAL_SERVER_ERROR)

    def _route(self, method: str) -> None:
        path = urlsplit(self.path).path
        routes = self.server.routes.get(path) or self._file_routes(path)
        if not routes:
            raise ApiError(HTTPStatus.NOT_FOUND, f"no such page or endpoint: {path}")
        allowed = set(routes) | ({"HEAD"} if "GET" in routes else set())
        if method not in allowed:
            raise ApiError(
                HTTPStatus.METHOD_NOT_ALLOWED,
                f"{method} is not allowed on {path}; use {' or '.join(sorted(allowed))}",
                allow=", ".join(sorted(allowed)),
            )
        routes["GET" if method == "HEAD" else method](self)

    def _file_routes(self, path: str) -> dict[str, Callable[[Handler], None]]:
        name = path.removeprefix(STATIC_URL)
        if path.startswith(STATIC_URL) and name in self.server.static:
            return {"GET": lambda h: h.send_file(h.server.static[name])}
        if path.startswith(CURVES_URL) and path.endswith(".png"):
            curve = self.app.curve(path.removeprefix(CURVES_URL).removesuffix(".png"))
            if curve is not None:
                return {"GET": lambda h: h.send_file(curve)}
        return {}

    @property
    def app(self) -> DigitApp:
        """The server's models; 503 while they are still loading."""
        if self.server.app is None:
            raise ApiError(HTTPStatus.SERVICE_UNAVAILABLE, "the models are still loading; retry")
        return self.server.app

    def _discard_body(self) -> None:
        # Closing a socket with unread data resets it, and a client still sending may then never
        # see the error it was just sent: read and drop what it sends for a moment first.
        if self.body_read or self.headers.get("Transfer-Encoding"):
            return
        length = self.headers.get("Content-Length", "").strip()
        left = min(int(length), DISCARD_LIMIT_BYTES) if length.isdigit() else 0
        with contextlib.suppress(OSError):
            self.connection.settimeout(DISCARD_TIMEOUT_S)
            while left > 0 and (chunk := self.rfile.read(min(left, 1 << 16))):
                left -= len(chunk)

    def send_file(self, path: Path) -> None:
        """A file of the page (or a curve), revalidated on every load."""
        self._send(HTTPStatus.OK, path.read_bytes(), CONTENT_TYPES[path.suffix], "no-cache")

    def send_json(self, payload: Any) -> None:
        """A 200 JSON response."""
        self._send_json(payload, HTTPStatus.OK)

    def _send_json(self, payload: Any, status: HTTPStatus, allow: str | None = None) -> None:
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        extra = {"Allow": allow} if allow else {}
        self._send(status, body, "application/json; charset=utf-8", "no-store", extra)

    def _send(
        self,
        status: HTTPStatus,
        body: bytes,
        content_type: str,
        cache: str,
        extra: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        headers = {"Content-Type": content_type, "Content-Length": str(len(body))}
        headers |= {"Cache-Control": cache, **SECURITY_HEADERS, **(extra or {})}
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's own errors (malformed request line, headers too long…) as JSON too."""
        self.close_connection = True
        status = HTTPStatus(code)
        self._send_json({"error": message or status.phrase}, status)

    def version_string(self) -> str:
        """The Server header: the name only, no Python version."""
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:
        """Request and error lines go to stderr only with `--verbose`."""
        if self.server.verbose:
            super().log_message(format, *args)

    def read_json(self) -> Any:
        """The request's JSON body: 411, 413, 400 from the headers, 415, then 400 for bad JSON."""
        length = self._content_length()
        body = self._read_body(length)
        content_type = self.headers.get("Content-Type", "")
        media_type, _, params = content_type.partition(";")
        if media_type.strip().lower() != "application/json":
            raise ApiError(
                HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
                f"Content-Type must be application/json, got {content_type or 'none'!r}",
            )
        charset = re.search(r"charset\s*=\s*\"?([\w-]+)", params, re.IGNORECASE)
        if charset and charset[1].lower() not in ("utf-8", "utf8"):
            raise ApiError(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "JSON must be UTF-8 encoded")
        try:
            return json.loads(body.decode("utf-8"))
        except UnicodeDecodeError:
            raise ApiError(HTTPStatus.BAD_REQUEST, "body is not UTF-8 text") from None
        except (ValueError, RecursionError) as error:
            raise ApiError(HTTPStatus.BAD_REQUEST, f"body is not valid JSON ({error})") from None

    def _content_length(self) -> int:
        if self.headers.get("Transfer-Encoding"):
            raise ApiError(
                HTTPStatus.LENGTH_REQUIRED,
                "chunked or encoded bodies are not accepted; send a Content-Length",
            )
        values = self.headers.get_all("Content-Length") or []
        if not values:
            raise ApiError(HTTPStatus.LENGTH_REQUIRED, "a Content-Length header is required")
        if len(set(values)) != 1 or not values[0].strip().isdigit():
            raise ApiError(HTTPStatus.BAD_REQUEST, f"invalid Content-Length {', '.join(values)}")
        length = int(values[0])
        if length > MAX_BODY_BYTES:
            raise ApiError(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                f"body of {length:,} bytes is over the {MAX_BODY_BYTES:,}-byte limit",
            )
        return length

    def _read_body(self, length: int) -> bytes:
        self.body_read = True
        try:
            body = self.rfile.read(length)
        except TimeoutError:
            raise ApiError(HTTPStatus.REQUEST_TIMEOUT, "timed out reading the body") from None
        if len(body) != length:
            raise ApiError(HTTPStatus.BAD_REQUEST, "body is shorter than its Content-Length")
        return body


def _models(handler: Handler) -> None:
    handler.send_json({"models": handler.app.models()})


def _weights(handler: Handler) -> None:
    handler.send_json(handler.app.weights())


def _predict(handler: Handler) -> None:
    image = decode_image_field(handler.read_json())
    try:
        result = handler.app.predict(image)
    except ImageError as error:
        raise ApiError(HTTPStatus.UNPROCESSABLE_ENTITY, f"image cannot be used: {error}") from None
    handler.send_json(result)


def _index(handler: Handler) -> None:
    handler.send_file(handler.server.static["index.html"])


ROUTES: dict[str, dict[str, Callable[[Handler], None]]] = {
    "/": {"GET": _index},
    "/index.html": {"GET": _index},
    "/api/models": {"GET": _models},
    "/api/weights": {"GET": _weights},
    "/api/predict": {"POST": _predict},
}


class ZooServer(ThreadingHTTPServer):
    """A threaded HTTP server for one `DigitApp` (IPv4 or IPv6 `host`; port 0 picks one).

    Args:
        host: the address to listen on, e.g. 127.0.0.1.
        port: the port; 0 lets the system choose a free one (see `url`).
        app: the loaded models; may be set after binding (to fail fast on a busy port), but
            before serving.
        verbose: log every request to stderr.
    """

    daemon_threads = True

    def __init__(self, host: str, port: int, app: DigitApp | None, verbose: bool = False) -> None:
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.app = app
        self.verbose = verbose
        self.routes = ROUTES
        self.static = static_files()
        super().__init__((host, port), Handler)

    def server_bind(self) -> None:
        """Bind without HTTPServer's reverse-DNS lookup of the host (slow when offline)."""
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    @property
    def url(self) -> str:
        """The page's address; a wildcard host is shown as the loopback address."""
        host, port = self.server_address[:2]
        host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)
        return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"
