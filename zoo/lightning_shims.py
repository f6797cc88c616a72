"""Every place zoo reaches into Lightning's private API, in one module.

Each shim says what public behaviour it replaces or works around, and
`tests/test_lightning_shims.py` checks each one against the installed Lightning, so an upgrade that
moves an internal fails there, loudly, instead of slowing or breaking a run somewhere else.
pyproject pins Lightning to the minor versions these tests have passed on.
"""

from __future__ import annotations

import csv
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger, WandbLogger
from lightning.pytorch.loggers.csv_logs import ExperimentWriter


class FastHookNameModule(L.LightningModule):
    """`LightningModule` whose `_current_fx_name` is a plain attribute.

    Lightning sets `_current_fx_name` before and after each of the dozen hooks it calls per
    training step; `nn.Module.__setattr__`'s parameter/module/buffer checks make that ~8 µs a
    time, ~0.2 ms a step. It only ever holds a string, so the checks can be skipped.
    """

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "_current_fx_name":
            object.__setattr__(self, name, value)
        else:
            super().__setattr__(name, value)


def logs_this_step(trainer: L.Trainer) -> bool:
    """Whether the loggers write at this step (`log_every_n_steps`), as Lightning decides it.

    Logging `train/loss` only then saves ~0.5 ms of `self.log` on every other step.
    """
    return bool(trainer._logger_connector.should_update_logs)


def note_sigterm_only(trainer: L.Trainer) -> None:
    """Replace Lightning's SIGTERM handler with one that only sets the flag its loop reads.

    Lightning's handler broadcasts inside the signal handler, which can meet another rank's
    all-reduce and hang a DDP job; its training loop already broadcasts the flag before every step.
    """
    connector = trainer._signal_connector
    signal.signal(signal.SIGTERM, lambda *_: setattr(connector, "received_sigterm", True))


def hpc_checkpoint_path(trainer: L.Trainer) -> str:
    """Lightning's name for the next `hpc_ckpt_N.ckpt`, the file `--ckpt_path last` considers."""
    return trainer._checkpoint_connector.hpc_save_path(trainer.default_root_dir)


class CheckpointHooks(ModelCheckpoint):
    """`ModelCheckpoint` with public names for the private steps `ZooCheckpoint` builds on.

    `before_save` runs before every file Lightning's logic writes (best and last alike);
    the other methods are Lightning's own decisions, unchanged.
    """

    def before_save(self, trainer: L.Trainer) -> None:
        """Called before each checkpoint file is written; raise to refuse the save."""

    def _save_checkpoint(self, trainer: L.Trainer, filepath: str) -> None:
        self.before_save(trainer)
        super()._save_checkpoint(trainer, filepath)

    def saves_on_train_epoch_end(self, trainer: L.Trainer) -> bool:
        """Whether Lightning saves at the end of the training epoch (else after validation)."""
        return self._should_save_on_train_epoch_end(trainer)

    def save_last_now(self, trainer: L.Trainer) -> None:
        """Write `last.ckpt` for the current step, unless Lightning would skip saving here."""
        if self.save_last and not self._should_skip_saving_checkpoint(trainer):
            self._save_last_checkpoint(trainer, self._monitor_candidates(trainer))


def drop_unset_wandb_anonymous(logger: WandbLogger) -> None:
    """Stop Lightning passing `anonymous=None` to `wandb.init`.

    wandb ≥ 0.22 answers that with "The anonymous setting has no effect" on every run.
    """
    if logger._wandb_init.get("anonymous") is None:
        logger._wandb_init.pop("anonymous", None)


class _KeepingCSVWriter(ExperimentWriter):
    """Lightning's CSV writer, continuing an existing `metrics.csv` instead of deleting it."""

    def _check_log_dir_exists(self) -> None:
        if self._fs.isfile(self.metrics_file_path):
            with self._fs.open(self.metrics_file_path, "r", newline="") as file:
                self.metrics_keys = next(csv.reader(file), [])


def keeping_csv_writer(logger: CSVLogger) -> ExperimentWriter | None:
    """Give `logger` a writer that appends to its `metrics.csv` (None if it already has one).

    Lightning's writer deletes an existing `metrics.csv` when it starts.
    """
    if logger._experiment is not None:
        return None
    logger._fs.makedirs(logger.root_dir, exist_ok=True)
    logger._experiment = _KeepingCSVWriter(log_dir=logger.log_dir)
    return logger._experiment


@contextmanager
def trainer_free_tracing() -> Iterator[None]:
    """Let `torch.jit.trace` probe a LightningModule outside a Trainer.

    The tracer reads every attribute, and `LightningModule.trainer` raises without a Trainer;
    Lightning's own context makes it return None while scripting.
    """
    from lightning.pytorch.core.module import _jit_is_scripting

    with _jit_is_scripting():
        yield
