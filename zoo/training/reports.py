"""The figures every run draws, as PNGs in `plots/` and, under W&B, as `wandb.Image`s.

* `TrainingCurves`: loss/accuracy per epoch, raw and exponentially smoothed, after fit.
* `PredictionReport`: confusion matrix and a grid of sample predictions for the validation set
  (after fit) and the test set (after test).

They write files on global rank zero only; anything collective (reducing the confusion matrix
across DDP ranks) runs on every rank.
"""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.loggers import WandbLogger
from lightning.pytorch.utilities import rank_zero_only
from torch import Tensor
from torch.utils.hooks import RemovableHandle

from zoo.models.base import BinaryClassifier, ImageClassifier
from zoo.training.figures import (
    confusion_matrix,
    plot_confusion_matrix,
    plot_curves,
    plot_prediction_grid,
)


def _plots_dir(trainer: L.Trainer, dirpath: str | Path | None) -> Path:
    """`<dirpath>/plots`, by default under the trainer's log directory (call on all ranks)."""
    base = dirpath if dirpath is not None else (trainer.log_dir or trainer.default_root_dir)
    return Path(base) / "plots"


def _wandb_loggers(trainer: L.Trainer) -> list[WandbLogger]:
    return [logger for logger in trainer.loggers if isinstance(logger, WandbLogger)]


def _log_images(trainer: L.Trainer, images: dict[str, Path]) -> None:
    """Send PNGs to every W&B logger of `trainer` (rank zero only, like all W&B logging)."""
    for logger in _wandb_loggers(trainer):
        for key, path in images.items():
            logger.log_image(key=key, images=[str(path)], step=trainer.global_step)


