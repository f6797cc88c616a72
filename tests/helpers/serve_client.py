"""An HTTP client for the `zoo serve` tests and real digits as the PNGs a canvas would send."""

from __future__ import annotations

import base64
import http.client
import io
import json
import re
import socket
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

# The test server's limit on how long a request's headers and body may take to arrive (then
# 408): short, so that the tests of it are quick.
REQUEST_TIMEOUT_S = 2.0


@dataclass
class Reply:
    """One HTTP response: status, headers (lower-case names), raw body, and the body as JSON."""

    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        """The body parsed as JSON (fails the test if it is not JSON)."""
        return json.loads(self.body.decode("utf-8"))


class Client:
    """Plain HTTP/1.0-style requests to the test server, one connection each."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        """Send one request exactly as given (http.client adds Content-Length for a body)."""
        connection = http.client.HTTPConnection(self.host, self.port, timeout=30)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            headers_out = {k.lower(): v for k, v in response.getheaders()}
            return Reply(response.status, headers_out, response.read())
        finally:
            connection.close()

    def get(self, path: str) -> Reply:
        """GET `path`."""
        return self.request("GET", path)

    def predict(self, image: str | bytes | Any) -> Reply:
        """POST `{"image": image}` to /api/predict; PNG bytes become a data URL."""
        if isinstance(image, bytes):
            image = png_data_url(image)
        body = json.dumps({"image": image}).encode()
        return self.request("POST", "/api/predict", body, {"Content-Type": "application/json"})


def png_bytes(image: Image.Image) -> bytes:
    """The image as PNG file bytes."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def png_data_url(data: bytes) -> str:
    """PNG bytes as the data URL a canvas's toDataURL() gives."""
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def dark_on_light(digit: np.ndarray, scale: int = 4) -> bytes:
    """An MNIST digit (light on dark, 28×28) as a PNG of dark ink on white paper, `scale`×
    larger: what a drawing or a scan looks like, so the server has to invert and resize it."""
    image = Image.fromarray(255 - digit).resize((28 * scale, 28 * scale), Image.Resampling.BICUBIC)
    return png_bytes(image)


def read_raw_answer(sock: socket.socket) -> bytes:
    """Bytes of the server's answer on `sock`: up to the end of its Content-Length, or to the
    connection's end (a short read means the server closed early)."""
    answer = b""
    while chunk := sock.recv(65536):
        answer += chunk
        head, _, body = answer.partition(b"\r\n\r\n")
        length = re.search(rb"(?im)^content-length:\s*(\d+)", head)
        if length and len(body) >= int(length[1]):
            break
    return answer


def raw_status_and_json(answer: bytes) -> tuple[int, dict]:
    """The status code and JSON body of a raw HTTP response."""
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)
