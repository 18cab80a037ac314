"""Patch-pair data for thesis ch. 1 (DeepCompare) by name: the embedded sets this package generates.

PhotoTour / Brown, the thesis's data, is read by :mod:`wpcore.data.phototour`. The embedded sets
(no download): "stereo" (:mod:`.stereo`), "warped" and "photos" (:mod:`.photos`) and
"mixed" (half stereo, half photos), all of :class:`.pairs.PairSet`.
"""
from __future__ import annotations

import torch

from .pairs import PairSet
from .photos import photo_pairs, warped_pairs
from .stereo import stereo_pairs

# The version of the pair generators ("stereo", "warped", "photos"): part of the record key of every
# run on them. tests/test_patches.py pins their output; bump this when the output changes.
GENERATOR_VERSION = 1


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
