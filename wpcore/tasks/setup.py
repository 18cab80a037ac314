"""What every task does the same way: seeding, the recipe as ``fit``'s config, the model built
from an experiment, and the image-classifier set-up (data, subsets, input size, normalisation,
augmentation, batches, torchrun shards) that the classify, attention and DiracNet tasks share.

This module is part of every run's code fingerprint (``wpcore.fingerprint``): what it decides
changes what is trained.
"""
from __future__ import annotations

import functools
import random
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def fit_config(exp, ctx, **overrides):
    """The experiment's recipe as ``fit``'s config (a task may override a field, e.g. channels_last)."""
    from ..train import FitConfig

    kw = {"epochs": exp.epochs, "lr": exp.lr, "weight_decay": exp.weight_decay, "nesterov": exp.nesterov,
          "milestones": exp.milestones, "gamma": exp.gamma, "max_steps": exp.max_steps, "compile": ctx.compile,
          "amp": ctx.amp, "schedule": exp.schedule, "warmup": exp.warmup, "label_smoothing": exp.label_smoothing,
          "eval_every": exp.eval_every}
    return FitConfig(**(kw | overrides))


def build(exp, **data_args) -> tuple[nn.Module, dict]:
    """The experiment's network and the complete builder arguments (its ``model_kw`` plus what the
    data decides, e.g. ``num_classes``, ``in_channels``), which the record keeps so that
    ``experiment.load_model(record)`` can rebuild it."""
    from ..nets import create

    args = {**data_args, **exp.model_kw}
    return create(exp.model, **args), args


@functools.lru_cache(maxsize=6)
def _whole(dataset: str, split: str, root: str):
    """A whole split, read once per process and data folder (a chapter trains dozens of runs on it)."""
    from ..data import load

    return load(dataset, split)


def whole(dataset: str, split: str):
    from ..data.store import data_root

    return _whole(dataset, split, str(data_root()))


def resize(data, size: int | None):
    """An ImageSet at ``size`` x ``size`` pixels (uint8 kept): average pooling when the size
    divides the original (28 -> 14), else antialiased bilinear resampling (28 -> 16)."""
    import dataclasses

    h = data.shape[1]
    if size is None or size == h:
        return data
    x = data.images.float()
    if h % size == 0:
        x = F.avg_pool2d(x, h // size)
    else:
        x = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    return dataclasses.replace(data, images=x.round().clamp(0, 255).to(torch.uint8),
                               identity=f"{data.identity}|size:{size}")


def splits(exp, load=whole):
    """The experiment's (train, test) image sets: class-balanced subsets taken, resized to
    ``exp.image_size``."""
    train, test = load(exp.dataset, "train"), load(exp.dataset, "test")
    if exp.train_subset:
        train = train.subset(exp.train_subset)
    if exp.test_subset:
        test = test.subset(exp.test_subset)
    return resize(train, exp.image_size), resize(test, exp.image_size)


def crop_padding(height: int) -> int:
    """Pixels of reflection padding for the random-crop augmentation: the thesis pads 32x32 images
    by 4; 14-16 pixel images get 2, tiny 8x8 digits 1, or the crop destroys them."""
    return 4 if height >= 28 else 2 if height >= 14 else 1


@dataclass
class ClassifierData:
    """An image-classification experiment's data, ready for ``fit``."""
    train: object                 # ImageSet
    test: object
    mean: list[float]
    std: list[float]
    train_batches: object         # DeviceLoader (this rank's shard under torchrun)
    test_batches: object

    def identity(self) -> dict:
        """What the record keeps about the data: identities, sizes, content digests, normalisation."""
        return {"train": self.train.identity, "test": self.test.identity, "n_train": len(self.train),
                "n_test": len(self.test), "shape": list(self.train.shape), "mean": self.mean, "std": self.std,
                "content": {"train": self.train.content_digest(), "test": self.test.content_digest()}}


def classifier_data(exp, ctx, test_batch: int = 500) -> ClassifierData:
    """Data, normalisation (the training set's mean/std), augmentation and batches of an image
    classifier: the classify, attention and DiracNet tasks all use this. Under torchrun each rank
    gets its shard (``wpcore.distributed``)."""
    from .. import distributed
    from ..data import DeviceLoader

    train, test = splits(exp)
    mean, std = train.mean_std()
    crop = crop_padding(train.shape[1]) if exp.augment else 0
    shard = {"rank": distributed.rank(), "world_size": distributed.world_size()}
    train_batches = DeviceLoader(train, exp.batch_size, True, ctx.device, mean, std, crop=crop, flip=exp.augment,
                                 seed=exp.seed, **shard)
    test_batches = DeviceLoader(test, test_batch, False, ctx.device, mean, std, **shard)
    return ClassifierData(train, test, mean, std, train_batches, test_batches)
