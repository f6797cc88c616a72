"""`zoo serve`'s JSON API over real HTTP: predictions for real MNIST digits, every error status,
survival after bad input, concurrency and batching, health, the OpenAPI docs, the cards' HTML,
and static files without directory traversal."""

from __future__ import annotations

import base64
import io
import json
import re
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch
from helpers.serve_client import (
    REQUEST_TIMEOUT_S,
    Client,
    Reply,
    dark_on_light,
    png_bytes,
    png_data_url,
    raw_status_and_json,
    read_raw_answer,
)
from PIL import Image

from zoo.cli import main
from zoo.inference.predict import Predictor
from zoo.serve import ZooServer
from zoo.serve.cli import serve_command
from zoo.serve.server import MAX_BODY_BYTES
from zoo.weights.table import default_table

JSON_HEADERS = {"Content-Type": "application/json"}


def assert_json_error(reply: Reply, status: int, *words: str) -> str:
    """The reply is a JSON error with `status` whose message mentions every word."""
    assert reply.status == status, reply.body
    assert reply.headers["content-type"].startswith("application/json")
    message = reply.json()["error"]
    assert isinstance(message, str) and message
    assert "Traceback" not in message
    for word in words:
        assert word.lower() in message.lower(), message
    return message


def raw_exchange(client: Client, data: bytes, half_close: bool = False) -> bytes:
    """Send raw bytes on a fresh connection and return the server's answer: up to the end of
    its Content-Length, or to the connection's end."""
    with socket.create_connection((client.host, client.port), timeout=30) as sock:
        sock.sendall(data)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        return read_raw_answer(sock)


def blank_png(width: int = 280, height: int = 280) -> bytes:
    """A white canvas with nothing drawn."""
    return png_bytes(Image.new("L", (width, height), 255))


def expected_models() -> list[str]:
    """The default weight of each model published for MNIST, from the table itself."""
    table = default_table()
    return sorted(
        w.key
        for w in table.weights()
        if w.dataset.name == "mnist" and table.default_tag(w.model) == w.tag
    )


# --- what the API serves ---------------------------------------------------------------------


def test_models_are_the_default_mnist_weights(client: Client) -> None:
    reply = client.get("/api/models")
    assert reply.status == 200
    models = reply.json()["models"]
    keys = [m["key"] for m in models]
    assert sorted(keys) == expected_models()
    assert "cnn_mnist.mnist_quick" not in keys and "resnet_mnist.fashion_v1" not in keys
    table = default_table()
    for model in models:
        weight = table.get(model["key"])
        assert model["accuracy"] == weight.metrics.value
        assert model["categories"] == list(weight.categories) == [str(d) for d in range(10)]
        assert model["class"] and model["model"] == weight.model
    accuracies = [m["accuracy"] for m in models]
    assert accuracies == sorted(accuracies, reverse=True)


def test_predicts_real_mnist_digits_drawn_dark_on_light(client: Client, mnist_digits) -> None:
    images, labels = mnist_digits
    correct = dict.fromkeys(expected_models(), 0)
    for image, label in zip(images, labels, strict=True):
        reply = client.predict(dark_on_light(image))
        assert reply.status == 200, reply.body
        result = reply.json()
        seen = np.array(result["input"])
        assert seen.shape == (28, 28) and seen.min() >= 0 and 200 <= seen.max() <= 255
        # Inverted: the paper became the black background, so the border is dark.
        assert seen[0].max() == 0 and seen[-1].max() == 0
        for prediction in result["predictions"]:
            probabilities = prediction["probabilities"]
            assert len(probabilities) == 10 and sum(probabilities) == pytest.approx(1, abs=1e-4)
            assert prediction["top"] == str(int(np.argmax(probabilities)))
            correct[prediction["model"]] += prediction["top"] == str(label)
    # 99 %+ models on real test digits, after a round trip through dark-on-light PNGs.
    assert all(count >= len(labels) - 2 for count in correct.values()), correct


