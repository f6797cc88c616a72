"""Silence library messages that never apply to a zoo run; real warnings and errors still show."""

from __future__ import annotations

import logging
import warnings

_NOISE = (
    "💡 Tip: For seamless cloud logging",
    "TPU available:",
    "HPU available:",
    # zoo fit prints its own line saying which precision it chose and why.
    "Using bfloat16 Automatic Mixed Precision",
    "Loading `train_dataloader` to estimate number of stepping batches",
    # zoo's own summary table replaces Lightning's: saying so is no news to the user.
    "Trainer already configured with model summary callbacks",
)


class _DropNoise(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(_NOISE)


def quiet_known_noise() -> None:
    """Filter the known, meaningless messages of torch, Lightning and jsonargparse (idempotent)."""
    # torch's pytree deprecation, triggered inside Lightning, not by our code.
    warnings.filterwarnings("ignore", message=".*LeafSpec.*is deprecated")
    # Our loaders slice tensors in memory: worker processes would only slow them down.
    warnings.filterwarnings("ignore", message=".*does not have many workers.*")
    # The summary's parameter sizes are for the fp32 weights, which bf16-mixed keeps.
    warnings.filterwarnings("ignore", message=".*is not supported by the model summary.*")
    # A fresh run always gets a directory of its own (zoo.training.run_dir), so a non-empty
    # checkpoint folder means a resumed run, which is meant to find its checkpoints there.
    warnings.filterwarnings("ignore", message=r".*Checkpoint directory .* exists and is not empty")
    # `zoo.cli.main([...])` called from Python (a notebook, a test) passes its own arguments;
    # whatever the host process's sys.argv holds is not meant for zoo, so there is no mistake.
    warnings.filterwarnings("ignore", message=r"LightningCLI's args parameter is intended")
    # Lightning calls jsonargparse APIs deprecated in 4.49; nothing a zoo user can act on.
    warnings.filterwarnings("ignore", category=DeprecationWarning, module="lightning.pytorch.cli")
    # Lightning's advert for its hosted logger, and accelerators this project never uses.
    for name in ("lightning.pytorch.utilities.rank_zero", "lightning.fabric.utilities.rank_zero"):
        log = logging.getLogger(name)
        if not any(isinstance(f, _DropNoise) for f in log.filters):
            log.addFilter(_DropNoise())
