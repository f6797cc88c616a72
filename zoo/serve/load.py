"""`python -m zoo.serve.load`: how `zoo serve` holds up when many clients ask at once.

Real MNIST test digits, drawn dark on light and sent as PNG data URLs the way the page sends its
canvas, are posted to /api/predict by N clients at once (each client one request at a time, on
its own keep-alive connection), for each N in `--clients`. Every answer is checked: status 200,
and every model's top label is the digit's own. Prints clients, requests, req/s, p50 and p99
latency, failed and wrong answers, and the mean batch the server ran. Without `--url` it starts
`zoo serve` on a free port of 127.0.0.1 for the run and stops it afterwards.

    python -m zoo.serve.load --clients 1,8,32,64,128 --requests 400
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import io
import json
import math
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np
from PIL import Image

from zoo.data.idx import read_idx
from zoo.hardware import cpu_name

PREDICT_PATH = "/api/predict"
HEALTH_PATH = "/api/health"
DEFAULT_CLIENTS = (1, 8, 32, 64, 128)
REQUEST_TIMEOUT_S = 60.0
SERVER_START_TIMEOUT_S = 180.0


@dataclass(frozen=True)
class Digit:
    """One real MNIST test digit as the PNG a canvas would send, and its label."""

    png: bytes
    label: str


def mnist_digits(count: int, scale: int = 4) -> list[Digit]:
    """The first `count` MNIST test digits (the copy bundled with zoo), each as a PNG of dark ink
    on white paper `scale`× larger: the server has to invert, crop and resize it, as a drawing."""
    folder = resources.files("zoo.data") / "assets" / "mnist"
    images = read_idx(Path(str(folder / "t10k-images-idx3-ubyte.gz")))[:count].numpy()
    labels = read_idx(Path(str(folder / "t10k-labels-idx1-ubyte.gz")))[:count].numpy()
    return [
        Digit(_dark_on_light(image, scale), str(int(label)))
        for image, label in zip(images, labels, strict=True)
    ]


def _dark_on_light(digit: np.ndarray, scale: int) -> bytes:
    size = (28 * scale, 28 * scale)
    image = Image.fromarray(255 - digit).resize(size, Image.Resampling.BICUBIC)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def predict_request(host: str, port: int, png: bytes) -> bytes:
    """The raw HTTP/1.1 request the page sends for a drawing: JSON holding a PNG data URL."""
    body = json.dumps({"image": "data:image/png;base64," + base64.b64encode(png).decode()})
    head = (
        f"POST {PREDICT_PATH} HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode("ascii") + body.encode("ascii")


@dataclass
class LoadResult:
    """What one load level measured: answers, their latencies, and what went wrong."""

    clients: int
    seconds: float = 0.0
    latencies_s: list[float] = field(default_factory=list)  # of every answered request
    failed: int = 0  # no answer, or an answer that is not 200
    unanswered: int = 0  # of those, no answer at all (refused, reset, timed out)
    wrong: int = 0  # 200, but some model's top label is not the digit's
    errors: Counter[str] = field(default_factory=Counter)
    mean_batch: float | None = None  # the server's mean batch size over this level

    @property
    def requests(self) -> int:
        """Requests sent: answered or not."""
        return len(self.latencies_s) + self.unanswered

    @property
    def throughput(self) -> float:
        """Answers per second, over the whole level (from the first send to the last answer)."""
        return len(self.latencies_s) / self.seconds if self.seconds else 0.0

    def percentile_ms(self, q: float) -> float:
        """The latency (ms) that `q` % of the answered requests took at most (nearest rank)."""
        if not self.latencies_s:
            return math.nan
        ordered = sorted(self.latencies_s)
        rank = max(1, math.ceil(q / 100 * len(ordered)))
        return 1000 * ordered[rank - 1]

    def to_json(self) -> dict[str, Any]:
        """The table row as JSON."""
        return {
            "clients": self.clients,
            "requests": self.requests,
            "req_per_s": round(self.throughput, 1),
            "p50_ms": round(self.percentile_ms(50), 2),
            "p99_ms": round(self.percentile_ms(99), 2),
            "failed": self.failed,
            "wrong": self.wrong,
            "mean_batch": None if self.mean_batch is None else round(self.mean_batch, 2),
            "errors": dict(self.errors),
        }


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bool, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    version, status, *_ = lines[0].split()
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    # HTTP/1.0 closes after each answer unless it says otherwise; HTTP/1.1 keeps the connection.
    keep_alive = headers.get("connection", "").lower() != "close" and version == "HTTP/1.1"
    return int(status), keep_alive, body


def _is_right(body: bytes, label: str) -> bool:
    try:
        predictions = json.loads(body)["predictions"]
        return bool(predictions) and all(p["top"] == label for p in predictions)
    except (ValueError, KeyError, TypeError):
        return False


async def measure(
    host: str,
    port: int,
    digits: Sequence[Digit],
    clients: int,
    requests: int,
    fresh_connections: bool = False,
    timeout_s: float = REQUEST_TIMEOUT_S,
) -> LoadResult:
    """Send `requests` predictions (cycling through `digits`) from `clients` concurrent clients,
    each sending its next request when its last is answered; check and time every answer."""
    if clients < 1 or requests < 1 or not digits:
        raise ValueError("measure needs at least one client, one request and one digit")
    wire = [predict_request(host, port, d.png) for d in digits]
    jobs = iter(range(requests))  # shared: each client takes the next job when it is free
    result = LoadResult(clients)

    async def client() -> None:
        connection: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        for job in jobs:
            digit = job % len(digits)
            start = time.perf_counter()
            try:
                if connection is None:
                    connection = await asyncio.wait_for(
                        asyncio.open_connection(host, port), timeout_s
                    )
                reader, writer = connection
                writer.write(wire[digit])
                status, keep_alive, body = await asyncio.wait_for(_read_response(reader), timeout_s)
            except (
                OSError,
                asyncio.TimeoutError,
                asyncio.IncompleteReadError,
                ValueError,
            ) as error:
                result.failed += 1
                result.unanswered += 1
                result.errors[type(error).__name__] += 1
                connection = _close(connection)
                continue
            result.latencies_s.append(time.perf_counter() - start)
            if status != 200:
                result.failed += 1
                result.errors[f"HTTP {status}"] += 1
            elif not _is_right(body, digits[digit].label):
                result.wrong += 1
            if fresh_connections or not keep_alive:
                connection = _close(connection)
        _close(connection)

    start = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    result.seconds = time.perf_counter() - start
    return result


def _close(connection: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None) -> None:
    if connection is not None:
        connection[1].close()


def get_json(host: str, port: int, path: str, timeout_s: float = 30) -> tuple[int, Any]:
    """GET `path` and its JSON body."""
    import http.client

    connection = http.client.HTTPConnection(host, port, timeout=timeout_s)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def answered_right(host: str, port: int, digits: Sequence[Digit]) -> list[Digit]:
    """The digits every model reads right, asked one at a time (which also warms the server up).

    The load then checks each answer against the label: an answer that changed under load, or
    that belongs to another request of the same batch, shows as wrong."""
    result = asyncio.run(_each_once(host, port, digits))
    return [d for d, ok in zip(digits, result, strict=True) if ok]


async def _each_once(host: str, port: int, digits: Sequence[Digit]) -> list[bool]:
    connection = None
    right = []
    try:
        for digit in digits:
            if connection is None:
                connection = await asyncio.open_connection(host, port)
            connection[1].write(predict_request(host, port, digit.png))
            read = _read_response(connection[0])
            status, keep_alive, body = await asyncio.wait_for(read, REQUEST_TIMEOUT_S)
            if status != 200:
                raise RuntimeError(f"the server answered {status} to a real digit: {body[:300]!r}")
            right.append(_is_right(body, digit.label))
            if not keep_alive:
                connection = _close(connection)
        return right
    finally:
        _close(connection)


def _batches(host: str, port: int) -> tuple[int, int] | None:
    try:
        _, body = get_json(host, port, HEALTH_PATH)
        batching = body["batching"]
        return int(batching["batches"]), int(batching["items"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def run_levels(
    url: str,
    levels: Sequence[int],
    requests: int,
    digits: Sequence[Digit],
    fresh_connections: bool = False,
) -> list[LoadResult]:
    """`measure` at each number of clients in turn against the server at `url`."""
    host, port = _address(url)
    results = []
    for clients in levels:
        before = _batches(host, port)
        result = asyncio.run(measure(host, port, digits, clients, requests, fresh_connections))
        after = _batches(host, port)
        if before and after and after[0] > before[0]:
            result.mean_batch = (after[1] - before[1]) / (after[0] - before[0])
        results.append(result)
    return results


def _address(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname or not parts.port:
        raise ValueError(f"expected a URL like http://127.0.0.1:8000/, got {url!r}")
    return parts.hostname, parts.port


@dataclass
class ServerProcess:
    """A `zoo serve` started by `started_server`: its process, page URL and log file."""

    process: subprocess.Popen[str]
    url: str
    log: Path

    @property
    def address(self) -> tuple[str, int]:
        """Host and port."""
        return _address(self.url)

    def stop(self, timeout_s: float = 60) -> int:
        """SIGTERM (graceful: what is in flight is answered), then wait; the exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()


