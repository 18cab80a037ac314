"""Task ``imagenet``: train an image classifier on ImageNet, alone or with a frozen teacher
(thesis §3.4 WRN-50-2, §4.2 ResNet-18 <- ResNet-34 attention transfer, §5.3 DiracNet-18/34).

ImageNet cannot be held in memory as the other datasets are (``DeviceLoader``), so this task reads
it with ``wpcore.data.imagenet.ImageNetBatches`` (multi-worker, JPEGs decoded on the GPU where
there is one); the training itself is the one ``fit`` with the experiment's recipe.

Options (``Experiment.options``, part of the key): those of the ``attention`` task
(``wpcore.tasks.attention``), with ``method`` defaulting to ``"student"`` (plain cross-entropy, no
teacher). With ``method: "at"`` and ``teacher: <the teacher's Experiment.config()>`` the student
learns from the teacher's record, as in the official ``imagenet.py`` (β = 1e3, the four group
outputs paired). A DiracNet's record also gets the fold check of the DiracNets task.
The data's folder is ``$WPCORE_IMAGENET`` or ``<data root>/imagenet``; it is kept out of the key,
so records move between machines.

Metrics per epoch: ``test_error`` (top-1, %), ``test_error_top5`` and ``test_loss`` on the
validation set (single centre crop).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .. import distributed
from ..experiment import Context, Experiment, TaskResult, register_task
from . import attention
from .setup import build, fit_config

DEFAULTS = {**attention.DEFAULTS, "method": "student"}
EVAL_BATCH = 250


def check_options(options: dict) -> dict:
    unknown = set(options) - set(DEFAULTS)
    if unknown:
        raise ValueError(f"unknown imagenet options {sorted(unknown)}; known: {sorted(DEFAULTS)}")
    return attention.check_options({**DEFAULTS, **options})


def topk_eval(batches, prefix: str = "test"):
    """evaluate(model) -> top-1 and top-5 error (%) and mean cross-entropy, summed over ranks."""

    def evaluate(model: nn.Module) -> dict:
        dev = next(model.parameters()).device
        sums = torch.zeros(4, dtype=torch.float64, device=dev)  # wrong@1, wrong@5, total, loss
        for x, y in batches:
            logits = model(x).float()
            top5 = logits.topk(min(5, logits.shape[1]), 1).indices
            sums += torch.stack([(top5[:, 0] != y).sum(), (top5 != y[:, None]).all(1).sum(),
                                 torch.tensor(len(y), device=dev), F.cross_entropy(logits, y, reduction="sum")]
                                ).double()
        w1, w5, n, loss = distributed.all_reduce_sum(sums).tolist()
        n = max(n, 1)
        return {f"{prefix}_error": 100 * w1 / n, f"{prefix}_error_top5": 100 * w5 / n, f"{prefix}_loss": loss / n}

    return evaluate


@register_task("imagenet")
def imagenet_task(exp: Experiment, ctx: Context) -> TaskResult:
    from ..data import imagenet
    from ..nets.dirac import DiracNet
    from ..train import classification_objective, fit
    from .diracnets import fold_check

    opts = check_options(exp.options)
    train, val = imagenet.scan("train"), imagenet.scan("val")
    if exp.train_subset:
        train = train.subset(exp.train_subset)
    if exp.test_subset:
        val = val.subset(exp.test_subset)
    teacher, t_rec = None, None
    if opts["method"] not in attention.NO_TEACHER:
        teacher, t_rec = attention.teacher_from(opts["teacher"], ctx.device, ctx.log)
        if t_rec.config["dataset"] != exp.dataset:
            raise ValueError(f"teacher trained on {t_rec.config['dataset']}, student on {exp.dataset}")
        teacher.to(ctx.device, memory_format=torch.channels_last)
        torch.manual_seed(exp.seed)  # the student's init must not depend on whether the teacher was trained
    model, args = build(exp, num_classes=train.num_classes)
    shard = {"rank": distributed.rank(), "world_size": distributed.world_size()}
    size = imagenet.SIZE  # read here, not bound as a default: the tests shrink it to keep the suite fast
    train_batches = imagenet.ImageNetBatches(train, exp.batch_size, True, ctx.device, seed=exp.seed, size=size,
                                             **shard)
    val_batches = imagenet.ImageNetBatches(val, EVAL_BATCH, False, ctx.device, size=size, **shard)
    loss_kw = {k: opts[k] for k in ("beta", "grad_beta", "p", "temperature", "alpha", "kd_reduction")}

    def objective(student, batch):
        if teacher is None and opts["method"] == "student":
            return classification_objective(student, batch)
        x, y = batch
        return attention.losses.transfer_loss(student, teacher, x, y, opts["method"], **loss_kw)[0]

    history = fit(model, train_batches, fit_config(exp, ctx), objective=objective, evaluate=topk_eval(val_batches),
                  log=ctx.log, checkpoint=ctx.checkpoint, device=ctx.device)
    final = dict(history[-1]) if history else {}
    final["params"] = sum(p.numel() for p in model.parameters())
    extra: dict = {"method": opts["method"]}
    if t_rec is not None:
        final["teacher_error"] = t_rec.final.get("test_error")
        extra.update(teacher_key=t_rec.key, teacher_model=t_rec.config["model"])
    if isinstance(model, DiracNet):
        x, _ = next(iter(imagenet.ImageNetBatches(val.subset(min(len(val), 16)), 16, False, ctx.device, workers=0,
                                                  size=size)))
        extra["fold"] = fold_check(model, x)
    return TaskResult(history, final, model,
                      {"train": train.identity, "test": val.identity, "n_train": len(train), "n_test": len(val),
                       "mean": list(imagenet.MEAN), "std": list(imagenet.STD)}, extra, model_args=args,
                      depends_on=[t_rec] if t_rec is not None else [])
