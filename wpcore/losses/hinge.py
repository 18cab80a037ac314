"""Hinge loss for patch comparison (thesis ch. 1, DeepCompare).

The paper minimises  lambda/2 ||w||^2 + sum_i max(0, 1 - y_i o_i)  with labels y in {-1, +1};
training/train.lua uses ``nn.MarginCriterion`` (margin 1, averaged over the batch). The weight
decay term is the optimizer's business, not the loss's.
"""
from __future__ import annotations

import torch


def hinge(scores: torch.Tensor, labels: torch.Tensor, margin: float = 1.0) -> torch.Tensor:
    """scores (N,), labels (N,) in {-1, +1} -> mean(max(0, margin - y * s)), a scalar."""
    return torch.clamp(margin - labels.to(scores.dtype) * scores, min=0).mean()
