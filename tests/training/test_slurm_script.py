"""`recipes/slurm/train.sbatch` under a stand-in SLURM: real `zoo fit` tasks, fake srun/scontrol.

The batch environment sbatch would create is set by the test; a fake `srun` starts the script's
command as 2 nodes × 1 task on this machine with the variables real srun gives each task; a fake
`scontrol` records its arguments. Everything else (the script, `zoo fit`, Lightning's SLURM
environment and its SIGUSR1 requeue handler, gloo DDP, the resume) is the real thing.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
from pathlib import Path

import pytest
import torch
from helpers.distributed import QUICK, REPO, ZOO, Workspace, wait_for

SCRIPT = REPO / "recipes" / "slurm" / "train.sbatch"

FAKE_SRUN = """#!/bin/bash
# Stand-in for srun on one machine: runs the command as SLURM_NNODES x SLURM_NTASKS_PER_NODE
# local tasks, each with the variables srun gives a task, and waits for them all. Task output is
# appended to $FAKE_SLURM/task<rank>.log, across requeues too.
set -u
while [[ $# -gt 0 && $1 == -* ]]; do echo "$1" >>"$FAKE_SLURM/srun_options"; shift; done
per_node=$SLURM_NTASKS_PER_NODE
ntasks=$((SLURM_NNODES * per_node))
pids=()
for ((rank = 0; rank < ntasks; rank++)); do
    SLURM_NTASKS=$ntasks SLURM_PROCID=$rank SLURM_LOCALID=$((rank % per_node)) \\
        SLURM_NODEID=$((rank / per_node)) SLURM_STEP_ID=0 \\
        "$@" >>"$FAKE_SLURM/task$rank.log" 2>&1 &
    pids+=($!)
    echo $! >"$FAKE_SLURM/task$rank.pid"
done
status=0
for pid in "${pids[@]}"; do
    wait "$pid" && code=0 || code=$?
    echo "$pid $code" >>"$FAKE_SLURM/task_exits"
    [[ $code -eq 0 ]] || status=$code
done
exit $status
"""

FAKE_SCONTROL = """#!/bin/bash
# Stand-in for scontrol: records how it was called.
echo "$*" >>"$FAKE_SLURM/scontrol_calls"
"""


def fake_slurm(folder: Path) -> Path:
    """Write the fake `srun` and `scontrol` into `folder/bin`; returns that folder."""
    bin_dir = folder / "bin"
    bin_dir.mkdir(parents=True)
    for name, text in (("srun", FAKE_SRUN), ("scontrol", FAKE_SCONTROL)):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    return bin_dir


def job_id_with_free_port() -> str:
    """A job id whose Lightning rendezvous port (15000 + its last 4 digits) is free here."""
    for _ in range(100):
        digits = random.randrange(1000, 10_000)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", 15_000 + digits))
            except OSError:
                continue
        return f"73{digits}"
    raise RuntimeError("no free port in 16000-24999")


def handles(pid: int, signum: int) -> bool:
    """Whether process `pid` has installed a handler for `signum` (Linux /proc)."""
    status = Path(f"/proc/{pid}/status").read_text().splitlines()
    caught = int(next(line.split()[1] for line in status if line.startswith("SigCgt:")), 16)
    return bool(caught >> (signum - 1) & 1)


def job_env(ws: Workspace, fake: Path, job_id: str, restarts: int) -> dict[str, str]:
    """The environment sbatch gives a 2-node, 1-task-per-node job (requeued `restarts` times)."""
    env = dict(ws.env)
    env.update(
        PATH=f"{fake / 'bin'}{os.pathsep}{env['PATH']}",
        FAKE_SLURM=str(fake),
        SLURM_JOB_ID=job_id,
        SLURM_JOB_NAME="zoo",
        SLURM_NNODES="2",
        SLURM_NTASKS="2",
        SLURM_NTASKS_PER_NODE="1",
        SLURM_NODELIST="127.0.0.1",
        SLURM_JOB_NODELIST="127.0.0.1",
        SLURM_SUBMIT_DIR=str(ws.root),
        ZOO=str(ZOO),
        TRAINER_RECIPE=str(REPO / "recipes" / "trainer" / "ddp_cpu.yaml"),
    )
    if restarts:
        env["SLURM_RESTART_COUNT"] = str(restarts)
    return env


def script_command(ws: Workspace, *extra: str) -> list[str]:
    """`bash train.sbatch RECIPE ARGS...` for a quick CPU run of the CNN."""
    return [
        "bash", str(SCRIPT), str(REPO / "recipes" / "cnn_mnist.yaml"),
        "--config", str(REPO / "recipes" / "logger" / "csv.yaml"),
        "--trainer.default_root_dir", str(ws.runs),
        "--data.data_dir", str(ws.data),
        "--trainer.limit_val_batches", "1",
        "--checkpoint.last_every_n_steps", "3",
        *QUICK, *extra,
    ]  # fmt: skip


@pytest.mark.slow
def test_slurm_script_places_ranks_requeues_and_resumes(workspace: Workspace) -> None:
    ws = workspace
    fake = ws.root / "slurm"
    fake_slurm(fake)
    job_id = job_id_with_free_port()
    run_dir = ws.runs / "cnn_mnist" / f"slurm_{job_id}"
    log = (ws.root / "job.log").open("w")

    # The first run of the job: trains until SLURM's pre-emption signal arrives.
    job = subprocess.Popen(
        script_command(ws, "--trainer.max_steps", "100000"),
        cwd=ws.root, env=job_env(ws, fake, job_id, 0), stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        facts = wait_for(lambda: len(ws.facts()) == 2 and ws.facts(), 300, "both tasks training")
        # Each task is one Trainer process of a 2-node job, placed by SLURM's variables.
        for rank, f in facts.items():
            assert (f["world_size"], f["num_nodes"], f["num_devices"]) == (2, 2, 1)
            assert (f["global_rank"], f["node_rank"], f["local_rank"]) == (rank, rank, 0)
            # Requeue is zoo's deadlock-free callback, not Lightning's in-handler save.
            assert (f["cluster_environment"], f["auto_requeue"]) == ("SLURMEnvironment", False)
            assert "SlurmRequeue" in f["callbacks"]
            assert f["backend"] == "gloo"
        tasks = [int((fake / f"task{rank}.pid").read_text()) for rank in (0, 1)]
        assert tasks == [facts[0]["pid"], facts[1]["pid"]]

        # SLURM's warning signal: the tasks save one step together, rank 0 asks for a requeue.
        wait_for(lambda: all(handles(pid, signal.SIGUSR1) for pid in tasks), 60, "handlers")
        wait_for(lambda: (run_dir / "checkpoints" / "last.ckpt").exists(), 120, "last.ckpt")
        for pid in tasks:
            os.kill(pid, signal.SIGUSR1)
        calls = fake / "scontrol_calls"
        wait_for(calls.exists, 120, "scontrol requeue")
        hpc = wait_for(lambda: list(Path(facts[0]["default_root_dir"]).glob("hpc_ckpt_*.ckpt")),
                       60, "the hpc checkpoint")  # fmt: skip
        # SLURM then ends the job to put it back in the queue.
        for pid in tasks:
            os.kill(pid, signal.SIGTERM)
        job.wait(timeout=120)
    finally:
        job.kill()
        log.close()
    assert calls.read_text().splitlines() == [f"requeue {job_id}"]
    assert (fake / "srun_options").read_text().split() == ["--kill-on-bad-exit=1"]
    assert len(hpc) == 1
    assert torch.load(hpc[0], weights_only=True)["global_step"] > 0

    # The requeued job runs the script again; it resumes the run's newest checkpoint.
    own = [*run_dir.glob("checkpoints/last*.ckpt"), *run_dir.glob("hpc_ckpt_*.ckpt")]
    newest = max(own, key=lambda p: p.stat().st_mtime)
    step = torch.load(newest, weights_only=True)["global_step"]
    for old in ws.probe.glob("rank*.json"):
        old.unlink()
    requeued = subprocess.run(
        script_command(ws, "--trainer.max_steps", str(step + 3)),
        cwd=ws.root, env=job_env(ws, fake, job_id, 1), capture_output=True, text=True,
        timeout=400,
    )  # fmt: skip
    task_log = (fake / "task0.log").read_text()
    assert requeued.returncode == 0, requeued.stdout[-2000:] + task_log[-4000:]
    restored = [line for line in task_log.splitlines() if line.startswith("Restoring states")]
    assert restored == [f"Restoring states from the checkpoint path at {newest}"]
    resumed = ws.facts()
    assert [resumed[rank]["global_step"] for rank in (0, 1)] == [step, step]
    assert (
        torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)["global_step"]
        == step + 3
    )
    assert [p.name for p in run_dir.parent.iterdir()] == [run_dir.name]
