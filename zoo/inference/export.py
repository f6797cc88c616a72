"""Exporting image models to ONNX, TorchScript and `torch.export` programs, checked against eager.

`zoo export MODEL[.TAG] --format onnx|torchscript|exported-program -o FILE` and
`export_model(model, format, path)`. The batch dimension stays dynamic; what a deployer needs to
feed the model (input shape, mean/std, categories, which weights) travels inside the file. Before
anything is written, the exported artifact is loaded back with its own runtime, run on random
batches of two sizes and compared with the eager model; the file is then written
crash-consistently (`write_export`: the old file or the whole new one, whatever kills zoo).

A model with a temperature T other than 1 (published weights are calibrated) is exported with
the division inside the graph: the output `logits` is `model(x) / T`, so the softmax every
deployer already applies gives calibrated probabilities, the argmax is the model's, and the file
keeps its one output. The metadata records `temperature` (multiply by it for the raw logits).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import secrets
import signal
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from zoo.errors import EXIT_RUN_FAILED, BadInput
from zoo.files import fsync_directory

FORMATS: dict[str, str] = {"onnx": ".onnx", "torchscript": ".pt", "exported-program": ".pt2"}
FORMAT_NAMES = {"onnx": "ONNX", "torchscript": "TorchScript", "exported-program": "ExportedProgram"}
INPUT_NAME = "x"
OUTPUT_NAME = "logits"
BATCH_DIM = "batch"
ONNX_OPSET = 17
# The metadata's name among TorchScript's and torch.export's extra files.
METADATA_FILE = "zoo.json"
# Largest |exported - eager| accepted on the check batches, in units of the raw logits (a
# temperature T scales the output, and the float error of the network with it, by 1 / T).
TOLERANCE = 1e-5
# Traced/exported with a batch of 2: a batch of 1 may be specialised into the graph as a constant.
EXAMPLE_BATCH = 2
CHECK_BATCHES = (1, 7)
CHECK_SEED = 0
# Test-only: the crash tests set it to a step of `write_export` to SIGKILL the export there.
KILL_AT_ENV = "ZOO_TEST_KILL_AT"
WRITE_STEPS = ("created", "half-written", "written", "synced", "renamed")

BatchFunction = Callable[[Tensor], Tensor]
"""A model, an exported file's runtime or a compiled graph: a float batch in, logits out."""


class ExportError(BadInput):
    """An export that cannot be done as asked (bad model, format or output path)."""


class ExportFailed(ExportError):
    """The model could not be exported faithfully; nothing was written."""

    exit_code = EXIT_RUN_FAILED


@dataclass(frozen=True)
class ExportResult:
    """What one export wrote and how closely the file reproduces the eager model."""

    path: Path
    format: str
    size: int
    max_abs_diff: float
    metadata: dict[str, Any]


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    # The exporters warn about their own deprecation (TorchScript, the TorchScript-based ONNX
    # exporter), about the input check's Python conditions (constant for a fixed C, H, W), and
    # torchmetrics about properties the tracer probes; none of it concerns the user.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _require(module: str) -> Any:
    try:
        return __import__(module)
    except ImportError:
        raise ExportError(
            f"ONNX export needs the {module} package: pip install 'zoo[onnx]'"
        ) from None


def check_output(path: str | Path, format: str, force: bool = False) -> Path:
    """`path` as the output of a `format` export, or one clear error saying what to change.

    Checked before anything is built: the suffix, the folder (it exists, is a folder, can be
    written to) and an existing file (replaced only with `force`).
    """
    if format not in FORMATS:
        raise ExportError(f"unknown --format {format!r}", f"choose one of: {', '.join(FORMATS)}")
    path = Path(path)
    suffix = FORMATS[format]
    if path.suffix.lower() != suffix:
        others = [name for name, ext in FORMATS.items() if ext == path.suffix.lower()]
        hint = f", or did you mean --format {others[0]}?" if others else ""
        raise ExportError(
            f"--output {path.name!r}: {format} files end in {suffix}",
            f"name it {path.with_suffix(suffix).name}{hint}",
        )
    if path.is_dir():
        raise ExportError(
            f"--output {path} is a directory", f"give a file name, e.g. {path / f'model{suffix}'}"
        )
    _check_folder(path)
    if path.exists() and not force:
        raise ExportError(
            f"--output {path} already exists", "pass --force (force=True) to replace it"
        )
    return path


