"""A short seeded training run for the resume test; optionally SIGKILLs itself at a given step.

usage: python resume_run.py DATA_DIR ROOT_DIR OUT_FILE [--kill-at STEP] [--resume]
"""

from __future__ import annotations

import argparse
import os
import signal

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback, ModelCheckpoint

import zoo


class KillAt(Callback):
    """SIGKILL this process right after the checkpoint of `step` is written (a real crash)."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_end(self, trainer: L.Trainer, *args: object) -> None:
        if trainer.global_step == self.step:
            os.kill(os.getpid(), signal.SIGKILL)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("data_dir")
    parser.add_argument("root_dir")
    parser.add_argument("out_file")
    parser.add_argument("--kill-at", type=int, default=None)
    parser.add_argument("--resume", action="store_true")
    args = parser.parse_args()

    torch.set_num_threads(1)
    L.seed_everything(0, verbose=False)
    data = zoo.MNISTDataModule(args.data_dir, batch_size=64, val_size=500, augment=True)
    model = zoo.CNNMNIST(lr=0.05, momentum=0.9, scheduler="onecycle")
    # Kill callbacks run after ModelCheckpoint, so the step's checkpoint is already on disk.
    checkpoint = ModelCheckpoint(dirpath=args.root_dir, every_n_train_steps=15, save_last=True)
    callbacks = [checkpoint] + ([KillAt(args.kill_at)] if args.kill_at else [])
    trainer = L.Trainer(
        max_epochs=2, limit_train_batches=40, limit_val_batches=1, accelerator="cpu",
        logger=False, enable_progress_bar=False, enable_model_summary=False,
        default_root_dir=args.root_dir, callbacks=callbacks, deterministic=True,
    )  # fmt: skip
    trainer.fit(model, data, ckpt_path="last" if args.resume else None)
    torch.save({k: v.clone() for k, v in model.state_dict().items()}, args.out_file)


if __name__ == "__main__":
    main()
