"""Detection losses of the MultiPath chapter (thesis ch. 2; Zagoruyko et al., BMVC 2016).

Integral loss: the paper approximates the integral of the classification loss over IoU
thresholds u in [0.5, 0.75] by n heads, head i trained with positives at IoU >= u_i and background
at IoU in [bg_low, u_i) (donkey.lua: u_i = 0.5 + (i - 1) / 20). The repo trains one head per
minibatch, chosen by the loader it came from; the mean over heads weights them the same in
expectation. Box regression: smooth L1 on the
normalised deltas of the ground-truth class, for foreground RoIs only, averaged over all RoIs
(Fast R-CNN, sigma = 1).
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

IGNORE = -1  # label of a RoI that a head neither calls object nor background


def integral_labels(iou: torch.Tensor, matched: torch.Tensor, thresholds: Sequence[float],
                    bg_low: float = 0.0) -> torch.Tensor:
    """Per-head labels: iou (R,), matched gt class (R,) -> (len(thresholds), R).

    Head i: ``matched`` where iou >= u_i, 0 (background) where bg_low <= iou < u_i, else IGNORE.
    """
    u = torch.as_tensor(list(thresholds), dtype=iou.dtype, device=iou.device).view(-1, 1)
    labels = torch.where(iou >= u, matched.view(1, -1), torch.zeros_like(matched).view(1, -1))
    return torch.where(iou.view(1, -1) >= min(bg_low, min(thresholds)), labels, torch.full_like(labels, IGNORE))


def integral_loss(logits: Sequence[torch.Tensor], labels: torch.Tensor) -> torch.Tensor:
    """Mean over heads of each head's cross-entropy: n x (R, K) logits, (n, R) labels -> scalar."""
    if len(logits) != len(labels):
        raise ValueError(f"{len(logits)} heads but labels for {len(labels)}")
    losses = [F.cross_entropy(x, y, ignore_index=IGNORE) if (y != IGNORE).any() else x.sum() * 0
              for x, y in zip(logits, labels)]
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
