"""The callbacks of every `zoo fit`: checkpoints that never keep NaN weights, and the progress bar.

* `ZooCheckpoint`: the best model by a metric plus a `last.ckpt` that is also refreshed every few
  hundred steps, so a killed run loses little; a run whose weights turned NaN stops with
  `TrainingDiverged` instead of saving them over good checkpoints.
* `MetricsProgressBar`: Rich progress bar showing the loss and accuracy being logged.

The figures a run draws are in `zoo.training.reports`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import RichModelSummary, RichProgressBar
from lightning.pytorch.trainer.states import TrainerFn
from lightning.pytorch.utilities.model_summary import get_human_readable_count
from rich import box, get_console
from rich.progress import BarColumn
from rich.table import Table

from zoo.errors import RunFailed
from zoo.lightning_shims import CheckpointHooks


class TrainingDiverged(RunFailed):
    """The weights stopped being finite numbers (NaN or infinity): training cannot recover."""


def _refuse_diverged(trainer: L.Trainer, dirpath: str | Path | None) -> None:
    # One host sync per checkpoint, not per step: a diverged run is caught at its next save.
    module = trainer.lightning_module
    finite = [p.detach().isfinite().all() for p in module.parameters()]
    if not finite or torch.stack(finite).all():
        return
    lr = module.hparams.get("lr", "?")
    raise TrainingDiverged(
        f"training diverged by epoch {trainer.current_epoch}, step {trainer.global_step}: the "
        f"weights are NaN or infinite, so they were not saved over the checkpoints in "
        f"{dirpath}. Start again with a lower learning rate (--model.init_args.lr, {lr} in "
        f"this run) or with gradient clipping (--trainer.gradient_clip_val 1.0)."
    )


class ZooCheckpoint(CheckpointHooks):
    """`ModelCheckpoint` keeping the best model by `monitor` and a `last.ckpt` refreshed often.

    Lightning's own `every_n_train_steps` would replace the per-validation "best" check; here
    the best model is still chosen after each validation, and independently `last.ckpt` is
    rewritten every `last_every_n_steps` optimizer steps (and at every epoch end), so
    `--ckpt_path last` resumes a killed run close to where it stopped (mid-epoch included).
    Before every save the weights are checked: NaN or infinite ones raise `TrainingDiverged`
    instead of overwriting the last finite checkpoint.

    Args:
        dirpath: where checkpoints go; the `zoo` command sets `runs/<name>/<version>/checkpoints`.
        filename: name pattern of the best checkpoint.
        monitor: metric to rank checkpoints by (`None`: keep the latest).
        mode: "max" (accuracy) or "min" (loss, MSE).
        save_top_k: how many best checkpoints to keep (0: only `last.ckpt`).
        save_last: also keep `last.ckpt`.
        last_every_n_steps: rewrite `last.ckpt` every this many steps (0: only at epoch ends).
        **kwargs: any other `ModelCheckpoint` argument.
    """

    def __init__(
        self,
        dirpath: str | Path | None = None,
        filename: str | None = "best-{epoch}-{step}",
        monitor: str | None = "val/acc",
        mode: str = "max",
        save_top_k: int = 1,
        save_last: bool | None = True,
        last_every_n_steps: int = 200,
        **kwargs: Any,
    ) -> None:
        if last_every_n_steps < 0:
            raise ValueError(f"last_every_n_steps must be >= 0, got {last_every_n_steps}")
        super().__init__(
            dirpath=dirpath, filename=filename, monitor=monitor, mode=mode,
            save_top_k=save_top_k, save_last=save_last, **kwargs,
        )  # fmt: skip
        self.last_every_n_steps = last_every_n_steps

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any,
        batch_idx: int,
    ) -> None:  # fmt: skip
        """Lightning's per-step logic, then `last.ckpt` every `last_every_n_steps` steps."""
        super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)
        step = trainer.global_step
        if not (self.save_last and self.last_every_n_steps) or step % self.last_every_n_steps:
            return
        if trainer.fast_dev_run or trainer.sanity_checking or trainer.state.fn != TrainerFn.FITTING:
            return
        candidates = {"epoch": torch.tensor(trainer.current_epoch), "step": torch.tensor(step)}
        self.last_model_path = self.format_checkpoint_name(candidates, self.CHECKPOINT_NAME_LAST)
        # Every rank calls this (the strategy writes on rank 0 and synchronises); DDP keeps the
        # weights identical on every rank, so all of them refuse a diverged run together.
        _refuse_diverged(trainer, self.dirpath)
        trainer.save_checkpoint(self.last_model_path, self.save_weights_only)

    def before_save(self, trainer: L.Trainer) -> None:
        """Refuse to write NaN or infinite weights (raises `TrainingDiverged`)."""
        _refuse_diverged(trainer, self.dirpath)

    # Lightning 2.6 refreshes `last.ckpt` at an epoch's end only when a new best was saved; resume
    # and publishing need the final state, so it is written whenever nothing was saved yet.
    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Lightning's best/last logic, then `last.ckpt` if this step was not saved yet."""
        super().on_validation_end(trainer, pl_module)
        if not self.saves_on_train_epoch_end(trainer):
            self.save_last_now(trainer)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """The same where Lightning saves at the end of the training epoch."""
        super().on_train_epoch_end(trainer, pl_module)
        if self.saves_on_train_epoch_end(trainer):
            self.save_last_now(trainer)


