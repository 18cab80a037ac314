"""What the MultiPath chapter (thesis ch. 2) shows that needs more than a record's numbers."""
from __future__ import annotations

import torch

from .. import nets, records
from ..data.coco import collate


@torch.no_grad()
def top_detections(record, items: list[tuple[torch.Tensor, dict]], num_classes: int, k: int = 3) -> list[dict]:
    """Rebuild a run's detector from its record's weights; its ``k`` best detections on each of
    ``items`` ((3, H, W) images of any sizes, with targets) -> [{"boxes", "scores", "labels"}]."""
    net = nets.create(record.config["model"], num_classes=num_classes, **record.config["model_kw"])
    net.load_state_dict(records.load_weights(record))
    images, _, sizes = collate(items)  # padded to the largest: COCO's images differ in size
    return [{key: v[:k] for key, v in o.items()} for o in net.eval()(images, image_sizes=sizes)]
