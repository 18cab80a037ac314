"""The model contract every image network in wpcore follows.

A network is a stack of *groups* (stages at one spatial resolution) and a *head*:

    forward_groups(x) -> [g0, g1, ...]   outputs of each group, in order (N, C_i, H_i, W_i)
    forward_head(g_last) -> logits       (N, num_classes)
    forward(x) = forward_head(forward_groups(x)[-1])

Attention transfer (thesis ch. 5) pairs the group outputs of any teacher with any student, and the
explorer counts FLOPs per group, without per-model code. ``no_weight_decay()`` names parameters that
the optimizer must not decay (DiracNet's a and b, for instance); the default is none.
"""
from __future__ import annotations

import torch
from torch import nn


class GroupNet(nn.Module):
    def forward_groups(self, x: torch.Tensor) -> list[torch.Tensor]:
        raise NotImplementedError

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_groups(x)[-1])

    def no_weight_decay(self) -> set[str]:
        return set()