def test_api_gives_what_the_predictor_gives_in_process(client: Client, mnist_digits) -> None:
    images, _ = mnist_digits
    png = dark_on_light(images[7], scale=6)
    result = client.predict(png).json()
    for prediction in result["predictions"]:
        predictor = Predictor.from_pretrained(prediction["model"])
        seen = predictor.prepare(Image.open(io.BytesIO(png)))
        assert np.array_equal(seen, np.array(result["input"], dtype=np.uint8))
        expected = predictor.probabilities(seen[np.newaxis])[0]
        got = torch.tensor(prediction["probabilities"])
        assert torch.allclose(got, expected, atol=2e-6)


def test_accepts_plain_base64_and_jpeg(client: Client, mnist_digits) -> None:
    images, labels = mnist_digits
    plain = base64.b64encode(dark_on_light(images[0])).decode()
    reply = client.predict(plain)
    assert reply.status == 200
    buffer = io.BytesIO()
    Image.fromarray(255 - images[1]).resize((112, 112)).save(buffer, format="JPEG", quality=90)
    jpeg = "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode()
    reply = client.predict(jpeg)
    assert reply.status == 200
    tops = {p["top"] for p in reply.json()["predictions"]}
    assert tops == {str(labels[1])}


def test_weights_table_and_cards(client: Client) -> None:
    reply = client.get("/api/weights")
    assert reply.status == 200
    body = reply.json()
    table = default_table()
    published = table.keys()
    assert [w["key"] for w in body["weights"]] == published
    assert sorted(body["shown"]) == expected_models()
    for key in published:
        assert f"`{key}`" in body["table"]
    for weight in body["weights"]:
        card = table.card_path(table.get(weight["key"]))
        assert weight["card"] == card.read_text(encoding="utf-8")
        tag = weight["key"].split(".", 1)[1]
        assert weight["default"] == (table.default_tag(weight["model"]) == tag)
    # The HTML the page shows: the table links every card inside the page, each card's title is
    # an h3 under the page's h2, its curve comes from /curves/.
    for key in published:
        assert f'<a href="#card-{key}"><code>{key}</code></a>' in body["table_html"]
    for weight in body["weights"]:
        html = weight["card_html"]
        assert html.startswith(f"<h3>{weight['key']}</h3>"), html[:200]
        assert "&lt;!--" not in html and "<!--" not in html  # the "generated" note is left out
        if weight["curve"]:
            assert f'<img src="{weight["curve"]}" alt="training curves" loading="lazy" />' in html
    curve = next(w["curve"] for w in body["weights"] if w["key"] == "resnet_mnist.mnist_v1")
    image = client.get(curve)
    assert image.status == 200 and image.headers["content-type"] == "image/png"
    assert image.body == table.curve_path(table.get("resnet_mnist.mnist_v1")).read_bytes()


def test_the_plots_a_card_shows_are_served(client: Client) -> None:
    table = default_table()
    plots = sorted(table.files_dir.glob("*.*.png"))  # <key>.<kind>.png: reliability diagrams
    for path in plots:
        reply = client.get(f"/curves/{path.name}")
        assert reply.status == 200 and reply.body == path.read_bytes(), path.name
    for name in ["resnet_mnist.mnist_v1.nope.png", "nope.mnist_v1.reliability.png"]:
        assert_json_error(client.get(f"/curves/{name}"), 404, "no such page")


# --- bad requests ------------------------------------------------------------------------------

BAD_BODIES = [
    (b"{not json", 400, ["not valid JSON"]),
    (b"", 400, ["not valid JSON"]),
    (b'["data:image/png;base64,AAAA"]', 400, ["JSON object"]),
    (b'{"picture": "data:image/png;base64,AAAA"}', 400, ["missing field 'image'"]),
    (b'{"image": 42}', 400, ["must be a string"]),
    (b'{"image": "data:image/png;base64,@@@notbase64"}', 400, ["base64"]),
    (b'{"image": "data:text/plain;base64,aGVsbG8="}', 400, ["text/plain", "not an image"]),
    (b'{"image": "data:image/png,rawbytes"}', 400, ["base64-encoded"]),
    (b'{"image": "\xff\xfe"}', 400, ["UTF-8"]),
    (b"[" * 100_000 + b"]" * 100_000, 400, ["not valid JSON"]),
    (b'{"image": "data:image/png;base64,aGVsbG8gd29ybGQ="}', 422, ["not a PNG"]),
    (b'{"image": ""}', 422, ["empty"]),
]


