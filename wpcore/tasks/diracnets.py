"""The DiracNets chapter's task (thesis ch. 5): classification that also follows a, b and folding.

Trains like the built-in ``classify`` task, and in addition

- logs the Dirac parameters every epoch (mean a, b and b/a per group; ``wpcore.nets.dirac.ab_stats``),
- keeps the final a and b of every layer in the record,
- after training, folds the network into a conv-ReLU chain (``wpcore.nets.fold``), records how
  far the folded outputs are from the unfolded ones on test images, and times both at inference.

The data set-up is the classifiers' (``wpcore.tasks.setup.classifier_data``); the input size is
``Experiment.image_size`` (e.g. 28x28 Fashion-MNIST -> 14x14, 4x less compute on small CPUs).
"""
from __future__ import annotations

import statistics
import time

import torch
from torch import nn

from ..experiment import Context, Experiment, TaskResult, register_task
from .setup import build, classifier_data, fit_config


@torch.no_grad()
def inference_ms(models: dict[str, nn.Module], x: torch.Tensor, repeats: int = 7) -> dict[str, float]:
    """Median milliseconds of one eval-mode forward pass of ``x`` through each model.

    The models take turns in every repeat, so a load that changes over time hits them alike;
    one warm-up pass each is not timed.
    """
    times: dict[str, list[float]] = {k: [] for k in models}
    for m in models.values():
        m.eval()(x)
    for _ in range(repeats):
        for k, m in models.items():
            if x.is_cuda:
                torch.cuda.synchronize()
            t = time.perf_counter()
            m(x)
            if x.is_cuda:
                torch.cuda.synchronize()
            times[k].append(1000 * (time.perf_counter() - t))
    return {k: statistics.median(v) for k, v in times.items()}


@torch.no_grad()
def fold_check(net: nn.Module, x: torch.Tensor, repeats: int = 7) -> dict:
    """Fold ``net``; max |folded - unfolded| / max |unfolded| of the logits on x, and both speeds."""
    from ..nets.fold import fold

    net.eval()
    folded = fold(net)
    y, y_f = net(x), folded(x)
    ms = inference_ms({"unfolded": net, "folded": folded}, x, repeats)
    return {"fold_max_rel_diff": ((y - y_f).abs().max() / y.abs().max()).item(),
            "fold_batch": len(x), "unfolded_ms": ms["unfolded"], "folded_ms": ms["folded"]}


def fold_speed(net: nn.Module, shape: tuple[int, ...], batches=(1, 64), repeats: int = 9) -> list[dict]:
    """Fold ``net`` and time both at each batch size on random inputs of ``shape`` (C, H, W).

    Rows: {"batch", "unfolded_ms", "folded_ms", "speedup", "max_rel_diff"} (medians of ``repeats``).
    """
    from ..nets.fold import fold

    net.eval()
    folded, rows = fold(net), []
    for b in batches:
        x = torch.randn(b, *shape)
        with torch.no_grad():
            y = net(x)
            diff = ((y - folded(x)).abs().max() / y.abs().max()).item()
        ms = inference_ms({"unfolded": net, "folded": folded}, x, repeats)
        rows.append({"batch": b, "unfolded_ms": ms["unfolded"], "folded_ms": ms["folded"],
                     "speedup": ms["unfolded"] / ms["folded"], "max_rel_diff": diff})
    return rows


@register_task("dirac")
def dirac_task(exp: Experiment, ctx: Context) -> TaskResult:
    from ..data import DeviceLoader
    from ..nets.dirac import DiracNet, ab_per_layer, ab_stats
    from ..train import classification_eval, fit

    if exp.options:
        raise ValueError(f"task 'dirac' takes no options, got {sorted(exp.options)} (the input size is "
                         "Experiment.image_size)")
    data = classifier_data(exp, ctx)
    model, args = build(exp, num_classes=data.train.num_classes, in_channels=data.train.shape[0])
    train_batches, test_batches = data.train_batches, data.test_batches
    test_eval = classification_eval(test_batches)
    train_eval = classification_eval(DeviceLoader(data.train.subset(min(len(data.train), 500)), 500, False,
                                                  ctx.device, data.mean, data.std), prefix="train")

    def evaluate(m: nn.Module) -> dict:
        return {**test_eval(m), **train_eval(m), **ab_stats(m)}

    cfg = fit_config(exp, ctx)
    history = fit(model, train_batches, cfg, evaluate=evaluate, log=ctx.log, checkpoint=ctx.checkpoint,
                  device=ctx.device)
    final = dict(history[-1]) if history else {}
    final["params"] = sum(p.numel() for p in model.parameters())
    extra: dict = {}
    if isinstance(model, DiracNet):
        extra["ab_per_layer"] = ab_per_layer(model) if model.conv_type == "dirac" else None
        x, _ = next(iter(test_batches))
        extra["fold"] = fold_check(model, x)
    return TaskResult(history, final, model, data.identity(), extra, model_args=args)
