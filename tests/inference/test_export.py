"""`zoo export`: each format, run by its own runtime, reproduces the eager model at any batch size.

The published MNIST weights are exported through the CLI once per module and compared with eager
PyTorch on real MNIST test images; refusals leave the output directory as it was.
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import onnxruntime as ort
import pytest
import torch
from torch import Tensor

from zoo.cli import main
from zoo.data import CIFAR10DataModule, FashionMNISTDataModule, MNISTDataModule
from zoo.hub import create_model
from zoo.inference.cli import summary
from zoo.inference.export import FORMATS, ExportFailed, export_file, export_model
from zoo.models import ZooModule
from zoo.models.softmax import SoftmaxMNIST
from zoo.weights import default_table

pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated")

MNIST_WEIGHTS = [
    "resnet_mnist.mnist_v1",
    "inception_mnist.mnist_v1",
    "cnn_mnist.mnist_v1",
    "softmax_mnist.mnist_v1",
]
TOLERANCE = 1e-5
Runner = Callable[[Tensor], Tensor]


def run_cli(*argv: str) -> tuple[int, str, str]:
    """`zoo export ARGV…` in this process: exit status, stdout, stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["export", *argv])
    return code, out.getvalue(), err.getvalue()


def load(path: Path, format: str) -> tuple[Runner, dict[str, Any]]:
    """The exported file as a deployer loads it, and the metadata it carries."""
    if format == "onnx":
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])

        def run(x: Tensor) -> Tensor:
            (logits,) = session.run(None, {"x": np.ascontiguousarray(x.numpy())})
            return torch.from_numpy(logits)

        props = session.get_modelmeta().custom_metadata_map
        # Strings are stored as they are, lists and numbers as JSON.
        return run, {k: parse_prop(v) for k, v in props.items()}
    extra = {"zoo.json": ""}
    if format == "torchscript":
        module = torch.jit.load(str(path), _extra_files=extra)
    else:
        module = torch.export.load(str(path), extra_files=extra).module()
    return module, json.loads(extra["zoo.json"])


