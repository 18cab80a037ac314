"""``train`` refuses, in one line saying what to run instead, a network its task cannot train:
not an image classifier (a patch-pair network, a detector), or an input the network cannot take.
"""
from __future__ import annotations

import re
import shlex

from .options import UsageError

IMAGE_TASKS = ("classify", "attention", "dirac", "imagenet")


def where_used(model: str) -> tuple[str, str, str] | None:
    """(profile, chapter, label) of the first study experiment of ``model``'s family (quick first)."""
    from ..nets import families
    from ..scorecard import study_modules

    family = next((p for p, _ in families() if re.fullmatch(p, model)), None)
    for profile in ("quick", "full"):
        for mod in study_modules():
            for e in mod.experiments(profile):
                if e.model == model or (family and re.fullmatch(family, e.model)):
                    return profile, mod.CHAPTER, e.label if e.model == model else ""
    return None


def _instead(model: str) -> str:
    found = where_used(model)
    if not found:
        return "see `python -m wpcore models`"
    profile, chapter, label = found
    return (f"run it with: python -m wpcore run --profile {profile} --chapter {chapter}"
            + (f" --select {shlex.quote(label)}" if label else ""))


def check_trainable(exp) -> None:
    """Refuse, in one line saying what to run instead, a network that is not an image classifier
    for an image task, or an input the network cannot take."""
    import torch

    from ..cost import FACTS
    from ..data import DATASETS
    from ..nets import create
    from ..nets.contract import GroupNet

    if exp.task not in IMAGE_TASKS:
        return
    known = ("imagenet",) if exp.task == "imagenet" else DATASETS
    if exp.dataset not in known:
        hint = " (ImageNet: --task imagenet)" if exp.dataset == "imagenet" else ""
        raise UsageError(f"--dataset: unknown dataset {exp.dataset!r} for task {exp.task!r}{hint}; "
                         f"known: {', '.join(known)}")
    with torch.device("meta"):
        try:
            net = create(exp.model, **exp.model_kw)
        except ValueError:
            net = None
        if not isinstance(net, GroupNet):
            from ..nets.deepcompare import PatchNet
            from ..nets.multipath import MultiPathNet

            kind = ("a patch-pair network" if isinstance(net, PatchNet) else "a detector"
                    if isinstance(net, MultiPathNet) else "not an image classifier")
            raise UsageError(f"{exp.model} is {kind}; {_instead(exp.model)}")
        shape, classes = FACTS[exp.dataset].shape, FACTS[exp.dataset].num_classes
        try:
            create(exp.model, num_classes=classes, in_channels=shape[0], **exp.model_kw).eval()(
                torch.zeros(2, *shape))
        except (RuntimeError, ValueError) as e:
            reason = (str(e).strip().splitlines() or [""])[0]
            raise UsageError(f"{exp.model} cannot take {exp.dataset}'s {'x'.join(map(str, shape))} images "
                             f"({reason}); {_instead(exp.model)}") from None
