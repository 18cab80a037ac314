"""What a network costs: FLOPs counted by PyTorch's own counter.

FLOPs come from ``torch.utils.flop_counter.FlopCounterMode`` run over a real forward (and
backward) pass, never from hand formulas; 1 multiply-add = 2 FLOP. The counts are taken on the
``meta`` device, so even WRN-40-10 costs no memory and no arithmetic. A training step costs about
3x the forward (forward, gradient of the input, gradient of the weights); ``train_flops`` counts
it rather than assuming it (the stem's input gradient is not needed, so it is slightly below 3x).

Training *speed* is not measured here: a few timed steps on random data said little (WRN-16-2 at
16 images/s on a machine where the engine trains it at several hundred); speeds come from the
training records (``studies.wide_resnets_explorer.images_per_second``).
"""

from __future__ import annotations

import torch
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
