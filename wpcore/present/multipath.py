"""What the MultiPath chapter (thesis ch. 2) shows that needs more than a record's numbers."""
from __future__ import annotations

import torch

from ..data.coco import collate
from ..experiment import load_model


@torch.no_grad()
def top_detections(record, items: list[tuple[torch.Tensor, dict]], k: int = 3) -> list[dict]:
    """Rebuild a run's detector from its record (``experiment.load_model``); its ``k`` best
    detections on each of ``items`` ((3, H, W) images of any sizes, with targets) ->
    [{"boxes", "scores", "labels"}]."""
    net = load_model(record)
    images, _, sizes = collate(items)  # padded to the largest: COCO's images differ in size
    return [{key: v[:k] for key, v in o.items()} for o in net(images, image_sizes=sizes)]