@contextlib.contextmanager
def started_server(args: Sequence[str] = ()) -> Iterator[ServerProcess]:
    """`zoo serve --port 0 ARGS` in a child process, ready to serve; stopped on leaving."""
    with tempfile.TemporaryDirectory(prefix="zoo-serve-load-") as folder:
        log = Path(folder) / "stderr.log"
        with log.open("w") as stderr:
            process = subprocess.Popen(
                [sys.executable, "-m", "zoo", "serve", "--port", "0", *args],
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
            )
        server = ServerProcess(process, "", log)
        try:
            server.url = _wait_for_url(process, log)
            yield server
        finally:
            server.stop()
            if process.stdout:
                process.stdout.close()


def _wait_for_url(process: subprocess.Popen[str], log: Path) -> str:
    # The server prints its URL once the models are loaded and it listens.
    assert process.stdout is not None
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    line = ""
    while time.monotonic() < deadline and process.poll() is None:
        line = process.stdout.readline()
        if line.startswith("zoo serve: http://"):
            return line.split()[2]
    raise RuntimeError(
        f"zoo serve did not start (exit status {process.poll()}, last line {line!r}): "
        + log.read_text(errors="replace")[-2000:]
    )


def format_table(results: Sequence[LoadResult]) -> str:
    """The results as an aligned text table, one row per number of clients."""
    lines = ["clients  requests    req/s   p50 ms   p99 ms  failed  wrong  mean batch"]
    for r in results:
        batch = f"{r.mean_batch:10.1f}" if r.mean_batch is not None else f"{'?':>10}"
        lines.append(
            f"{r.clients:7d}  {r.requests:8d}  {r.throughput:7.1f}  {r.percentile_ms(50):7.1f}  "
            f"{r.percentile_ms(99):7.1f}  {r.failed:6d}  {r.wrong:5d}  {batch}"
        )
    one = next((r for r in results if r.clients == 1), None)
    if one and one.throughput:
        for r in results:
            if r.clients > 1:
                lines.append(
                    f"{r.clients} clients / 1 client: {r.throughput / one.throughput:.1f}×"
                )
    errors = Counter[str]()
    for r in results:
        errors.update(r.errors)
    if errors:
        lines.append("errors: " + ", ".join(f"{k} ×{v}" for k, v in errors.most_common()))
    return "\n".join(lines)


