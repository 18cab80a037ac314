"""The one training loop of the book: ``fit``.

SGD with Nesterov momentum 0.9 and weight decay 5e-4, the WRN step schedule (lr x0.2 at 30%,
60% and 80% of training, i.e. epochs 60/120/160 of 200; or a cosine decay, with an optional linear
warm-up, for the short runs of the ``standard`` profile), bf16 autocast where the hardware does bf16
natively (CUDA, AVX512_BF16 CPUs: ``wpcore.precision``), channels_last,
optional torch.compile, an evaluation after every epoch, and a checkpoint after every epoch
(model and optimizer as safetensors, the rest as JSON, both written atomically) from which a
killed run resumes (with ``checkpoint_every_s``, also every so many seconds inside an epoch).
What differs between chapters is passed in, not branched on:

    objective(model, batch) -> scalar loss        (default: cross-entropy on (x, y))
    evaluate(model) -> {"test_error": ..., ...}   (called in eval mode, without gradients)
    log(row)                                      (progress: a dict per step and per epoch)

Parameters named by ``model.no_weight_decay()`` get no weight decay (DiracNet's a and b).
"""
from __future__ import annotations

import functools
import json
import math
import signal
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from . import distributed, precision


@dataclass
class FitConfig:
    epochs: int
    lr: float = 0.1                 # initial learning rate (WRN recipe)
    momentum: float = 0.9
    nesterov: bool = True           # the Lua WRN recipe; the PyTorch port used plain momentum
    weight_decay: float = 5e-4
    milestones: tuple[float, ...] = (0.3, 0.6, 0.8)  # fractions of training: 60/120/160 of 200
    gamma: float = 0.2              # lr factor at each milestone
    schedule: str = "step"          # "step" (milestones x gamma, the thesis) or "cosine" (to 0 at the end)
    warmup: float = 0.0             # fraction of training with a linear warm-up from 0 (0: none, the thesis)
    label_smoothing: float = 0.0    # of the default cross-entropy objective (0: none, the thesis)
    amp: bool | None = None         # bf16 autocast; None: where the hardware does bf16 natively (precision.py)
    channels_last: bool = True      # faster on CUDA and on AVX-512 CPUs (benchmarks/)
    compile: bool = False           # torch.compile the model (pays off on GPUs, not on 2 CPU cores)
    max_steps: int | None = None    # stop after this many optimizer steps (tests)
    log_every: int = 10             # steps between progress rows
    eval_every: int = 1             # epochs between evaluations; the last epoch is always evaluated
    checkpoint_every_s: float | None = None  # also checkpoint inside an epoch this often (hour-long COCO epochs)

    def __post_init__(self):
        if not isinstance(self.epochs, int) or self.epochs < 0:
            raise ValueError(f"epochs must be a non-negative integer, got {self.epochs!r}")
        if not self.lr > 0:
            raise ValueError(f"lr must be positive, got {self.lr!r}")
        if self.weight_decay < 0:
            raise ValueError(f"weight_decay must be >= 0, got {self.weight_decay!r}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {', '.join(SCHEDULES)}, got {self.schedule!r}")
        if not 0 <= self.warmup < 1:
            raise ValueError(f"warmup must be a fraction of training in [0, 1), got {self.warmup!r}")
        if not 0 <= self.label_smoothing < 1:
            raise ValueError(f"label_smoothing must be in [0, 1), got {self.label_smoothing!r}")
        if not isinstance(self.eval_every, int) or self.eval_every < 1:
            raise ValueError(f"eval_every must be a positive number of epochs, got {self.eval_every!r}")
        if self.checkpoint_every_s is not None and not self.checkpoint_every_s > 0:
            raise ValueError(f"checkpoint_every_s must be positive or None, got {self.checkpoint_every_s!r}")