def _check_folder(path: Path) -> None:
    folder = path.parent
    if not folder.is_dir():
        blocker = _first_existing(folder)
        if blocker is not None and not blocker.is_dir():
            kind = "a file" if blocker.exists() else "a broken symbolic link"
            raise ExportError(
                f"--output {path}: {blocker} is {kind}, not a folder",
                f"write into a folder, e.g. -o {blocker.parent / path.name}",
            )
        raise ExportError(
            f"--output {path}: the folder {folder} does not exist",
            f"create it first (mkdir -p {folder})",
        )
    if os.statvfs(folder).f_flag & os.ST_RDONLY:
        raise ExportError(
            f"--output {path}: {folder} is on a read-only file system", "write somewhere else"
        )
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ExportError(
            f"--output {path}: no permission to write into {folder}",
            "check its permissions, or write somewhere else",
        )


def _first_existing(folder: Path) -> Path | None:
    """The nearest of `folder` and its parents that exists (a file, a folder, a broken link)."""
    return next((p for p in (folder, *folder.parents) if os.path.lexists(p)), None)


def _input_shape(model: nn.Module) -> tuple[int, ...]:
    shape = getattr(model, "input_shape", None)
    if not isinstance(shape, tuple) or len(shape) != 3:
        raise ExportError(
            f"{type(model).__name__} has no input_shape (C, H, W): zoo exports image classifiers"
        )
    devices = {t.device.type for t in [*model.parameters(), *model.buffers()]}
    if devices - {"cpu"}:
        raise ExportError(
            f"{type(model).__name__} is on {', '.join(sorted(devices))}; export from the CPU "
            "(model.cpu()) so that the file runs anywhere"
        )
    return shape


def temperature_of(model: nn.Module) -> float:
    """The temperature a model's probabilities divide its logits by (1 for a plain module)."""
    temperature = getattr(model, "temperature", 1.0)
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)):
        raise ExportError(
            f"{type(model).__name__}.temperature must be a number, got {temperature!r}"
        )
    if not 0 < temperature < float("inf"):
        raise ExportError(
            f"{type(model).__name__}.temperature must be a positive number, got {temperature}"
        )
    return float(temperature)


class ScaledLogits(nn.Module):
    """`model(x) / temperature`: what `probabilities` takes the softmax of, as one graph.

    Args:
        model: an image classifier with `input_shape`.
        temperature: T (not 1: a T of 1 is exported as the model itself).
    """

    def __init__(self, model: nn.Module, temperature: float) -> None:
        super().__init__()
        self.model = model
        self.temperature = temperature
        self.input_shape = model.input_shape

    def forward(self, x: Tensor) -> Tensor:
        """The calibrated logits: argmax is the model's, softmax the calibrated probabilities."""
        # The same division as ZooModule.scale_logits, hence the same numbers as eager.
        return self.model(x) / self.temperature


def _label(module: nn.Module) -> str:
    inner = module.model if isinstance(module, ScaledLogits) else module
    return type(inner).__name__


def exported_module(model: nn.Module) -> nn.Module:
    """What an export traces: the model, or `ScaledLogits` when its temperature is not 1."""
    temperature = temperature_of(model)
    return model if temperature == 1.0 else ScaledLogits(model, temperature)


def _base_metadata(model: nn.Module, format: str, shape: tuple[int, ...]) -> dict[str, Any]:
    import zoo

    classes = getattr(model, "num_classes", "num_classes")
    temperature = temperature_of(model)
    if temperature == 1.0:
        output = f"{OUTPUT_NAME}: float32 (N, {classes}); softmax gives the probabilities"
    else:
        output = (
            f"{OUTPUT_NAME}: float32 (N, {classes}), the network's logits divided by the "
            f"temperature {temperature:g}; softmax gives calibrated probabilities"
        )
    return {
        "format": format,
        "model_class": type(model).__name__,
        "input_name": INPUT_NAME,
        "input_shape": list(shape),
        "input": f"{INPUT_NAME}: float32 (N, {', '.join(map(str, shape))}), any batch size N",
        "output_name": OUTPUT_NAME,
        "output": output,
        "temperature": temperature,
        "zoo_version": zoo.__version__,
        "torch_version": torch.__version__,
    }


def _check_json(metadata: dict[str, Any]) -> None:
    for key, value in metadata.items():
        if not isinstance(key, str):
            raise ExportError(f"metadata keys must be strings, got {key!r}")
        try:
            json.dumps(value)
        except (TypeError, ValueError):
            raise ExportError(f"metadata {key}={value!r} is not a plain JSON value") from None


