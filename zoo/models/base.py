"""The Lightning plumbing every course model shares, written once.

A model file defines only its network (`__init__` layers, `forward` data flow) and subclasses one
of the task classes here, which supply the loss, torchmetrics per stage, logging under
`train/loss`, `val/acc`, …, the optimizer and LR schedule from hyperparameters, and
`predict_step`.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar, Literal

import torch
import torch.nn.functional as F
import torchmetrics
from torch import Tensor, nn

from zoo.errors import BadInput
from zoo.lightning_shims import FastHookNameModule, logs_this_step
from zoo.models.metrics import TopOneAccuracy

Stage = Literal["train", "val", "test"]
STAGES: tuple[Stage, ...] = ("train", "val", "test")
OPTIMIZERS = ("sgd", "adam", "adamw")
PRECISION_KEY = "zoo_precision"
"""Where a checkpoint records the precision its run trained in."""
SCHEDULERS = ("none", "onecycle", "cosine")


class ZooModule(FastHookNameModule):
    """Base of every zoo model: optimizer, schedule and stage logging from hyperparameters.

    Args:
        lr: learning rate (the peak rate under `onecycle`).
        momentum: SGD momentum (the course uses 0.5).
        weight_decay: L2 penalty (decoupled under AdamW).
        optimizer: "sgd", "adam" or "adamw".
        scheduler: "none", "onecycle" (per step) or "cosine" (per step, to zero).
        nesterov: Nesterov momentum for SGD.
    """

    metric_name: ClassVar[str] = "acc"
    # Temperature scaling of the probabilities; a class default, so a new model has T = 1 and
    # no checkpoint or state_dict ever carries it (`zoo.hub` sets a published weight's).
    _temperature: float = 1.0

    def __init__(
        self,
        lr: float = 0.01,
        momentum: float = 0.5,
        weight_decay: float = 0.0,
        optimizer: str = "sgd",
        scheduler: str = "none",
        nesterov: bool = False,
    ) -> None:
        super().__init__()
        if optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {optimizer!r}")
        if scheduler not in SCHEDULERS:
            raise ValueError(f"scheduler must be one of {SCHEDULERS}, got {scheduler!r}")
        if not lr > 0:
            raise ValueError(f"lr must be positive, got {lr}")
        if not momentum >= 0:
            raise ValueError(f"momentum must be >= 0 (the course uses 0.5), got {momentum}")
        if not weight_decay >= 0:
            raise ValueError(f"weight_decay must be >= 0, got {weight_decay}")
        self.save_hyperparameters()
        # ModuleDict keys cannot be "train" (nn.Module.train exists), hence the suffix.
        self.metrics = nn.ModuleDict({f"{stage}_metric": self.make_metric() for stage in STAGES})
        self._train_metric_logged = False
        self._resumed_schedule_steps: int | None = None

    @classmethod
    def from_pretrained(cls, tag: str = "default", *, download: bool = True) -> ZooModule:
        """Published weights for this model, verified and in eval mode (see `zoo.hub`).

        `tag` names one of the model's weights; "default" follows the table's alias. Bundled
        weights load offline; others download once into torch's hub cache.
        """
        from zoo.hub import load_pretrained  # the one edge from models to weights, made lazily

        return load_pretrained(cls, tag, download=download)

    def make_metric(self) -> torchmetrics.Metric:
        """The per-stage metric, logged as `<stage>/<metric_name>`."""
        raise NotImplementedError

    def loss(self, output: Tensor, target: Tensor) -> Tensor:
        """The training objective on `forward`'s output."""
        raise NotImplementedError

    @property
    def temperature(self) -> float:
        """T of temperature scaling: `probabilities` divides the logits by it (1: unchanged).

        `forward` always returns the raw logits, so argmax, accuracy and the training loss do
        not depend on it. Published weights come with the T fitted on their validation split.
        """
        return self._temperature

    @temperature.setter
    def temperature(self, value: float) -> None:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"temperature must be a positive number, got {value!r}")
        if not 0 < value < math.inf:
            raise ValueError(f"temperature must be a positive finite number, got {value!r}")
        self._temperature = float(value)

    def scale_logits(self, output: Tensor) -> Tensor:
        """`output / temperature`: the logits whose softmax (sigmoid) is calibrated."""
        # At T = 1 the very same tensor: a fresh model's probabilities stay bit-for-bit as before.
        return output if self._temperature == 1.0 else output / self._temperature

    def probabilities(self, output: Tensor) -> Tensor:
        """What `predict_step` returns for `forward`'s output."""
        return output

    def metric_input(self, output: Tensor) -> Tensor:
        """What the stage metric is updated with: `probabilities` unless a subclass can skip it."""
        return self.probabilities(output)

    def _step(self, batch: tuple[Tensor, Tensor], stage: Stage, batch_idx: int = 0) -> Tensor:
        x, y = batch
        output = self(x)
        loss = self.loss(output, y)
        metric = self.metrics[f"{stage}_metric"]
        # `update`, not `metric(...)`: the metric is logged per epoch, so a per-batch value
        # would be computed only to be thrown away (about 0.5 ms a step on CPU).
        metric.update(self.metric_input(output.detach()), y)
        if stage == "train":
            self._log_training(loss, metric, batch_idx)
        else:
            # Per epoch, averaged over batches and ranks.
            self.log(f"{stage}/loss", loss, on_step=False, on_epoch=True, sync_dist=True)
            self.log(f"{stage}/{self.metric_name}", metric, on_step=False, on_epoch=True)
        return loss

    def _log_training(self, loss: Tensor, metric: torchmetrics.Metric, batch_idx: int) -> None:
        # Each `self.log` costs Lightning about 0.4-0.6 ms, a few % of a small model's step, so
        # training logs only what is used. `train/loss` (rank 0's value: an all-reduce every
        # step would stall DDP) at the steps the loggers write and at each epoch's last step. The
        # metric object is registered once per epoch; Lightning computes it from every update at
        # the epoch's end.
        if self._loss_wanted(batch_idx):
            self.log("train/loss", loss, on_step=True, on_epoch=False)
        if not self._train_metric_logged:
            self.log(f"train/{self.metric_name}", metric, on_step=False, on_epoch=True)
            self._train_metric_logged = True

    def _loss_wanted(self, batch_idx: int) -> bool:
        trainer = self._trainer
        if trainer is None or trainer.fast_dev_run or logs_this_step(trainer):
            return True
        return batch_idx + 1 >= trainer.num_training_batches

    def setup(self, stage: str) -> None:
        """Give the model summary an example input, so that it shows shapes and real FLOPs."""
        if self.example_input_array is None:
            self.example_input_array = self.example_input()

    def example_input(self) -> Tensor:
        """One zero sample of the input the network takes: `(1, in_features)` of its first layer."""
        first = next(m for m in self.modules() if isinstance(m, nn.Linear | nn.Conv2d))
        width = first.in_features if isinstance(first, nn.Linear) else first.in_channels
        return torch.zeros(1, width)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Record the run's precision, which `zoo publish` writes into the weight's entry."""
        if self._trainer is not None:
            checkpoint[PRECISION_KEY] = str(self._trainer.precision)

    def on_train_epoch_start(self) -> None:
        """Register the training metric with the logger again in the new epoch."""
        self._train_metric_logged = False

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        """One optimisation step's loss; logs `train/loss` and `train/<metric>`."""
        return self._step(batch, "train", batch_idx)

    def validation_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        """Logs `val/loss` and `val/<metric>`."""
        return self._step(batch, "val")

    def test_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        """Logs `test/loss` and `test/<metric>`."""
        return self._step(batch, "test")

    def predict_step(self, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> Tensor:
        """Probabilities (or values, for regression) for a batch `x` or `(x, y)`."""
        x = batch[0] if isinstance(batch, (tuple, list)) else batch
        return self.probabilities(self(x))

    def configure_optimizers(self) -> Any:
        """The optimizer named by the hyperparameters, with its per-step schedule if any."""
        steps = self.trainer.estimated_stepping_batches if self.hparams.scheduler != "none" else 0
        self._check_resumed_schedule(int(steps))
        # Lightning refuses to clip the gradients of a fused optimizer under mixed precision.
        clipping = bool(getattr(self._trainer, "gradient_clip_val", None))
        return self.optimizer_config(int(steps), fused=not clipping)

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Note how many steps the checkpoint's LR schedule spans (checked before training)."""
        if self._trainer is None:  # load_from_checkpoint: weights only, no run being resumed
            return
        schedules = checkpoint.get("lr_schedulers") or [{}]
        self._resumed_schedule_steps = schedules[0].get("total_steps", schedules[0].get("T_max"))

    def _check_resumed_schedule(self, steps: int) -> None:
        # Resuming restores the schedule's own length, so a run made longer would crash at the
        # old end (one-cycle) or swing the LR back up (cosine) hours in. Refuse it up front; a
        # run made shorter just stops early.
        resumed, self._resumed_schedule_steps = self._resumed_schedule_steps, None
        if resumed is None or self.hparams.scheduler == "none" or steps <= resumed:
            return
        raise BadInput(
            f"the checkpoint's {self.hparams.scheduler} LR schedule spans {resumed} steps, but "
            f"this run's settings give {steps}, and a schedule cannot be stretched on resume",
            "resume with the max_epochs/max_steps, batch size and limit_train_batches the run "
            "started with (or fewer steps), or start a new run",
        )

    def optimizer_config(self, steps: int, fused: bool = True) -> Any:
        """`configure_optimizers`' answer for a run of `steps` optimizer steps.

        Separate from the Trainer so that a plain PyTorch loop can build the very same optimizer
        and schedule (see `zoo.benchmark`). `fused=False` asks for the per-tensor loop.
        """
        hp = self.hparams
        params = list(self.parameters())
        # One fused kernel per step instead of a few ops per parameter tensor: 1-4 % of a
        # training step on CPU (and on GPUs); every other device uses the default loop.
        fused = {"fused": True} if fused and _fusable(params) else {}
        if hp.optimizer == "sgd":
            optimizer = torch.optim.SGD(
                params, lr=hp.lr, momentum=hp.momentum, weight_decay=hp.weight_decay,
                nesterov=hp.nesterov, **fused,
            )  # fmt: skip
        elif hp.optimizer == "adam":
            optimizer = torch.optim.Adam(params, lr=hp.lr, weight_decay=hp.weight_decay, **fused)
        else:
            optimizer = torch.optim.AdamW(params, lr=hp.lr, weight_decay=hp.weight_decay, **fused)
        if hp.scheduler == "none":
            return optimizer
        if hp.scheduler == "onecycle":
            schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, hp.lr, total_steps=steps)
        else:
            schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}


