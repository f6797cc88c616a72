"""Each shim in `zoo.lightning_shims` against the installed Lightning: a moved internal fails here.

Every test drives a real Trainer (or logger) and checks that the private attribute the shim uses
is there and means what the shim assumes, so an upgrade breaks this file, not a user's run.
"""

from __future__ import annotations

import signal
from pathlib import Path

import lightning as L
import pytest
import torch
from lightning.pytorch.loggers import CSVLogger, WandbLogger
from torch import nn

from zoo.data import TensorBatchLoader
from zoo.lightning_shims import (
    CheckpointHooks,
    FastHookNameModule,
    drop_unset_wandb_anonymous,
    hpc_checkpoint_path,
    keeping_csv_writer,
    logs_this_step,
    note_sigterm_only,
    trainer_free_tracing,
)


class _Tiny(FastHookNameModule):
    def __init__(self) -> None:
        super().__init__()
        self.layer = nn.Linear(4, 2)
        self.logged_at: list[tuple[int, bool]] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer(x)

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int):
        self.logged_at.append((self.trainer.global_step, logs_this_step(self.trainer)))
        return nn.functional.cross_entropy(self(batch[0]), batch[1])

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.1)


def _loader() -> TensorBatchLoader:
    return TensorBatchLoader((torch.randn(32, 4), torch.randint(0, 2, (32,))), batch_size=4)


def _trainer(tmp_path: Path, **kwargs: object) -> L.Trainer:
    options = dict(
        accelerator="cpu", logger=False, enable_progress_bar=False, enable_model_summary=False,
        enable_checkpointing=False, default_root_dir=tmp_path, max_epochs=1,
    )  # fmt: skip
    return L.Trainer(**{**options, **kwargs})


def test_hook_name_is_a_plain_attribute_and_lightning_still_sets_it(tmp_path: Path) -> None:
    model = _Tiny()
    model._current_fx_name = "training_step"
    assert vars(model)["_current_fx_name"] == "training_step"  # bypassed nn.Module's checks
    seen: list[str | None] = []

    class Spy(L.Callback):
        def on_train_batch_end(self, trainer, pl_module, *args: object) -> None:
            seen.append(pl_module._current_fx_name)

    _trainer(tmp_path, callbacks=[Spy()], max_steps=2).fit(model, _loader())
    assert seen and all(isinstance(name, str) for name in seen)


def test_logs_this_step_follows_log_every_n_steps(tmp_path: Path) -> None:
    model = _Tiny()
    trainer = _trainer(tmp_path, logger=CSVLogger(tmp_path), log_every_n_steps=3)
    trainer.fit(model, _loader())
    assert [step for step, logs in model.logged_at if logs] == [2, 5]


def test_sigterm_note_sets_the_flag_lightnings_loop_reads(tmp_path: Path) -> None:
    trainer = _trainer(tmp_path)
    previous = signal.getsignal(signal.SIGTERM)
    try:
        note_sigterm_only(trainer)
        assert trainer._signal_connector.received_sigterm is False
        signal.raise_signal(signal.SIGTERM)
        assert trainer.received_sigterm is True  # the public property the loop checks
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_hpc_checkpoint_path_names_the_file_resume_picks_up(tmp_path: Path) -> None:
    trainer = _trainer(tmp_path)
    first = Path(hpc_checkpoint_path(trainer))
    assert first == tmp_path / "hpc_ckpt_1.ckpt"
    first.write_bytes(b"")
    assert Path(hpc_checkpoint_path(trainer)).name == "hpc_ckpt_2.ckpt"


def test_checkpoint_hooks_see_every_save_and_can_write_last(tmp_path: Path) -> None:
    saves: list[int] = []
    last_steps: list[int] = []

    class Counting(CheckpointHooks):
        def before_save(self, trainer: L.Trainer) -> None:
            saves.append(trainer.global_step)

        def on_train_batch_end(self, trainer: L.Trainer, *args: object) -> None:
            super().on_train_batch_end(trainer, *args)
            if trainer.global_step == 3:
                self.save_last_now(trainer)
                last_steps.append(
                    torch.load(self.last_model_path, weights_only=True)["global_step"]
                )

    hooks = Counting(dirpath=tmp_path, save_last=True, save_top_k=1)
    trainer = _trainer(tmp_path, enable_checkpointing=True, callbacks=[hooks], max_epochs=2)
    trainer.fit(_Tiny(), _loader())
    assert last_steps == [3]  # written mid-epoch, for the step it was asked at
    # That save, and Lightning's own top-k save at each epoch end, all went through the hook.
    assert saves[0] == 3 and {8, 16} <= set(saves)
    assert hooks.saves_on_train_epoch_end(trainer) is True  # no val loader: saves at epoch end


def test_wandb_anonymous_argument_is_dropped_only_when_unset(tmp_path: Path) -> None:
    pytest.importorskip("wandb")
    logger = WandbLogger(save_dir=str(tmp_path), offline=True)
    assert "anonymous" in logger._wandb_init  # Lightning still passes it: the shim is needed
    drop_unset_wandb_anonymous(logger)
    assert "anonymous" not in logger._wandb_init


def test_keeping_csv_writer_continues_the_existing_file(tmp_path: Path) -> None:
    first = CSVLogger(tmp_path, name="run", version="v")
    first.log_metrics({"loss": 1.0}, step=0)
    first.save()
    second = CSVLogger(tmp_path, name="run", version="v")
    assert keeping_csv_writer(second) is not None
    second.log_metrics({"loss": 0.5}, step=1)
    second.save()
    rows = Path(second.log_dir, "metrics.csv").read_text().splitlines()
    assert rows == ["loss,step", "1.0,0", "0.5,1"]
    assert keeping_csv_writer(second) is None  # a writer that exists is kept


def test_trainer_free_tracing_lets_jit_trace_a_lightning_module() -> None:
    model = _Tiny().eval()
    with pytest.raises(RuntimeError, match="not attached to a `Trainer`"):
        model.trainer  # noqa: B018 - the property the tracer would trip over
    with trainer_free_tracing(), torch.no_grad():
        traced = torch.jit.trace(model, (torch.zeros(1, 4),), check_trace=False)
    assert torch.equal(traced(torch.ones(2, 4)), model(torch.ones(2, 4)))
