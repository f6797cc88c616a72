"""A callback the distributed tests add to real `zoo fit` runs to record what the Trainer saw.

Added on the command line (`--trainer.callbacks+=zoo_probe.TrainerFacts`, with this folder on
PYTHONPATH); each process writes `rank<global_rank>.json` into `$ZOO_PROBE_DIR` when training
starts, after Lightning has set up the process group and restored any checkpoint. It expects
zoo's `TensorBatchLoader` as the training loader.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import lightning as L
import torch.distributed as dist
from lightning.pytorch.callbacks import Callback


class TrainerFacts(Callback):
    """Writes the Trainer's distributed placement and cluster environment, once per process."""

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Record the facts as JSON in `$ZOO_PROBE_DIR/rank<global_rank>.json`."""
        environment = getattr(trainer.strategy, "cluster_environment", None)
        loader = trainer.train_dataloader
        facts = {
            "pid": os.getpid(),
            "global_rank": trainer.global_rank,
            "local_rank": trainer.local_rank,
            "node_rank": trainer.node_rank,
            "world_size": trainer.world_size,
            "num_nodes": trainer.num_nodes,
            "num_devices": trainer.num_devices,
            "strategy": type(trainer.strategy).__name__,
            "backend": dist.get_backend() if dist.is_initialized() else None,
            "cluster_environment": type(environment).__name__,
            "auto_requeue": getattr(environment, "auto_requeue", None),
            "requeue_signal": str(getattr(environment, "requeue_signal", None)),
            "callbacks": [type(c).__name__ for c in trainer.callbacks],
            "global_step": trainer.global_step,
            "num_training_batches": trainer.num_training_batches,
            "train_loader_len": len(loader),
            # The training samples this rank reads in this epoch (the loader's own shard).
            "shard": loader.sampler.indices().tolist(),
            "default_root_dir": str(trainer.default_root_dir),
        }
        folder = Path(os.environ["ZOO_PROBE_DIR"])
        folder.mkdir(parents=True, exist_ok=True)
        # Written then renamed: the test polls for these files and must never read half of one.
        partial = folder / f".rank{trainer.global_rank}.json.partial"
        partial.write_text(json.dumps(facts))
        partial.replace(folder / f"rank{trainer.global_rank}.json")