FUSED_OPTIMIZER_DEVICES = ("cpu", "cuda")


def _fusable(params: list[nn.Parameter]) -> bool:
    return bool(params) and all(
        p.device.type in FUSED_OPTIMIZER_DEVICES and p.is_floating_point() for p in params
    )


class ImageClassifier(ZooModule):
    """A multi-class image classifier: cross-entropy on logits, accuracy, softmax predictions.

    Subclasses set `input_shape` (C, H, W); any other input gets one clear error before it
    reaches a layer.

    Args:
        num_classes: number of output classes.
        label_smoothing: cross-entropy label smoothing (0 = the course's plain loss).
        **hparams: optimizer settings, see `ZooModule`.
    """

    input_shape: ClassVar[tuple[int, int, int]] = (1, 28, 28)
    dataset: ClassVar[str] = "MNIST"

    def __init__(self, num_classes: int = 10, label_smoothing: float = 0.0, **hparams: Any):
        if num_classes < 2:
            raise ValueError(f"num_classes must be at least 2, got {num_classes}")
        if not 0 <= label_smoothing < 1:
            raise ValueError(f"label_smoothing must be in [0, 1), got {label_smoothing}")
        self.num_classes = num_classes
        super().__init__(**hparams)
        self.register_forward_pre_hook(_check_image_input)

    def example_input(self) -> Tensor:
        """One zero image of `input_shape`: `(1, C, H, W)`."""
        return torch.zeros(1, *self.input_shape)

    def make_metric(self) -> torchmetrics.Metric:
        """Top-1 accuracy over all samples."""
        return TopOneAccuracy()

    def metric_input(self, output: Tensor) -> Tensor:
        """The logits: top-1 accuracy needs only their argmax, no softmax."""
        return output

    def loss(self, output: Tensor, target: Tensor) -> Tensor:
        """Cross-entropy with the configured label smoothing."""
        return F.cross_entropy(output, target, label_smoothing=self.hparams.label_smoothing)

    def probabilities(self, output: Tensor) -> Tensor:
        """Softmax over classes of the logits divided by `temperature`."""
        return self.scale_logits(output).softmax(dim=-1)


