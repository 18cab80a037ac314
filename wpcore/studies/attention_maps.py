"""Attention maps and the attention distance of trained networks (thesis ch. 4), from the weights
of their records: what ``studies.attention``'s distance check measures and ``present.attention``
and its widget draw. The images are the record's own test images at the size it was trained at."""
from __future__ import annotations


def test_images(record, count: int = 4):
    """The first ``count`` images of the record's test subset: raw uint8 (n, C, H, W), normalised
    float (n, C, H, W) (with the record's training mean/std), labels (n,), class names."""
    import torch

    from ..data import load
    from ..tasks.setup import resize

    test = load(record.config["dataset"], "test")
    if record.config.get("test_subset"):
        test = test.subset(record.config["test_subset"])
    test = resize(test, record.config.get("image_size"))  # the size the network was trained at
    raw = test.images[:count]
    mean = torch.tensor(record.data["mean"]).view(1, -1, 1, 1)
    std = torch.tensor(record.data["std"]).view(1, -1, 1, 1)
    return raw, (raw.float() - mean) / std, test.labels[:count], test.classes


def group_maps(model, x, p: float = 2) -> list:
    """F_sum^p of every group output, each image scaled to [0, 1] (divided by its maximum): list of
    (n, H_i, W_i) arrays."""
    import torch

    from ..losses.attention import f_sum_p

    with torch.no_grad():
        maps = [f_sum_p(g, p) for g in model.forward_groups(x)]
    return [(m / m.flatten(1).amax(1).clamp_min(1e-12)[:, None, None]).numpy() for m in maps]


def attention_distance(student, teacher, x) -> float:
    """The AT loss with beta = 1 between two networks on images x (N, C, H, W), summed over groups."""
    import torch

    from ..losses.attention import at_total

    with torch.no_grad():
        return at_total(student.forward_groups(x), teacher.forward_groups(x), beta=1.0).item()
