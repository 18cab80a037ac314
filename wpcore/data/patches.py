"""Patch-pair data for thesis ch. 1 (DeepCompare): pair sets, their loader, stereo and warped pairs.

A :class:`PairSet` holds ``pairs: (N, 2, 64, 64) uint8`` (channel 0 = patch 1, channel 1 = patch
2) and ``labels: (N,) int8`` in {+1 match, -1 non-match}; :func:`normalize` turns a batch into
the network input of the official code: each patch minus its own mean, divided by 256.

PhotoTour / Brown, the thesis's data, is read by :mod:`wpcore.data.phototour`.

**Embedded data** (the quick profile; no download):

- *stereo*: ``skimage.data.stereo_motorcycle()`` (Middlebury 2014, rectified, 500x741) with its
  ground-truth disparity. Checked on the data: left pixel ``(r, c)`` corresponds to right pixel
  ``(r, c - disp[r, c])`` (disparity is indexed in the *left* image; patch differences are 4x
  lower this way than with ``+disp``); unknown disparities are ``inf`` (the docstring says NaN).
  Training pairs come from rows above ``STEREO_SPLIT_ROW`` and test pairs from rows below it;
  no patch crosses the split, so the two sets share no pixel.
- *warped*: scikit-image photographs; patch 2 of a positive is the same point seen through a
  random affine map (rotation, scale, shear) and a photometric change (gain, bias, gamma,
  noise). Training and test use different photographs.

Negatives are balanced with positives: half are random patches anywhere in the same part, half
(stereo only) lie on the same scanline 16-96 px away from the true match, the hard cases that
stereo matching meets.

Augmentation (training, as training/train.lua): one of {identity, rot90, rot180, rot270, hflip,
vflip} applied to both patches of a pair, and a random swap of the two patches.
"""
from __future__ import annotations

import functools
import hashlib
import math
from dataclasses import dataclass, field

import numpy as np
import torch

# The version of the pair generators below ("stereo", "warped"): part of the record key of every
# run on them. tests/test_data_identity.py pins their output; bump this when the output changes.
GENERATOR_VERSION = 1

PATCH = 64