class NonFiniteLoss(FloatingPointError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""


SCHEDULES = ("step", "cosine")


def lr_at(step: int, total_steps: int, cfg: FitConfig) -> float:
    """Learning rate at 0-based optimizer ``step``.

    ``step``: x gamma at each milestone step f * total; for 200 epochs this is the thesis's x0.2 at
    epochs 60, 120 and 160 exactly, and short runs keep the same fractions of training.
    ``cosine``: lr * (1 + cos(pi * t)) / 2 over the steps after the warm-up (t from 0 to 1).
    A warm-up (a fraction of the steps) rises linearly from lr / warm-up steps to lr first.
    """
    warm = round(cfg.warmup * total_steps)
    if step < warm:
        return cfg.lr * (step + 1) / warm
    if cfg.schedule == "cosine":
        t = (step - warm) / max(total_steps - warm, 1)
        return cfg.lr * 0.5 * (1 + math.cos(math.pi * t))
    passed = sum(step >= round(f * total_steps) for f in cfg.milestones)
    return cfg.lr * cfg.gamma ** passed


def param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    skip = model.no_weight_decay() if hasattr(model, "no_weight_decay") else set()
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if p.requires_grad:
            (no_decay if name in skip else decay).append(p)
    groups = [{"params": decay, "weight_decay": weight_decay}]
    if no_decay:
        groups.append({"params": no_decay, "weight_decay": 0.0})
    return groups


def classification_objective(model: nn.Module, batch, label_smoothing: float = 0.0) -> torch.Tensor:
    x, y = batch
    return F.cross_entropy(model(x), y, label_smoothing=label_smoothing)


def classification_eval(loader: Iterable, prefix: str = "test") -> Callable[[nn.Module], dict]:
    """evaluate(model) -> {"test_error": % misclassified, "test_loss": mean cross-entropy}."""

    def evaluate(model: nn.Module) -> dict:
        wrong, total, loss = 0, 0, 0.0
        for x, y in loader:
            logits = model(x).float()
            loss += F.cross_entropy(logits, y, reduction="sum").item()
            wrong += (logits.argmax(1) != y).sum().item()
            total += len(y)
        if distributed.is_distributed():  # each rank saw its shard of the test set: sum them
            dev = next(model.parameters()).device
            wrong, total, loss = distributed.all_reduce_sum(
                torch.tensor([wrong, total, loss], dtype=torch.float64, device=dev)).tolist()
        return {f"{prefix}_error": 100.0 * wrong / max(total, 1), f"{prefix}_loss": loss / max(total, 1)}

    return evaluate


def _arithmetic(device: torch.device, amp: bool | None) -> str:
    """"bf16" or "fp32": ``amp`` as given, else what the hardware does natively."""
    if amp is None:
        return precision.resolve(precision.policy(), device)
    return "bf16" if amp else "fp32"


def fit(model: nn.Module, train_batches: Iterable, cfg: FitConfig,
        objective: Callable[[nn.Module, object], torch.Tensor] = classification_objective,
        evaluate: Callable[[nn.Module], dict] | None = None,
        log: Callable[[dict], None] | None = None,
        checkpoint: str | Path | None = None,
        device: str | torch.device | None = None) -> list[dict]:
    """Train ``model`` for ``cfg.epochs`` epochs over ``train_batches``; return per-epoch rows.

    ``train_batches`` is re-iterated every epoch and has ``len()``; it yields batches already on
    the device (see ``wpcore.data.DeviceLoader``). With ``checkpoint`` set, a checkpoint is
    written after each epoch and an existing one is resumed from.
    """
    # --- setup ---------------------------------------------------------------------------
    if objective is classification_objective and cfg.label_smoothing:
        objective = functools.partial(classification_objective, label_smoothing=cfg.label_smoothing)
    # the device: as given, else where the loader puts its batches (DeviceLoader), else the model's
    device = torch.device(device or getattr(train_batches, "device", None) or next(model.parameters()).device)
    model.to(device)
    if cfg.channels_last:
        model.to(memory_format=torch.channels_last)
    step_model = distributed.wrap(model, device)  # DDP + synchronised BN under torchrun; else model
    arithmetic = _arithmetic(device, cfg.amp)
    # static shapes (training batches are all full): no dynamic-shape recompile when a second size appears
    step_model = torch.compile(step_model, dynamic=False) if cfg.compile else step_model
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # as the official main.py: fixed shapes, autotuned convs
    opt = torch.optim.SGD(param_groups(model, cfg.weight_decay), lr=cfg.lr, momentum=cfg.momentum,
                          nesterov=cfg.nesterov, fused=device.type == "cuda" or None)
    history: list[dict] = []
    start_epoch, step, partial = 0, 0, None
    ckpt = Path(checkpoint) if checkpoint else None
    if ckpt and (ckpt / "state.json").exists():
        start_epoch, step, history, partial = load_checkpoint(ckpt, model, opt, train_batches)
        if log:
            log({"resumed_from_epoch": start_epoch})
    steps_per_epoch = len(train_batches)
    total_steps = cfg.epochs * steps_per_epoch
    if cfg.max_steps is not None:
        total_steps = min(total_steps, cfg.max_steps)
    t_start = time.perf_counter() - (history[-1]["time_s"] if history else 0.0)

    # --- epochs ---------------------------------------------------------------------------
    interrupted = _InterruptFlag()
    timer = _CheckpointTimer(cfg.checkpoint_every_s)
    for epoch in range(start_epoch, cfg.epochs):
        if step >= total_steps:
            break
        model.train()
        epoch_start = train_batches.state() if hasattr(train_batches, "state") else None
        loss_sum = torch.zeros((), device=device)
        n_batches, skip = 0, 0
        if partial is not None:  # resuming inside this epoch: replay the loader up to where it stopped
            skip, n_batches = partial["batches_done"], partial["batches_done"]
            loss_sum += partial["loss_sum"]
            partial = None
            if hasattr(train_batches, "skip_next"):  # a loader that can start mid-epoch without reading
                train_batches.skip_next(skip)
                skip = 0
        for i, batch in enumerate(train_batches):
            if i < skip:
                continue
            if interrupted.flag:  # Ctrl-C: checkpoint between two steps, then stop
                if ckpt and distributed.is_main():  # one writer under torchrun
                    save_checkpoint(ckpt, model, opt, epoch_start, epoch, step, history,
                                    {"batches_done": n_batches, "loss_sum": loss_sum.item()})
                interrupted.restore()
                raise KeyboardInterrupt(f"interrupted in epoch {epoch + 1} at step {step}; checkpoint kept")
            lr = lr_at(step, cfg.epochs * steps_per_epoch, cfg)
            for g in opt.param_groups:
                g["lr"] = lr
            if cfg.channels_last:
                batch = (batch[0].contiguous(memory_format=torch.channels_last), *batch[1:]) \
                    if isinstance(batch, (tuple, list)) and batch[0].dim() == 4 else batch
            with precision.autocast(device, arithmetic):
                loss = objective(step_model, batch)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            loss_sum += loss.detach().float()
            n_batches += 1
            step += 1
            if step % cfg.log_every == 0 or step == total_steps:
                running = distributed.mean_over_ranks(loss_sum / n_batches).item()  # one sync per log row
                if not math.isfinite(running):
                    raise NonFiniteLoss(
                        f"loss is {running} at epoch {epoch + 1}, step {step}; lower the learning rate "
                        f"(now {lr:g}) or check the data; the last good checkpoint is kept")
                if log:
                    log({"step": step, "total_steps": total_steps, "epoch": epoch + 1,
                         "train_loss": running, "lr": lr,
                         "elapsed_s": time.perf_counter() - t_start})
            if step >= total_steps:
                break
            if timer.due() and ckpt and distributed.is_main():  # a long epoch: checkpoint between two steps
                save_checkpoint(ckpt, model, opt, epoch_start, epoch, step, history,
                                {"batches_done": n_batches, "loss_sum": loss_sum.item()})
        train_loss = distributed.mean_over_ranks(loss_sum / max(n_batches, 1)).item()
        if not math.isfinite(train_loss):
            raise NonFiniteLoss(f"loss is {train_loss} in epoch {epoch + 1}; lower the learning rate "
                                f"(now {opt.param_groups[0]['lr']:g}); the last good checkpoint is kept")
        row = {"epoch": epoch + 1, "lr": opt.param_groups[0]["lr"], "train_loss": train_loss, "steps": step}
        last = epoch + 1 == cfg.epochs or step >= total_steps
        if evaluate is not None and ((epoch + 1) % cfg.eval_every == 0 or last):
            model.eval()
            with torch.no_grad(), precision.autocast(device, arithmetic):
                row.update(evaluate(model))
        row["time_s"] = time.perf_counter() - t_start
        history.append(row)
        if log:
            log(row)
        if ckpt and distributed.is_main():  # one writer under torchrun
            save_checkpoint(ckpt, model, opt, train_batches.state() if hasattr(train_batches, "state") else None,
                            epoch + 1, step, history)
    interrupted.restore()
    model.to(memory_format=torch.contiguous_format)
    if distributed.is_distributed():
        distributed.unsync_batchnorm(model)  # plain BatchNorm again for the record and later use
    return history


class _CheckpointTimer:
    """``due()`` is true once every ``every_s`` seconds (never with None)."""

    def __init__(self, every_s: float | None):
        self.every_s, self.last = every_s, time.monotonic()

    def due(self) -> bool:
        if self.every_s is None or time.monotonic() - self.last < self.every_s:
            return False
        self.last = time.monotonic()
        return True


class _InterruptFlag:
    """While training, Ctrl-C (SIGINT) only raises a flag that the loop checks between steps, so
    the checkpoint it writes is never of a half-updated model."""

    def __init__(self):
        self.flag, self.previous = False, None
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, self._handle)

    def _handle(self, signum, frame):
        self.flag = True

    def restore(self):
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)
            self.previous = None


