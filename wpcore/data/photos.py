"""Photograph pairs (embedded; no download): scikit-image photographs seen through synthetic
viewpoint, blur and lighting changes.

- *warped* (the quick profile's transfer set): patch 2 of a positive is the same point seen through
  a random affine map (rotation, scale, shear) and a photometric change (gain, bias, gamma, noise).
  Training and test use different photographs.
- *photos* (half of the standard profile's ``mixed`` set): every photograph of ``PHOTOS``, its first
  ``PHOTO_SPLIT`` for training and the rest for testing with a ``FOOTPRINT`` guard band; patch 2 is
  also blurred by one of ``BLUR_SIGMAS``.
"""
from __future__ import annotations

import functools

import numpy as np
import torch

from .pairs import PATCH, PairSet

WARP_IMAGES = {"train": ("astronaut", "coffee", "chelsea", "rocket"), "test": ("camera", "brick", "grass", "coins")}


@functools.cache
def _gray(name: str) -> np.ndarray:
    from skimage import color, data

    im = getattr(data, name)()
    im = color.rgb2gray(im) if im.ndim == 3 else im / (255.0 if im.dtype == np.uint8 else 1.0)
    return im.astype(np.float32)


def random_affine(rng: np.random.Generator, n: int) -> np.ndarray:
    """(n, 2, 2) maps of (row, col) offsets: rotation +-30 deg, log-uniform scale 0.8-1.25, shear +-0.15."""
    a = rng.uniform(-np.pi / 6, np.pi / 6, n)
    s = np.exp(rng.uniform(np.log(0.8), np.log(1.25), n))
    sh = rng.uniform(-0.15, 0.15, n)
    rot = np.stack([np.stack([np.cos(a), -np.sin(a)], -1), np.stack([np.sin(a), np.cos(a)], -1)], -2)
    shear = np.broadcast_to(np.eye(2), (n, 2, 2)).copy()
    shear[:, 0, 1] = sh
    return s[:, None, None] * rot @ shear


def sample_warped(im: np.ndarray, centres: np.ndarray, maps: np.ndarray, size: int = PATCH) -> np.ndarray:
    """Patches of ``im`` at ``centres`` (K, 2) seen through ``maps`` (K, 2, 2): pixel u of the
    patch (offset from its centre) samples im(centre + map @ u), bilinearly -> (K, size, size)."""
    import torch.nn.functional as F

    u = np.stack(np.mgrid[:size, :size], -1).reshape(-1, 2) - size // 2  # (S*S, 2); u = 0 at index size//2
    u_t = torch.from_numpy(u).float()
    pts = torch.from_numpy(centres).float()[:, None, :] + u_t @ torch.from_numpy(maps).float().transpose(1, 2)
    hw = torch.tensor(im.shape, dtype=torch.float32) - 1                     # pts: (K, S*S, 2) (row, col)
    grid = (pts / hw * 2 - 1).flip(-1)                                        # (x, y) in [-1, 1]
    src = torch.from_numpy(im)[None, None].expand(len(centres), 1, *im.shape)
    out = F.grid_sample(src, grid.view(len(centres), size, size, 2), mode="bilinear",
                        padding_mode="reflection", align_corners=True)
    return out[:, 0].numpy()


