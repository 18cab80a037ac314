"""Patch pairs for thesis ch. 1 (DeepCompare): the pair set, its normalisation, augmentation and loader.

A :class:`PairSet` holds ``pairs: (N, 2, 64, 64) uint8`` (channel 0 = patch 1, channel 1 = patch
2) and ``labels: (N,) int8`` in {+1 match, -1 non-match}; :func:`normalize` turns a batch into
the network input of the official code: each patch minus its own mean, divided by 256.

Augmentation (training, as training/train.lua): one of {identity, rot90, rot180, rot270, hflip,
vflip} applied to both patches of a pair, and a random swap of the two patches.
"""
from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field

import torch

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
