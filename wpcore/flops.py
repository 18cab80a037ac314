"""What a network costs: FLOPs counted by PyTorch's own counter, and measured training speed.

FLOPs come from ``torch.utils.flop_counter.FlopCounterMode`` run over a real forward (and
backward) pass, never from hand formulas; 1 multiply-add = 2 FLOP. The counts are taken on the
``meta`` device, so even WRN-40-10 costs no memory and no arithmetic. A training step costs about
3x the forward (forward, gradient of the input, gradient of the weights); ``train_flops`` counts
it rather than assuming it (the stem's input gradient is not needed, so it is slightly below 3x).

``train_throughput`` times real SGD steps (Nesterov, channels_last as in ``wpcore.train.fit``)
on random data: images per second on the machine that calls it, median of the timed steps.
"""

from __future__ import annotations

import statistics
import time

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


def _meta_model(name: str, **kw) -> nn.Module:
    from .nets import create

    with torch.device("meta"):
        return create(name, **kw)


def count_flops(model: nn.Module, input_shape: tuple[int, ...], backward: bool = False) -> int:
    """FLOPs of one forward (and, with ``backward``, the backward) of ``model`` on one input of
    ``input_shape`` = (C, H, W); runs wherever the model's parameters live (``meta`` is free)."""
    device = next(model.parameters()).device
    x = torch.zeros(1, *input_shape, device=device)
    was_training = model.training
    model.train(backward)
    with FlopCounterMode(display=False) as counter:
        out = model(x)
        if backward:
            out.float().sum().backward()
    model.train(was_training)
    if backward:
        model.zero_grad(set_to_none=True)
    return int(counter.get_total_flops())


def forward_flops(name: str, input_shape: tuple[int, ...] = (3, 32, 32), **kw) -> int:
    """Forward FLOPs per image of the registered network ``name``: ``forward_flops("wrn-28-10")``."""
    return count_flops(_meta_model(name, in_channels=input_shape[0], **kw), input_shape)


def train_flops(name: str, input_shape: tuple[int, ...] = (3, 32, 32), **kw) -> int:
    """FLOPs per image of one training step (forward + backward), counted."""
    return count_flops(_meta_model(name, in_channels=input_shape[0], **kw), input_shape, backward=True)


def train_throughput(
    model: nn.Module,
    input_shape: tuple[int, ...],
    batch_size: int = 32,
    steps: int = 3,
    warmup: int = 1,
    num_classes: int = 10,
) -> float:
    """Measured training images per second: median over ``steps`` timed SGD steps after
    ``warmup`` untimed ones, on random (batch_size, *input_shape) inputs, on the model's device."""
    device = next(model.parameters()).device
    model.train().to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9, nesterov=True, weight_decay=5e-4)
    x = torch.randn(batch_size, *input_shape, device=device).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, num_classes, (batch_size,), device=device)
    times = []
    for i in range(warmup + steps):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        t0 = time.perf_counter()
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        if i >= warmup:
            times.append(time.perf_counter() - t0)
    model.to(memory_format=torch.contiguous_format)
    return batch_size / statistics.median(times)
