"""Detection losses of the MultiPath chapter (thesis ch. 2; Zagoruyko et al., BMVC 2016).

Integral loss: the paper approximates the integral of the classification loss over IoU
thresholds u in [0.5, 0.75] by n heads, head i trained on its own RoI batch with positives at
IoU >= u_i and background at IoU in [0.1, u_i) (donkey.lua createTrainLoader: u_i = 0.5 + (i - 1)
/ 20); the batches are drawn by ``MultiPathNet.sample``. The repo updates one head per step; the
mean over heads weights them the same in expectation. Box regression: smooth L1 on the normalised
deltas of the ground-truth class, for foreground RoIs only, summed and divided by the number of
RoIs (BBoxRegressionCriterion.lua; Fast R-CNN, sigma = 1).
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F


def integral_loss(logits: Sequence[torch.Tensor], labels: Sequence[torch.Tensor]) -> torch.Tensor:
    """Mean over heads of each head's cross-entropy on its own batch: n x (R_i, K) logits and
    n x (R_i,) labels (0 = background) -> scalar. A head with an empty batch adds 0."""
    if len(logits) != len(labels):
        raise ValueError(f"{len(logits)} heads but labels for {len(labels)}")
    losses = [F.cross_entropy(x, y) if len(y) else x.sum() * 0 for x, y in zip(logits, labels)]
    return torch.stack(losses).mean()


def box_regression_loss(deltas: torch.Tensor, labels: torch.Tensor, targets: torch.Tensor,
                        beta: float = 1.0) -> torch.Tensor:
    """Class-specific smooth L1: deltas (R, 4K), labels (R,) (0 = background), targets (R, 4) -> scalar.

    Only the 4 outputs of each foreground RoI's class are penalised; the sum is divided by R.
    """
    fg = torch.nonzero(labels > 0).flatten()
    if len(fg) == 0:
        return deltas.sum() * 0
    picked = deltas.view(len(deltas), -1, 4)[fg, labels[fg]]  # (F, 4)
    return F.smooth_l1_loss(picked, targets[fg], beta=beta, reduction="sum") / max(len(labels), 1)
