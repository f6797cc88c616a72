"""Fixtures for `zoo serve`: the real server on 127.0.0.1 (a free port) in a thread, its models
in their own process as always, an HTTP client for it, and real MNIST test digits."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import numpy as np
import pytest
from helpers.serve_client import REQUEST_TIMEOUT_S, Client

from zoo.serve import DigitApp, ZooServer


@pytest.fixture(scope="session")
def digit_app() -> DigitApp:
    """The published MNIST models, loaded once for all serve tests."""
    return DigitApp.load()


@pytest.fixture(scope="session")
def server(digit_app: DigitApp) -> Iterator[ZooServer]:
    """The real `zoo serve` server on 127.0.0.1 and a free port, serving from a thread; bodies
    must arrive within REQUEST_TIMEOUT_S (short, so that the 408 tests are quick)."""
    httpd = ZooServer("127.0.0.1", 0, digit_app, request_timeout_s=REQUEST_TIMEOUT_S)
    httpd.wait_ready()
    thread = threading.Thread(target=httpd.serve_forever, name="zoo-serve-test", daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=10)


@pytest.fixture(scope="session")
def client(server: ZooServer) -> Client:
    """An HTTP client for the test server."""
    host, port = server.server_address[:2]
    return Client(host, port)


@pytest.fixture(scope="session")
def mnist_digits(mnist) -> tuple[np.ndarray, np.ndarray]:
    """The first 40 real MNIST test digits, uint8 (40, 28, 28), and their labels."""
    images, labels = mnist.splits["test"]
    return images[:40].reshape(-1, 28, 28).numpy(), labels[:40].numpy()