def _check_image_input(module: ImageClassifier, args: tuple[Any, ...]) -> None:
    # Under DDP, Lightning runs `*_step` through the wrapper by patching `forward` on the
    # instance; that call carries the whole batch. The model's own call inside the step is checked.
    forward = vars(module).get("forward")
    if forward is not None and getattr(forward, "__self__", None) is not module:
        return
    x = args[0]
    expected = module.input_shape
    if not isinstance(x, Tensor) or x.ndim != 4 or tuple(x.shape[1:]) != expected:
        got = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        c, h, w = expected
        raise ValueError(
            f"{type(module).__name__} expects a float batch of shape (N, {c}, {h}, {w}) "
            f"({module.dataset}: {c} channel(s), {h}×{w}), got {got}. "
            + ("Convert images to greyscale; " if c == 1 else "Use RGB images; ")
            + f"resize to {h}×{w} and add the batch dimension (x.unsqueeze(0) for one image)."
        )
    if not x.is_floating_point():
        raise ValueError(
            f"{type(module).__name__} expects normalised float images, got dtype {x.dtype}; "
            "use the DataModule's preprocess() to convert uint8 images"
        )
    if x.dtype == torch.float32:  # every training and predict batch: no parameter lookup (7 µs)
        return
    weight_dtype = next(module.parameters()).dtype
    if x.dtype != weight_dtype and not torch.is_autocast_enabled(x.device.type):
        raise ValueError(
            f"{type(module).__name__} holds {weight_dtype} weights, got a {x.dtype} batch; "
            f"convert it with x.to({weight_dtype}) (or the model with model.to({x.dtype}))"
        )


