"""The floor a classifier must clear: a linear model trained on an image experiment's own data.

The book's first `quick` design left Wide ResNets at 35-48% test error on Fashion-MNIST, where a
linear model gets about 16%: their comparisons said nothing. Each classifier chapter now sets its
baseline beside multinomial logistic regression (scikit-learn) trained on the very images its
networks train on (the experiment's subset and size, ``tasks.setup.splits``) and scored on the same
test images: pixels standardised with the training set's mean and spread, scikit-learn's default
regularisation (C = 1, not tuned on the test set), no augmentation.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

# Fit only where it takes seconds: 60,000 Fashion-MNIST images at 14x14 are 1.2e7 values (a few
# seconds on one core); CIFAR-10's 50,000 images of 3x32x32 (1.5e8) would take minutes at page build.
MAX_VALUES = 5e7


@dataclass(frozen=True)
class LinearFloor:
    error: float     # test error (%) of the linear model
    n_train: int
    n_test: int
    shape: tuple[int, int, int]


def too_large(n_train: int, shape: tuple[int, ...]) -> bool:
    """More values than a page build fits in seconds (``MAX_VALUES``)."""
    return n_train * math.prod(shape) > MAX_VALUES


def linear_floor(exp) -> LinearFloor | None:
    """Logistic regression on ``exp``'s training images, scored on its test images (None where the
    data are too large to fit in seconds, ``MAX_VALUES``)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    from ..tasks.setup import splits

    train, test = splits(exp)
    if too_large(len(train), train.shape):
        return None
    x, x_test = (d.images.reshape(len(d), -1).float().numpy() for d in (train, test))
    scale = StandardScaler().fit(x)
    model = LogisticRegression(max_iter=2000).fit(scale.transform(x), train.labels.numpy())
    error = 100 * (1 - model.score(scale.transform(x_test), test.labels.numpy()))
    return LinearFloor(float(error), len(train), len(test), tuple(train.shape))


def baseline_floor(study, profile: str) -> LinearFloor | None:
    """The linear floor of a classifier chapter's baseline: fitted on the data of the first run of
    its convergence check (``study.convergence(profile)``); None where the profile checks none."""
    runs = study.convergence(profile)
    return linear_floor(runs[1][0]) if runs else None
