"""Task ``detect``: train a MultiPath/Fast R-CNN detector and evaluate it the COCO way (thesis ch. 2).

Data (``Experiment.dataset``): ``fashion-scenes`` (composed in ``wpcore.data.scenes``; sizes in
``options``) or ``coco`` (``options["coco_root"]``: trainval35k for training, val5k for testing,
shorter side 800 / longer at most 1000, as the thesis). Training is ``wpcore.train.fit`` with the
detector's summed losses (RPN objectness + RPN boxes + integral classification + box regression);
evaluation after each epoch is pycocotools' AP on the test split, with AP at every IoU threshold.

Options (all part of the record key): ``train_images``, ``test_images``, ``scene_size``,
``scene_seed`` (fashion-scenes), ``flip`` (horizontal flip of each image with probability 1/2,
the thesis's augmentation), ``coco_root`` (coco; default ``$WPCORE_COCO``, kept out of the key
so records move between machines), ``checkpoint_every_s`` (a checkpoint inside an epoch every so
many seconds, for COCO's hour-long epochs; None: at the end of each epoch only).

COCO images are decoded by worker processes (``decode_workers``) while the model trains, and a
missing file is reported before training starts (``wpcore.data.coco.check``).
"""
from __future__ import annotations

import os

import torch

from ..experiment import Context, Experiment, TaskResult, register_task
from .setup import build, fit_config

DEFAULTS = {"train_images": 1000, "test_images": 200, "scene_size": 128, "scene_seed": 0, "flip": True,
            "coco_root": None, "checkpoint_every_s": None}


def check_options(options: dict) -> dict:
    unknown = set(options) - set(DEFAULTS)
    if unknown:
        raise ValueError(f"unknown detect options {sorted(unknown)}; known: {sorted(DEFAULTS)}")
    return {**DEFAULTS, **options}


def train_splits(dataset: str, opts: dict) -> list:
    """The training CocoScenes (fashion-scenes train, or COCO trainval35k = train2014 + val35k)."""
    from ..data import coco, scenes

    if dataset == "fashion-scenes":
        return [scenes.fashion_scenes("train", opts["train_images"], seed=opts["scene_seed"], size=opts["scene_size"])]
    return coco.coco2014(coco_root(dataset, opts), "trainval35k")


def test_split(dataset: str, options: dict):
    """The test CocoScenes (fashion-scenes val, or COCO val5k); the chapter draws from it too."""
    from ..data import coco, scenes

    opts = check_options(options)
    if dataset == "fashion-scenes":
        return scenes.fashion_scenes("val", opts["test_images"], seed=opts["scene_seed"], size=opts["scene_size"])
    return coco.coco2014(coco_root(dataset, opts), "val5k")[0]


def coco_root(dataset: str, opts: dict) -> str:
    """The COCO folder: ``options["coco_root"]``, else ``$WPCORE_COCO``."""
    if dataset != "coco":
        raise ValueError(f"detect task: unknown dataset {dataset!r}; use 'fashion-scenes' or 'coco'")
    root = opts["coco_root"] or os.environ.get("WPCORE_COCO")
    if not root:
        raise ValueError("dataset 'coco' needs $WPCORE_COCO or options['coco_root']: the folder with "
                         "annotations/instances_{train,val}2014.json, train2014/ and val2014/")
    return root


def decode_workers() -> int:
    """Processes that decode COCO images while the model trains: one core is left to the step."""
    return max(1, min(8, (os.cpu_count() or 2) - 1))


def detection_objective(model, batch) -> torch.Tensor:
    images, targets, sizes = batch
    return sum(model(images, targets, sizes).values())


def detection_eval(test, device, cache: bool, batch_size: int = 16, workers: int = 0):
    """evaluate(model) -> pycocotools AP/AR (%) and AP at each IoU threshold on ``test``."""
    from ..data.coco import eval_batches, read_all
    from ..metrics.detection import coco_evaluate, detect

    items = read_all([test]) if cache else None

    def evaluate(model) -> dict:
        results, ids = detect(model, eval_batches(test, batch_size, device, workers, items), test.cat_of_label,
                              device)
        return coco_evaluate(test.coco, results, ids)

    return evaluate


@register_task("detect")
def detect_task(exp: Experiment, ctx: Context) -> TaskResult:
    from ..data.coco import TrainBatches, check
    from ..train import fit

    opts = check_options(exp.options)
    if exp.dataset == "coco":  # every missing file in one message, before hours of training
        check(coco_root(exp.dataset, opts))
    train_parts, test = train_splits(exp.dataset, opts), test_split(exp.dataset, opts)
    model, args = build(exp, num_classes=test.num_classes)
    small = exp.dataset == "fashion-scenes"  # held in memory; COCO is read from disk by worker processes
    workers = 0 if small else decode_workers()
    train_batches = TrainBatches(train_parts, exp.batch_size, ctx.device, exp.seed, opts["flip"], cache=small,
                                 workers=workers)
    cfg = fit_config(exp, ctx, channels_last=False, checkpoint_every_s=opts["checkpoint_every_s"])
    history = fit(model, train_batches, cfg, objective=detection_objective,
                  evaluate=detection_eval(test, ctx.device, cache=small, workers=workers), log=ctx.log,
                  checkpoint=ctx.checkpoint, device=ctx.device)
    final = dict(history[-1]) if history else {}
    final["params"] = sum(p.numel() for p in model.parameters())
    data = {"train": [p.identity() for p in train_parts], "test": test.identity(),
            "n_train": sum(len(p) for p in train_parts), "n_test": len(test), "classes": test.classes}
    return TaskResult(history, final, model, data, model_args=args)
