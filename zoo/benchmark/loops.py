"""The three ways the benchmark trains a model, each timed step by step.

`course_steps` runs the course's script (see `zoo.benchmark.course`); `vanilla_steps` is a plain
PyTorch loop over zoo's data pipeline; `lightning_steps` is zoo through a Lightning `Trainer`.
The last two build the same optimizer and schedule (`ZooModule.optimizer_config`), read the same
batches in the same order and compute the same loss under the same precision (the Trainer's
`bf16-mixed` is the vanilla loop's `torch.autocast(device, torch.bfloat16)`), so their per-step
losses agree and their time difference is what Lightning costs.
"""

from __future__ import annotations

import logging
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import lightning as L
import torch
from torch import Tensor

from zoo.benchmark.course import course_loader, course_optimizer, course_test, course_train
from zoo.benchmark.measure import clock, training_autocast
from zoo.benchmark.precisions import LIGHTNING_PRECISION
from zoo.data import MNISTDataModule
from zoo.models import ImageClassifier

MNIST_TRAIN_IMAGES = 60_000


@dataclass
class StepLog:
    """Wall-clock time after every training step, and the step losses when asked for.

    The device is synchronised only at `sync_steps` (the ends of the timed window), so that
    measuring adds no host-device sync to the loop itself.
    """

    device: torch.device
    sync_steps: frozenset[int] = frozenset()
    keep_losses: bool = False
    times: list[float] = field(default_factory=list)
    losses: list[Tensor] = field(default_factory=list)

    def record(self, loss: Tensor | float) -> None:
        """Note the end of one step."""
        step = len(self.times)
        if step in self.sync_steps:
            self.times.append(clock(self.device))
        else:
            self.times.append(0.0)
        if self.keep_losses:
            self.losses.append(loss.detach() if isinstance(loss, Tensor) else torch.tensor(loss))

    def seconds_per_step(self, warmup: int) -> float:
        """Mean time of the steps after the first `warmup`."""
        steps = len(self.times) - warmup
        return (self.times[-1] - self.times[warmup - 1]) / steps

    def loss_values(self) -> list[float]:
        """The recorded losses as floats (one sync, after the run)."""
        return torch.stack(self.losses).float().cpu().tolist() if self.losses else []


def new_log(device: torch.device, warmup: int, steps: int, keep_losses: bool = False) -> StepLog:
    """A log timing the window from the end of step `warmup` to the end of step `steps`."""
    return StepLog(device, frozenset({warmup - 1, steps - 1}), keep_losses)


def zoo_datamodule(
    data_dir: str | Path,
    batch_size: int,
    seed: int = 0,
    augment: bool = False,
    val_size: int = 0,
) -> MNISTDataModule:
    """zoo's MNIST pipeline, by default over all 60,000 training images (like the course, no
    val split); `val_size` and `augment` as a user's recipe sets them."""
    dm = MNISTDataModule(
        data_dir=data_dir, batch_size=batch_size, val_size=val_size, seed=seed, augment=augment
    )
    dm.prepare_data()
    dm.setup()
    return dm


def course_steps(model: torch.nn.Module, data_dir: str | Path, log: StepLog, steps: int) -> None:
    """`steps` batches of the course's training loop and per-sample pipeline."""
    model.to(log.device)
    loader = course_loader(data_dir)
    optimizer = course_optimizer(model)
    course_train(model, loader, optimizer, steps, lambda _, loss: log.record(loss), log.device)


def vanilla_steps(
    model: ImageClassifier,
    dm: MNISTDataModule,
    log: StepLog,
    steps: int,
    precision: str = "fp32",
) -> None:
    """`steps` optimizer steps of a plain PyTorch loop over zoo's batches and preprocessing,
    forward and loss under `precision`'s autocast."""
    device = log.device
    model.to(device).train()
    dm.trainer = None
    loader = dm.train_dataloader()
    if device.type != "cpu":
        loader.tensors = tuple(t.to(device) for t in loader.tensors)
    config = model.optimizer_config(steps)
    if isinstance(config, dict):
        optimizer, schedule = config["optimizer"], config["lr_scheduler"]["scheduler"]
    else:
        optimizer, schedule = config, None
    step, epoch = 0, 0
    while step < steps:
        loader.sampler.set_epoch(epoch)
        for images, labels, seed in loader:
            # Preprocessing outside autocast, as in the Trainer (on_after_batch_transfer).
            x = dm.preprocess(images, seed)
            with training_autocast(device, precision):
                loss = model.loss(model(x), labels)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if schedule is not None:
                schedule.step()
            log.record(loss)
            step += 1
            if step == steps:
                break
        epoch += 1


class _StepClock(L.Callback):
    def __init__(self, log: StepLog) -> None:
        self.step_log = log

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:  # type: ignore[no-untyped-def]
        self.step_log.record(outputs["loss"])