def photometric(p: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(K, S, S) in [0, 1] -> gain 0.7-1.3, bias +-0.1, gamma 0.7-1.4, Gaussian noise sigma 0.02."""
    k = len(p)
    g = rng.uniform(0.7, 1.3, (k, 1, 1))
    b = rng.uniform(-0.1, 0.1, (k, 1, 1))
    gam = np.exp(rng.uniform(np.log(0.7), np.log(1.4), (k, 1, 1)))
    q = np.clip(p, 0, 1) ** gam * g + b + rng.normal(0, 0.02, p.shape)
    return np.clip(q, 0, 1)


def warped_pairs(part: str, n_pairs: int, seed: int = 0, size: int = PATCH) -> PairSet:
    """Balanced pairs from the ``part``'s photographs: a positive is (I(c + u), photometric(I(c + A u)))."""
    if part not in WARP_IMAGES:
        raise ValueError(f"part must be one of {', '.join(WARP_IMAGES)}, got {part!r}")
    rng = np.random.default_rng(seed + (0 if part == "train" else 10_000))
    images = [_gray(n) for n in WARP_IMAGES[part]]
    n_pos, n_neg = n_pairs // 2, n_pairs - n_pairs // 2
    m = size  # keep the warped footprint (up to ~1.25*1.15*sqrt(2)*size/2) inside the photograph
    eye = np.broadcast_to(np.eye(2), (1, 2, 2))

    def centres(im, k):
        return np.stack([rng.uniform(m, im.shape[0] - m, k), rng.uniform(m, im.shape[1] - m, k)], 1)

    which = rng.integers(0, len(images), n_pairs)
    p1, p2 = np.empty((n_pairs, size, size), np.float32), np.empty((n_pairs, size, size), np.float32)
    for i, im in enumerate(images):
        sel = np.nonzero(which == i)[0]
        c = centres(im, len(sel))
        p1[sel] = sample_warped(im, c, np.repeat(eye, len(sel), 0), size)
        other = c.copy()
        is_neg = sel >= n_pos
        other[is_neg] = centres(im, int(is_neg.sum()))  # a different point of the same photograph
        p2[sel] = sample_warped(im, other, random_affine(rng, len(sel)), size)
    p2 = photometric(p2, rng)
    pairs = np.stack([p1, p2], 1)
    labels = np.r_[np.ones(n_pos, np.int8), -np.ones(n_neg, np.int8)]
    return PairSet(torch.from_numpy((pairs * 255).round().astype(np.uint8)), torch.from_numpy(labels),
                   f"warped:{part}:{'+'.join(WARP_IMAGES[part])}:{n_pairs}:seed{seed}")


# --- embedded: every photograph, split into regions; mixed with the stereo pair ---------------------

# Every natural photograph scikit-image ships without a download (``cat`` is ``chelsea`` again;
# drawings, binary masks and images under 128 px are left out, and so is ``clock``: its test region
# is a smooth gradient with no 64x64 patch of texture to match).
PHOTOS = ("astronaut", "brick", "camera", "cell", "chelsea", "coffee", "coins", "grass", "gravel",
          "hubble_deep_field", "immunohistochemistry", "moon", "page", "retina", "rocket", "text")
PHOTO_SPLIT = 0.6   # along its longer side, the first 60% of each photograph trains, the rest tests
FOOTPRINT = 66      # px: farthest a warped patch reaches from its centre (1.25 * 1.15 * sqrt(2) * 32 = 65.0)
BLUR_SIGMAS = (0.0, 0.7, 1.4, 2.1)  # px: patch 2 of a pair is seen through one of these Gaussian blurs
MIN_STD = 0.02      # a patch 1 this flat (std of [0, 1] pixels) shows no point to match: it is drawn again


@functools.cache
def _blurred(name: str, sigma: float) -> np.ndarray:
    """The photograph ``name`` in gray, through a Gaussian blur of ``sigma`` px (0: as it is)."""
    from scipy.ndimage import gaussian_filter

    return gaussian_filter(_gray(name), sigma) if sigma else _gray(name)


def _region(shape: tuple[int, int], part: str) -> tuple[tuple[float, float], tuple[float, float]]:
    """((row lo, row hi), (col lo, col hi)) of the patch centres of ``part``: every footprint stays
    ``PATCH`` px inside the photograph and ``FOOTPRINT`` px off the train/test line, so no pixel of
    a test pair is ever seen in training."""
    long_ax = int(shape[1] > shape[0])
    split = PHOTO_SPLIT * shape[long_ax]
    span = (PATCH, split - FOOTPRINT) if part == "train" else (split + FOOTPRINT, shape[long_ax] - PATCH)
    other = (PATCH, shape[1 - long_ax] - PATCH)
    return (span, other) if long_ax == 0 else (other, span)


def photo_pairs(part: str, n_pairs: int, seed: int = 0, size: int = PATCH) -> PairSet:
    """Balanced pairs from the ``part`` region ("train" or "test") of every photograph of ``PHOTOS``.

    A positive is (I(c + u), photometric(blur(I)(c + A u))): a random affine map A (viewpoint),
    one of ``BLUR_SIGMAS`` and a gain, bias, gamma and noise change (illumination). A negative puts
    patch 2 at another point of the same region: half anywhere, half 32-64 px away (overlapping
    views of the same surface, the harder case).
    """
    if part not in ("train", "test"):
        raise ValueError(f"part must be 'train' or 'test', got {part!r}")
    rng = np.random.default_rng(seed + (0 if part == "train" else 10_000))
    n_pos = n_pairs // 2
    which = rng.integers(0, len(PHOTOS), n_pairs)
    blur = rng.integers(0, len(BLUR_SIGMAS), n_pairs)
    hard = rng.random(n_pairs) < 0.5
    p1, p2 = np.empty((n_pairs, size, size), np.float32), np.empty((n_pairs, size, size), np.float32)
    eye = np.broadcast_to(np.eye(2), (1, 2, 2))
    for i, name in enumerate(PHOTOS):
        im = _gray(name)
        (r0, r1), (c0, c1) = _region(im.shape, part)
        sel = np.nonzero(which == i)[0]
        if not len(sel):
            continue

        def draw(k, r0=r0, r1=r1, c0=c0, c1=c1):
            return np.stack([rng.uniform(r0, r1, k), rng.uniform(c0, c1, k)], 1)

        c, todo = np.empty((len(sel), 2)), np.arange(len(sel))
        for _ in range(50):  # draw again where patch 1 is flat (sky, background, blank page)
            c[todo] = draw(len(todo))
            a = sample_warped(im, c[todo], np.repeat(eye, len(todo), 0), size)
            p1[sel[todo]] = a
            todo = todo[a.std(axis=(1, 2)) < MIN_STD]
            if not len(todo):
                break
        other = c.copy()
        neg = sel >= n_pos
        far = neg & ~hard[sel]
        other[far] = draw(int(far.sum()))
        near = neg & hard[sel]
        ang, dist = rng.uniform(0, 2 * np.pi, int(near.sum())), rng.uniform(32, 64, int(near.sum()))
        other[near] = np.clip(c[near] + np.stack([np.sin(ang), np.cos(ang)], 1) * dist[:, None],
                              [r0, c0], [r1, c1])
        maps = random_affine(rng, len(sel))
        for b, sigma in enumerate(BLUR_SIGMAS):
            m = blur[sel] == b
            if m.any():
                p2[sel[m]] = sample_warped(_blurred(name, sigma), other[m], maps[m], size)
    p2 = photometric(p2, rng)
    pairs = np.stack([p1, p2], 1)
    labels = np.r_[np.ones(n_pos, np.int8), -np.ones(n_pairs - n_pos, np.int8)]
    return PairSet(torch.from_numpy((pairs * 255).round().astype(np.uint8)), torch.from_numpy(labels),
                   f"photos:{part}:{len(PHOTOS)} photographs:{n_pairs}:seed{seed}")
