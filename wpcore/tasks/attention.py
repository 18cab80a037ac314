"""Task ``attention``: train a student network with a frozen teacher (thesis ch. 4).

``Experiment(model=<student>, task="attention", options={...})`` with options

    method       one of wpcore.losses.attention.METHODS: "student" (plain CE, no teacher),
                 "at", "f-actt", "kd", "at+kd", "grad-at", "flip" (flip invariance, no teacher)
    teacher      the teacher's ``Experiment.config()`` (a dict; so the student's record key
                 depends on exactly which teacher it learned from)
    beta         AT weight (1e3, the official code's)
    fact_beta    F-ActT weight (1; ours: the thesis gives none)
    grad_beta    weight of the gradient penalties (grad-at, flip)
    p            attention map exponent (2)
    temperature, alpha, kd_reduction   KD settings (4, 0.9, "batchmean"; see the loss module).
                 kd_reduction "legacy" is the paper-era KL scale, C/2 times smaller; the study
                 sets it for the runs compared with the thesis's KD and AT+KD numbers

The teacher comes from its record: reused when present, trained (``experiment.run``) when not,
and its weights are read from the record's safetensors. It is frozen: eval mode (BatchNorm uses
its running statistics), no gradient to its weights. Any pair of registered GroupNets works:
attention pairs are matched by spatial size (``match_groups``). F-ActT trains the student together
with its 1x1 regressors (``losses.WithRegressors``); the record keeps the student alone.
"""
from __future__ import annotations

from functools import partial

import torch
from torch import nn

from .. import records
from ..experiment import Context, Experiment, TaskResult, load_model, register_task, run
from ..losses import attention as losses
from ..nets.contract import GroupNet
from .setup import build, classifier_data, fit_config

DEFAULTS = {"method": "at", "teacher": None, "beta": losses.BETA, "grad_beta": 1.0, "p": 2.0,
            "temperature": losses.TEMPERATURE, "alpha": losses.ALPHA, "kd_reduction": "batchmean",
            "fact_beta": losses.FACT_BETA}
NO_TEACHER = ("student", "flip")


def check_options(options: dict) -> dict:
    """Options with defaults filled in; unknown keys and missing teachers are errors."""
    unknown = set(options) - set(DEFAULTS)
    if unknown:
        raise ValueError(f"unknown attention options {sorted(unknown)}; known: {sorted(DEFAULTS)}")
    opts = {**DEFAULTS, **options}
    if opts["method"] not in losses.METHODS:
        raise ValueError(f"unknown method {opts['method']!r}; known: {', '.join(losses.METHODS)}")
    if opts["method"] not in NO_TEACHER and not opts["teacher"]:
        raise ValueError(f"method {opts['method']!r} needs options['teacher'] (a teacher Experiment.config())")
    if opts["kd_reduction"] not in losses.KD_REDUCTIONS:
        raise ValueError(f"unknown kd_reduction {opts['kd_reduction']!r}; known: {', '.join(losses.KD_REDUCTIONS)}")
    return opts


def teacher_from(config: dict, device: torch.device, log=None) -> tuple[nn.Module, records.Record]:
    """Reuse or train the teacher described by an Experiment config; return it frozen."""
    rec = run(Experiment(**config), device=device, log=log)
    teacher = load_model(rec, device).requires_grad_(False)
    return teacher, rec


class Renormalized(GroupNet):
    """A frozen teacher fed the student's normalised images: x -> x * std_s / std_t + (mean_s - mean_t) / std_t,
    so the teacher sees its own normalisation even when its training subset (hence mean/std) differs.
    The map is affine, so input gradients (gradient AT) stay in the student's input space."""

    def __init__(self, teacher: nn.Module, mean_s, std_s, mean_t, std_t):
        super().__init__()
        self.teacher = teacher.eval().requires_grad_(False)
        view = (1, -1, 1, 1)
        self.register_buffer("scale", (torch.tensor(std_s) / torch.tensor(std_t)).view(view))
        self.register_buffer("shift", ((torch.tensor(mean_s) - torch.tensor(mean_t)) / torch.tensor(std_t)).view(view))

    def forward_groups(self, x):
        return self.teacher.forward_groups(x * self.scale + self.shift)

    def forward_head(self, features):
        return self.teacher.forward_head(features)

    def train(self, mode: bool = True):
        return super().train(False)  # a teacher never leaves eval mode


@register_task("attention")
def transfer(exp: Experiment, ctx: Context) -> TaskResult:
    from ..train import classification_eval, fit

    opts = check_options(exp.options)
    data = classifier_data(exp, ctx)
    mean, std = data.mean, data.std

    teacher, t_rec = None, None
    if opts["method"] not in NO_TEACHER:
        teacher, t_rec = teacher_from(opts["teacher"], ctx.device, ctx.log)
        if (t_rec.config["dataset"], t_rec.config.get("image_size")) != (exp.dataset, exp.image_size):
            raise ValueError(f"teacher trained on {t_rec.config['dataset']} at size {t_rec.config.get('image_size')}, "
                             f"student on {exp.dataset} at size {exp.image_size}: give them the same data")
        teacher = Renormalized(teacher, mean, std, t_rec.data.get("mean", mean), t_rec.data.get("std", std))
        teacher.to(ctx.device, memory_format=torch.channels_last)
        torch.manual_seed(exp.seed)  # the student's init must not depend on whether the teacher was trained

    model, args = build(exp, num_classes=data.train.num_classes, in_channels=data.train.shape[0])
    train_batches, test_batches = data.train_batches, data.test_batches
    loss_kw = {k: opts[k] for k in ("beta", "grad_beta", "p", "temperature", "alpha", "kd_reduction", "fact_beta")}
    trained = model
    if opts["method"] == "f-actt":  # the regressors' channel counts, from the group outputs' shapes
        x = torch.zeros(2, *data.train.shape)
        with torch.no_grad():
            groups = model.eval().forward_groups(x), teacher.forward_groups(x.to(ctx.device))
        trained = losses.WithRegressors(model.train(), losses.regressors(*groups))
    regs = trained.regressors if trained is not model else None

    def objective(net, batch):  # net: what fit steps (the student, or the student with its regressors)
        x, y = batch
        student = model if regs is not None else net
        return losses.transfer_loss(student, teacher, x, y, opts["method"], regs=regs, **loss_kw)[0]

    cfg = fit_config(exp, ctx)
    history = fit(trained, train_batches, cfg, objective=objective,
                  evaluate=partial(evaluate, classification_eval(test_batches), teacher, test_batches),
                  log=ctx.log, checkpoint=ctx.checkpoint, device=ctx.device)
    final = dict(history[-1]) if history else {}
    final["params"] = sum(p.numel() for p in model.parameters())
    extra = {"method": opts["method"]}
    if t_rec is not None:
        final["teacher_error"] = t_rec.final.get("test_error")
        extra.update(teacher_key=t_rec.key, teacher_model=t_rec.config["model"])
    return TaskResult(history, final, model, data.identity(), extra, model_args=args,
                      depends_on=[t_rec] if t_rec is not None else [])


def evaluate(classification, teacher, test_batches, model) -> dict:
    """Test error and loss, plus the AT distance to the teacher: the AT loss with beta = 1, summed
    over the matching groups, on the first test batch (how closely the student's attention follows)."""
    row = classification(model)
    if teacher is not None:
        x, _ = next(iter(test_batches))
        row["test_at_distance"] = losses.at_total(model.forward_groups(x), teacher.forward_groups(x), beta=1.0).item()
    return row
