"""The HTTP side of `zoo serve`: FastAPI on uvicorn, with dynamic batching of the models.

Every response, errors included, is JSON or a file of the page; a bad request gets a status and
`{"error": "..."}` saying what to fix, and never a traceback. A body that is too large, has no
length or the wrong type is refused from its headers, before a byte of it is read.

A prediction goes: headers checked on the event loop; the body read; its JSON, base64 and image
decoded to the 28×28 input on a small thread pool (a bad image fails only its own request); the
input queued on the `Batcher`, which sends all the inputs queued together to the models' process
(`zoo.serve.worker`), where every model runs once on them; the answer written on the event loop.
uvicorn answers SIGTERM and Ctrl+C by refusing new connections and finishing the requests in
flight.

Why not LitServe, which batches too: it decodes requests inside the batch, so one image that
cannot be used fails every request batched with it (measured: 29 to 39 of 40 good digits sent
together with 5 bad images got the bad images' error); its errors are `{"detail": ...}`, and
the limits, page and docs here would have to be wedged around it. It was not faster either: on
2 cores, 128 clients got 360 to 600 answers/s from it (1 or 2 workers) and 550 to 640 from this
server.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import os
import re
import socket
import sys
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from http import HTTPStatus
from importlib import resources
from pathlib import Path
from typing import Any

import httptools
import numpy as np
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from zoo import __version__
from zoo.inference.imaging import ImageError
from zoo.serve import schema
from zoo.serve.app import CURVES_URL, DigitApp
from zoo.serve.batching import Batcher, BatcherClosed
from zoo.serve.worker import ModelWorker, WorkerError

MAX_BODY_BYTES = 2 * 2**20
# From a request's first byte (or a new connection's start) to its last: a client slower than
# this (a stalled upload, or a slow-loris trickling its headers) gets a 408 and is disconnected,
# so it holds neither a connection nor a file descriptor for long.
REQUEST_TIMEOUT_S = 15.0
MAX_URL_BYTES = 16 * 2**10
MAX_HEAD_BYTES = 64 * 2**10  # request line and headers together
MAX_HEADERS = 100
DEFAULT_MAX_BATCH = 64
DEFAULT_BATCH_WAIT_MS = 2.0
STATIC_URL = "/static/"
DOCS_URL = "/docs"
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}
JSON_TYPE = "application/json; charset=utf-8"
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": CSP,
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}
SERVER_NAME = "zoo-serve"
# Added to every response, the parser's own refusals included.
RESPONSE_HEADERS = [(b"server", SERVER_NAME.encode())] + [
    (name.lower().encode(), value.encode()) for name, value in SECURITY_HEADERS.items()
]
DATA_URL = re.compile(r"^data:(?P<type>[^;,]*)(?P<params>(?:;[^;,]*)*),", re.ASCII)
PREDICT_HINT = 'POST a JSON object {"image": "data:image/png;base64,..."}'
ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": schema.ErrorBody, "description": description}
    for status, description in [
        (400, "The body is not a JSON object with a usable 'image' field, or its length is bad."),
        (411, "No Content-Length, or a chunked body."),
        (413, f"The body is over {MAX_BODY_BYTES:,} bytes (refused from Content-Length)."),
        (415, "The body is not UTF-8 application/json."),
        (422, "The image cannot be used: not an image, truncated, too large, or blank."),
        (503, "The models are still loading, or the server is shutting down."),
    ]
}


class ApiError(Exception):
    """A request that cannot be answered: its status and what the client should fix."""

    def __init__(
        self, status: HTTPStatus, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


def static_files() -> dict[str, Path]:
    """The page's files by name: only these are ever served, so no path can escape `static/`."""
    folder = Path(str(resources.files("zoo.serve") / "static"))
    return {p.name: p for p in folder.iterdir() if p.is_file() and p.suffix in CONTENT_TYPES}


def swagger_files() -> dict[str, Path]:
    """Swagger UI's script and style sheet, as the fastapi-offline package bundles them (FastAPI's
    own /docs would load them from a CDN)."""
    folder = Path(str(resources.files("fastapi_offline") / "static"))
    return {name: folder / name for name in ("swagger-ui-bundle.js", "swagger-ui.css")}


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