class TrainingCurves(L.Callback):
    """After fit: `plots/curves.png`, loss and accuracy (or MSE) against epochs.

    Training loss is recorded every step, training metrics at each epoch end and validation
    metrics after each validation. The per-step loss is drawn raw and EWMA-smoothed; the
    per-epoch points are drawn as they are. The history is part of the checkpoint, so a resumed
    run plots its whole training.

    Args:
        dirpath: directory for `plots/`; the `zoo` command sets the run directory.
        beta: EWMA weight on the past for the per-step loss (0: no smoothing).
    """

    def __init__(self, dirpath: str | Path | None = None, beta: float = 0.6) -> None:
        if not 0.0 <= beta < 1.0:
            raise ValueError(f"beta must be in [0, 1), got {beta}")
        self.dirpath = dirpath
        self.beta = beta
        self.history: dict[str, list[tuple[float, float]]] = defaultdict(list)
        # Step losses stay tensors until the epoch ends: `.item()` every step would make the
        # host wait for the device each step.
        self._losses: list[tuple[float, Tensor]] = []
        self.path: Path | None = None

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        """Resolve the output directory (collective under DDP, hence on every rank)."""
        self.path = _plots_dir(trainer, self.dirpath) / "curves.png"

    @staticmethod
    def _epochs(trainer: L.Trainer) -> float:
        """Progress in epochs: optimizer steps over steps per epoch."""
        batches = trainer.num_training_batches
        if not batches or math.isinf(batches):
            return float(trainer.current_epoch)
        return trainer.global_step / max(batches // trainer.accumulate_grad_batches, 1)

    def _record(self, trainer: L.Trainer, prefix: str) -> None:
        x = self._epochs(trainer)
        for key, value in trainer.callback_metrics.items():
            if key.startswith(prefix) and value.numel() == 1 and key != "train/loss":
                self.history[key].append((x, value.item()))

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any,
        batch_idx: int,
    ) -> None:  # fmt: skip
        """Record this step's training loss."""
        loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
        if isinstance(loss, Tensor) and trainer.is_global_zero:
            self._losses.append((self._epochs(trainer), loss.detach()))

    def _flush_losses(self) -> None:
        if self._losses:
            steps, losses = zip(*self._losses, strict=True)
            values = torch.stack(losses).float().cpu().tolist()
            self.history["train/loss"] += list(zip(steps, values, strict=True))
            self._losses = []

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Record the epoch's training losses and metrics (accuracy/MSE)."""
        self._flush_losses()
        if trainer.is_global_zero:
            self._record(trainer, "train/")

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Record the validation metrics (not those of the sanity check)."""
        if trainer.is_global_zero and not trainer.sanity_checking:
            self._record(trainer, "val/")

    @rank_zero_only
    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Write the curves PNG and send it to W&B."""
        self._flush_losses()
        if not self.history or self.path is None or trainer.fast_dev_run:
            return
        metric = getattr(pl_module, "metric_name", "acc")
        panels = {
            "loss": {k: v for k, v in self.history.items() if k.endswith("/loss")},
            metric: {k: v for k, v in self.history.items() if k.endswith(f"/{metric}")},
        }
        title = f"{type(pl_module).__name__}: training curves"
        plot_curves(panels, self.path, beta=self.beta, title=title, smoothed={"train/loss"})
        _log_images(trainer, {"plots/curves": self.path})

    def state_dict(self) -> dict[str, Any]:
        """The history as plain lists (safe for `torch.load(weights_only=True)`)."""
        self._flush_losses()
        return {"history": {k: [list(p) for p in v] for k, v in self.history.items()}}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Continue the saved history."""
        for key, points in state_dict.get("history", {}).items():
            self.history[key] = [(float(x), float(y)) for x, y in points]


class PredictionReport(L.Callback):
    """Confusion matrix and sample predictions of a classifier, for validation and test.

    During validation and test the model's outputs are captured by a forward hook (no second
    forward pass) and counted into a confusion matrix, summed over DDP ranks. After fit the last
    validation's matrix is written to `plots/val_confusion_matrix.png`; after test,
    `plots/test_confusion_matrix.png`. For image data, `plots/<stage>_predictions.png` shows
    the first `num_samples` images (un-normalised with the DataModule's mean/std) titled
    "predicted / true". Regression models are skipped.

    Args:
        dirpath: directory for `plots/`; the `zoo` command sets the run directory.
        num_samples: images in the sample grid.
    """

    def __init__(self, dirpath: str | Path | None = None, num_samples: int = 32) -> None:
        self.dirpath = dirpath
        self.num_samples = num_samples
        self.plots: Path | None = None
        self.matrix: dict[str, Tensor] = {}
        self.samples: dict[str, tuple[Tensor, Tensor, Tensor]] = {}
        self._output: Tensor | None = None
        self._hook: RemovableHandle | None = None

    @staticmethod
    def num_classes(pl_module: L.LightningModule) -> int:
        """Classes the model predicts (0 for models this report does not apply to)."""
        if isinstance(pl_module, ImageClassifier):
            return pl_module.num_classes
        return 2 if isinstance(pl_module, BinaryClassifier) else 0

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        """Resolve the output directory and start capturing the model's outputs."""
        self.plots = _plots_dir(trainer, self.dirpath)
        if self.num_classes(pl_module) and self._hook is None:
            self._hook = pl_module.register_forward_hook(self._capture)

    def teardown(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        """Stop capturing."""
        if self._hook is not None:
            self._hook.remove()
            self._hook = None

    def _capture(self, module: Any, args: Any, output: Any) -> None:
        # Under DDP the wrapper's outer call (whole batch in, step loss out) also fires this hook.
        if not args or not isinstance(args[0], Tensor):
            return
        if isinstance(output, Tensor):
            self._output = output.detach()

    def _start(self, pl_module: L.LightningModule, stage: str) -> None:
        # Zeros rather than nothing: every DDP rank must join the reduction at epoch end.
        n = self.num_classes(pl_module)
        if n:
            self.matrix[stage] = torch.zeros(n, n, dtype=torch.int64)
        self.samples.pop(stage, None)

    def _batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any, stage: str):
        output, self._output = self._output, None
        n = self.num_classes(pl_module)
        if not n or output is None or trainer.sanity_checking or stage not in self.matrix:
            return
        x, y = batch[0], batch[1]
        probs = pl_module.probabilities(output)
        preds = probs.argmax(-1) if n > 2 or probs.shape[-1] > 1 else (probs > 0.5).long()
        preds, y = preds.flatten(), y.flatten().long()
        self.matrix[stage] += confusion_matrix(preds, y, n)
        if stage not in self.samples and x.ndim == 4:
            k = self.num_samples
            self.samples[stage] = (x[:k].detach().cpu(), preds[:k].cpu(), y[:k].cpu())

    def _epoch_end(self, trainer: L.Trainer, stage: str) -> None:
        if stage in self.matrix and trainer.world_size > 1:
            device = trainer.strategy.root_device
            total = trainer.strategy.reduce(self.matrix[stage].to(device), reduce_op="sum")
            self.matrix[stage] = total.cpu()

    def on_validation_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Forget the previous validation's counts."""
        if not trainer.sanity_checking:
            self._start(pl_module, "val")

    def on_validation_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any,
        batch_idx: int, dataloader_idx: int = 0,
    ) -> None:  # fmt: skip
        """Count this batch's predictions."""
        self._batch_end(trainer, pl_module, batch, "val")

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Sum the counts over ranks."""
        if not trainer.sanity_checking:
            self._epoch_end(trainer, "val")

    def on_test_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Forget earlier test counts."""
        self._start(pl_module, "test")

    def on_test_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any,
        batch_idx: int, dataloader_idx: int = 0,
    ) -> None:  # fmt: skip
        """Count this batch's predictions."""
        self._batch_end(trainer, pl_module, batch, "test")

    def on_test_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Sum the counts over ranks."""
        self._epoch_end(trainer, "test")

    @rank_zero_only
    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Write and log the last validation's report."""
        self.write(trainer, pl_module, "val")

    @rank_zero_only
    def on_test_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Write and log the test report."""
        self.write(trainer, pl_module, "test")

    def write(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> dict:
        """PNGs for `stage` ("val" or "test") into `plots/`; returns {W&B key: path}."""
        # Like Lightning's logging and checkpointing, reports are off for a fast_dev_run.
        if stage not in self.matrix or self.plots is None or trainer.fast_dev_run:
            return {}
        datamodule = trainer.datamodule
        n = self.num_classes(pl_module)
        classes = list(getattr(datamodule, "classes", ()) or ()) or [str(i) for i in range(n)]
        images = {
            f"{stage}/confusion_matrix": plot_confusion_matrix(
                self.matrix[stage], classes, self.plots / f"{stage}_confusion_matrix.png",
                title=f"{type(pl_module).__name__} on {stage}",
            )
        }  # fmt: skip
        if stage in self.samples:
            x, preds, targets = self.samples[stage]
            images[f"{stage}/predictions"] = plot_prediction_grid(
                unnormalise(x, datamodule), preds.tolist(), targets.tolist(), classes,
                self.plots / f"{stage}_predictions.png",
            )  # fmt: skip
        _log_images(trainer, images)
        return images


def unnormalise(x: Tensor, datamodule: Any) -> Tensor:
    """Undo `(x - mean) / std` with the DataModule's `mean`/`std` (if it has them), into [0, 1]."""
    mean, std = getattr(datamodule, "mean", None), getattr(datamodule, "std", None)
    if mean is not None and std is not None:
        shape = (1, -1, 1, 1)
        x = x * torch.tensor(std, dtype=x.dtype).view(shape)
        x = x + torch.tensor(mean, dtype=x.dtype).view(shape)
    return x.clamp(0, 1)
