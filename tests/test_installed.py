"""The installed journey: zoo's wheel alone, run from an empty directory, does what the README says.

The wheel is installed into a folder of its own (no checkout on the path, no editable install;
its dependencies are this interpreter's) and every command runs as a user would type it, in a
fresh process, from a directory that holds nothing of the repository.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from helpers.wheel import REPO, build_wheel, install_wheel
from PIL import Image

pytestmark = pytest.mark.slow

QUICK_FIT = (
    "--trainer.max_epochs", "1", "--trainer.limit_train_batches", "0.02",
    "--trainer.limit_val_batches", "1", "--trainer.enable_progress_bar", "false",
)  # fmt: skip


@pytest.fixture(scope="module")
def user(tmp_path_factory: pytest.TempPathFactory):
    """Runs `zoo ARGS` (as `python -m zoo`) with only the installed wheel importable."""
    root = tmp_path_factory.mktemp("installed")
    site, home = root / "site", root / "home"
    install_wheel(build_wheel(root / "build"), site)
    home.mkdir()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("WANDB", "ZOO_"))},
        "PYTHONPATH": str(site), "HOME": str(home), "TORCH_HOME": str(root / "no-downloads"),
        "ZOO_DATA_DIR": str(root / "data"), "COLUMNS": "80",
    }  # fmt: skip

    def run(*args: str, timeout: float = 600, code: str | None = None) -> str:
        command = [sys.executable, "-c", code] if code else [sys.executable, "-m", "zoo", *args]
        done = subprocess.run(
            command, cwd=home, env=env, capture_output=True, text=True, timeout=timeout
        )
        assert done.returncode == 0, f"{args or 'python'}: {done.stderr[-3000:]}"
        return done.stdout

    run.home, run.env, run.site = home, env, site  # type: ignore[attr-defined]
    return run


def test_the_package_comes_from_the_wheel(user) -> None:
    where = user(code="import zoo; print(zoo.__file__)").strip()
    assert where.startswith(str(user.site)) and not where.startswith(str(REPO))


def test_help_version_list_and_recipes(user) -> None:
    assert user("--help").startswith("usage: zoo [--debug] COMMAND")
    assert re.fullmatch(r"zoo \d+\.\d+\.\d+\n", user("--version"))
    assert "resnet110_cifar10" in user("list")
    recipes = user("recipes")
    assert "resnet_mnist" in recipes and "trainer/gpu" in recipes
    assert Path(user("recipes", "path", "slurm/train.sbatch").strip()).is_file()
    # The recipes the model cards and published.json cite resolve in the installed package.
    table = json.loads((REPO / "zoo" / "weights" / "published.json").read_text())
    cited = {
        arg
        for weight in table["weights"].values()
        for arg in weight["training"]["recipe"].split()
        if arg.startswith("recipes/")
    }
    assert cited and all(Path(user("recipes", "path", r).strip()).is_file() for r in cited)


def test_fit_then_test_the_last_checkpoint(user) -> None:
    user("fit", "--config", "resnet_mnist", *QUICK_FIT)
    run_dir = user.home / "runs" / "resnet_mnist" / "version_0"
    assert (run_dir / "checkpoints" / "last.ckpt").is_file()
    assert (run_dir / "wandb_run_id").is_file()  # W&B logged, offline (no credentials here)
    user("test", "--config", "resnet_mnist", "--ckpt_path", "last",
         "--trainer.limit_test_batches", "1")  # fmt: skip
    assert (run_dir / "test_config.yaml").is_file()


def test_eval_predict_and_export_the_published_weight(user) -> None:
    assert "resnet_mnist.mnist_v1: test accuracy 99.60 %" in user("eval", "resnet_mnist")
    digit = np.full((28, 28), 255, np.uint8)
    digit[4:24, 12:16] = 0  # a dark upright stroke on white paper: a 1
    Image.fromarray(digit).save(user.home / "one.png")
    assert user("predict", "resnet_mnist", "one.png").startswith("one.png: 1 ")
    user("export", "resnet_mnist", "--format", "onnx", "-o", "resnet_mnist.onnx")
    assert (user.home / "resnet_mnist.onnx").stat().st_size > 10_000


def test_serve_answers_the_models_api(user) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "zoo", "serve", "--port", str(port)], cwd=user.home, env=user.env,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        models = _get_json(f"http://127.0.0.1:{port}/api/models", server)
        assert "resnet_mnist.mnist_v1" in json.dumps(models)
    finally:
        server.terminate()
        server.wait(timeout=60)


def test_demo_and_the_readme_quickstart(user) -> None:
    accuracy = float(re.search(r"test accuracy: ([\d.]+)%", user("demo", "--epochs", "1"))[1])
    assert accuracy > 97
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    quickstart = re.search(r"## Quick start\n+```python\n(.*?)```", readme, re.S)[1]
    user(code=quickstart)


def _get_json(url: str, server: subprocess.Popen, wait_s: float = 240) -> object:
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        assert server.poll() is None, server.stderr.read() if server.stderr else "server exited"
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return json.load(response)
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"{url} did not answer in {wait_s} s")