@dataclass
class PairSet:
    pairs: torch.Tensor   # (N, 2, 64, 64) uint8
    labels: torch.Tensor  # (N,) int8, +1 match / -1 non-match
    identity: str         # where the pairs come from (for records)
    parts: dict[str, tuple[int, int]] = field(default_factory=dict)  # named [start, stop) rows (mixed sets)

    def __len__(self) -> int:
        return len(self.labels)

    def content_digest(self) -> str:
        """sha256 (first 16 hex) of the pairs and labels themselves: what a run actually saw."""
        h = hashlib.sha256(self.pairs.contiguous().numpy().tobytes())
        h.update(self.labels.numpy().tobytes())
        return h.hexdigest()[:16]

    def subset(self, n: int, seed: int = 0) -> PairSet:
        """A balanced random subset of ``n`` pairs (n/2 matches, n/2 non-matches)."""
        g = torch.Generator().manual_seed(seed)
        pos, neg = (self.labels > 0).nonzero()[:, 0], (self.labels < 0).nonzero()[:, 0]
        k = min(n // 2, len(pos), len(neg))
        idx = torch.cat([pos[torch.randperm(len(pos), generator=g)[:k]],
                         neg[torch.randperm(len(neg), generator=g)[:k]]])
        return PairSet(self.pairs[idx], self.labels[idx], f"{self.identity}[{2 * k} of {len(self)}]")


def normalize(pairs: torch.Tensor) -> torch.Tensor:
    """(N, 2, H, W) uint8 in [0, 255] -> float32, each patch minus its mean, / 256 (official)."""
    x = pairs.float()
    return (x - x.mean(dim=(2, 3), keepdim=True)) / 256.0


# --- augmentation -----------------------------------------------------------------------------

def _transform(x: torch.Tensor, k: int) -> torch.Tensor:
    if k < 4:
        return torch.rot90(x, k, dims=(-2, -1))
    return x.flip(-1) if k == 4 else x.flip(-2)


def augment_pairs(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """(N, 2, H, W) -> (N, 2, H, W): per pair one of {id, rot90, rot180, rot270, hflip, vflip}
    applied to both patches, then the two patches swapped with probability 1/2. H == W."""
    n = len(x)
    kind = torch.randint(0, 6, (n,), generator=generator).to(x.device)
    swap = torch.randint(0, 2, (n,), generator=generator).bool().to(x.device)
    out = x.clone()
    for k in range(1, 6):
        m = kind == k
        if m.any():
            out[m] = _transform(x[m], k)
    return torch.where(swap[:, None, None, None], out.flip(1), out)


class PairLoader:
    """Batches of (normalised pairs (B, 2, 64, 64), labels (B,) float +-1) on ``device``.

    With ``balanced=True`` each batch holds B/2 matches and B/2 non-matches (training/train.lua
    draws 128 + 128); an epoch is as many batches as the smaller class allows.
    """

    def __init__(self, data: PairSet, batch_size: int, shuffle: bool, device="cpu",
                 augment: bool = False, balanced: bool = False, seed: int = 0):
        self.data, self.batch_size, self.shuffle = data, batch_size, shuffle
        self.device, self.augment, self.balanced = torch.device(device), augment, balanced
        self.generator = torch.Generator().manual_seed(seed)
        self.pos = (data.labels > 0).nonzero()[:, 0]
        self.neg = (data.labels < 0).nonzero()[:, 0]

    def __len__(self) -> int:
        if self.balanced:
            return min(len(self.pos), len(self.neg)) // (self.batch_size // 2)
        return math.ceil(len(self.data) / self.batch_size)

    def _order(self) -> list[torch.Tensor]:
        g = self.generator
        if self.balanced:
            h = self.batch_size // 2
            p = self.pos[torch.randperm(len(self.pos), generator=g)]
            q = self.neg[torch.randperm(len(self.neg), generator=g)]
            return [torch.cat([p[i * h:(i + 1) * h], q[i * h:(i + 1) * h]]) for i in range(len(self))]
        idx = torch.randperm(len(self.data), generator=g) if self.shuffle else torch.arange(len(self.data))
        return list(idx.split(self.batch_size))

    def __iter__(self):
        for idx in self._order():
            x = normalize(self.data.pairs[idx].to(self.device))
            if self.augment:
                x = augment_pairs(x, self.generator)
            yield x, self.data.labels[idx].to(self.device).float()

    def state(self) -> dict:
        return {"rng": self.generator.get_state().tolist()}

    def set_state(self, s: dict) -> None:
        self.generator.set_state(torch.tensor(s["rng"], dtype=torch.uint8))


# --- embedded: stereo correspondences ---------------------------------------------------------

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


# --- embedded: warped photographs ---------------------------------------------------------------

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


def mixed_pairs(part: str, n_pairs: int, seed: int = 0) -> PairSet:
    """Half stereo pairs (``stereo_pairs``), half photograph pairs (``photo_pairs``), same part."""
    a, b = stereo_pairs(part, n_pairs // 2, seed), photo_pairs(part, n_pairs - n_pairs // 2, seed)
    return PairSet(torch.cat([a.pairs, b.pairs]), torch.cat([a.labels, b.labels]), f"{a.identity}+{b.identity}",
                   {"stereo": (0, len(a)), "photos": (len(a), len(a) + len(b))})


def load_pairs(dataset: str, part: str, n_pairs: int, seed: int = 0) -> PairSet:
    """Embedded pair sets by name: "stereo", "warped", "photos" or "mixed" (stereo + photos)."""
    if dataset == "stereo":
        return stereo_pairs(part, n_pairs, seed)
    if dataset == "warped":
        return warped_pairs(part, n_pairs, seed)
    if dataset == "photos":
        return photo_pairs(part, n_pairs, seed)
    if dataset == "mixed":
        return mixed_pairs(part, n_pairs, seed)
    raise ValueError(f"unknown embedded pair set {dataset!r}; use 'stereo', 'warped', 'photos' or 'mixed'")
