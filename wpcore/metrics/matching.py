"""Patch-matching metrics (thesis ch. 1): ROC and FPR95, the false-positive rate at 95% recall.

Scores: higher = "match"; labels: 1 (or +1) for a matching pair, 0 or -1 for a non-match.

Two protocols, both from the official repository (cvpr15deepcompare):

- ``fpr95`` (training/FPR95Meter.lua, the one behind the paper's tables): sort the scores in
  decreasing order, take the cumulative TPR and FPR after each pair, pick the first position
  where |TPR - 0.95| is smallest and return the FPR there. It steps through every pair (ties are
  broken by sort order) and does not interpolate.
- ``fpr95_interpolated`` (pytorch/eval.py): ``sklearn.metrics.roc_curve`` (which merges tied
  scores and drops collinear points), then linear interpolation of FPR at TPR = 0.95.

They agree when a ROC point sits exactly at TPR = 0.95 and no scores tie; otherwise they differ:
the Lua version snaps to the nearest *pair*, the interpolated one to a point on the line between
two thresholds. The repository's README reports that this changes the second decimal.
Both return a fraction in [0, 1]; multiply by 100 for the thesis's percentages.
"""
from __future__ import annotations

import numpy as np


def _positive(labels) -> np.ndarray:
    return np.asarray(labels).reshape(-1) > 0


def roc_steps(scores, labels) -> tuple[np.ndarray, np.ndarray]:
    """(N,), (N,) -> TPR (N,), FPR (N,) after each pair of the decreasing-score order (Lua ``roc``)."""
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    pos = _positive(labels)
    if pos.all() or not pos.any():
        raise ValueError("FPR95 needs both matching and non-matching pairs")
    order = np.argsort(-s, kind="stable")
    p = pos[order]
    return np.cumsum(p) / p.sum(), np.cumsum(~p) / (~p).sum()


def fpr95(scores, labels, recall: float = 0.95) -> float:
    """The official protocol (FPR95Meter.lua): FPR where TPR is closest to ``recall``."""
    tpr, fpr = roc_steps(scores, labels)
    return float(fpr[np.argmin(np.abs(tpr - recall))])


def roc_curve(scores, labels) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """sklearn's ROC: (fpr, tpr, thresholds), each (K,), with tied scores merged."""
    from sklearn.metrics import roc_curve as sk_roc

    return sk_roc(_positive(labels).astype(int), np.asarray(scores, dtype=np.float64).reshape(-1))


def fpr95_interpolated(scores, labels, recall: float = 0.95) -> float:
    """The PyTorch evaluator's protocol: FPR linearly interpolated at TPR = ``recall``."""
    fpr, tpr, _ = roc_curve(scores, labels)
    return float(np.interp(recall, tpr, fpr))
