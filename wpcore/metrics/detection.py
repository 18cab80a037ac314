"""COCO detection evaluation with pycocotools (thesis ch. 2: AP@[.5:.95], AP50, AP75, AP_S/M/L, AR).

``coco_evaluate`` returns the 12 numbers of ``COCOeval.summarize()`` under readable names, in
percent as the thesis reports them, plus the AP at every IoU threshold 0.50, 0.55, ..., 0.95
(the curve the integral loss is meant to lift at high thresholds). An entry pycocotools cannot
compute (no ground truth of that size, say) is NaN, not -1.
"""
from __future__ import annotations

import contextlib
import io

import torch

SUMMARY = ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl")
IOU_THRESHOLDS = tuple(round(0.5 + 0.05 * i, 2) for i in range(10))


def to_coco_results(outputs: list[dict], image_ids: list[int], cat_of_label: list[int] | dict,
                    scales: list[float] | None = None) -> list[dict]:
    """Detector outputs [{"boxes" (D, 4) xyxy, "scores", "labels"}] -> COCO result dicts (xywh).

    ``cat_of_label[label]`` is the COCO category id of a contiguous label; ``scales`` undo the
    loader's resize (boxes are divided by them).
    """
    results = []
    for k, (out, image_id) in enumerate(zip(outputs, image_ids)):
        b = out["boxes"].detach().float().cpu() / (scales[k] if scales else 1.0)
        b[:, 2:] -= b[:, :2]
        for box, score, label in zip(b.tolist(), out["scores"].tolist(), out["labels"].tolist()):
            results.append({"image_id": int(image_id), "category_id": int(cat_of_label[label]),
                            "bbox": [round(v, 2) for v in box], "score": float(score)})
    return results


def coco_evaluate(coco_gt, results: list[dict], image_ids: list[int] | None = None) -> dict[str, float]:
    """pycocotools bbox evaluation -> {"AP", "AP50", ..., "ARl", "AP@0.50", ..., "AP@0.95"} in %.

    ``coco_gt`` is a ``pycocotools.coco.COCO``; ``image_ids`` restricts the evaluation (default:
    all its images). With no detections every AP/AR is 0.
    """
    from pycocotools.cocoeval import COCOeval

    ids = sorted(image_ids if image_ids is not None else coco_gt.getImgIds())
    if not results:
        return {**{k: 0.0 for k in SUMMARY}, **{f"AP@{t:.2f}": 0.0 for t in IOU_THRESHOLDS}}
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints its progress and table
        coco_dt = coco_gt.loadRes(results)
        ev = COCOeval(coco_gt, coco_dt, "bbox")
        ev.params.imgIds = ids
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    out = {k: _percent(v) for k, v in zip(SUMMARY, ev.stats)}
    precision = ev.eval["precision"]  # (T iou, R recall, K classes, A areas, M maxDets)
    for t, thr in enumerate(ev.params.iouThrs):
        p = precision[t, :, :, 0, -1]  # area "all", 100 detections
        out[f"AP@{thr:.2f}"] = _percent(p[p > -1].mean() if (p > -1).any() else -1)
    return out


def _percent(v: float) -> float:
    return float("nan") if v < 0 else round(100.0 * float(v), 3)


def coco_from_dict(dataset: dict):
    """A pycocotools COCO object from an in-memory annotation dict (fixtures, subsets)."""
    from pycocotools.coco import COCO

    coco = COCO()
    coco.dataset = dataset
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
    return coco


@torch.no_grad()
def detect(model: torch.nn.Module, batches, cat_of_label, device: str | torch.device = "cpu") -> tuple[list, list]:
    """Run a detector over (images, targets, sizes) batches -> (COCO results, image ids)."""
    model.eval()
    results, ids = [], []
    for images, targets, sizes in batches:
        outputs = model(images.to(device), image_sizes=sizes)
        image_ids = [t["image_id"] for t in targets]
        results += to_coco_results(outputs, image_ids, cat_of_label, [t.get("scale", 1.0) for t in targets])
        ids += image_ids
    return results, ids