class MetricsProgressBar(RichProgressBar):
    """Rich progress bar with the two numbers that matter, short: the loss and validation score.

    Lightning's default shows every logged metric at full precision, which wraps onto several
    lines in an 80-column terminal; the full set is in the logger and `metrics.csv`.
    """

    def configure_columns(self, trainer: L.Trainer) -> list:
        """Lightning's columns, with a 12-character bar and no items/s, so that at 80 columns
        "Epoch 10/14 ━━━ 118/422 0:00:05 • 0:00:12 loss: 0.123 val_acc: 99.1%" fits one line."""
        columns = [
            c
            for c in super().configure_columns(trainer)
            if type(c).__name__ != "ProcessingSpeedColumn"
        ]
        for column in columns:
            if isinstance(column, BarColumn):
                column.bar_width = 12
        return columns

    def get_metrics(self, trainer: L.Trainer, pl_module: L.LightningModule) -> dict[str, Any]:
        """`loss` (this step's training loss) and `val_<metric>` (the latest validation)."""
        items = super().get_metrics(trainer, pl_module)
        items.pop("v_num", None)
        metrics = trainer.callback_metrics
        name = getattr(pl_module, "metric_name", "acc")
        if (loss := metrics.get("train/loss")) is not None and loss.numel() == 1:
            items["loss"] = f"{loss.item():.3f}"
        if (score := metrics.get(f"val/{name}")) is not None and score.numel() == 1:
            value = score.item()
            items[f"val_{name}"] = f"{value:.1%}" if name == "acc" else f"{value:.3g}"
        return items


class ModelSummaryTable(RichModelSummary):
    """The model summary a run prints, at 80 columns: each layer's type, parameters, FLOPs and
    the shape it maps (`16×12×12 → 32×4×4`, batch dimension left out), then the totals.

    Lightning's table adds a "Mode" column and the metrics container as a layer, and wraps its
    shape columns onto several lines at 80 columns.
    """

    @staticmethod
    def summarize(
        summary_data: list[tuple[str, list[str]]],
        total_parameters: int,
        trainable_parameters: int,
        model_size: float,
        total_training_modes: dict[str, int],
        total_flops: int,
        **summarize_kwargs: Any,
    ) -> None:
        """Print the table and one line of totals (FLOPs are for one sample, forward only)."""
        column = dict(summary_data)
        table = Table(box=box.SIMPLE_HEAD, pad_edge=False, header_style="bold")
        for name, justify in (("layer", "left"), ("type", "left"), ("params", "right"),
                              ("FLOPs", "right"), ("shape", "right")):  # fmt: skip
            table.add_column(name, justify=justify, no_wrap=True)
        shapes_in, shapes_out = column.get("In sizes", []), column.get("Out sizes", [])
        rows = zip(column["Name"], column["Type"], column["Params"], column["FLOPs"],
                   shapes_in, shapes_out, strict=False)  # fmt: skip
        for name, kind, params, flops, shape_in, shape_out in rows:
            if kind != "ModuleDict":  # the per-stage metrics: no layer of the network
                shape = f"{_sample_shape(shape_in)} → {_sample_shape(shape_out)}"
                table.add_row(name, kind, params, flops, shape)
        console = get_console()
        console.print(table)
        console.print(
            f"{_count(total_parameters)} parameters ({_count(trainable_parameters)} trainable, "
            f"{model_size:.2f} MB), {_count(total_flops)} FLOPs per sample"
        )


def _count(n: int) -> str:
    return get_human_readable_count(n).strip()  # Lightning pads small counts with spaces


def _sample_shape(text: str) -> str:
    # "[1, 16, 12, 12]" → "16×12×12": the summary's example batch holds one sample.
    sizes = text.strip("[]").split(", ")
    return "×".join(sizes[1:]) if len(sizes) > 1 and sizes[0] == "1" else text
