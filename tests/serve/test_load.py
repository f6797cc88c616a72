"""`zoo serve` as a process under load, over real HTTP on 127.0.0.1 with real MNIST digits: 128
concurrent clients get every answer, right, at a multiple of one client's rate; and SIGTERM
lets the requests in flight finish before the server exits.

The timings are printed (p50, p99, req/s); only the ratio is asserted, loosely, since the CI
box has 2 cores shared with other work. `python -m zoo.serve.load` prints the full table.
"""

from __future__ import annotations

import signal
import socket
import time

import pytest
from helpers.serve_client import raw_status_and_json, read_raw_answer

from zoo.hardware import cpu_name
from zoo.serve.load import (
    LoadResult,
    answered_right,
    format_table,
    mnist_digits,
    predict_request,
    run_levels,
    started_server,
)

CLIENTS = 128
REQUESTS = 1024
# 128 clients must get at least this multiple of one client's answers per second, as the issue
# asks. A quiet 2-core Zen 5 gives 2.7-2.9× (3.7× seen); a server that does not batch or that
# serialises requests gets 1× or less (the old one: 0.1× with 6 of 400 lost). Best of up to 5
# tries, stopping at the first that makes it, so that a burst of other work on the machine does
# not decide it.
MIN_RATIO = 2.5
TRIES = 5


def test_128_clients_all_answered_right_and_faster_than_one(
    capsys: pytest.CaptureFixture[str],
) -> None:
    tries: list[tuple[LoadResult, LoadResult]] = []
    with started_server() as server:
        digits = answered_right(*server.address, mnist_digits(200))
        assert len(digits) >= 190  # 99 %+ models on real test digits
        for _ in range(TRIES):
            one, many = run_levels(server.url, [1, CLIENTS], REQUESTS, digits)
            tries.append((one, many))
            for result in (one, many):
                assert result.requests == REQUESTS
                assert result.failed == 0 and result.wrong == 0, format_table([result])
            if many.throughput >= MIN_RATIO * one.throughput:
                break
    with capsys.disabled():
        print(f"\nzoo serve under load ({cpu_name()}):")
        for one, many in tries:
            print(format_table([one, many]))
    ratios = [many.throughput / one.throughput for one, many in tries]
    assert max(ratios) >= MIN_RATIO, f"128 clients / 1 client: {ratios}"
    # Requests that arrive together share forwards: the batches are large under load.
    assert tries[-1][1].mean_batch is not None and tries[-1][1].mean_batch > 4


def test_sigterm_answers_the_requests_in_flight() -> None:
    with started_server() as server:
        host, port = server.address
        digits = answered_right(host, port, mnist_digits(30))[:8]
        # Eight requests in flight: headers and most of the body sent, the rest held back.
        held = []
        for digit in digits:
            request = predict_request(host, port, digit.png)
            sock = socket.create_connection((host, port), timeout=30)
            sock.sendall(request[:-100])
            held.append((sock, request[-100:]))
        time.sleep(1.0)  # the server has read their headers and waits for their bodies
        server.process.send_signal(signal.SIGTERM)
        time.sleep(1.0)
        with pytest.raises(OSError):  # no new connections once stopping
            socket.create_connection((host, port), timeout=5).close()
        for (sock, rest), digit in zip(held, digits, strict=True):
            with sock:
                sock.sendall(rest)
                status, body = raw_status_and_json(read_raw_answer(sock))
            assert status == 200, body
            assert {p["top"] for p in body["predictions"]} == {digit.label}
        assert server.process.wait(timeout=60) == 0
        log = server.log.read_text()
        assert "zoo serve: stopped" in log and "Traceback" not in log, log