def body_length(request: Request) -> int:
    """The predict body's length from its headers: 411, 413, 400 or 415 before reading it."""
    headers = request.headers
    if "transfer-encoding" in headers:
        raise ApiError(
            HTTPStatus.LENGTH_REQUIRED,
            "chunked or encoded bodies are not accepted; send a Content-Length",
        )
    values = headers.getlist("content-length")
    if not values:
        raise ApiError(HTTPStatus.LENGTH_REQUIRED, "a Content-Length header is required")
    # The HTTP parser has already refused a non-numeric or repeated Content-Length.
    length = int(values[0])
    if length > MAX_BODY_BYTES:
        raise ApiError(
            HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
            f"body of {length:,} bytes is over the {MAX_BODY_BYTES:,}-byte limit",
        )
    content_type = headers.get("content-type", "")
    media_type, _, params = content_type.partition(";")
    if media_type.strip().lower() != "application/json":
        raise ApiError(
            HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
            f"Content-Type must be application/json, got {content_type or 'none'!r}",
        )
    charset = re.search(r"charset\s*=\s*\"?([\w-]+)", params, re.IGNORECASE)
    if charset and charset[1].lower() not in ("utf-8", "utf8"):
        raise ApiError(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "JSON must be UTF-8 encoded")
    return length


async def read_body(request: Request, length: int) -> bytes:
    """The whole body (`_HttpProtocol` bounds how long it may take to arrive)."""
    body = await request.body()
    if len(body) != length:
        raise ApiError(HTTPStatus.BAD_REQUEST, "body is shorter than its Content-Length")
    return body


def prepared_image(app: DigitApp, body: bytes) -> np.ndarray:
    """The 28×28 model input of a predict body: 400 for bad JSON or fields, 422 for an image
    that cannot be used. Runs on the prepare pool: JSON, base64 and image decoding take time."""
    try:
        payload = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise ApiError(HTTPStatus.BAD_REQUEST, "body is not UTF-8 text") from None
    except (ValueError, RecursionError) as error:
        raise ApiError(HTTPStatus.BAD_REQUEST, f"body is not valid JSON ({error})") from None
    try:
        return app.prepare(decode_image_field(payload))
    except ImageError as error:
        raise ApiError(HTTPStatus.UNPROCESSABLE_ENTITY, f"image cannot be used: {error}") from None


