"""`zoo serve`: parse the address, load the models once, serve until Ctrl+C."""

from __future__ import annotations

import argparse
import ipaddress
import sys
import webbrowser

from zoo.serve.app import DigitApp
from zoo.serve.server import ZooServer


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="zoo serve",
        description="Serve a page to draw a digit on (mouse, pen or finger) and see every "
        "published MNIST model's prediction, the 28×28 image it saw, and the weights' cards.",
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine)"
    )
    parser.add_argument(
        "--port", type=int, default=8000, help="port (default 8000; 0 picks a free one)"
    )
    parser.add_argument("--open", action="store_true", help="open the page in a web browser")
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    return parser


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve_command(argv: list[str]) -> int:
    """Serve until Ctrl+C; exit 1 if the address cannot be listened on, 2 on bad arguments."""
    parser = _parser()
    args = parser.parse_args(argv)
    if not 0 <= args.port <= 65535:
        parser.error(f"--port must be between 0 and 65535, got {args.port}")
    try:
        server = ZooServer(args.host, args.port, None, verbose=args.verbose)
    except OSError as error:
        print(
            f"zoo serve: cannot listen on {args.host}:{args.port}: {error.strerror or error}; "
            "choose another --port (0 picks a free one) or --host",
            file=sys.stderr,
        )
        return 1
    try:
        _serve(server, args.host, args.open)
    except KeyboardInterrupt:
        print("zoo serve: stopped", file=sys.stderr)
    finally:
        server.server_close()
    return 0


def _serve(server: ZooServer, host: str, open_browser: bool) -> None:
    if not _is_loopback(host):
        print(
            f"zoo serve: listening on {host}: other machines on the network can use the page",
            file=sys.stderr,
        )
    print("zoo serve: loading the models…", file=sys.stderr, flush=True)
    server.app = DigitApp.load()
    print(f"zoo serve: {server.url}  (Ctrl+C stops)", flush=True)
    if open_browser:
        webbrowser.open(server.url)
    server.serve_forever()