@pytest.mark.parametrize(("body", "status", "words"), BAD_BODIES)
def test_bad_bodies_get_json_errors(client: Client, body: bytes, status: int, words) -> None:
    assert_json_error(client.request("POST", "/api/predict", body, JSON_HEADERS), status, *words)


def test_images_that_cannot_be_used_get_422(client: Client, mnist_digits) -> None:
    assert_json_error(client.predict(blank_png()), 422, "blank")
    truncated = dark_on_light(mnist_digits[0][0])[:300]
    assert_json_error(client.predict(truncated), 422, "truncated")
    huge = png_bytes(Image.new("L", (3000, 3000), 255))  # a few kB of PNG, 9 megapixels
    assert len(huge) < MAX_BODY_BYTES
    assert_json_error(client.predict(huge), 422, "pixel limit")


@pytest.mark.parametrize(
    ("content_type", "words"),
    [
        (None, ["application/json", "none"]),
        ("text/plain", ["application/json", "text/plain"]),
        ("application/x-www-form-urlencoded", ["application/json"]),
        ("application/json; charset=latin-1", ["UTF-8"]),
    ],
)
def test_wrong_content_type_gets_415(client: Client, content_type, words) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    body = json.dumps({"image": png_data_url(blank_png())}).encode()
    reply = client.request("POST", "/api/predict", body, headers)
    assert_json_error(reply, 415, *words)


def test_json_with_utf8_charset_is_accepted(client: Client, mnist_digits) -> None:
    body = json.dumps({"image": png_data_url(dark_on_light(mnist_digits[0][2]))}).encode()
    headers = {"Content-Type": "application/json; charset=UTF-8"}
    assert client.request("POST", "/api/predict", body, headers).status == 200


def test_body_over_the_limit_gets_413_before_it_is_sent(client: Client) -> None:
    head = (
        "POST /api/predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {MAX_BODY_BYTES + 1}\r\n\r\n"
    )
    status, body = raw_status_and_json(raw_exchange(client, head.encode()))
    assert status == 413 and f"{MAX_BODY_BYTES:,}" in body["error"]


def test_body_over_the_limit_gets_413_when_sent(client: Client) -> None:
    body = b'{"image": "' + b"A" * MAX_BODY_BYTES + b'"}'
    try:
        reply = client.request("POST", "/api/predict", body, JSON_HEADERS)
    except ConnectionError:
        pytest.fail("the server reset the connection instead of answering 413")
    assert_json_error(reply, 413, "limit")


@pytest.mark.parametrize(
    ("headers", "status", "words"),
    [
        ("", 411, ["Content-Length"]),
        ("Transfer-Encoding: chunked\r\n", 411, ["chunked"]),
        ("Content-Length: abc\r\n", 400, ["Content-Length"]),
        ("Content-Length: -5\r\n", 400, ["Content-Length"]),
        ("Content-Length: 5\r\nContent-Length: 6\r\n", 400, ["Duplicate Content-Length"]),
        ("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", 400, ["Transfer-Encoding"]),
    ],
)
def test_body_length_headers(client: Client, headers: str, status: int, words) -> None:
    request = (
        f"POST /api/predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n{headers}\r\n"
    )
    code, body = raw_status_and_json(raw_exchange(client, request.encode()))
    assert code == status and all(w in body["error"] for w in words), body


@pytest.mark.parametrize(
    ("content_type", "status"), [("text/plain", 415), ("application/json", 413)]
)
def test_refused_from_the_headers_before_the_body_is_read(
    client: Client, content_type: str, status: int
) -> None:
    # The client announces a body and sends none of it: the answer comes anyway.
    length = 100 if status == 415 else MAX_BODY_BYTES + 1
    head = (
        f"POST /api/predict HTTP/1.1\r\nHost: x\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {length}\r\n\r\n"
    )
    code, _ = raw_status_and_json(raw_exchange(client, head.encode()))
    assert code == status


