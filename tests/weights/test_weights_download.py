"""Weights not bundled: downloaded from a real HTTP server into torch's hub cache, verified."""

from __future__ import annotations

import dataclasses
import functools
import shutil
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import torch

from zoo.hub import load_pretrained
from zoo.weights import WeightError, WeightTable, default_table, hub_cache_dir
from zoo.weights.table import empty_table

PUBLISHED = default_table()
KEY = "logistic_regression.toy_v1"
OTHER = "linear_regression.toy_v1"


class Server:
    """http.server on 127.0.0.1 serving one directory, counting the requests it answers."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.requests: list[str] = []
        handler = functools.partial(_Handler, server_log=self.requests, directory=str(root))
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        serve = functools.partial(self.httpd.serve_forever, poll_interval=0.05)
        self.thread = threading.Thread(target=serve, daemon=True)
        self.thread.start()

    def url(self, name: str) -> str:
        """The URL of `name` in the served directory."""
        return f"http://127.0.0.1:{self.httpd.server_port}/{name}"

    def close(self) -> None:
        """Stop serving and free the port."""
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()


class _Handler(SimpleHTTPRequestHandler):
    def __init__(self, *args, server_log: list[str], **kwargs) -> None:
        self.server_log = server_log
        super().__init__(*args, **kwargs)

    def do_GET(self) -> None:
        self.server_log.append(self.path)
        super().do_GET()

    def log_message(self, format: str, *args) -> None:
        pass  # keep pytest's output clean


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    root = tmp_path / "served"
    root.mkdir()
    served = Server(root)
    yield served
    served.close()


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    path = hub_cache_dir()
    assert path == tmp_path / "torch-home" / "hub" / "checkpoints"
    return path


def remote_table(tmp_path: Path, server: Server, key: str = KEY, **changes) -> WeightTable:
    """A table whose only entry is the published `key`, not bundled, downloadable from `server`."""
    published = PUBLISHED.get(key)
    weight = dataclasses.replace(published, url=server.url(published.file), **changes)
    files = tmp_path / "not-bundled"
    files.mkdir(exist_ok=True)
    empty = WeightTable(tmp_path / "remote.json", files, data=empty_table())
    return empty.with_weight(weight, make_default=True)


def serve(
    server: Server, key: str, as_name: str | None = None, payload: bytes | None = None
) -> None:
    weight = PUBLISHED.get(key)
    data = PUBLISHED.file_path(weight).read_bytes() if payload is None else payload
    (server.root / (as_name or weight.file)).write_bytes(data)


def cache_files(cache: Path) -> list[str]:
    return sorted(p.name for p in cache.iterdir()) if cache.is_dir() else []


def test_downloads_verifies_caches_and_then_works_offline(tmp_path, server, cache) -> None:
    table = remote_table(tmp_path, server)
    serve(server, KEY)
    model = load_pretrained("logistic_regression", table=table)
    assert cache_files(cache) == [f"{KEY}.safetensors"]
    bundled = load_pretrained("logistic_regression", table=PUBLISHED)
    for name, tensor in bundled.state_dict().items():
        assert torch.equal(model.state_dict()[name], tensor)
    assert not model.training
    server.close()  # offline from now on: the cache must suffice
    load_pretrained("logistic_regression", "toy_v1", table=table, download=False)
    assert len(server.requests) == 1


def test_wrong_hash_is_rejected_and_not_cached(tmp_path, server, cache) -> None:
    table = remote_table(tmp_path, server)
    other = PUBLISHED.file_path(PUBLISHED.get(OTHER)).read_bytes()  # same size, other bytes
    serve(server, KEY, payload=other)
    with pytest.raises(
        WeightError, match=r"has SHA-256 [0-9a-f]{64}, not the .*nothing was cached"
    ):
        load_pretrained("logistic_regression", table=table)
    assert cache_files(cache) == []


def test_truncated_download_is_rejected_and_not_cached(tmp_path, server, cache) -> None:
    table = remote_table(tmp_path, server)
    full = PUBLISHED.file_path(PUBLISHED.get(KEY)).read_bytes()
    serve(server, KEY, payload=full[:-40])
    with pytest.raises(WeightError, match=rf"has {len(full) - 40} bytes, not the {len(full)}"):
        load_pretrained("logistic_regression", table=table)
    assert cache_files(cache) == []


def test_oversized_download_is_cut_off_and_not_cached(tmp_path, server, cache) -> None:
    table = remote_table(tmp_path, server)
    serve(server, KEY, payload=PUBLISHED.file_path(PUBLISHED.get(KEY)).read_bytes() * 2)
    with pytest.raises(WeightError, match="larger than its"):
        load_pretrained("logistic_regression", table=table)
    assert cache_files(cache) == []


def test_file_of_another_model_is_rejected_even_with_matching_hash(tmp_path, server, cache) -> None:
    # A table mistake: the entry's hash is that of linear_regression's file, which is also what
    # the server sends. Both models are one Linear(1, 1), so only the header can tell.
    other = PUBLISHED.get(OTHER)
    table = remote_table(tmp_path, server, sha256=other.sha256, size=other.size)
    serve(server, OTHER, as_name=f"{KEY}.safetensors")
    with pytest.raises(WeightError, match="holds weights for model 'linear_regression'"):
        load_pretrained("logistic_regression", table=table)
    assert cache_files(cache) == []


def test_unknown_tag_fails_before_any_request(tmp_path, server, cache) -> None:
    table = remote_table(tmp_path, server)
    serve(server, KEY)
    with pytest.raises(WeightError, match="unknown tag 'v9'"):
        load_pretrained("logistic_regression", "v9", table=table)
    assert server.requests == [] and cache_files(cache) == []


def test_unreachable_server_says_how_to_fetch_by_hand(tmp_path, server, cache) -> None:
    table = remote_table(tmp_path, server)
    server.close()
    with pytest.raises(WeightError, match=r"could not download .* put it at .*SHA-256"):
        load_pretrained("logistic_regression", table=table)
    assert cache_files(cache) == []


def test_missing_file_on_server_is_a_clear_error(tmp_path, server, cache) -> None:
    table = remote_table(tmp_path, server)
    with pytest.raises(WeightError, match="404"):
        load_pretrained("logistic_regression", table=table)
    assert cache_files(cache) == []


def test_damaged_cache_entry_is_replaced_by_a_fresh_download(tmp_path, server, cache) -> None:
    table = remote_table(tmp_path, server)
    serve(server, KEY)
    cache.mkdir(parents=True)
    (cache / f"{KEY}.safetensors").write_bytes(b"garbage")
    load_pretrained("logistic_regression", table=table)
    assert len(server.requests) == 1
    weight = table.get(KEY)
    assert (cache / weight.file).read_bytes() == PUBLISHED.file_path(weight).read_bytes()


def test_no_download_without_permission(tmp_path, server, cache) -> None:
    table = remote_table(tmp_path, server)
    serve(server, KEY)
    with pytest.raises(WeightError, match="not bundled and not in the cache"):
        load_pretrained("logistic_regression", table=table, download=False)
    assert server.requests == []


def test_bundled_file_that_was_tampered_with_is_refused(tmp_path) -> None:
    files = tmp_path / "files"
    shutil.copytree(PUBLISHED.files_dir, files)
    weight = PUBLISHED.get(KEY)
    path = files / weight.file
    data = path.read_bytes()
    path.write_bytes(data[:-1] + bytes([data[-1] ^ 0xFF]))
    table = WeightTable(PUBLISHED.table_path, files)
    with pytest.raises(WeightError, match="truncated, corrupted or another weight"):
        load_pretrained("logistic_regression", table=table)