def quiet_lightning() -> None:
    """Silence Lightning's start-up chatter (device summaries, tips) for benchmark output."""
    for name in ("lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=".*LeafSpec.*")


def bench_trainer(
    device: torch.device,
    callbacks: list[L.Callback],
    precision: str = "fp32",
    **limits: float,
) -> L.Trainer:
    """A lean Trainer in `precision` (a row's "fp32"/"bf16", or any Lightning precision string):
    no logger, checkpoints, progress bar, and no validation unless `limits` ask for it."""
    options = {"limit_val_batches": 0, "num_sanity_val_steps": 0, **limits}
    return L.Trainer(
        accelerator=device.type,
        devices=1,
        precision=LIGHTNING_PRECISION.get(precision, precision),  # type: ignore[arg-type]
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=callbacks,
        default_root_dir=tempfile.gettempdir(),
        **options,
    )


def lightning_steps(
    model: ImageClassifier,
    dm: MNISTDataModule,
    log: StepLog,
    steps: int,
    precision: str = "fp32",
) -> None:
    """`steps` optimizer steps of `Trainer.fit` on zoo's DataModule in `precision`."""
    quiet_lightning()
    step_clock = _StepClock(log)
    trainer = bench_trainer(log.device, [step_clock], precision, max_epochs=-1, max_steps=steps)
    trainer.fit(model, dm)


class _ValidationClock(L.Callback):
    def __init__(self, device: torch.device) -> None:
        self.device, self.started, self.seconds = device, 0.0, 0.0

    def on_validation_epoch_start(self, trainer, pl_module) -> None:  # type: ignore[no-untyped-def]
        self.started = clock(self.device)

    def on_validation_epoch_end(self, trainer, pl_module) -> None:  # type: ignore[no-untyped-def]
        self.seconds = clock(self.device) - self.started


def validation_seconds(
    model: ImageClassifier, dm: MNISTDataModule, device: torch.device, precision: str
) -> float:
    """Seconds of one pass of the Trainer's validation loop over `dm`'s validation split."""
    quiet_lightning()
    timer = _ValidationClock(device)
    trainer = bench_trainer(device, [timer], precision, limit_val_batches=1.0)
    trainer.validate(model, datamodule=dm, verbose=False)
    return timer.seconds


def test_accuracy(model: ImageClassifier, dm: MNISTDataModule, device: torch.device) -> float:
    """Top-1 accuracy on the official test split, through zoo's preprocessing, in fp32 (as
    `zoo test`, predict and export evaluate, whatever precision trained the weights)."""
    images, labels = dm.splits["test"]
    was_training = model.training
    model.eval()
    correct = torch.zeros((), device=device)
    with torch.inference_mode():
        for start in range(0, len(images), 1000):
            x = dm.preprocess(images[start : start + 1000].to(device))
            predicted = model(x).argmax(dim=1)
            correct += (predicted == labels[start : start + 1000].to(device)).sum()
    model.train(was_training)
    return correct.item() / len(images)


class _EpochAccuracy(L.Callback):
    """Times training epochs only: the clock stops while the test accuracy is measured."""

    def __init__(self, dm: MNISTDataModule, device: torch.device) -> None:
        self.dm, self.device = dm, device
        self.history: list[tuple[float, float]] = []
        self.train_seconds = 0.0
        self.started = 0.0

    def on_train_epoch_start(self, trainer, pl_module) -> None:  # type: ignore[no-untyped-def]
        self.started = clock(self.device)

    def on_train_epoch_end(self, trainer, pl_module) -> None:  # type: ignore[no-untyped-def]
        self.train_seconds += clock(self.device) - self.started
        accuracy = test_accuracy(pl_module, self.dm, self.device)
        self.history.append((self.train_seconds, accuracy))


def zoo_accuracy_run(
    model: ImageClassifier,
    dm: MNISTDataModule,
    device: torch.device,
    epochs: int,
    precision: str = "fp32",
    max_steps: int | None = None,
) -> list[tuple[float, float]]:
    """Train `epochs` epochs (or `max_steps` steps, if fewer) with the Trainer in `precision`;
    (training seconds so far, test accuracy) after each epoch and at the last step."""
    quiet_lightning()
    tracker = _EpochAccuracy(dm, device)
    limits = {"max_epochs": epochs, "max_steps": -1 if max_steps is None else max_steps}
    trainer = bench_trainer(device, [tracker], precision, **limits)
    trainer.fit(model, dm)
    return tracker.history


def course_accuracy_run(
    model: torch.nn.Module,
    data_dir: str | Path,
    device: torch.device,
    target: float,
    max_epochs: int,
) -> list[tuple[float, float]]:
    """The course's train/test loop until `target` test accuracy or `max_epochs` epochs."""
    train_loader, test_loader = course_loader(data_dir), course_loader(data_dir, train=False)
    model.to(device)
    optimizer = course_optimizer(model)
    history: list[tuple[float, float]] = []
    seconds = 0.0
    for _ in range(max_epochs):
        started = clock(device)
        course_train(model, train_loader, optimizer, device=device)
        seconds += clock(device) - started
        history.append((seconds, course_test(model, test_loader, device)))
        if history[-1][1] >= target:
            break
    return history