def test_body_that_stalls_gets_408(client: Client) -> None:
    request = (
        b"POST /api/predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b'Content-Length: 100\r\n\r\n{"image": "'
    )
    started = time.monotonic()
    code, body = raw_status_and_json(raw_exchange(client, request))
    assert code == 408 and "100 bytes" in body["error"], body
    assert REQUEST_TIMEOUT_S <= time.monotonic() - started < REQUEST_TIMEOUT_S + 10


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("GET", "/api/predict", "POST"),
        ("PUT", "/api/predict", "POST"),
        ("POST", "/api/models", "GET, HEAD"),
        ("DELETE", "/api/weights", "GET, HEAD"),
        ("POST", "/", "GET, HEAD"),
        ("PATCH", "/static/app.js", "GET, HEAD"),
    ],
)
def test_wrong_method_gets_405_with_allow(client: Client, method, path, allow) -> None:
    reply = client.request(method, path, b"{}" if method != "GET" else None, JSON_HEADERS)
    assert_json_error(reply, 405, method)
    assert reply.headers["allow"] == allow


@pytest.mark.parametrize("path", ["/nope", "/api", "/api/predict/", "/api/models/x", "/static/"])
def test_unknown_paths_get_404(client: Client, path: str) -> None:
    assert_json_error(client.get(path), 404, "no such page")
    assert_json_error(client.request("POST", path, b"{}", JSON_HEADERS), 404)