def _levels(text: str) -> list[int]:
    try:
        levels = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected numbers like 1,8,32, got {text!r}") from None
    if not levels or min(levels) < 1:
        raise argparse.ArgumentTypeError(f"every number of clients must be at least 1: {text!r}")
    return levels


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m zoo.serve.load",
        description="Post real MNIST digits to zoo serve's /api/predict from many clients at "
        "once and print requests per second, p50/p99 latency and failures per number of clients.",
    )
    parser.add_argument(
        "--url", help="a running zoo serve (default: start one on a free port for the run)"
    )
    parser.add_argument(
        "--clients",
        type=_levels,
        default=list(DEFAULT_CLIENTS),
        help="concurrent clients, "
        f"one level after another (default {','.join(map(str, DEFAULT_CLIENTS))})",
    )
    parser.add_argument(
        "--requests", type=int, default=400, help="requests at each level (default 400)"
    )
    parser.add_argument(
        "--digits", type=int, default=200, help="distinct MNIST test digits sent (default 200)"
    )
    parser.add_argument(
        "--fresh-connections",
        action="store_true",
        help="open a new connection for every request instead of keeping one per client",
    )
    parser.add_argument("--json", action="store_true", help="print the rows as JSON lines too")
    parser.add_argument(
        "serve_args",
        nargs=argparse.REMAINDER,
        help="after --: arguments for the zoo serve this starts, e.g. -- --max-batch 32",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the load levels and print the table; exit 1 if any request failed or was wrong."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.requests < 1 or not 1 <= args.digits <= 10_000:
        parser.error("--requests must be at least 1 and --digits between 1 and 10000")
    serve_args = [a for a in args.serve_args if a != "--"]
    if args.url and serve_args:
        parser.error("zoo serve arguments only apply to the server this starts, not to --url")
    digits = mnist_digits(args.digits)
    with contextlib.ExitStack() as stack:
        url = args.url or stack.enter_context(started_server(serve_args)).url
        kept = answered_right(*_address(url), digits)
        if not kept:
            print("zoo serve load: no digit was read right by every model", file=sys.stderr)
            return 1
        connections = "a new connection per request" if args.fresh_connections else "keep-alive"
        print(
            f"zoo serve load: {url} · {len(kept)} real MNIST test digits (of {len(digits)}; "
            f"those every model reads right) as PNGs, POST {PREDICT_PATH}, {connections}"
        )
        if serve_args:
            print(f"server: zoo serve {' '.join(serve_args)}")
        print(f"CPU: {cpu_name()}", flush=True)
        results = run_levels(url, args.clients, args.requests, kept, args.fresh_connections)
    print(format_table(results))
    if args.json:
        for result in results:
            print(json.dumps(result.to_json()))
    return 1 if any(r.failed or r.wrong for r in results) else 0


if __name__ == "__main__":
    raise SystemExit(main())