def json_response(
    payload: Any, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    """Compact UTF-8 JSON, never cached."""
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    headers = {"Cache-Control": "no-store", **(headers or {})}
    return Response(body, status, headers, media_type=JSON_TYPE)


def file_response(path: Path, content: bytes | None = None) -> Response:
    """A file of the page (or a curve), revalidated on every load."""
    content = path.read_bytes() if content is None else content
    return Response(content, 200, {"Cache-Control": "no-cache"}, CONTENT_TYPES[path.suffix])


def _shown(path: str) -> str:
    return path if len(path) <= 200 else path[:200] + "…"


class ZooServer:
    """`zoo serve`: the page and JSON API for one `DigitApp` on uvicorn (IPv4 or IPv6 `host`).

    The socket is bound and listening when this returns (port 0 picks a free one, see `url`), so
    a busy port fails fast, before the models load.

    Args:
        host: the address to listen on, e.g. 127.0.0.1.
        port: the port; 0 lets the system choose.
        app: the loaded models; may be set after binding, but before serving (until then the
            API answers 503).
        verbose: log every request (and uvicorn's own messages) to stderr.
        max_batch: the most images one batch runs.
        batch_wait_ms: how long a batch may wait for more images that are on their way.
        threads: torch threads in the models' process.
        prepare_threads: threads decoding images (default: the cores, 2 to 4).
        request_timeout_s: how long a request's head and body may take to arrive, from its
            first byte (then 408, and the connection closes).
    """

    def __init__(
        self,
        host: str,
        port: int,
        app: DigitApp | None,
        verbose: bool = False,
        max_batch: int = DEFAULT_MAX_BATCH,
        batch_wait_ms: float = DEFAULT_BATCH_WAIT_MS,
        threads: int = 1,
        prepare_threads: int | None = None,
        request_timeout_s: float = REQUEST_TIMEOUT_S,
    ) -> None:
        self.request_timeout_s = request_timeout_s
        self.socket = _listening_socket(host, port)
        self.server_address: tuple[str, int] = self.socket.getsockname()[:2]
        self.verbose = verbose
        self.threads = threads
        self.worker: ModelWorker | None = None
        self._app: DigitApp | None = None
        self.app = app
        self.batcher: Batcher[np.ndarray, dict[str, Any]] = Batcher(
            self._run_batch, max_batch, batch_wait_ms / 1000, name="zoo-serve-batcher"
        )
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 2
        self.pool = ThreadPoolExecutor(
            prepare_threads or min(4, max(2, cores or 2)), thread_name_prefix="zoo-serve-prepare"
        )
        self.static = static_files()
        self.asgi = _Headers(build_api(self))
        config = uvicorn.Config(
            self.asgi,
            http=_HttpProtocol.with_timeout(request_timeout_s),
            lifespan="off",
            log_config=None,  # leave logging alone: `zoo serve` sets up its own lines
            log_level="info" if verbose else "error",
            access_log=verbose,
            server_header=False,
            timeout_graceful_shutdown=request_timeout_s + 10,
        )
        self._uvicorn = uvicorn.Server(config)
        self._stopped = threading.Event()

    @property
    def app(self) -> DigitApp | None:
        """The loaded models' app; None while they load (the API answers 503)."""
        return self._app

    @app.setter
    def app(self, app: DigitApp | None) -> None:
        # The models' process starts loading its copy now; `wait_ready` waits for it.
        self._app = app
        if app is not None and self.worker is None:
            keys = [p.key for p in app.predictors]
            self.worker = ModelWorker(keys, app.table, self.threads)

    def wait_ready(self) -> None:
        """Block until the models' process has loaded them (`WorkerError` if it cannot)."""
        if self.worker is not None:
            self.worker.wait_ready()

    def _run_batch(self, images: list[np.ndarray]) -> list[dict[str, Any]]:
        assert self.app is not None and self.worker is not None, "queued before the app was set"
        return self.app.answers(images, self.worker.probabilities(np.stack(images)))

    @property
    def url(self) -> str:
        """The page's address; a wildcard host is shown as the loopback address."""
        host, port = self.server_address[:2]
        host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)
        return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"

    def serve_forever(self) -> None:
        """Serve until `shutdown`, SIGTERM or Ctrl+C (signals only in the main thread); then
        stop accepting, and answer the requests in flight before returning."""
        self._stopped.clear()
        try:
            self._uvicorn.run(sockets=[self.socket])
        finally:
            self._stopped.set()

    def shutdown(self, timeout_s: float = 60) -> None:
        """Stop `serve_forever` (running in another thread) gracefully and wait for it."""
        self._uvicorn.should_exit = True
        self._stopped.wait(timeout_s)

    def server_close(self) -> None:
        """Release the socket, the batcher's thread, the prepare pool and the models' process."""
        self.socket.close()
        self.batcher.close(timeout_s=30)
        self.pool.shutdown(wait=False, cancel_futures=True)
        if self.worker is not None:
            self.worker.close()