@pytest.mark.parametrize(
    ("request_bytes", "status", "words"),
    [
        (b"GARBAGE\r\n\r\n", 400, ["not an HTTP request"]),
        (b"BREW /pot HTTP/1.1\r\nHost: x\r\n\r\n", 400, ["unknown method"]),
        (b"\x00\x01\x02 garbage\r\n\r\n", 400, ["not an HTTP request"]),
        (b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n", 414, ["URL", "16,384"]),
        (b"GET / HTTP/1.1\r\nX-Big: " + b"b" * 70_000 + b"\r\n\r\n", 431, ["65,536"]),
        (b"GET / HTTP/1.1\r\n" + b"X-Many: 1\r\n" * 101 + b"\r\n", 431, ["100 headers"]),
    ],
)
def test_malformed_requests_get_json_errors(
    client: Client, request_bytes: bytes, status: int, words: list[str]
) -> None:
    answer = raw_exchange(client, request_bytes)
    code, body = raw_status_and_json(answer)
    assert code == status and all(w in body["error"] for w in words), body
    head = answer.partition(b"\r\n\r\n")[0].lower()
    assert b"content-type: application/json" in head and b"x-content-type-options: nosniff" in head


def test_server_keeps_serving_after_bad_requests(client: Client, mnist_digits) -> None:
    images, labels = mnist_digits
    client.request("POST", "/api/predict", b"{broken", JSON_HEADERS)
    client.predict(blank_png())
    client.predict("data:image/png;base64,!!!")
    raw_exchange(client, b"\x00\x01\x02 garbage\r\n\r\n")
    raw_exchange(client, b"POST /api/predict HTTP/1.1\r\nContent-Length: 50\r\n\r\n{", True)
    reply = client.predict(dark_on_light(images[3]))
    assert reply.status == 200
    assert {p["top"] for p in reply.json()["predictions"]} == {str(labels[3])}


def test_concurrent_requests_all_succeed_and_agree(client: Client, mnist_digits) -> None:
    images, _ = mnist_digits
    pngs = [dark_on_light(images[i]) for i in range(4)]
    jobs = [i % 4 for i in range(32)]

    def ask(i: int) -> tuple[int, Reply]:
        return i, client.predict(pngs[i])

    with ThreadPoolExecutor(max_workers=8) as pool:
        replies = list(pool.map(ask, jobs))
    assert all(reply.status == 200 for _, reply in replies)
    by_image: dict[int, set[str]] = {}
    for i, reply in replies:
        by_image.setdefault(i, set()).add(reply.body.decode())
    assert all(len(bodies) == 1 for bodies in by_image.values())
    assert len({next(iter(b)) for b in by_image.values()}) == 4


def test_requests_sent_together_are_batched(client: Client, mnist_digits) -> None:
    images, labels = mnist_digits
    before = client.get("/api/health").json()["batching"]
    with ThreadPoolExecutor(max_workers=16) as pool:
        replies = list(pool.map(lambda i: client.predict(dark_on_light(images[i])), range(40)))
    after = client.get("/api/health").json()["batching"]
    for reply, label in zip(replies, labels, strict=True):
        assert reply.status == 200
        assert sum(p["top"] == str(label) for p in reply.json()["predictions"]) >= 3
    items, batches = after["items"] - before["items"], after["batches"] - before["batches"]
    assert items == 40 and batches < items, (items, batches)
    assert 1 < after["largest"] <= after["max_batch"]


def test_a_bad_image_fails_only_its_own_request(client: Client, mnist_digits) -> None:
    # Bad images arrive in the same moment as good ones, so they share batches' timing; each
    # bad one must get its own 422 and every good one its answer.
    images, labels = mnist_digits
    jobs = [("good", i) for i in range(24)] + [("bad", i) for i in range(8)]
    jobs = [job for pair in zip(jobs[:8], jobs[24:], strict=True) for job in pair] + jobs[8:24]

    def ask(job: tuple[str, int]) -> tuple[str, int, Reply]:
        kind, i = job
        image = dark_on_light(images[i]) if kind == "good" else blank_png()
        return kind, i, client.predict(image)

    with ThreadPoolExecutor(max_workers=32) as pool:
        replies = list(pool.map(ask, jobs))
    for kind, i, reply in replies:
        if kind == "bad":
            assert_json_error(reply, 422, "blank")
        else:
            assert reply.status == 200, reply.body
            tops = [p["top"] for p in reply.json()["predictions"]]
            assert tops.count(str(labels[i])) >= 3, (i, tops)


# --- health and the API's docs ---------------------------------------------------------------


def test_health_says_ok_with_the_models_and_batching(client: Client) -> None:
    reply = client.get("/api/health")
    assert reply.status == 200
    body = reply.json()
    assert body["status"] == "ok" and sorted(body["models"]) == expected_models()
    batching = body["batching"]
    assert batching["max_batch"] == 64 and batching["wait_ms"] == 2.0
    assert batching["items"] >= batching["batches"] >= 0 and batching["queued"] >= 0


def test_openapi_documents_what_the_api_answers(client: Client, mnist_digits) -> None:
    spec = client.get("/openapi.json").json()
    assert spec["info"]["title"] == "zoo serve"
    paths = spec["paths"]
    assert set(paths) == {"/api/models", "/api/weights", "/api/health", "/api/predict"}
    predict = paths["/api/predict"]["post"]
    assert "image" in str(predict["requestBody"]["content"]["application/json"]["schema"])
    assert {"200", "400", "411", "413", "415", "422", "503"} <= set(predict["responses"])
    schemas = spec["components"]["schemas"]

    def fields(name: str) -> set[str]:
        return set(schemas[name]["properties"])

    # The documented fields are exactly those the server sends.
    answer = client.predict(dark_on_light(mnist_digits[0][0])).json()
    assert fields("PredictResponse") == set(answer)
    assert fields("ModelPrediction") == set(answer["predictions"][0])
    models = client.get("/api/models").json()
    assert fields("ModelsResponse") == set(models)
    assert fields("ModelInfo") == set(models["models"][0])
    weights = client.get("/api/weights").json()
    assert fields("WeightsResponse") == set(weights)
    assert fields("WeightInfo") == set(weights["weights"][0])
    health = client.get("/api/health").json()
    assert fields("HealthResponse") == set(health)
    assert fields("Batching") == set(health["batching"])
    assert fields("ErrorBody") == set(client.get("/nope").json())


def test_docs_page_needs_nothing_remote(client: Client) -> None:
    page = client.get("/docs")
    assert page.status == 200 and page.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in page.headers["content-security-policy"]
    html = page.body.decode()
    urls = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert urls and all(url.startswith("/") and not url.startswith("//") for url in urls), urls
    for url in urls:
        reply = client.get(url)
        assert reply.status == 200 and len(reply.body) > 100, url
    assert b"SwaggerUIBundle" in client.get("/docs/swagger-ui-bundle.js").body
    assert b"/openapi.json" in client.get("/static/docs.js").body


# --- the page's files ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/", "text/html"),
        ("/index.html", "text/html"),
        ("/static/app.js", "text/javascript"),
        ("/static/docs.js", "text/javascript"),
        ("/docs", "text/html"),
        ("/docs/swagger-ui.css", "text/css"),
        ("/static/style.css", "text/css"),
        ("/static/favicon.svg", "image/svg+xml"),
        ("/api/models?cache=1", "application/json"),
        ("/api/health", "application/json"),
        ("/openapi.json", "application/json"),
    ],
)
def test_static_files_with_types_and_security_headers(client: Client, path, content_type) -> None:
    reply = client.get(path)
    assert reply.status == 200
    assert reply.headers["content-type"].startswith(content_type)
    assert reply.headers["x-content-type-options"] == "nosniff"
    assert "default-src 'none'" in reply.headers["content-security-policy"]
    assert int(reply.headers["content-length"]) == len(reply.body) > 0
    assert "Python" not in reply.headers["server"]


