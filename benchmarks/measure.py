"""Timing primitives: a matmul ceiling, FLOPs of a step, and interleaved timing rounds.

Rules (performance.md): warm up, synchronise the device before reading the clock, take the
median of several rounds, and interleave the implementations being compared round by round so
that a change in machine load hits both alike.
"""
from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed_loop(device: torch.device, warm: int, steps: int, batches, step: Callable) -> float:
    """Seconds taken by the last ``steps`` of ``warm + steps`` calls of ``step(batch)`` over
    ``batches``, the device synchronised before and after them (not inside)."""
    it = iter(batches)
    t0 = 0.0
    for i in range(warm + steps):
        if i == warm:
            sync(device)
            t0 = time.perf_counter()
        step(next(it))
    sync(device)
    return time.perf_counter() - t0


def matmul_ceiling(device: torch.device, n: int | None = None, dtype: torch.dtype | None = None,
                   repeats: int = 5) -> float:
    """GFLOP/s of an n x n x n GEMM (fp32 2048^3 on CPU, bf16 8192^3 on CUDA): the median of repeats."""
    cuda = device.type == "cuda"
    n = n or (8192 if cuda else 2048)
    dtype = dtype or (torch.bfloat16 if cuda else torch.float32)
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    inner = 10 if cuda else 1  # one GPU GEMM is ~1 ms: time ten per reading
    torch.mm(a, b)
    sync(device)
    rates = []
    for _ in range(repeats):
        t = time.perf_counter()
        for _ in range(inner):
            torch.mm(a, b)
        sync(device)
        rates.append(2 * n ** 3 * inner / (time.perf_counter() - t) / 1e9)
    return statistics.median(rates)


def count_flops(fn: Callable[[], object]) -> int:
    """FLOPs (2 x MAC) that ``fn`` runs, forward and backward, by PyTorch's FLOP counter."""
    with FlopCounterMode(display=False) as counter:
        fn()
    return int(counter.get_total_flops())


def interleaved(runners: dict[str, Callable[[], float]], rounds: int) -> dict[str, list[float]]:
    """Call every runner once per round, in turn; each returns a rate. -> {name: [rate per round]}."""
    out: dict[str, list[float]] = {k: [] for k in runners}
    for _ in range(rounds):
        for name, fn in runners.items():
            out[name].append(fn())
    return out


def median(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def cpu_model() -> str:
    """The CPU's model name (Linux /proc/cpuinfo; "unknown" elsewhere): the build machines' kind
    changes, and a CPU time means little without it."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def load_average() -> tuple[float, float, float] | None:
    try:
        import os

        return os.getloadavg()
    except (OSError, AttributeError):
        return None
