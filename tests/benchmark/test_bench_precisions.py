"""Which precisions `zoo bench` measures: decided from the CPU's flags, bf16 only where native."""

from __future__ import annotations

import argparse

import pytest
import torch

from zoo.benchmark.cli import DEFAULT_SEEDS, parse_seeds
from zoo.benchmark.measure import convolution_seconds, matmul_peak_gflops, training_autocast
from zoo.benchmark.precisions import (
    bench_precisions,
    headline_precision,
    machine,
    native_bf16,
    precision_of,
)
from zoo.benchmark.report import machine_line
from zoo.models import CNNMNIST
from zoo.training.precision import cpu_bf16_unit

CPU = torch.device("cpu")
AMX = {"avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile"}
AVX512_BF16 = {"avx2", "avx512f", "avx512_bf16"}
AVX512 = {"avx2", "avx512f"}
AVX2 = {"avx2", "fma"}


@pytest.mark.parametrize(
    ("flags", "auto"),
    [
        (AMX, ("fp32", "bf16")),
        (AVX512_BF16, ("fp32", "bf16")),
        (AVX512, ("fp32",)),
        (AVX2, ("fp32",)),
        (set(), ("fp32",)),
    ],
)
def test_auto_adds_bf16_only_where_the_cpu_has_it_natively(flags: set[str], auto) -> None:
    assert bench_precisions("auto", CPU, flags) == auto
    assert native_bf16(CPU, flags) is (auto == ("fp32", "bf16"))
    # The explicit choices do not depend on the hardware: `all` shows what emulation costs.
    assert bench_precisions("fp32", CPU, flags) == ("fp32",)
    assert bench_precisions("bf16", CPU, flags) == ("bf16",)
    assert bench_precisions("all", CPU, flags) == ("fp32", "bf16")


def test_this_machines_flags_are_read_when_none_are_given() -> None:
    native = cpu_bf16_unit() is not None
    assert native_bf16(CPU) is native
    assert bench_precisions("auto", CPU) == (("fp32", "bf16") if native else ("fp32",))
    assert machine(CPU)["native_bf16"] is native


def test_an_unknown_precision_is_refused() -> None:
    with pytest.raises(ValueError, match="--precision must be one of auto, fp32, bf16, all"):
        bench_precisions("fp16", CPU, AVX2)


@pytest.mark.parametrize(
    ("precisions", "native", "headline"),
    [
        (("fp32", "bf16"), True, "bf16"),
        (("fp32", "bf16"), False, "fp32"),  # emulated bf16 is the slower one
        (("fp32",), True, "fp32"),
        (("bf16",), False, "bf16"),
    ],
)
def test_targets_are_judged_in_the_precision_zoo_trains_in(precisions, native, headline) -> None:
    assert headline_precision(precisions, native) == headline


def test_lightning_precisions_map_to_rows() -> None:
    assert precision_of("bf16-mixed") == "bf16" and precision_of("32-true") == "fp32"


def test_the_machine_line_names_cpu_isa_and_bf16_unit() -> None:
    env = {"cpu_name": "Intel(R) Xeon(R) Platinum 8488C, 8 cores (CPU)", "isa": "AMX",
           "cpu_bf16_unit": "AMX-BF16", "native_bf16": True}  # fmt: skip
    assert machine_line(env) == (
        "**Machine**: Intel(R) Xeon(R) Platinum 8488C, 8 cores (CPU), ISA AMX, "
        "native bf16 (AMX-BF16)."
    )
    plain = {"cpu_name": "AMD EPYC, 2 cores (CPU)", "isa": "AVX2", "cpu_bf16_unit": None,
             "native_bf16": False}  # fmt: skip
    assert machine_line(plain).endswith("ISA AVX2, no native bf16 unit.")


def test_the_bf16_autocast_runs_convolutions_in_bf16() -> None:
    conv, x = torch.nn.Conv2d(1, 4, 3), torch.randn(2, 1, 8, 8)
    with training_autocast(CPU, "bf16"):
        assert conv(x).dtype == torch.bfloat16
    with training_autocast(CPU, "fp32"):
        assert conv(x).dtype == torch.float32
    with pytest.raises(ValueError, match="fp32 or bf16"):
        training_autocast(CPU, "fp16")


def test_the_convolution_clock_and_peak_run_in_bf16(one_thread) -> None:
    x, y = torch.randn(32, 1, 28, 28), torch.randint(0, 10, (32,))
    assert convolution_seconds(CNNMNIST(), x, y, "bf16", steps=2) > 0
    assert matmul_peak_gflops(CPU, "bf16", size=256, repeats=2) > 0


def test_seeds_parse() -> None:
    assert parse_seeds("0,1,2") == DEFAULT_SEEDS == (0, 1, 2)
    assert parse_seeds(" 3 ") == (3,)
    for bad in ("", "a", "0,-1", "2,2"):
        with pytest.raises(argparse.ArgumentTypeError):
            parse_seeds(bad)