def test_head_gives_headers_without_body(client: Client) -> None:
    reply = client.request("HEAD", "/static/app.js")
    assert reply.status == 200 and reply.body == b""
    assert int(reply.headers["content-length"]) == len(client.get("/static/app.js").body)


@pytest.mark.parametrize(
    "path",
    [
        "/static/../../pyproject.toml",
        "/static/../server.py",
        "/static/%2e%2e/%2e%2e/pyproject.toml",
        "/static/%2e%2e%2f%2e%2e%2fpyproject.toml",
        "/static/..%2f..%2fpyproject.toml",
        "/static/..%5c..%5cpyproject.toml",
        "/static//etc/passwd",
        "/static/%2fetc%2fpasswd",
        "/../pyproject.toml",
        "/static/app.js/../../server.py",
        "/curves/../published.json",
        "/curves/..%2f..%2fpyproject.toml.png",
        "/curves/nope.png",
        "/curves/resnet_mnist.mnist_v1.md",
        "/curves/resnet_mnist.mnist_v1.safetensors",
        "/curves/resnet_mnist.mnist_v1.RELIABILITY.png",
        "/curves/resnet_mnist.mnist_v1.re-li.png",
        "/curves/resnet_mnist.mnist_v1..png",
        "/curves/..%2fpublished.json.png",
        "/curves/%2e%2e.png",
        "/static/app.js%00.png",
    ],
)
def test_no_directory_traversal(client: Client, path: str) -> None:
    assert_json_error(client.get(path), 404)


# --- the command -----------------------------------------------------------------------------


def test_busy_port_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["serve", "--port", str(port)]) == 1
    err = capsys.readouterr().err
    assert f"zoo serve: cannot listen on 127.0.0.1:{port}" in err and "--port" in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_bad_port_is_a_usage_error() -> None:
    with pytest.raises(SystemExit) as exit_info:
        serve_command(["--port", "70000"])
    assert exit_info.value.code == 2


def test_models_still_loading_gets_503() -> None:
    httpd = ZooServer("127.0.0.1", 0, None)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        client = Client(*httpd.server_address[:2])
        assert_json_error(client.get("/api/models"), 503, "loading")
        assert client.get("/").status == 200
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.mark.slow
def test_zoo_serve_command_serves_the_page() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "zoo", "serve", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline()
        assert line.startswith("zoo serve: http://127.0.0.1:"), line + process.stderr.read()
        url = line.split()[2]
        host, port = url.removeprefix("http://").rstrip("/").split(":")
        reply = Client(host, int(port)).get("/api/models")
        assert reply.status == 200 and sorted(m["key"] for m in reply.json()["models"]) == (
            expected_models()
        )
    finally:
        process.terminate()
        process.wait(timeout=30)