def onnx_bytes(model: nn.Module, opset: int = ONNX_OPSET) -> bytes:
    """`model` (in eval mode, with an `input_shape`) as an ONNX graph with a dynamic batch axis.

    The graph is traced on the model's device; inputs are named `x`, outputs `logits`.
    """
    device = next(model.parameters()).device
    example = torch.zeros(EXAMPLE_BATCH, *model.input_shape, device=device)
    buffer = io.BytesIO()
    with _quiet():
        # The TorchScript-based exporter: the torch.export-based one needs onnxscript, which
        # zoo does not depend on.
        torch.onnx.export(
            model, (example,), buffer, dynamo=False, opset_version=opset,
            input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
            dynamic_axes={INPUT_NAME: {0: BATCH_DIM}, OUTPUT_NAME: {0: BATCH_DIM}},
        )  # fmt: skip
    return buffer.getvalue()


def _onnx_file(model: nn.Module, example: Tensor, metadata: dict[str, Any]) -> bytes:
    onnx = _require("onnx")
    proto = onnx.load_from_string(onnx_bytes(model))
    for key, value in metadata.items():
        prop = proto.metadata_props.add()
        prop.key = key
        prop.value = value if isinstance(value, str) else json.dumps(value)
    return proto.SerializeToString()


def _torchscript_file(model: nn.Module, example: Tensor, metadata: dict[str, Any]) -> bytes:
    from zoo.lightning_shims import trainer_free_tracing

    buffer = io.BytesIO()
    with _quiet(), trainer_free_tracing(), torch.no_grad():
        traced = torch.jit.trace(model, (example,), check_trace=False)
        torch.jit.save(traced, buffer, _extra_files={METADATA_FILE: json.dumps(metadata)})
    return buffer.getvalue()


def _exported_program_file(model: nn.Module, example: Tensor, metadata: dict[str, Any]) -> bytes:
    batch = torch.export.Dim(BATCH_DIM, min=1)
    buffer = io.BytesIO()
    with _quiet():
        program = torch.export.export(model, (example,), dynamic_shapes=({0: batch},))
        torch.export.save(program, buffer, extra_files={METADATA_FILE: json.dumps(metadata)})
    return buffer.getvalue()


BUILDERS: dict[str, Callable[[nn.Module, Tensor, dict[str, Any]], bytes]] = {
    "onnx": _onnx_file,
    "torchscript": _torchscript_file,
    "exported-program": _exported_program_file,
}


def _runner(format: str, payload: bytes) -> BatchFunction:
    """The exported artifact, loaded by the runtime a deployer would use."""
    if format == "onnx":
        ort = _require("onnxruntime")
        options = ort.SessionOptions()
        options.intra_op_num_threads = torch.get_num_threads()
        session = ort.InferenceSession(payload, options, providers=["CPUExecutionProvider"])

        def run(x: Tensor) -> Tensor:
            (logits,) = session.run(None, {INPUT_NAME: x.contiguous().numpy()})
            return torch.from_numpy(logits)

        return run
    with _quiet():
        if format == "torchscript":
            return torch.jit.load(io.BytesIO(payload))
        return torch.export.load(io.BytesIO(payload)).module()


def _first_line(err: Exception) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else "no message"


def _max_abs_diff(model: nn.Module, run: BatchFunction, shape: tuple[int, ...]) -> float:
    generator = torch.Generator().manual_seed(CHECK_SEED)
    worst = 0.0
    for n in CHECK_BATCHES:
        x = torch.randn(n, *shape, generator=generator)
        with torch.no_grad():
            expected = model(x)
            try:
                got = run(x)
            except Exception as err:  # e.g. a guard that pinned the batch size at export
                raise ExportFailed(
                    f"the exported file fails on a batch of {n} ({type(err).__name__}: "
                    f"{_first_line(err)}); its batch size is not dynamic; nothing was written"
                ) from err
        if got.shape != expected.shape:
            raise ExportFailed(
                f"the export returns shape {tuple(got.shape)} for a batch of {n}, eager "
                f"{tuple(expected.shape)}: its batch size is not dynamic; nothing was written"
            )
        worst = max(worst, (got - expected).abs().max().item())
    return worst


def _build(model: nn.Module, format: str, shape: tuple[int, ...], info: dict[str, Any]) -> bytes:
    example = torch.randn(EXAMPLE_BATCH, *shape, generator=torch.Generator().manual_seed(1))
    try:
        return BUILDERS[format](model, example, info)
    except ExportError:
        raise
    except Exception as err:  # the exporters' many error types, turned into one clear message
        raise ExportFailed(
            f"{FORMAT_NAMES[format]} export of {_label(model)} with a dynamic batch size "
            f"failed ({type(err).__name__}: {_first_line(err)}); nothing was written"
        ) from err


