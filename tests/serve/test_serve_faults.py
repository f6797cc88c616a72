"""`zoo serve` against rude clients and broken weights, for real: clients on 127.0.0.1 that
hang up early or trickle their requests a byte at a time, and a corrupted copy of a bundled
weight file, loaded in the server's process and in the models' own process."""

from __future__ import annotations

import json
import logging
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from helpers.serve_client import REQUEST_TIMEOUT_S, Client, dark_on_light, png_data_url

import zoo.serve.app as serve_app
from zoo.cli import main
from zoo.serve import DigitApp, ZooServer
from zoo.weights.table import WeightTable, bundled_files_dir, packaged_table_path

TRICKLE_HEAD = b"GET /api/health HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 200 + b"\r\n\r\n"


def connect(client: Client) -> socket.socket:
    """A fresh connection to the test server."""
    return socket.create_connection((client.host, client.port), timeout=30)


def reset(sock: socket.socket) -> None:
    """Hang up abruptly: a TCP reset, as a crashed client or a closed browser tab sends."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def trickle(sock: socket.socket, data: bytes, every_s: float) -> tuple[float, bytes]:
    """Send `data` a byte every `every_s` until the server answers or closes; (seconds it took,
    what the server sent)."""
    started = time.monotonic()
    sock.settimeout(every_s)
    answer = b""
    for byte in data:
        try:
            sock.send(bytes([byte]))
            while chunk := sock.recv(65536):
                answer += chunk
            break  # the server closed the connection
        except TimeoutError:
            continue
        except (BrokenPipeError, ConnectionResetError):
            break
    return time.monotonic() - started, answer


def predict_request(png: bytes) -> bytes:
    """The raw bytes of a predict request for `png`."""
    body = json.dumps({"image": png_data_url(png)}).encode()
    head = (
        "POST /api/predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


# --- slow clients ----------------------------------------------------------------------------


def test_headers_trickled_a_byte_at_a_time_get_408_within_the_bound(
    client: Client, mnist_digits
) -> None:
    images, _ = mnist_digits
    served: list[int] = []

    def others() -> None:
        # Other clients are answered while the slow one holds its connection.
        while len(served) < 5:
            served.append(client.predict(dark_on_light(images[0])).status)

    with connect(client) as sock:
        helper = threading.Thread(target=others)
        helper.start()
        took, answer = trickle(sock, TRICKLE_HEAD, every_s=0.2)
        helper.join(timeout=30)
    assert REQUEST_TIMEOUT_S - 0.5 <= took < REQUEST_TIMEOUT_S + 1.5, took
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408 "), answer
    assert b"connection: close" in head.lower()
    assert "headers did not arrive" in json.loads(body)["error"]
    assert served == [200] * 5


def test_a_connection_that_sends_nothing_is_closed_within_the_bound(client: Client) -> None:
    with connect(client) as sock:
        started = time.monotonic()
        assert sock.recv(100) == b""  # closed, without an answer to a request never made
        assert time.monotonic() - started < REQUEST_TIMEOUT_S + 1.5


def test_many_slow_clients_are_all_cut_off_and_others_are_served(
    client: Client, mnist_digits
) -> None:
    images, labels = mnist_digits
    results: list[tuple[float, bytes]] = []

    def slow() -> None:
        with connect(client) as sock:
            results.append(trickle(sock, TRICKLE_HEAD, every_s=0.5))

    threads = [threading.Thread(target=slow) for _ in range(40)]
    for thread in threads:
        thread.start()
    time.sleep(0.5)
    reply = client.predict(dark_on_light(images[1]))
    assert reply.status == 200
    assert {p["top"] for p in reply.json()["predictions"]} == {str(labels[1])}
    for thread in threads:
        thread.join(timeout=30)
    assert len(results) == 40
    assert all(took < REQUEST_TIMEOUT_S + 2 and answer.startswith(b"HTTP/1.1 408 ")
               for took, answer in results), results  # fmt: skip


def test_the_bound_is_per_request_on_a_keep_alive_connection(client: Client) -> None:
    """Quick requests on one connection may together take longer than the bound."""
    with connect(client) as sock:
        reader = sock.makefile("rb")
        for _ in range(3):
            sock.sendall(b"GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n")
            status = reader.readline()
            length = 0
            while (line := reader.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            reader.read(length)
            assert status.startswith(b"HTTP/1.1 200 "), status
            time.sleep(REQUEST_TIMEOUT_S * 0.6)


def test_a_body_trickled_in_gets_408_naming_its_length(client: Client) -> None:
    head = (b"POST /api/predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 400\r\n\r\n")  # fmt: skip
    with connect(client) as sock:
        sock.sendall(head)
        took, answer = trickle(sock, b'{"image": "' + b"A" * 380 + b'"}', every_s=0.2)
    assert took < REQUEST_TIMEOUT_S + 1.5
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert "all 400 bytes" in json.loads(answer.partition(b"\r\n\r\n")[2])["error"]


# --- clients that hang up --------------------------------------------------------------------


def hang_ups(client: Client, png: bytes) -> list[Callable[[], None]]:
    """Every way of hanging up early: before the answer, mid-upload, mid-download."""
    predict = predict_request(png)
    big = b"GET /docs/swagger-ui-bundle.js HTTP/1.1\r\nHost: x\r\n\r\n"

    def send_then(data: bytes, close: Callable[[socket.socket], None], read: int = 0) -> None:
        sock = connect(client)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.sendall(data)
        if read:
            sock.recv(read)
        close(sock)

    return [
        lambda: send_then(predict, reset),
        lambda: send_then(predict, socket.socket.close),
        lambda: send_then(predict[: len(predict) // 2], reset),
        lambda: send_then(predict[: len(predict) // 2], socket.socket.close),
        lambda: send_then(big * 3, reset, read=1000),
        lambda: send_then(big, socket.socket.close, read=10),
        lambda: send_then(b"GET /api/weights HTTP/1.1\r\nHost: x\r\n\r\n", reset),
    ]


def test_clients_that_hang_up_early_leave_no_traceback(
    client: Client,
    mnist_digits,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    images, labels = mnist_digits
    caplog.set_level(logging.DEBUG)
    capfd.readouterr()
    for _ in range(5):
        for hang_up in hang_ups(client, dark_on_light(images[2])):
            hang_up()
    time.sleep(1)  # let the server notice every hang-up
    reply = client.predict(dark_on_light(images[2]))
    assert reply.status == 200
    assert {p["top"] for p in reply.json()["predictions"]} == {str(labels[2])}
    noisy = [r for r in caplog.records if r.exc_info or r.levelno >= logging.WARNING]
    assert not noisy, [r.getMessage() for r in noisy]
    assert "Traceback" not in capfd.readouterr().err


@pytest.mark.slow
def test_zoo_serve_logs_one_line_for_rude_clients_and_no_traceback(mnist_digits) -> None:
    """The real command, with its own logging: hang-ups leave nothing in its log, a slow
    client one short line (with --verbose), and it still stops cleanly."""
    images, _ = mnist_digits
    process = subprocess.Popen(
        [sys.executable, "-m", "zoo", "serve", "--port", "0", "--request-timeout", "1",
         "--verbose"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        line = process.stdout.readline()
        port = int(re.search(r":(\d+)/", line)[1])
        client = Client("127.0.0.1", port)
        for hang_up in hang_ups(client, dark_on_light(images[0])):
            hang_up()
        with connect(client) as sock:
            took, answer = trickle(sock, TRICKLE_HEAD, every_s=0.2)
        assert took < 2.5 and answer.startswith(b"HTTP/1.1 408 ")
        assert client.predict(dark_on_light(images[0])).status == 200
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=60)
    assert "Traceback" not in err and "Error" not in err, err
    timed_out = [line for line in err.splitlines() if "timed out" in line]
    assert len(timed_out) == 1, err
    assert re.fullmatch(r"zoo serve: 127\.0\.0\.1:\d+ - request timed out after 1 s \(408\)",
                        timed_out[0]), timed_out  # fmt: skip
    assert err.rstrip().endswith("zoo serve: stopped")


# --- corrupted weights -----------------------------------------------------------------------


def corrupted_table(folder: Path, how: str) -> tuple[WeightTable, Path]:
    """A real copy of the bundled weights table and files, one file of them corrupted."""
    shutil.copytree(bundled_files_dir(), folder / "published")
    shutil.copy(packaged_table_path(), folder / "published.json")
    table = WeightTable(folder / "published.json", folder / "published")
    victim = table.files_dir / f"{serve_app.shown_weights(table)[0].key}.safetensors"
    data = victim.read_bytes()
    if how == "truncated":
        victim.write_bytes(data[: len(data) // 3])
    else:  # same size, other bytes: only the SHA-256 can tell
        victim.write_bytes(data[:-8] + bytes(b ^ 0xFF for b in data[-8:]))
    return table, victim


def only_error_line(err: str) -> str:
    """The one line of `zoo serve`'s error, after its progress line."""
    lines = [line for line in err.splitlines() if "loading the models" not in line]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@pytest.mark.parametrize("how", ["truncated", "bit-flipped"])
