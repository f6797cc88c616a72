"""Which precision training runs in on the hardware at hand.

bf16 mixed precision halves the bytes every convolution moves and, on a unit built for it, doubles
or better the multiply rate: a GPU since Ampere, an x86 CPU with AMX or AVX512-BF16. Elsewhere a
CPU emulates bf16 and trains slower than in fp32, so there zoo stays in fp32. Only training is
affected: evaluation, `zoo eval`, predict and export run in fp32 unless asked otherwise.

```python
import lightning as L
from zoo.training.precision import training_precision
trainer = L.Trainer(precision=training_precision())   # what `zoo fit` picks
```
"""

from __future__ import annotations

import os

from zoo.hardware import cpu_flags

BF16 = "bf16-mixed"
FP32 = "32-true"
NATIVE_BF16_FLAGS = {"amx_bf16": "AMX-BF16", "avx512_bf16": "AVX512-BF16"}
OVERRIDE_ENV = "ZOO_PRECISION"
"""Set to a Lightning precision (e.g. `32-true`) to override the choice for every run."""


def cpu_bf16_unit() -> str | None:
    """The CPU's native bf16 unit ("AMX-BF16" or "AVX512-BF16"), or None where bf16 is emulated."""
    flags = cpu_flags()
    return next((unit for flag, unit in NATIVE_BF16_FLAGS.items() if flag in flags), None)


def cpu_isa() -> str:
    """The widest vector/matrix unit of this CPU, as benchmark tables name it."""
    flags = cpu_flags()
    if "amx_bf16" in flags:
        return "AMX"
    if "avx512f" in flags:
        return "AVX-512" + (" (BF16)" if "avx512_bf16" in flags else "")
    return "AVX2" if "avx2" in flags else "baseline x86-64 or other"


def _uses_cuda(accelerator: str | None) -> bool:
    if accelerator not in (None, "auto", "gpu", "cuda"):
        return False
    import torch

    return torch.cuda.is_available()


def training_precision(accelerator: str | None = "auto") -> str:
    """The Lightning `precision` zoo trains with here: bf16 mixed where it is native, else fp32.

    `ZOO_PRECISION` overrides the choice; `--trainer.precision` overrides it for one run.
    """
    override = os.environ.get(OVERRIDE_ENV, "").strip()
    if override:
        return override
    if _uses_cuda(accelerator):
        import torch

        return BF16 if torch.cuda.is_bf16_supported(including_emulation=False) else FP32
    return BF16 if cpu_bf16_unit() else FP32


def precision_reason(precision: str, accelerator: str | None = "auto") -> str:
    """Why `training_precision` chose `precision`, in a few words, for the start of a run."""
    if os.environ.get(OVERRIDE_ENV, "").strip():
        return f"set by {OVERRIDE_ENV}"
    if _uses_cuda(accelerator):
        return f"this GPU {'has' if precision == BF16 else 'lacks'} native bf16"
    unit = cpu_bf16_unit()
    if unit:
        return f"this CPU has native bf16 ({unit})"
    return f"this CPU has no native bf16 ({cpu_isa()}): fp32 is faster"
