"""DDP on CPU: the `ddp_cpu` recipe trains with two real gloo processes through `zoo fit`."""

from __future__ import annotations

import subprocess
from collections import Counter
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
import yaml
from helpers.distributed import QUICK, REPO, ZOO, Workspace

import zoo
from zoo.files import md5_of

BATCH = 1024
VAL_SIZE = 1000
TRAIN_SIZE = 60_000 - VAL_SIZE


def evaluate(checkpoint: dict, config: dict, data_dir: Path) -> tuple[float, float]:
    """(accuracy, mean loss) of the checkpoint's weights on the run's whole validation split."""
    hparams = {k: v for k, v in checkpoint["hyper_parameters"].items() if not k.startswith("_")}
    model = zoo.CNNMNIST(**hparams)
    model.load_state_dict(checkpoint["state_dict"])
    data = zoo.MNISTDataModule(**{**config["data"]["init_args"], "data_dir": data_dir})
    data.setup()
    images, labels = data.splits["val"]
    with torch.no_grad():
        logits = model.eval()(data.preprocess(images))
    loss = F.cross_entropy(logits, labels, label_smoothing=hparams["label_smoothing"])
    return (logits.argmax(1) == labels).float().mean().item(), loss.item()


def fit_ddp(ws: Workspace, recipe: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`zoo fit` of `recipes/<recipe>` with the two-process `ddp_cpu` preset, in `ws.root`."""
    command = [
        str(ZOO), "fit",
        "--config", str(REPO / "recipes" / recipe),
        "--config", str(REPO / "recipes" / "trainer" / "ddp_cpu.yaml"),
        "--trainer.default_root_dir", str(ws.runs),
        "--data.data_dir", str(ws.data),
        *args,
        *QUICK,
    ]  # fmt: skip
    return subprocess.run(
        command, cwd=ws.root, env=ws.env, capture_output=True, text=True, timeout=400
    )


@pytest.mark.slow
def test_two_gloo_processes_train_one_model(workspace: Workspace) -> None:
    ws = workspace
    # Run from an empty folder: a stray file written by any rank would show up there.
    done = fit_ddp(
        ws, "cnn_mnist.yaml",
        "--data.batch_size", str(BATCH),
        "--data.augment", "false",
        "--trainer.max_epochs", "1",
        "--trainer.limit_train_batches", "5",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-4000:]
    assert "MEMBER: 2/2" in done.stderr

    # Two processes of one Trainer, talking over gloo.
    facts = ws.facts()
    assert sorted(facts) == [0, 1]
    for rank, f in facts.items():
        assert (f["world_size"], f["global_rank"], f["local_rank"]) == (2, rank, rank)
        assert (f["strategy"], f["backend"], f["num_nodes"]) == ("DDPStrategy", "gloo", 1)
    pids = {rank: f["pid"] for rank, f in facts.items()}
    assert pids[0] != pids[1]

    # Each rank reads its own half of the training split: an epoch is half as many steps.
    shards = [set(facts[rank]["shard"]) for rank in (0, 1)]
    assert not shards[0] & shards[1]
    assert shards[0] | shards[1] == set(range(TRAIN_SIZE))
    # One process: 59000 // 1024 = 57 steps per epoch; each of two: 29500 // 1024 = 28.
    assert facts[0]["train_loader_len"] == facts[1]["train_loader_len"] == TRAIN_SIZE // 2 // BATCH

    # The data was unpacked once, by rank 0 (local rank 0), before rank 1 read it.
    events = ws.file_events()
    unpacked = [e for e in events if e["kind"] == "rename" and e["path"].endswith("-ubyte")]
    assert len(unpacked) == 4
    assert {e["pid"] for e in unpacked} == {pids[0]}
    rank1_reads = [e for e in events if e["kind"] == "read" and e["pid"] == pids[1]]
    assert len({e["path"] for e in rank1_reads}) == 4
    assert min(e["t"] for e in rank1_reads) > max(e["t"] for e in unpacked)
    raw = ws.data / "MNIST" / "raw"
    assert sorted(p.name for p in raw.iterdir()) == sorted(zoo.MNISTDataModule.md5)
    for name, md5 in zoo.MNISTDataModule.md5.items():
        assert md5_of(raw / name) == md5

    # Only rank 0 wrote outputs: one run directory, one W&B run, each checkpoint written once.
    run_dir = ws.runs / "cnn_mnist" / "version_0"
    assert sorted(p.name for p in ws.root.iterdir()) == ["data", "probe", "runs"]
    assert [p.relative_to(ws.runs) for p in ws.runs.glob("*/*")] == [Path("cnn_mnist/version_0")]
    assert len(list((run_dir / "wandb").glob("offline-run-*"))) == 1
    writers = {e["pid"] for e in events if str(ws.runs) in e["path"]}
    assert writers == {pids[0]}
    saved = [e["path"].split(" -> ")[-1] for e in events if e["path"].endswith(".ckpt")]
    checkpoints = sorted(str(p) for p in (run_dir / "checkpoints").glob("*.ckpt"))
    assert Counter(saved) == Counter(checkpoints)  # every file once, nothing written twice
    assert any(c.endswith("last.ckpt") for c in checkpoints)

    # What rank 0 logged is synced over both ranks: it matches the whole validation split.
    last = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)
    assert last["global_step"] == 5
    config = yaml.safe_load((run_dir / "config.yaml").read_text())
    accuracy, loss = evaluate(last, config, ws.data)
    history = last["callbacks"]["TrainingCurves"]["history"]
    (_, logged_accuracy), = history["val/acc"]  # fmt: skip
    (_, logged_loss), = history["val/loss"]  # fmt: skip
    assert logged_accuracy == pytest.approx(accuracy, abs=1e-6)
    assert logged_loss == pytest.approx(loss, rel=1e-4)


@pytest.mark.slow
def test_a_diverged_ddp_run_stops_every_rank_with_one_message(workspace: Workspace) -> None:
    # Both ranks hold the same NaN weights, so both refuse the same save: no rank waits forever.
    done = fit_ddp(
        workspace, "softmax_mnist.yaml",
        "--model.init_args.lr", "1e6",
        "--checkpoint.last_every_n_steps", "1",
        "--trainer.max_epochs", "1",
        "--trainer.limit_train_batches", "20",
        "--trainer.logger", "false",
    )  # fmt: skip
    assert done.returncode == 1, done.stderr[-4000:]
    assert done.stderr.count("zoo fit: training diverged") == 1, done.stderr[-4000:]
    assert "Traceback" not in done.stderr
