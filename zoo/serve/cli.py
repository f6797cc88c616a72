"""`zoo serve`: parse the options, load the models once, serve until SIGTERM or Ctrl+C."""

from __future__ import annotations

import argparse
import ipaddress
import logging
import os
import signal
import sys
import webbrowser
from types import FrameType

from zoo.errors import RunFailed
from zoo.serve.server import (
    DEFAULT_BATCH_WAIT_MS,
    DEFAULT_MAX_BATCH,
    REQUEST_TIMEOUT_S,
    ZooServer,
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="zoo serve",
        description="Serve a page to draw a digit on (mouse, pen or finger) and see every "
        "published MNIST model's prediction, the 28×28 image it saw, and the weights' cards; "
        "its JSON API is documented at /docs.",
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine)"
    )
    parser.add_argument(
        "--port", type=int, default=8000, help="port (default 8000; 0 picks a free one)"
    )
    parser.add_argument("--open", action="store_true", help="open the page in a web browser")
    parser.add_argument(
        "--max-batch", type=int, default=DEFAULT_MAX_BATCH, metavar="N",
        help=f"the most images one forward of each model runs (default {DEFAULT_MAX_BATCH})",
    )  # fmt: skip
    parser.add_argument(
        "--batch-wait-ms", type=float, default=DEFAULT_BATCH_WAIT_MS, metavar="MS",
        help="how long a batch may wait for requests still decoding their image "
        f"(default {DEFAULT_BATCH_WAIT_MS:g}; a lone request never waits)",
    )  # fmt: skip
    parser.add_argument(
        "--threads", type=int, default=None, metavar="N",
        help="torch threads for the models (default: half the cores, at least 1; the others "
        "decode images and answer HTTP)",
    )  # fmt: skip
    parser.add_argument(
        "--request-timeout", type=float, default=REQUEST_TIMEOUT_S, metavar="S",
        help="how long a request's headers and body may take to arrive, from its first byte "
        f"(default {REQUEST_TIMEOUT_S:g}; a slower client gets 408 and is disconnected)",
    )  # fmt: skip
    parser.add_argument(
        "--verbose", action="store_true", help="log every request and the server's messages"
    )
    return parser


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _Terminated(Exception):
    """SIGTERM, raised once uvicorn has finished the requests in flight."""


def _terminated(signum: int, frame: FrameType | None) -> None:
    raise _Terminated


def serve_command(argv: list[str]) -> int:
    """Serve until SIGTERM or Ctrl+C (answering the requests in flight first).

    Raises `RunFailed` if the address cannot be listened on, `WeightError` or `WorkerError`
    if the models cannot load (`zoo.cli.main` prints the one line); exits 2 on bad arguments."""
    parser = _parser()
    args = parser.parse_args(argv)
    if not 0 <= args.port <= 65535:
        parser.error(f"--port must be between 0 and 65535, got {args.port}")
    if not 1 <= args.max_batch <= 4096:
        parser.error(f"--max-batch must be between 1 and 4096, got {args.max_batch}")
    if not 0 <= args.batch_wait_ms <= 1000:
        parser.error(f"--batch-wait-ms must be between 0 and 1000, got {args.batch_wait_ms:g}")
    if args.threads is not None and args.threads < 1:
        parser.error(f"--threads must be at least 1, got {args.threads}")
    if not 0.1 <= args.request_timeout <= 3600:
        parser.error(
            f"--request-timeout must be between 0.1 and 3600, got {args.request_timeout:g}"
        )
    # The models run batches in a process of their own; on small machines, torch's default of
    # every core would fight the threads that decode images and answer HTTP, and spin.
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    threads = args.threads or max(1, (cores or 2) // 2)
    try:
        server = ZooServer(
            args.host, args.port, None, args.verbose, args.max_batch, args.batch_wait_ms, threads,
            request_timeout_s=args.request_timeout,
        )  # fmt: skip
    except OSError as error:
        raise RunFailed(
            f"cannot listen on {args.host}:{args.port}: {error.strerror or error}",
            "choose another --port (0 picks a free one) or --host",
        ) from None
    _log_to_stderr(args.verbose)
    # uvicorn handles SIGTERM itself while serving, then raises it again with this handler.
    previous = signal.signal(signal.SIGTERM, _terminated)
    try:
        _serve(server, args.host, args.open)
    except (KeyboardInterrupt, _Terminated):
        print("zoo serve: stopped", file=sys.stderr)
    finally:
        signal.signal(signal.SIGTERM, previous)
        server.server_close()
    return 0


def _log_to_stderr(verbose: bool) -> None:
    # uvicorn's messages, as `zoo serve:` lines; without --verbose only its errors (a bad
    # request is answered with a JSON error, and is no news for the server's log).
    logger = logging.getLogger("uvicorn")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("zoo serve: %(message)s"))
        logger.addHandler(handler)
        logger.propagate = False
    logger.setLevel(logging.INFO if verbose else logging.ERROR)


def _serve(server: ZooServer, host: str, open_browser: bool) -> None:
    from zoo.serve.app import DigitApp

    if not _is_loopback(host):
        print(
            f"zoo serve: listening on {host}: other machines on the network can use the page",
            file=sys.stderr,
        )
    print("zoo serve: loading the models…", file=sys.stderr, flush=True)
    server.app = DigitApp.load()
    server.wait_ready()
    print(f"zoo serve: {server.url}  (Ctrl+C stops)", flush=True)
    if open_browser:
        webbrowser.open(server.url)
    server.serve_forever()