class BinaryClassifier(ZooModule):
    """A binary classifier returning one logit: BCE-with-logits, accuracy, sigmoid predictions.

    The course applies `sigmoid` in `forward` and uses `BCELoss`; keeping the logit and fusing
    the sigmoid into the loss is the same model, but numerically stable for large logits.
    """

    def make_metric(self) -> torchmetrics.Metric:
        """Accuracy at threshold 0.5 on the probability."""
        return torchmetrics.classification.BinaryAccuracy()

    def loss(self, output: Tensor, target: Tensor) -> Tensor:
        """Binary cross-entropy on the logit."""
        return F.binary_cross_entropy_with_logits(output, target.view_as(output).to(output.dtype))

    def probabilities(self, output: Tensor) -> Tensor:
        """P(class 1) = sigmoid(logit / temperature)."""
        return torch.sigmoid(self.scale_logits(output))

    def _step(self, batch: tuple[Tensor, Tensor], stage: Stage, batch_idx: int = 0) -> Tensor:
        x, y = batch
        return super()._step((x, y.view(-1, 1)), stage, batch_idx)


class Regressor(ZooModule):
    """A regression model: mean squared error as both loss and metric."""

    metric_name: ClassVar[str] = "mse"

    def make_metric(self) -> torchmetrics.Metric:
        """Mean squared error."""
        return torchmetrics.MeanSquaredError()

    def loss(self, output: Tensor, target: Tensor) -> Tensor:
        """Mean squared error."""
        return F.mse_loss(output, target)

    @ZooModule.temperature.setter
    def temperature(self, value: float) -> None:
        # A regression output is a value, not a logit: there is nothing to scale.
        if value != 1.0:
            raise ValueError(
                f"{type(self).__name__} is a regression model: it outputs values, not "
                f"probabilities, so its temperature stays 1 (got {value!r})"
            )
