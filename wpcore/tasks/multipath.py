"""Task ``detect``: train a MultiPath/Fast R-CNN detector and evaluate it the COCO way (thesis ch. 2).

Data (``Experiment.dataset``): ``fashion-scenes`` (composed in ``wpcore.data.scenes``; sizes in
``options``) or ``coco`` (``options["coco_root"]``: trainval35k for training, val5k for testing,
shorter side 800 / longer at most 1000, as the thesis). Training is ``wpcore.train.fit`` with the
detector's summed losses (RPN objectness + RPN boxes + integral classification + box regression);
evaluation after each epoch is pycocotools' AP on the test split, with AP at every IoU threshold.

Options (all part of the record key): ``train_images``, ``test_images``, ``scene_size``,
``scene_seed`` (fashion-scenes), ``flip`` (horizontal flip, the thesis's augmentation),
``coco_root`` (coco; default ``$WPCORE_COCO``, kept out of the key so records move between machines).
"""
from __future__ import annotations

import os

import torch

from ..experiment import Context, Experiment, TaskResult, register_task
from .setup import build, fit_config

DEFAULTS = {"train_images": 1000, "test_images": 200, "scene_size": 128, "scene_seed": 0, "flip": True,
            "coco_root": None}


def check_options(options: dict) -> dict:
    unknown = set(options) - set(DEFAULTS)
    if unknown:
        raise ValueError(f"unknown detect options {sorted(unknown)}; known: {sorted(DEFAULTS)}")
    return {**DEFAULTS, **options}


def train_splits(dataset: str, opts: dict) -> list:
    """The training CocoScenes (fashion-scenes train, or COCO trainval35k = train2014 + val35k)."""
    from ..data import scenes

    if dataset == "fashion-scenes":
        return [scenes.fashion_scenes("train", opts["train_images"], seed=opts["scene_seed"], size=opts["scene_size"])]
    return scenes.coco2014(_coco_root(dataset, opts), "trainval35k")


def test_split(dataset: str, options: dict):
    """The test CocoScenes (fashion-scenes val, or COCO val5k); the chapter draws from it too."""
    from ..data import scenes

    opts = check_options(options)
    if dataset == "fashion-scenes":
        return scenes.fashion_scenes("val", opts["test_images"], seed=opts["scene_seed"], size=opts["scene_size"])
    return scenes.coco2014(_coco_root(dataset, opts), "val5k")[0]


def _coco_root(dataset: str, opts: dict) -> str:
    if dataset != "coco":
        raise ValueError(f"detect task: unknown dataset {dataset!r}; use 'fashion-scenes' or 'coco'")
    root = opts["coco_root"] or os.environ.get("WPCORE_COCO")
    if not root:
        raise ValueError("dataset 'coco' needs $WPCORE_COCO or options['coco_root']: the folder with "
                         "annotations/instances_{train,val}2014.json, train2014/ and val2014/")
    return root


class SceneBatches:
    """Training batches (images, targets, sizes) on ``device``, reshuffled each epoch; with
    ``cache`` (small scenes) the set is held in memory, else (COCO) read per batch.
    ``state``/``set_state`` let fit resume."""

    def __init__(self, parts, batch_size: int, device, seed: int, flip: bool, cache: bool):
        from ..data import scenes

        self.items = [(p, i) for p in parts for i in range(len(p))]
        self.cache = [p[i] for p, i in self.items] if cache else None
        self.batch_size, self.device, self.seed, self.flip, self.epoch = batch_size, device, seed, flip, 0
        self._collate, self._hflip = scenes.collate, scenes.hflip

    def __len__(self) -> int:
        return (len(self.items) + self.batch_size - 1) // self.batch_size

    def state(self) -> dict:
        return {"epoch": self.epoch}

    def set_state(self, state: dict) -> None:
        self.epoch = state["epoch"]

    def __iter__(self):
        g = torch.Generator().manual_seed(self.seed * 1000 + self.epoch)
        self.epoch += 1
        order = torch.randperm(len(self.items), generator=g).tolist()
        for start in range(0, len(order), self.batch_size):
            idx = order[start: start + self.batch_size]
            items = [self.cache[i] if self.cache is not None else self.items[i][0][self.items[i][1]] for i in idx]
            images, targets, sizes = self._collate(items)
            if self.flip and len(set(sizes)) == 1 and torch.rand((), generator=g) < 0.5:
                images, targets = self._hflip(images, targets, sizes)
            targets = [{"boxes": t["boxes"].to(self.device), "labels": t["labels"].to(self.device)} for t in targets]
            yield images.to(self.device), targets, sizes


def detection_objective(model, batch) -> torch.Tensor:
    images, targets, sizes = batch
    return sum(model(images, targets, sizes).values())


def detection_eval(test, device, cache: bool, batch_size: int = 16):
    """evaluate(model) -> pycocotools AP/AR (%) and AP at each IoU threshold on ``test``."""
    from ..data.scenes import batches
    from ..metrics.detection import coco_evaluate, detect

    items = [test[i] for i in range(len(test))] if cache else None

    def evaluate(model) -> dict:
        results, ids = detect(model, batches(test, batch_size, items), test.cat_of_label, device)
        return coco_evaluate(test.coco, results, ids)

    return evaluate


@register_task("detect")
def detect_task(exp: Experiment, ctx: Context) -> TaskResult:
    from ..train import fit

    opts = check_options(exp.options)
    train_parts, test = train_splits(exp.dataset, opts), test_split(exp.dataset, opts)
    model, args = build(exp, num_classes=test.num_classes)
    small = exp.dataset == "fashion-scenes"  # held in memory; COCO is read from disk per batch
    train_batches = SceneBatches(train_parts, exp.batch_size, ctx.device, exp.seed, opts["flip"], cache=small)
    cfg = fit_config(exp, ctx, channels_last=False)
    history = fit(model, train_batches, cfg, objective=detection_objective,
                  evaluate=detection_eval(test, ctx.device, cache=small), log=ctx.log, checkpoint=ctx.checkpoint,
                  device=ctx.device)
    final = dict(history[-1]) if history else {}
    final["params"] = sum(p.numel() for p in model.parameters())
    data = {"train": [p.identity() for p in train_parts], "test": test.identity(),
            "n_train": sum(len(p) for p in train_parts), "n_test": len(test), "classes": test.classes}
    return TaskResult(history, final, model, data, model_args=args)
