"""The official ImageNet recipe shared by the `full` ImageNet runs of three chapters (no CHAPTER:
a helper module, not a study).

Thesis §3.4 (WRN-50-2), §4.2 (ResNet-18 <- ResNet-34 AT) and §5.3 (DiracNet-18/34): batch 256,
100 epochs, SGD momentum 0.9 without Nesterov, lr 0.1 x0.1 at epochs 30/60/90, weight decay 1e-4
(attention-transfer ``imagenet.py`` lines 39-46 and 283; diracnets README command). Deviation: the
official code also zeroed the momentum buffers at each step of the learning rate; ``fit`` keeps them.
"""
from __future__ import annotations

from ..experiment import Experiment

RECIPE = {"dataset": "imagenet", "task": "imagenet", "epochs": 100, "batch_size": 256, "lr": 0.1,
          "weight_decay": 1e-4, "nesterov": False, "milestones": (0.3, 0.6, 0.9), "gamma": 0.1}


def imagenet_experiment(model: str, label: str, **fields) -> Experiment:
    """An ImageNet run of ``model`` with the official recipe (``fields`` override or add, e.g. options)."""
    return Experiment(model, label=label, **{**RECIPE, **fields})
