"""Requeue on SLURM's pre-emption warning without risking a DDP hang.

Lightning's own handler (`SLURMEnvironment(auto_requeue=True)`) saves the checkpoint inside the
signal handler. Saving is a collective under DDP, and the handler runs wherever each process
happens to be, so one rank's save can meet another rank's gradient all-reduce and hang the job
(seen here as a job that never requeued). `SlurmRequeue` only notes the signal in the handler;
every few steps the ranks agree whether any of them was signalled, and then all save the same
step together and rank 0 asks SLURM to requeue the job. Training continues until SLURM stops it;
SIGTERM, likewise, is only noted in the handler.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
from types import FrameType
from typing import Any

import lightning as L
from lightning.pytorch.utilities import rank_zero_info, rank_zero_warn

from zoo.lightning_shims import hpc_checkpoint_path, note_sigterm_only


def slurm_job_id() -> str | None:
    """The job id `scontrol requeue` takes (`ARRAYJOB_TASK` for array jobs), if inside SLURM."""
    array_job = os.environ.get("SLURM_ARRAY_JOB_ID")
    if array_job:
        return f"{array_job}_{os.environ['SLURM_ARRAY_TASK_ID']}"
    return os.environ.get("SLURM_JOB_ID")


class SlurmRequeue(L.Callback):
    """On SLURM's warning signal: save an `hpc_ckpt_N.ckpt` on every rank at one agreed step,
    then `scontrol requeue` the job from rank 0; `--ckpt_path last` resumes from it.

    Args:
        signal_name: the signal `sbatch --signal` sends (`SIGUSR1@90` in our script).
        check_every_n_steps: how often the ranks compare notes (one tiny all-reduce each time).
    """

    def __init__(self, signal_name: str = "SIGUSR1", check_every_n_steps: int = 10) -> None:
        if not hasattr(signal, signal_name):
            raise ValueError(f"unknown signal {signal_name!r}; e.g. SIGUSR1")
        if check_every_n_steps < 1:
            raise ValueError(f"check_every_n_steps must be >= 1, got {check_every_n_steps}")
        self.signum = getattr(signal, signal_name)
        self.check_every_n_steps = check_every_n_steps
        self.signalled = False

    def _note(self, signum: int, frame: FrameType | None) -> None:
        self.signalled = True

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        """Install the handler in SLURM jobs (elsewhere the signal keeps its usual meaning)."""
        if stage == "fit" and slurm_job_id() is not None:
            signal.signal(self.signum, self._note)
            rank_zero_info(f"SLURM requeue: {signal.Signals(self.signum).name} saves and requeues")

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """In SLURM jobs, replace Lightning's SIGTERM handler with one that only takes note.

        Lightning's handler broadcasts inside the signal handler, which can meet another rank's
        all-reduce and hang the job instead of ending it (seen here: 3 of 7 runs of the SLURM
        test). Its training loop already broadcasts rank 0's note before every step, so all
        ranks still stop together at the next one.
        """
        if slurm_job_id() is not None:
            note_sigterm_only(trainer)

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any,
        batch_idx: int,
    ) -> None:  # fmt: skip
        """Every `check_every_n_steps` steps: if any rank was signalled, save and requeue."""
        if trainer.global_step % self.check_every_n_steps:
            return
        if not trainer.strategy.reduce_boolean_decision(self.signalled, all=False):
            return
        self.signalled = False
        # Lightning's own name and place for these files, which `--ckpt_path last` considers.
        trainer.save_checkpoint(hpc_checkpoint_path(trainer))
        if trainer.is_global_zero:
            self._requeue()

    @staticmethod
    def _requeue() -> None:
        job = slurm_job_id()
        if job is None or not re.fullmatch(r"[0-9_]+", job):
            rank_zero_warn(f"not requeueing: SLURM job id {job!r} is not a job id")
            return
        result = subprocess.call(["scontrol", "requeue", job])
        if result == 0:
            rank_zero_info(f"requeued SLURM job {job}")
        else:
            rank_zero_warn(f"scontrol requeue {job} failed with exit code {result}")
