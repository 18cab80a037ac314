"""``python -m wpcore plan --preflight``: one training step of every network a plan runs.

:func:`preflight` builds each distinct network at its real input size and takes one training
step on the available device (batch 2 on a CPU, the experiment's own batch on a GPU, so an
out-of-memory shows), and checks every dataset the runs read, so a run that would fail after
days fails in minutes.
"""
from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass

from .cost import Kind, facts
from .experiment import Experiment
from .plan import Data, Item


@dataclass
class Check:
    what: str
    ok: bool
    seconds: float
    message: str
    runs: int = 1


def _network_key(it: Item) -> tuple:
    e, f = it.exp, facts(it.exp)
    teacher = e.options.get("teacher") or {}
    return (e.task if e.task != "dirac" else "classify", e.model, json.dumps(e.model_kw, sort_keys=True), f.shape,
            f.num_classes, e.options.get("method"), teacher.get("model"), json.dumps(teacher.get("model_kw", {})))


def one_step(exp: Experiment, device, batch: int | None = None) -> str:
    """Build ``exp``'s network at its real input size on ``device`` and take one SGD step on random
    data of ``batch`` samples (default: 2 on a CPU, the experiment's batch on a GPU). Returns a
    short description; raises what the real run would raise."""
    import torch
    import torch.nn.functional as F

    from . import precision
    from .nets import create
    from .train import param_groups

    device = torch.device(device)
    f = facts(exp)
    b = batch or (exp.batch_size if device.type == "cuda" else 2)
    arithmetic = precision.resolve(exp.precision, device)
    g = torch.Generator().manual_seed(0)
    if f.kind == Kind.NONE:  # the SIFT baseline: no network, only the descriptor code
        from .tasks.patches import sift_descriptors

        sift_descriptors(torch.randint(0, 256, (2, 64, 64), dtype=torch.uint8, generator=g))
        return "SIFT descriptors of 2 patches"
    if f.kind == Kind.DETECTOR:
        model = create(exp.model, num_classes=f.num_classes, **exp.model_kw).to(device)
        h, w = f.shape[1:]
        images = torch.rand(b, 3, h, w, generator=g).to(device)
        targets = [{"boxes": torch.tensor([[w * 0.2, h * 0.2, w * 0.6, h * 0.7]], device=device),
                    "labels": torch.tensor([1 + i % (f.num_classes - 1)], device=device)} for i in range(b)]

        def loss_fn(m):
            return sum(m(images, targets, [(h, w)] * b).values())
    elif f.kind == Kind.PAIRS:
        from .losses.hinge import hinge

        model = create(exp.model, **exp.model_kw).to(device)
        x = torch.randn(b, *f.shape, generator=g).to(device)
        y = (torch.randint(0, 2, (b,), generator=g) * 2 - 1).float().to(device)

        def loss_fn(m):
            return hinge(m(x), y)
    else:
        model = create(exp.model, num_classes=f.num_classes, in_channels=f.shape[0], **exp.model_kw).to(device)
        model.to(memory_format=torch.channels_last)
        x = torch.randn(b, *f.shape, generator=g).to(device).contiguous(memory_format=torch.channels_last)
        y = torch.randint(0, f.num_classes, (b,), generator=g).to(device)
        teacher_cfg = exp.options.get("teacher")
        method = exp.options.get("method", "student")
        teacher = None
        if teacher_cfg and method not in ("student", "flip"):
            teacher = create(teacher_cfg["model"], num_classes=f.num_classes, in_channels=f.shape[0],
                             **teacher_cfg.get("model_kw", {})).to(device).eval().requires_grad_(False)
        net = model
        if method == "f-actt":  # the student trains with its regressors, as the task does
            from .losses.attention import WithRegressors, regressors

            with torch.no_grad():
                model = WithRegressors(net, regressors(net.forward_groups(x), teacher.forward_groups(x)).to(device))

        def loss_fn(m):
            if exp.task in ("attention", "imagenet") and method != "student" or teacher is not None:
                from .losses.attention import transfer_loss

                regs = m.regressors if m is not net else None
                return transfer_loss(net, teacher, x, y, method, regs=regs)[0]
            return F.cross_entropy(m(x), y)
    model.train()
    opt = torch.optim.SGD(param_groups(model, exp.weight_decay), lr=exp.lr, momentum=0.9, nesterov=exp.nesterov)
    with precision.autocast(device, arithmetic):
        loss = loss_fn(model)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    if not torch.isfinite(loss.detach().float()).item():
        raise FloatingPointError(f"the first loss is {loss.item()}")
    shape = "x".join(map(str, f.shape))
    return f"batch {b} of {shape}, {sum(p.numel() for p in model.parameters()):,} parameters, {arithmetic}"


def preflight(items: list[Item], device=None, log: Callable[[str], None] | None = print) -> list[Check]:
    """One training step of every distinct network (real input size) and a check of every dataset."""
    import torch

    from .experiment import default_device

    device = torch.device(device) if device else default_device()
    checks: list[Check] = []
    groups: dict[tuple, list[Item]] = {}
    for it in items:
        groups.setdefault(_network_key(it), []).append(it)
    for key, its in groups.items():
        e = its[0].exp
        what = f"{e.model}{'+' + json.dumps(e.model_kw, sort_keys=True) if e.model_kw else ''} ({e.task}"
        what += f", {e.dataset}" + (f", from {key[6]}" if key[6] else "") + ")"
        t0 = time.perf_counter()
        try:
            msg, ok = one_step(e, device), True
        except Exception as ex:  # noqa: BLE001  (every failure is reported, one line each)
            first = (str(ex).strip().splitlines() or [""])[0]
            msg, ok = f"{type(ex).__name__}: {first}", False
        finally:
            if device.type == "cuda":
                torch.cuda.empty_cache()
        checks.append(Check(what, ok, time.perf_counter() - t0, msg, len(its)))
        if log:
            log(_check_line(checks[-1]))
    for ds in dict.fromkeys(it.exp.dataset for it in items):
        it = next(x for x in items if x.exp.dataset == ds)
        st = it.data
        ok = st.status != Data.MISSING
        checks.append(Check(f"data {ds}", ok, 0.0, st.status.value + (f": {st.detail}" if st.detail else "")))
        if log:
            log(_check_line(checks[-1]))
    return checks


def _check_line(c: Check) -> str:
    runs = f" [{c.runs} run{'s' * (c.runs != 1)}]" if c.what[:5] != "data " else ""
    return f"{'ok  ' if c.ok else 'FAIL'} {c.seconds:6.1f} s  {c.what}{runs}: {c.message}"