def _listening_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto IPPROTO_TCP, not 0: asyncio turns Nagle's algorithm off only on sockets that say
    # so, and with it on, keep-alive answers (headers and body written apart) wait 40 ms for
    # the client's delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((host, port))
        # uvicorn listens again with its own backlog (2048); listening here makes connections
        # that arrive while the models load wait instead of being refused.
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def build_api(server: ZooServer) -> FastAPI:
    """The FastAPI application: the page, its files, the JSON API and its OpenAPI docs."""
    api = FastAPI(
        title="zoo serve",
        version=__version__,
        summary="Draw a digit and see every published MNIST model read it.",
        description="The JSON API behind the draw-a-digit page. Every error is "
        '`{"error": "..."}` saying what to fix.',
        docs_url=None,  # FastAPI's /docs loads Swagger UI from a CDN: ours is served locally
        redoc_url=None,
        openapi_url="/openapi.json",
        redirect_slashes=False,
    )

    def require_app() -> DigitApp:
        if server.app is None:
            raise ApiError(HTTPStatus.SERVICE_UNAVAILABLE, "the models are still loading; retry")
        return server.app

    @api.exception_handler(ApiError)
    async def _api_error(request: Request, error: ApiError) -> Response:
        return json_response({"error": error.message}, error.status, error.headers)

    @api.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, error: StarletteHTTPException) -> Response:
        path = _shown(request.url.path)
        method = request.scope.get("zoo.method", request.method)
        if error.status_code == HTTPStatus.NOT_FOUND:
            return json_response({"error": f"no such page or endpoint: {path}"}, 404)
        if error.status_code == HTTPStatus.METHOD_NOT_ALLOWED:
            allowed = {m.strip() for m in (error.headers or {}).get("Allow", "").split(",")}
            allowed |= {"HEAD"} if "GET" in allowed else set()
            allowed = sorted(allowed - {""})
            message = f"{method} is not allowed on {path}; use {' or '.join(allowed)}"
            return json_response({"error": message}, 405, {"Allow": ", ".join(allowed)})
        return json_response({"error": str(error.detail)}, error.status_code, error.headers)

    @api.exception_handler(Exception)
    async def _internal_error(request: Request, error: Exception) -> Response:
        # Starlette re-raises after this answer, so uvicorn logs the traceback on the server.
        message = "internal server error; the server's log has the details"
        return json_response({"error": message}, 500)

    def serve_file(path: Path, content: bytes) -> Callable[[], Awaitable[Response]]:
        async def endpoint() -> Response:
            return file_response(path, content)

        return endpoint

    # One route per file: a path that names no file of the page cannot reach the disk.
    files = {STATIC_URL + name: path for name, path in server.static.items()}
    files |= {"/": server.static["index.html"], "/index.html": server.static["index.html"]}
    files |= {DOCS_URL: server.static["docs.html"]}
    files |= {f"{DOCS_URL}/{name}": path for name, path in swagger_files().items()}
    for url, path in files.items():
        api.add_api_route(url, serve_file(path, path.read_bytes()), include_in_schema=False)

    @api.get(CURVES_URL + "{name}", include_in_schema=False)
    async def curve(name: str) -> Response:
        app = require_app()
        path = app.card_image(name.removesuffix(".png")) if name.endswith(".png") else None
        if path is None:
            raise ApiError(
                HTTPStatus.NOT_FOUND, f"no such page or endpoint: {CURVES_URL}{_shown(name)}"
            )
        return file_response(path)

    @api.get(
        "/api/models",
        summary="The models every prediction runs",
        responses={200: {"model": schema.ModelsResponse}, 503: ERRORS[503]},
    )
    async def models() -> Response:
        return json_response({"models": require_app().models()})

    @api.get(
        "/api/weights",
        summary="Every published weight, its card and the weights table",
        responses={200: {"model": schema.WeightsResponse}, 503: ERRORS[503]},
    )
    async def weights() -> Response:
        app = require_app()
        # Rendered once, on first use; off the event loop.
        return json_response(
            await asyncio.get_running_loop().run_in_executor(server.pool, app.weights)
        )

    @api.get(
        "/api/health",
        summary="Whether the server is up with its models loaded, and how it batches",
        responses={200: {"model": schema.HealthResponse}, 503: ERRORS[503]},
    )
    async def health() -> Response:
        if server.app is None:
            error = "the models are still loading; retry"
            return json_response({"status": "loading", "error": error}, 503)
        stats = server.batcher.stats()
        batching = {
            "max_batch": server.batcher.max_batch,
            "wait_ms": server.batcher.wait_s * 1000,
            "batches": stats.batches,
            "items": stats.items,
            "largest": stats.largest,
            "queued": stats.queued,
            "preparing": stats.coming,
        }
        keys = [p.key for p in server.app.predictors]
        return json_response({"status": "ok", "models": keys, "batching": batching})

    @api.post(
        "/api/predict",
        summary="Every model's reading of one image of a digit",
        description="Requests that arrive together are batched: each model runs once on all "
        "of them. The body is refused from its headers if it is over "
        f"{MAX_BODY_BYTES:,} bytes, has no Content-Length or is not application/json.",
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": schema.PredictRequest.model_json_schema(),
                    }
                },
            }
        },
        responses={200: {"model": schema.PredictResponse}, **ERRORS},
    )
    async def predict(request: Request) -> Response:
        app = require_app()
        length = body_length(request)
        try:
            body = await read_body(request, length)
        except ClientDisconnect:
            return Response(status_code=400)  # nobody is left to read it
        loop = asyncio.get_running_loop()
        try:
            with server.batcher.coming() as submit:
                image = await loop.run_in_executor(server.pool, prepared_image, app, body)
                result = submit(image)
            answer = await asyncio.wrap_future(result)
        except BatcherClosed:
            raise ApiError(HTTPStatus.SERVICE_UNAVAILABLE, "the server is shutting down") from None
        except WorkerError as error:
            print(f"zoo serve: {error}", file=sys.stderr, flush=True)
            raise ApiError(
                HTTPStatus.INTERNAL_SERVER_ERROR,
                "the models could not run; the server's log has the details",
            ) from None
        return json_response(answer)

    return api


Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
ASGIApp = Callable[
    [Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]], Awaitable[None]
]


