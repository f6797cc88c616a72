"""Two "nodes" on 127.0.0.1: two torchrun launchers meet over c10d and train one model."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch
from helpers.distributed import QUICK, REPO, Workspace, free_port

import zoo
from zoo.files import md5_of

TORCHRUN = Path(sys.executable).with_name("torchrun")
STEPS = 5


@pytest.mark.slow
def test_two_torchrun_nodes_train_to_the_end(workspace: Workspace) -> None:
    ws = workspace
    port = free_port()
    command = [
        str(TORCHRUN), "--nnodes", "2", "--nproc-per-node", "1",
        "--rdzv-backend", "c10d", "--rdzv-endpoint", f"127.0.0.1:{port}", "--rdzv-id", "zoo-test",
        "-m", "zoo", "fit",
        "--config", str(REPO / "recipes" / "cnn_mnist.yaml"),
        "--config", str(REPO / "recipes" / "logger" / "csv.yaml"),
        "--trainer.num_nodes", "2", "--trainer.devices", "1",
        "--trainer.accelerator", "cpu", "--trainer.strategy", "ddp",
        "--version", "two_nodes",
        "--trainer.default_root_dir", str(ws.runs),
        "--trainer.max_steps", str(STEPS), "--trainer.limit_val_batches", "1",
        *QUICK,
    ]  # fmt: skip
    # The same command on every node; c10d hands out the node ranks. Both "nodes" share this
    # machine and one empty data directory: each node's local rank 0 unpacks MNIST into it at the
    # same time, which the atomic unpack must survive.
    pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.STDOUT, "text": True}
    nodes = [subprocess.Popen(command, cwd=ws.root, env=ws.env, **pipes) for _ in range(2)]
    try:
        logs = [node.communicate(timeout=400)[0] for node in nodes]
    finally:
        for node in nodes:
            node.kill()
    for node, log in zip(nodes, logs, strict=True):
        assert node.returncode == 0, log[-4000:]

    # Lightning saw one job of two nodes with one process each, ranks 0 and 1, over gloo.
    facts = ws.facts()
    assert sorted(facts) == [0, 1]
    assert sorted(f["node_rank"] for f in facts.values()) == [0, 1]
    for f in facts.values():
        assert (f["world_size"], f["num_nodes"], f["num_devices"], f["local_rank"]) == (2, 2, 1, 0)
        assert (f["cluster_environment"], f["backend"]) == ("TorchElasticEnvironment", "gloo")
    assert "MEMBER: 1/2" in "".join(logs) and "MEMBER: 2/2" in "".join(logs)

    raw = ws.data / "MNIST" / "raw"
    assert sorted(p.name for p in raw.iterdir()) == sorted(zoo.MNISTDataModule.md5)
    for name, md5 in zoo.MNISTDataModule.md5.items():
        assert md5_of(raw / name) == md5

    # Rank 0 alone wrote the run: the final checkpoint and the one metrics.csv.
    run_dir = ws.runs / "cnn_mnist" / "two_nodes"
    last = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)
    assert last["global_step"] == STEPS
    assert [p.relative_to(ws.runs) for p in ws.runs.rglob("metrics.csv")] == [
        Path("cnn_mnist/two_nodes/metrics.csv")
    ]
    writers = {e["pid"] for e in ws.file_events() if str(ws.runs) in e["path"]}
    assert writers == {facts[0]["pid"]}
    assert sorted(p.name for p in ws.root.iterdir()) == ["data", "probe", "runs"]