def parse_prop(text: str) -> Any:
    """An ONNX metadata value: JSON where it parses (lists, numbers), else the string itself."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def max_diff(run: Runner, model: ZooModule, x: Tensor) -> tuple[float, bool]:
    """Max |exported - eager| on `x`, and whether the predicted classes agree.

    Eager is the logits divided by the model's temperature (1 unless it is published), which the
    export puts inside the graph; the difference is in raw-logit units, as the export checks it.
    """
    with torch.no_grad():
        got, expected = run(x), model(x) / model.temperature
    assert got.shape == expected.shape
    diff = (got - expected).abs().max().item() * model.temperature
    return diff, torch.equal(got.argmax(1), expected.argmax(1))


@pytest.fixture(scope="module")
def images(mnist: MNISTDataModule) -> tuple[Tensor, Tensor]:
    """256 real MNIST test images, preprocessed as in training, and their labels."""
    x, y = mnist.splits["test"]
    return mnist.preprocess(x[:256]), y[:256]


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str, str], Path]:
    """`zoo export WEIGHT --format FORMAT`, run once per pair in this module."""
    root = tmp_path_factory.mktemp("exports")
    done: dict[tuple[str, str], Path] = {}

    def export(weight: str, format: str) -> Path:
        if (weight, format) not in done:
            path = root / f"{weight}.{format}{FORMATS[format]}"
            code, out, err = run_cli(weight, "--format", format, "-o", str(path))
            assert code == 0, err
            assert str(path) in out and "max |export - eager|" in out
            done[weight, format] = path
        return done[weight, format]

    return export


@pytest.fixture(scope="module")
def eager() -> Callable[[str], ZooModule]:
    """The published model `name.tag` in eager PyTorch, loaded once."""
    models: dict[str, ZooModule] = {}

    def get(weight: str) -> ZooModule:
        if weight not in models:
            name, tag = weight.split(".")
            models[weight] = create_model(name, pretrained=tag)
        return models[weight]

    return get


@pytest.mark.parametrize("format", list(FORMATS))
@pytest.mark.parametrize("weight", MNIST_WEIGHTS)
def test_export_matches_eager_on_mnist_test_images(
    weight: str, format: str, exported, eager, images
) -> None:
    x, y = images
    run, _ = load(exported(weight, format), format)
    model = eager(weight)
    # One batch of 256, batches of 37 (and the remainder, 34), and a single image.
    for batch in (x, *x[:74].split(37), x[-34:], x[:1]):
        diff, same_classes = max_diff(run, model, batch)
        assert diff <= TOLERANCE, f"batch of {len(batch)}: max abs diff {diff}"
        assert same_classes
    with torch.no_grad():
        accuracy = (run(x).argmax(1) == y).float().mean().item()
    assert accuracy > 0.95, "the published weights, not an untrained network, were exported"


@pytest.mark.parametrize("format", list(FORMATS))
def test_metadata_tells_how_to_prepare_the_input(format: str, exported) -> None:
    _, meta = load(exported("resnet_mnist.mnist_v1", format), format)
    weight = default_table().get("resnet_mnist.mnist_v1")
    assert meta["model"] == "resnet_mnist"
    assert meta["weights"] == "resnet_mnist.mnist_v1"
    assert meta["format"] == format
    assert meta["dataset"] == "mnist"
    assert meta["categories"] == list(weight.categories) == list(MNISTDataModule.classes)
    assert meta["mean"] == list(MNISTDataModule.mean) and meta["std"] == list(MNISTDataModule.std)
    assert meta["input_shape"] == [1, 28, 28]
    assert meta["input_name"] == "x" and meta["output_name"] == "logits"
    assert meta["temperature"] == weight.temperature != 1.0
    assert f"divided by the temperature {weight.temperature:g}" in meta["output"]


@pytest.mark.parametrize("format", list(FORMATS))
def test_exported_probabilities_are_calibrated_with_the_recorded_temperature(
    format: str, exported, eager, images
) -> None:
    weight = "cnn_mnist.mnist_v1"
    run, _ = load(exported(weight, format), format)
    model = eager(weight)
    x, _ = images
    with torch.no_grad():
        exported_probabilities = run(x).softmax(dim=1)
        raw = model(x)
        calibrated = model.predict_step(x, 0)
    temperature = default_table().get(weight).temperature
    assert model.temperature == temperature != 1.0
    # The deployer's softmax gives what predict_step gives, not the uncalibrated softmax.
    assert torch.allclose(exported_probabilities, calibrated, atol=1e-5)
    assert not torch.allclose(exported_probabilities, raw.softmax(dim=1), atol=1e-3)
    assert torch.equal(exported_probabilities.argmax(1), raw.argmax(1))


def test_a_models_temperature_goes_inside_the_graph(tmp_path: Path, images) -> None:
    torch.manual_seed(4)
    model = create_model("cnn_mnist").eval()
    plain = export_file(model, "onnx", tmp_path / "plain.onnx")
    model.temperature = 2.0
    scaled = export_file(model, "onnx", tmp_path / "scaled.onnx")
    x = images[0][:16]
    run_plain, meta_plain = load(plain.path, "onnx")
    run_scaled, meta_scaled = load(scaled.path, "onnx")
    with torch.no_grad():
        logits = model(x)
    assert torch.allclose(run_plain(x), logits, atol=1e-5)  # T = 1: the logits as they are
    assert torch.allclose(run_scaled(x), logits / 2.0, atol=1e-5)
    assert (
        meta_plain["temperature"] == 1.0
        and "softmax gives the probabilities" in meta_plain["output"]
    )
    assert meta_scaled["temperature"] == 2.0
    assert "logits divided by the temperature 2" in meta_scaled["output"]
    assert "divided by the temperature 2;" in summary(scaled)
    assert "softmax gives the probabilities" in summary(plain)


def test_fashion_weights_carry_fashion_categories_and_statistics(tmp_path: Path) -> None:
    path = tmp_path / "fashion.onnx"
    code, out, err = run_cli("resnet_mnist.fashion_v1", "--format", "onnx", "-o", str(path))
    assert code == 0, err
    _, meta = load(path, "onnx")
    weight = default_table().get("resnet_mnist.fashion_v1")
    assert meta["weights"] == "resnet_mnist.fashion_v1"
    assert meta["categories"] == list(FashionMNISTDataModule.classes)
    assert meta["mean"] == list(weight.preprocessing.mean) != list(MNISTDataModule.mean)
    assert meta["temperature"] == weight.temperature
    assert "Ankle boot" in out
    assert f"divided by the temperature {weight.temperature:g} inside the graph" in out
    assert "temperature in its metadata_props" in out


@pytest.mark.parametrize(
    ("name", "format"),
    [
        ("cnn_cifar10", "onnx"),
        ("cnn_cifar10", "torchscript"),
        ("resnet20_cifar10", "exported-program"),
        ("resnet20_cifar10", "onnx"),
    ],
)
def test_cifar_models_export_untrained_weights_on_request(
    name: str, format: str, tmp_path: Path
) -> None:
    path = tmp_path / f"{name}{FORMATS[format]}"
    code, _, err = run_cli(
        name, "--random-init", "--seed", "3", "--format", format, "-o", str(path)
    )
    assert code == 0, err
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(3)
        model = create_model(name).eval()
        pixels = torch.randint(0, 256, (64, 3, 32, 32), dtype=torch.uint8)
    x = CIFAR10DataModule().preprocess(pixels)
    run, meta = load(path, format)
    for batch in (x, x[:5]):
        diff, same_classes = max_diff(run, model, batch)
        assert diff <= TOLERANCE and same_classes
    assert meta["weights"] == "random-init (seed 3, untrained)"
    assert meta["input_shape"] == [3, 32, 32]
    assert meta["categories"] == list(CIFAR10DataModule.classes)
    assert meta["mean"] == list(CIFAR10DataModule.mean)


def test_lightning_checkpoint_exports_its_own_weights(tmp_path: Path, images) -> None:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(5)
        model = create_model("cnn_mnist", lr=0.05)
    trainer = L.Trainer(accelerator="cpu", logger=False, default_root_dir=tmp_path)
    trainer.strategy.connect(model)
    ckpt = tmp_path / "run.ckpt"
    trainer.save_checkpoint(ckpt)
    path = tmp_path / "run.pt"
    code, _, err = run_cli(
        "cnn_mnist", "--checkpoint", str(ckpt), "--format", "torchscript", "-o", str(path)
    )
    assert code == 0, err
    run, meta = load(path, "torchscript")
    diff, same_classes = max_diff(run, model.eval(), images[0])
    assert diff <= TOLERANCE and same_classes
    assert meta["weights"] == "checkpoint run.ckpt"
    assert meta["categories"] == list(MNISTDataModule.classes)


def test_export_model_from_python_keeps_the_training_mode(tmp_path: Path, images) -> None:
    model = create_model("cnn_mnist", pretrained=True).train()
    path = export_model(
        model, "exported-program", tmp_path / "cnn.pt2", metadata={"owner": "tests"}
    )
    assert path == tmp_path / "cnn.pt2"
    assert model.training
    run, meta = load(path, "exported-program")
    diff, _ = max_diff(run, model.eval(), images[0])
    assert diff <= TOLERANCE
    assert meta["owner"] == "tests" and meta["model_class"] == "CNNMNIST"


class BatchSizeDependent(SoftmaxMNIST):
    """Python control flow on the batch size, which no export can keep dynamic."""

    def forward(self, x: Tensor) -> Tensor:
        logits = super().forward(x)
        return logits if x.shape[0] > 1 else -logits


@pytest.mark.parametrize("format", list(FORMATS))
def test_an_export_that_differs_from_eager_is_not_written(format: str, tmp_path: Path) -> None:
    target = tmp_path / f"model{FORMATS[format]}"
    with pytest.raises(ExportFailed, match="nothing was written"):
        export_model(BatchSizeDependent(), format, target)
    assert list(tmp_path.iterdir()) == []


def assert_refused(tmp_path: Path, *argv: str, says: str) -> None:
    """`zoo export ARGV…` exits with status 2, says `says`, and writes nothing."""
    before = sorted(tmp_path.rglob("*"))
    code, out, err = run_cli(*argv)
    assert code == 2, out
    assert says in err
    assert sorted(tmp_path.rglob("*")) == before


def test_unknown_model_is_refused(tmp_path: Path) -> None:
    out = str(tmp_path / "m.onnx")
    assert_refused(tmp_path, "resnet_mnst", "--format", "onnx", "-o", out, says="unknown model")


def test_non_image_model_is_refused(tmp_path: Path) -> None:
    out = str(tmp_path / "m.onnx")
    assert_refused(
        tmp_path, "linear_regression", "--format", "onnx", "-o", out, says="not an image model"
    )


def test_unknown_tag_is_refused(tmp_path: Path) -> None:
    out = str(tmp_path / "m.pt")
    assert_refused(
        tmp_path, "cnn_mnist.v9", "--format", "torchscript", "-o", out, says="unknown tag"
    )


def test_model_without_weights_needs_an_explicit_choice(tmp_path: Path) -> None:
    out = str(tmp_path / "m.onnx")
    assert_refused(tmp_path, "cnn_cifar10", "--format", "onnx", "-o", out, says="--random-init")


def test_tag_and_random_init_contradict_each_other(tmp_path: Path) -> None:
    out = str(tmp_path / "m.onnx")
    argv = ("cnn_mnist.mnist_v1", "--random-init", "--format", "onnx", "-o", out)
    assert_refused(tmp_path, *argv, says="names published weights")


def test_file_that_is_not_a_checkpoint_is_refused(tmp_path: Path) -> None:
    bogus = tmp_path / "run.ckpt"
    bogus.write_bytes(b"not a checkpoint")
    out = str(tmp_path / "m.onnx")
    argv = ("cnn_mnist", "--checkpoint", str(bogus), "--format", "onnx", "-o", out)
    assert_refused(tmp_path, *argv, says="is not a PyTorch checkpoint, or is truncated")


def test_suffix_that_does_not_match_the_format_is_refused(tmp_path: Path) -> None:
    out = str(tmp_path / "model.onnx")
    argv = ("cnn_mnist", "--format", "torchscript", "-o", out)
    assert_refused(tmp_path, *argv, says="did you mean --format onnx")


def test_missing_output_directory_is_refused(tmp_path: Path) -> None:
    out = str(tmp_path / "no" / "such" / "m.onnx")
    assert_refused(tmp_path, "cnn_mnist", "--format", "onnx", "-o", out, says="does not exist")


def test_existing_file_is_kept_unless_forced(tmp_path: Path) -> None:
    path = tmp_path / "m.onnx"
    path.write_bytes(b"keep me")
    argv = ("softmax_mnist", "--format", "onnx", "-o", str(path))
    assert_refused(tmp_path, *argv, says="--force")
    assert path.read_bytes() == b"keep me"
    code, _, err = run_cli(*argv, "--force")
    assert code == 0, err
    _, meta = load(path, "onnx")
    assert meta["model"] == "softmax_mnist"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx"]


@pytest.mark.parametrize(
    "argv",
    [
        ("cnn_mnist", "--format", "tflite", "-o", "m.tflite"),
        ("cnn_mnist", "--format", "onnx"),
        ("cnn_mnist", "--format", "onnx", "-o", "m.onnx", "--seed", "1"),
        ("cnn_mnist", "--format", "onnx", "-o", "m.onnx", "--random-init", "--checkpoint", "c"),
    ],
    ids=["bad-format", "no-output", "seed-without-random-init", "two-weight-sources"],
)
def test_bad_arguments_are_usage_errors(argv: tuple[str, ...], capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        main(["export", *argv])
    assert exit_info.value.code == 2
    assert "usage: zoo export" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
