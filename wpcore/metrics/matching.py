"""Patch-matching metrics (thesis ch. 1): ROC and FPR95, the false-positive rate at 95% recall.

Scores: higher = "match"; labels: 1 (or +1) for a matching pair, 0 or -1 for a non-match.

Two protocols, both from the official repository (cvpr15deepcompare):

- ``fpr95`` (training/FPR95Meter.lua, the one behind the paper's tables): sort the scores in
  decreasing order, take the cumulative TPR and FPR after each pair (``roc``, lines 38-44), pick
  the first position where |TPR - 0.95| is smallest and return the FPR there (``value``, lines
  47-58). It steps through every pair and does not interpolate.
- ``fpr95_interpolated`` (pytorch/eval.py): ``sklearn.metrics.roc_curve`` (which merges tied
  scores and drops collinear points), then linear interpolation of FPR at TPR = 0.95.

Ties. The Lua meter orders tied scores by ``torch.sort`` (line 39), which is not stable, so tied pairs fall
in an arbitrary order. A stable sort over a pair list that lists its matches first (ours, and
the Brown lists, are not shuffled by score) would put every tied match before every tied
non-match: a network with a constant output would score 0%. ``fpr95`` therefore returns the
*expected* value of the Lua protocol under a uniformly random order within each group of tied
scores, computed exactly (no sampling, deterministic): the FPR is read at the j-th match, where
j is the match count whose TPR is closest to 0.95; if that match lies in a tied group with P
matches and N non-matches, of which it is the k-th match, the non-matches of the group ranked
before it number k * N / (P + 1) on average (the N non-matches fall uniformly into the P + 1
gaps between the group's matches). Without ties this is exactly the Lua value. A constant
output scores j / (P + 1), about 95%. When more than 1% of the scores tie, ``fpr95`` warns
(``TiedScoresWarning``): the number is then an expectation over orders no single run would see.

They agree when a ROC point sits exactly at TPR = 0.95 and no scores tie; otherwise they differ:
the Lua version snaps to the nearest *pair*, the interpolated one to a point on the line between
two thresholds. The repository's README reports that this changes the second decimal.
Both return a fraction in [0, 1]; multiply by 100 for the thesis's percentages.
"""
from __future__ import annotations

import warnings

import numpy as np

TIE_WARN_SHARE = 0.01  # warn when more than this share of the scores ties with another score


class TiedScoresWarning(UserWarning):
    """Many scores are equal (a saturated or constant network, or low-precision arithmetic)."""


def _positive(labels) -> np.ndarray:
    return np.asarray(labels).reshape(-1) > 0


def roc_steps(scores, labels) -> tuple[np.ndarray, np.ndarray]:
    """(N,), (N,) -> TPR (N,), FPR (N,) after each pair of the decreasing-score order (Lua ``roc``).

    Tied scores keep their input order (a stable sort): one of the orders the Lua meter may see,
    not the expectation ``fpr95`` returns.
    """
    s, pos = _checked(scores, labels)
    order = np.argsort(-s, kind="stable")
    p = pos[order]
    return np.cumsum(p) / p.sum(), np.cumsum(~p) / (~p).sum()


def _checked(scores, labels) -> tuple[np.ndarray, np.ndarray]:
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    pos = _positive(labels)
    if len(s) != len(pos):
        raise ValueError(f"got {len(s)} scores for {len(pos)} labels; pass one score per pair")
    if pos.all() or not pos.any():
        raise ValueError("FPR95 needs both matching and non-matching pairs")
    if not np.isfinite(s).all():
        raise ValueError(f"{int((~np.isfinite(s)).sum())} scores are NaN or infinite; the network diverged")
    return s, pos


def tied_count(scores) -> int:
    """How many scores share their value with at least one other score."""
    _, counts = np.unique(np.asarray(scores, dtype=np.float64).reshape(-1), return_counts=True)
    return int(counts[counts > 1].sum())


def fpr95(scores, labels, recall: float = 0.95) -> float:
    """The official protocol (FPR95Meter.lua): FPR where TPR is closest to ``recall``, averaged
    over the orders of tied scores (exact expectation; see the module docstring)."""
    s, pos = _checked(scores, labels)
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    tied = tied_count(s)
    if tied > TIE_WARN_SHARE * len(s):
        warnings.warn(f"FPR95: {tied} of {len(s)} scores ({100 * tied / len(s):.1f}%) tie with another score; "
                      "the value is the expectation over random orders of the ties", TiedScoresWarning,
                      stacklevel=2)
    # the match count j at which the Lua meter reads the FPR: the first TPR closest to ``recall``
    # (TPR takes every value m / n_pos, m >= 1; the first position with that TPR is the m-th match)
    j = int(np.argmin(np.abs(np.arange(1, n_pos + 1) / n_pos - recall))) + 1
    order = np.argsort(-s, kind="stable")
    s, p = s[order], pos[order]
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])   # first index of each tied group
    group_pos = np.add.reduceat(p.astype(np.int64), starts)
    group_neg = np.diff(np.r_[starts, len(s)]) - group_pos
    cum_pos = np.cumsum(group_pos)
    g = int(np.searchsorted(cum_pos, j))                      # the group holding the j-th match
    k = j - (cum_pos[g] - group_pos[g])                       # ... as its k-th match
    negatives_before = group_neg[:g].sum() + k * group_neg[g] / (group_pos[g] + 1)
    return float(negatives_before / n_neg)


def roc_curve(scores, labels) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """sklearn's ROC: (fpr, tpr, thresholds), each (K,), with tied scores merged."""
    from sklearn.metrics import roc_curve as sk_roc

    return sk_roc(_positive(labels).astype(int), np.asarray(scores, dtype=np.float64).reshape(-1))


def fpr95_interpolated(scores, labels, recall: float = 0.95) -> float:
    """The PyTorch evaluator's protocol: FPR linearly interpolated at TPR = ``recall``."""
    fpr, tpr, _ = roc_curve(scores, labels)
    return float(np.interp(recall, tpr, fpr))