def test_corrupted_weight_is_one_line_from_zoo_serve(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    how: str,
) -> None:
    table, victim = corrupted_table(tmp_path, how)
    monkeypatch.setattr(serve_app, "default_table", lambda: table)
    assert main(["serve", "--port", "0"]) == 2
    line = only_error_line(capsys.readouterr().err)
    assert line.startswith(f"zoo serve: {victim}")
    assert ("bytes, not the" if how == "truncated" else "SHA-256") in line
    assert " — " in line  # and how to fix it


def test_corrupted_weight_in_the_models_process_is_one_line(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    digit_app: DigitApp,
) -> None:
    """The server's process read the good files; the models' process meets the bad one."""
    table, victim = corrupted_table(tmp_path, "bit-flipped")
    app = DigitApp(digit_app.predictors, table)
    monkeypatch.setattr(DigitApp, "load", classmethod(lambda cls, table=None: app))
    assert main(["serve", "--port", "0"]) == 2
    line = only_error_line(capsys.readouterr().err)
    assert line.startswith("zoo serve: the model process could not load the models: ")
    assert str(victim) in line and "SHA-256" in line and " — " in line


def test_a_server_after_a_failed_load_releases_its_port(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Nothing is left behind: the port the failed server bound is free again."""
    table, _ = corrupted_table(tmp_path, "truncated")
    monkeypatch.setattr(serve_app, "default_table", lambda: table)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    assert main(["serve", "--port", str(port)]) == 2
    capsys.readouterr()
    ZooServer("127.0.0.1", port, None).server_close()
