"""The arithmetic of a run: bf16 autocast where the hardware does bf16 natively, else fp32.

``resolve("auto", device)`` is ``"bf16"`` on CUDA devices that support it (Ampere and later) and on
CPUs with native bf16 instructions (AVX512_BF16 or AMX), where a WRN training step is 2.2-2.5x
faster than fp32 (``benchmarks/results/cpu.md``); elsewhere it is ``"fp32"``, because emulated bf16
is slower than fp32. Under bf16 autocast, convolutions and matrix products run in bf16; batch norm,
losses and the weights stay fp32.

An experiment's record key holds its *policy* ("auto", "bf16" or "fp32"), not what one machine
resolves it to, so a record made in bf16 on a GPU is reused by a CPU-only machine's book; the
record keeps the precision actually used, and pages show it. ``WPCORE_PRECISION=fp32`` (or
``bf16``) is the user's override of "auto" for experiments made in that process (and so enters
their keys: an fp32 book never reuses "auto" records).
"""
from __future__ import annotations

import contextlib
import functools
import os
import re
from pathlib import Path

import torch

CHOICES = ("auto", "bf16", "fp32")


@functools.cache
def cpu_has_native_bf16() -> bool:
    """True if the CPU has AVX512_BF16 or AMX-BF16 instructions (Linux /proc/cpuinfo flags)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return re.search(r"\b(avx512_bf16|amx_bf16)\b", flags) is not None


def policy() -> str:
    """The precision policy asked for by the user (``WPCORE_PRECISION``), default "auto"."""
    p = os.environ.get("WPCORE_PRECISION", "auto")
    if p not in CHOICES:
        raise ValueError(f"WPCORE_PRECISION must be one of {', '.join(CHOICES)}, got {p!r}")
    return p


def resolve(precision: str, device: str | torch.device) -> str:
    """"auto" | "bf16" | "fp32" on ``device`` -> "bf16" | "fp32"."""
    if precision not in CHOICES:
        raise ValueError(f"precision must be one of {', '.join(CHOICES)}, got {precision!r}")
    if precision != "auto":
        return precision
    device = torch.device(device)
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    if device.type == "cpu":
        return "bf16" if cpu_has_native_bf16() else "fp32"
    return "fp32"


def autocast(device: torch.device, precision: str):
    """The autocast context of a resolved precision (a no-op for fp32)."""
    if precision == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()