class _Headers:
    """The security headers and the Server name on every response, and HEAD served as GET.

    Outside FastAPI, so that even its last-resort 500 carries them; uvicorn itself leaves out
    the body of an answer to HEAD."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(
        self,
        scope: Scope,
        receive: Callable[[], Awaitable[Message]],
        send: Callable[[Message], Awaitable[None]],
    ) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["method"] == "HEAD":
            scope = {**scope, "method": "GET", "zoo.method": "HEAD"}

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if not any(name.lower() == b"cache-control" for name, _ in headers):
                    headers.append((b"cache-control", b"no-store"))  # FastAPI's /openapi.json
                message["headers"] = headers + RESPONSE_HEADERS
            await send(message)

        await self.app(scope, receive, send_with_headers)


class _HeadTooLarge(Exception):
    def __init__(self, status: HTTPStatus, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class _HttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with this server's limits on the request line and headers,
    a deadline on each request's arrival, and JSON (not uvicorn's plain text) for the requests
    that it refuses itself.

    The deadline runs from a request's first byte (a new connection's start, for the first) to
    its last; a request that misses it gets a 408 and the connection closes. uvicorn's own
    keep-alive timeout bounds the wait between an answer and the next request, but nothing
    bounds a request that trickles in: one byte every few seconds would hold its connection,
    and enough of them every file descriptor the server has.
    """

    request_timeout_s = REQUEST_TIMEOUT_S
    _head_bytes = 0
    _url_bytes = 0
    _headers = 0
    _deadline: asyncio.TimerHandle | None = None
    _arriving = False  # a request has begun and not yet fully arrived
    _request_cycle: Any = None  # the arriving request's cycle, once its head is complete

    @classmethod
    def with_timeout(cls, timeout_s: float) -> type[_HttpProtocol]:
        """This protocol with each request bounded to `timeout_s` (uvicorn makes one per
        connection from the class)."""
        return type(cls.__name__, (cls,), {"request_timeout_s": timeout_s})

    def connection_made(self, transport: asyncio.BaseTransport) -> None:  # type: ignore[override]
        """A new connection: it must send its first request in time too."""
        super().connection_made(transport)  # type: ignore[arg-type]
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        """The connection is gone: so is its deadline."""
        self._disarm()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        """A new request: its head is counted afresh, and its deadline starts."""
        self._head_bytes = self._url_bytes = self._headers = 0
        self._arriving, self._request_cycle = True, None
        self._arm()
        super().on_message_begin()

    def on_headers_complete(self) -> None:
        """The head is in: remember its cycle, to tell whether it has been answered."""
        super().on_headers_complete()
        self._request_cycle = self.cycle

    def on_message_complete(self) -> None:
        """The whole request has arrived in time."""
        self._arriving = False
        self._disarm()
        super().on_message_complete()

    def _arm(self) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(self.request_timeout_s, self._timed_out)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _timed_out(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        if self.flow.read_paused:
            # The server holds the rest back (a pipelined request waits for the answer before
            # it): not the client's delay.
            self._arm()
            return
        if self._arriving and not self._answering():
            self.logger.info("%s - request timed out after %g s (408)", self._peer(),
                             self.request_timeout_s)  # fmt: skip
            self._refuse(HTTPStatus.REQUEST_TIMEOUT, self._timeout_message())
        else:
            self.transport.close()

    def _answering(self) -> bool:
        """Whether an answer is under way on the connection (a 408 would garble it)."""
        cycle = self.cycle
        if self.pipeline:
            return True
        if cycle is None:
            return False
        if cycle is self._request_cycle:
            return cycle.response_started
        return not cycle.response_complete

    def _timeout_message(self) -> str:
        waited = f"{self.request_timeout_s:g} s"
        length = dict(self.headers or []).get(b"content-length")
        if self._request_cycle is None or length is None or not length.isdigit():
            return f"the request's headers did not arrive within {waited}; send them at once"
        return (
            f"the body did not arrive within {waited}: send all {int(length):,} bytes "
            "that Content-Length announces"
        )

    def _peer(self) -> str:
        return f"{self.client[0]}:{self.client[1]}" if self.client else "a client"

    def on_url(self, url: bytes) -> None:
        """Refuse a URL over MAX_URL_BYTES (414) while it arrives."""
        self._url_bytes += len(url)
        if self._url_bytes > MAX_URL_BYTES:
            raise _HeadTooLarge(
                HTTPStatus.REQUEST_URI_TOO_LONG,
                f"the URL is over the {MAX_URL_BYTES:,}-byte limit",
            )
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        """Refuse more than MAX_HEADERS headers or MAX_HEAD_BYTES of them (431)."""
        self._headers += 1
        if self._headers > MAX_HEADERS:
            raise _HeadTooLarge(
                HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE,
                f"more than {MAX_HEADERS} headers",
            )
        self._count(len(name) + len(value))
        super().on_header(name, value)

    def _count(self, size: int) -> None:
        self._head_bytes += size
        if self._head_bytes > MAX_HEAD_BYTES:
            raise _HeadTooLarge(
                HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE,
                f"the request line and headers are over the {MAX_HEAD_BYTES:,}-byte limit",
            )

    def send_400_response(self, msg: str) -> None:
        """The answer to a request the HTTP parser refused, as JSON with what to fix."""
        error = sys.exc_info()[1]  # send_400_response is called while handling the error
        self._refuse(*_parser_refusal(error))

    def _refuse(self, status: HTTPStatus, message: str) -> None:
        """Answer `status` with the JSON error `message`, then close the connection."""
        self._disarm()
        body = json.dumps({"error": message}).encode()
        head = [f"HTTP/1.1 {status.value} {status.phrase}".encode()]
        head += [name + b": " + value for name, value in self.server_state.default_headers]
        head += [
            f"content-type: {JSON_TYPE}".encode(),
            f"content-length: {len(body)}".encode(),
            b"cache-control: no-store",
            b"connection: close",
            *(name + b": " + value for name, value in RESPONSE_HEADERS),
        ]
        self.transport.write(b"\r\n".join(head) + b"\r\n\r\n" + body)
        self.transport.close()


def _parser_refusal(error: BaseException | None) -> tuple[HTTPStatus, str]:
    cause = error.__context__ if error is not None else None
    if isinstance(cause, _HeadTooLarge):
        return cause.status, cause.message
    if isinstance(error, httptools.HttpParserInvalidMethodError):
        return (
            HTTPStatus.BAD_REQUEST,
            "not an HTTP request, or an unknown method: use GET, HEAD or POST",
        )
    detail = str(error) if error is not None else "unreadable request"
    return (
        HTTPStatus.BAD_REQUEST,
        f"malformed HTTP request ({detail}); send one request line, headers, and at most one "
        "Content-Length (a number of bytes)",
    )