# --- checkpoints: safetensors for tensors, JSON for the rest, both atomic -------------------

def save_checkpoint(folder: Path, model: nn.Module, opt: torch.optim.Optimizer, loader_state: dict | None,
                    epoch: int, step: int, history: list[dict], partial: dict | None = None) -> None:
    """``epoch`` epochs are complete; ``partial`` describes a started epoch (interrupt), whose
    loader state is the one at that epoch's start."""
    from safetensors.torch import save

    from .records import atomic_write

    folder.mkdir(parents=True, exist_ok=True)
    tensors = {f"model.{k}": v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    opt_state = opt.state_dict()
    for pid, st in opt_state["state"].items():
        for name, v in st.items():
            if torch.is_tensor(v):
                tensors[f"opt.{pid}.{name}"] = v.detach().contiguous().cpu()
    state = {"epoch": epoch, "step": step, "history": history,
             "param_groups": [{k: v for k, v in g.items() if k != "params"} for g in opt_state["param_groups"]],
             "loader": loader_state, "partial": partial,
             "rng": torch.get_rng_state().tolist()}
    atomic_write(folder / "weights.safetensors", save(tensors))
    atomic_write(folder / "state.json", json.dumps(state).encode())


def load_checkpoint(folder: Path, model: nn.Module, opt: torch.optim.Optimizer, batches):
    """Restore model, optimizer, loader and RNG state; return (epoch, step, history, partial)."""
    from .safe import load_safetensors

    tensors = load_safetensors(folder / "weights.safetensors")
    try:
        state = json.loads((folder / "state.json").read_text())
    except json.JSONDecodeError as e:
        raise ValueError(f"checkpoint {folder}/state.json is corrupt ({e}); delete {folder} to start over") from None
    model_sd = {k[6:]: v for k, v in tensors.items() if k.startswith("model.")}
    model.load_state_dict(model_sd)
    opt_sd = opt.state_dict()
    new_state: dict = {}
    for k, v in tensors.items():
        if k.startswith("opt."):
            _, pid, name = k.split(".", 2)
            new_state.setdefault(int(pid), {})[name] = v.to(next(model.parameters()).device)
    opt_sd["state"] = new_state
    for g, saved in zip(opt_sd["param_groups"], state["param_groups"]):
        g.update(saved)
    opt.load_state_dict(opt_sd)
    for group in opt.param_groups:  # buffers take their parameter's layout (channels_last): the fused
        for p in group["params"]:    # CUDA step refuses mixed strides, and the foreach one slows down
            for name, buf in opt.state.get(p, {}).items():
                if torch.is_tensor(buf) and buf.shape == p.shape and buf.stride() != p.stride():
                    opt.state[p][name] = torch.empty_like(p).copy_(buf)
    if state.get("loader") is not None and hasattr(batches, "set_state"):
        batches.set_state(state["loader"])
    torch.set_rng_state(torch.tensor(state["rng"], dtype=torch.uint8))
    return state["epoch"], state["step"], state["history"], state.get("partial")
