"""Stereo correspondences (embedded; no download): patch pairs from the Middlebury motorcycle.

``skimage.data.stereo_motorcycle()`` (Middlebury 2014, rectified, 500x741) with its ground-truth
disparity. Checked on the data: left pixel ``(r, c)`` corresponds to right pixel
``(r, c - disp[r, c])`` (disparity is indexed in the *left* image; patch differences are 4x lower
this way than with ``+disp``); unknown disparities are ``inf`` (the docstring says NaN). Training
pairs come from rows above ``STEREO_SPLIT_ROW`` and test pairs from rows below it; no patch crosses
the split, so the two sets share no pixel. Negatives are balanced with positives: half are random
patches anywhere in the same part, half lie on the same scanline 16-96 px away from the true match,
the hard cases that stereo matching meets.
"""
from __future__ import annotations

import numpy as np
import torch

from .pairs import PATCH, PairSet

STEREO_SPLIT_ROW = 300  # train patches lie in rows [0, 300), test patches in rows [300, 500)


def stereo_images() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Motorcycle pair as uint8 grayscale (500, 741) each, and disparity (500, 741), NaN unknown."""
    from skimage import color, data

    left, right, disp = data.stereo_motorcycle()
    gray = [(color.rgb2gray(im) * 255).round().astype(np.uint8) for im in (left, right)]
    disp = np.where(np.isfinite(disp), disp, np.nan).astype(np.float32)
    return gray[0], gray[1], disp


def crop(im: np.ndarray, r: np.ndarray, c: np.ndarray, size: int = PATCH) -> np.ndarray:
    """Patches centred at (r, c) (top-left = centre - size//2): (K,) ints -> (K, size, size)."""
    h = size // 2
    rr = r[:, None, None] - h + np.arange(size)[None, :, None]
    cc = c[:, None, None] - h + np.arange(size)[None, None, :]
    return im[rr, cc]


def stereo_pairs(part: str, n_pairs: int, seed: int = 0, size: int = PATCH) -> PairSet:
    """Balanced pairs from one part ("train": rows above STEREO_SPLIT_ROW, "test": below).

    Positive: left patch at (r, c), right patch at (r, c - round(disp[r, c])).
    """
    if part not in ("train", "test"):
        raise ValueError(f"part must be 'train' or 'test', got {part!r}")
    left, right, disp = stereo_images()
    hh, ww = left.shape
    h = size // 2
    lo, hi = (h, STEREO_SPLIT_ROW - h) if part == "train" else (STEREO_SPLIT_ROW + h, hh - h)
    rng = np.random.default_rng(seed + (0 if part == "train" else 10_000))
    # candidate centres with known disparity whose both patches fit in the image
    rows, cols = np.mgrid[lo:hi + 1, h:ww - h + 1]
    d = disp[rows, cols]
    ok = np.isfinite(d)
    ok[ok] &= (cols[ok] - np.round(d[ok]) >= h)
    rows, cols, d = rows[ok], cols[ok], np.round(d[ok]).astype(np.int64)
    n_pos, n_neg = n_pairs // 2, n_pairs - n_pairs // 2
    k = rng.choice(len(rows), n_pos + n_neg, replace=len(rows) < n_pos + n_neg)
    r, c, dd = rows[k], cols[k], d[k]
    pos = np.stack([crop(left, r[:n_pos], c[:n_pos], size), crop(right, r[:n_pos], c[:n_pos] - dd[:n_pos], size)], 1)
    # negatives: half random anywhere in the part, half on the same scanline 16..96 px off
    rn, cn = r[n_pos:], c[n_pos:]
    true_c = cn - dd[n_pos:]
    hard = rng.random(n_neg) < 0.5
    off = rng.integers(16, 97, n_neg) * rng.choice([-1, 1], n_neg)
    c2 = np.clip(true_c + off, h, ww - h)
    c2 = np.where(np.abs(c2 - true_c) < 16, true_c - off, c2)  # clipped onto the match: go the other way
    r2 = rng.integers(lo, hi + 1, n_neg)
    c2_rand = rng.integers(h, ww - h + 1, n_neg)
    near = (np.abs(r2 - rn) < 16) & (np.abs(c2_rand - true_c) < 16)  # too close to the true match
    c2_rand = np.where(near, np.where(true_c > ww // 2, true_c - 48, true_c + 48), c2_rand)
    neg_r2 = np.where(hard, rn, r2)
    neg_c2 = np.where(hard, c2, c2_rand)
    neg = np.stack([crop(left, rn, cn, size), crop(right, neg_r2, neg_c2, size)], 1)
    labels = np.r_[np.ones(n_pos, np.int8), -np.ones(n_neg, np.int8)]
    return PairSet(torch.from_numpy(np.concatenate([pos, neg])), torch.from_numpy(labels),
                   f"stereo_motorcycle:{part}:{n_pairs}:seed{seed}")