def export_file(
    model: nn.Module,
    format: str,
    path: str | Path,
    *,
    metadata: dict[str, Any] | None = None,
    force: bool = False,
) -> ExportResult:
    """`export_model`, returning what was written and the measured max |exported - eager|."""
    path = check_output(path, format, force)
    shape = _input_shape(model)
    info = {**(metadata or {}), **_base_metadata(model, format, shape)}
    _check_json(info)
    if format == "onnx":
        for module in ("onnx", "onnxruntime"):
            _require(module)
    was_training = model.training
    model.eval()
    # Built and checked as one: the file must reproduce the eager calibrated logits.
    target = exported_module(model)
    try:
        payload = _build(target, format, shape, info)
        diff = _max_abs_diff(target, _runner(format, payload), shape) * temperature_of(model)
    finally:
        model.train(was_training)
    if not diff <= TOLERANCE:  # also catches NaN
        raise ExportFailed(
            f"the {FORMAT_NAMES[format]} export of {type(model).__name__} differs from the eager "
            f"model by up to {diff:.3g} (more than {TOLERANCE:g}) on batches of "
            f"{' and '.join(map(str, CHECK_BATCHES))}; nothing was written"
        )
    write_export(path, payload)
    return ExportResult(path, format, len(payload), diff, info)


def write_export(path: Path, payload: bytes) -> None:
    """Write `payload` to `path` crash-consistently: after a crash at any point `path` is the
    old file (or absent) or the whole new one, never part of one.

    The bytes go to `.NAME.PID.TOKEN.part` in the same folder, are fsynced, and the file is
    renamed over `path` (then the folder is fsynced, so that the rename survives a power cut).
    The `.part` files that an export killed earlier left for the same `path` are removed first;
    the metadata is inside the file, so there is no second file to keep in step. An `OSError`
    (a full disk) names `path` and leaves nothing behind.
    """
    remove_leftovers(path)
    part = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.part")
    try:
        # 0o666 and the umask: the permissions of a normally created file.
        fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
        try:
            _sync_point("created")
            half = len(payload) // 2
            _write_all(fd, payload[:half])
            _sync_point("half-written")
            _write_all(fd, payload[half:])
            _sync_point("written")
            os.fsync(fd)
            _sync_point("synced")
        finally:
            os.close(fd)
        os.replace(part, path)
    except OSError as err:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(part)
        raise OSError(err.errno, err.strerror, str(path)) from None
    _sync_point("renamed")
    fsync_directory(path.parent)


def remove_leftovers(path: Path) -> list[Path]:
    """Remove the `.part` files that killed exports to `path` left; return them.

    A `.part` named after a process still running is another export's, still being written,
    and stays; so do the `.part` files of other destinations. One without a process id is
    from `zoo.files.atomic_writer`, which exports used before.
    """
    prefix = f".{path.name}."
    removed = []
    for name in sorted(os.listdir(path.parent)):
        if not (name.startswith(prefix) and name.endswith(".part")):
            continue
        pid = name[len(prefix) :].split(".")[0]
        if not (pid.isdigit() and _running(int(pid))):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path.parent / name)
            removed.append(path.parent / name)
    return removed


def _running(pid: int) -> bool:
    # A live export to the same file keeps its .part; only a dead one's is a leftover.
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _sync_point(step: str) -> None:
    if os.environ.get(KILL_AT_ENV) == step:
        os.kill(os.getpid(), signal.SIGKILL)


def export_model(
    model: nn.Module,
    format: str,
    path: str | Path,
    *,
    metadata: dict[str, Any] | None = None,
    force: bool = False,
) -> Path:
    """Export an image classifier to `path` with a dynamic batch size; returns the path.

    Args:
        model: a model with `input_shape` (C, H, W), on the CPU; exported in eval mode (its
            training mode is restored afterwards).
        format: "onnx" (.onnx), "torchscript" (.pt) or "exported-program" (.pt2).
        path: the output file; its directory must exist, and its suffix match the format.
        metadata: JSON values stored in the file (ONNX `metadata_props`; the `zoo.json` extra
            file of TorchScript and torch.export); zoo adds the format and the input/output.
        force: replace an existing file.

    A model whose `temperature` is not 1 is exported as `model(x) / temperature` (see the
    module's docstring). The file is loaded back, run on random batches of 1 and 7 and compared
    with the eager model (max abs diff ≤ 1e-5 in raw-logit units) before it is written
    atomically. Raises
    `ExportError` for a bad request and `ExportFailed` when the model cannot be exported
    faithfully; nothing is written then.
    """
    return export_file(model, format, path, metadata=metadata, force=force).path
