"""Task ``classify``: train a registered image classifier on an image dataset (thesis ch. 3, and
the teachers of ch. 4), with the recipe of the experiment (``wpcore.tasks.setup``)."""
from __future__ import annotations

from ..experiment import Context, Experiment, TaskResult, register_task
from .setup import build, classifier_data, fit_config


@register_task("classify")
def classify(exp: Experiment, ctx: Context) -> TaskResult:
    from ..train import classification_eval, fit

    data = classifier_data(exp, ctx)
    model, args = build(exp, num_classes=data.train.num_classes, in_channels=data.train.shape[0])
    history = fit(model, data.train_batches, fit_config(exp, ctx), evaluate=classification_eval(data.test_batches),
                  log=ctx.log, checkpoint=ctx.checkpoint, device=ctx.device)
    final = dict(history[-1]) if history else {}
    final["params"] = sum(p.numel() for p in model.parameters())
    return TaskResult(history, final, model, data.identity(), model_args=args)
