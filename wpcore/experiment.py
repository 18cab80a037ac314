"""``run(experiment) -> record``: reuse a matching record, or train and write one.

Chapters and the CLI both call ``run``; what a run *does* is a task registered with
``@register_task("name")``. The task receives the :class:`Experiment` and a :class:`Context`
(device, progress log, checkpoint folder) and returns a :class:`TaskResult`. The built-in task
``classify`` trains a registered network on an image dataset with ``wpcore.train.fit``.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import platform
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from . import precision, records
from .records import Record


@dataclass
class Experiment:
    model: str                       # registry name, e.g. "wrn-16-4"
    dataset: str = "fashion-mnist"
    epochs: int = 10
    task: str = "classify"           # a name registered with register_task
    batch_size: int = 128            # the thesis recipes use 128
    lr: float = 0.1
    weight_decay: float = 5e-4
    nesterov: bool = True
    milestones: tuple = (0.3, 0.6, 0.8)  # fractions of training where lr is multiplied by gamma
    gamma: float = 0.2
    train_subset: int | None = None  # class-balanced subset of the training set (None: all)
    test_subset: int | None = None
    augment: bool = True             # random crop (pad 4, reflect) + horizontal flip
    seed: int = 0                    # initialisation and batch order
    model_kw: dict = field(default_factory=dict)   # extra builder arguments (dropout, block...)
    options: dict = field(default_factory=dict)    # task-specific settings (teacher, beta...)
    max_steps: int | None = None     # stop early (tests)
    precision: str = "auto"          # "auto" (bf16 where native, else fp32), "bf16" or "fp32": wpcore.precision
    label: str = ""                  # how figures name this run; not part of the key

    def __post_init__(self):
        from . import tasks  # noqa: F401  (registers the chapters' tasks)
        from .nets import registry

        with torch.device("meta"):  # validates name, depth, width and builder kwargs; allocates nothing
            registry.create(self.model, **self.model_kw)
        if not isinstance(self.epochs, int) or self.epochs < 0:
            raise ValueError(f"epochs must be a non-negative integer, got {self.epochs!r}")
        if not isinstance(self.batch_size, int) or self.batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {self.batch_size!r}")
        for name in ("train_subset", "test_subset", "max_steps"):
            v = getattr(self, name)
            if v is not None and (not isinstance(v, int) or v < 1):
                raise ValueError(f"{name} must be a positive integer or None, got {v!r}")
        if not self.lr > 0:
            raise ValueError(f"lr must be positive, got {self.lr!r}")
        if self.precision not in precision.CHOICES:
            raise ValueError(f"precision must be one of {', '.join(precision.CHOICES)}, got {self.precision!r}")
        if self.task not in TASKS:
            raise ValueError(f"unknown task {self.task!r}; known: {', '.join(sorted(TASKS))}")
        self.milestones = tuple(self.milestones)

    def config(self, device: str | torch.device | None = None) -> dict:
        """The fields that define the run (everything but the label), JSON-ready, with the
        precision resolved for ``device`` (default: the one ``run`` would use)."""
        d = dataclasses.asdict(self)
        d.pop("label")
        d["milestones"] = list(d["milestones"])
        d["precision"] = precision.resolve(self.precision, device or default_device())
        return d

    def key(self, device: str | torch.device | None = None) -> str:
        return records.make_key(self.config(device), data_identity(self.dataset))

    def name(self) -> str:
        return self.label or f"{self.model} seed {self.seed}"


@dataclass
class Context:
    device: torch.device
    log: Callable[[dict], None] | None
    checkpoint: Path | None
    compile: bool = False
    amp: bool = False                # bf16 autocast: the experiment's resolved precision


def splits(exp: Experiment, load: Callable | None = None):
    """The experiment's (train, test) image sets, its class-balanced subsets taken."""
    if load is None:
        from .data import load
    train, test = load(exp.dataset, "train"), load(exp.dataset, "test")
    if exp.train_subset:
        train = train.subset(exp.train_subset)
    if exp.test_subset:
        test = test.subset(exp.test_subset)
    return train, test


def fit_config(exp: Experiment, ctx: Context, **overrides):
    """The experiment's recipe as ``fit``'s config (a task may override a field, e.g. channels_last)."""
    from .train import FitConfig

    kw = {"epochs": exp.epochs, "lr": exp.lr, "weight_decay": exp.weight_decay, "nesterov": exp.nesterov,
          "milestones": exp.milestones, "gamma": exp.gamma, "max_steps": exp.max_steps, "compile": ctx.compile,
          "amp": ctx.amp}
    return FitConfig(**(kw | overrides))


@dataclass
class TaskResult:
    history: list[dict]
    final: dict
    model: nn.Module
    data: dict               # identity of the data actually used
    extra: dict = field(default_factory=dict)


TASKS: dict[str, Callable[[Experiment, Context], TaskResult]] = {}


def register_task(name: str):
    def deco(fn):
        TASKS[name] = fn
        return fn
    return deco


def data_identity(dataset: str) -> str:
    """A cheap, static identity of a dataset's files (their published checksums)."""
    from .data import store

    if dataset in store.FILES:
        return dataset + ":" + ",".join((s.md5 or s.sha256_gunzip or "?")[:12] for s in store.FILES[dataset])
    return dataset


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def device_info(device: torch.device) -> dict:
    info = {"type": device.type, "torch": torch.__version__, "threads": torch.get_num_threads(),
            "cpu": platform.processor() or platform.machine(), "python": platform.python_version()}
    if device.type == "cuda":
        info["name"] = torch.cuda.get_device_name(device)
    return info


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def run(exp: Experiment, *, device: str | torch.device | None = None, log: Callable[[dict], None] | None = None,
        force: bool = False, compile: bool = False, checkpoint_root: str | Path | None = None,
        resume: bool = True) -> Record:
    """Return the record of ``exp``: the stored one when its key matches, else train and store.

    Training checkpoints every epoch into ``<runs>/checkpoints/<key>/``; a run killed midway
    resumes from its last checkpoint when run again (``resume=False`` starts over).
    """
    device = torch.device(device) if device else default_device()
    config = exp.config(device)
    key = records.make_key(config, data_identity(exp.dataset))
    if not force:
        rec = records.find(key)
        if rec is not None:
            if log:
                log({"reused": key, "label": exp.name()})
            return rec
    from . import distributed  # under torchrun: every rank trains, rank 0 alone logs and writes
    log = log if distributed.is_main() else None
    ckpt = Path(checkpoint_root or records.runs_dir() / "checkpoints") / key
    if not resume:
        import shutil
        shutil.rmtree(ckpt, ignore_errors=True)
    seed_everything(exp.seed)
    if log:
        log({"start": key, "label": exp.name()})
    t0 = time.perf_counter()
    try:
        result = TASKS[exp.task](exp, Context(device, log, ckpt, compile, amp=config["precision"] == "bf16"))
    except torch.cuda.OutOfMemoryError:
        raise RuntimeError(f"out of GPU memory training {exp.model} with batch_size={exp.batch_size}; "
                           f"try batch_size={max(1, exp.batch_size // 2)} (and scale lr by the same factor)") from None
    wall = time.perf_counter() - t0
    info = device_info(device) | ({"world_size": distributed.world_size()} if distributed.is_distributed() else {})
    rec = Record(key=key, config=config, history=result.history, final=result.final, wall_time_s=wall,
                 device=info, code=records.code_version(), data=result.data,
                 created=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                 extra={"label": exp.label, **result.extra})
    if distributed.is_main():
        records.write(rec, result.model.state_dict())
        import shutil
        shutil.rmtree(ckpt, ignore_errors=True)  # the record now holds the final weights
    return rec


def run_all(exps: list[Experiment], **kw) -> list[Record]:
    return [run(e, **kw) for e in exps]


# --- the built-in task: image classification ------------------------------------------------

@register_task("classify")
def classify(exp: Experiment, ctx: Context) -> TaskResult:
    from . import distributed
    from .data import DeviceLoader
    from .nets import create
    from .train import classification_eval, fit

    train, test = splits(exp)
    mean, std = train.mean_std()
    model = create(exp.model, num_classes=train.num_classes, in_channels=train.shape[0], **exp.model_kw)
    # the thesis pads 32x32 images by 4; tiny 8x8 digits get 1 pixel, or the crop destroys them
    crop = (4 if train.shape[1] >= 28 else 1) if exp.augment else 0
    shard = {"rank": distributed.rank(), "world_size": distributed.world_size()}  # torchrun: this rank's shard
    train_batches = DeviceLoader(train, exp.batch_size, True, ctx.device, mean, std, crop=crop,
                                 flip=exp.augment, seed=exp.seed, **shard)
    test_batches = DeviceLoader(test, 500, False, ctx.device, mean, std, **shard)
    history = fit(model, train_batches, fit_config(exp, ctx), evaluate=classification_eval(test_batches), log=ctx.log,
                  checkpoint=ctx.checkpoint, device=ctx.device)
    final = dict(history[-1]) if history else {}
    final["params"] = sum(p.numel() for p in model.parameters())
    return TaskResult(history, final, model,
                      {"train": train.identity, "test": test.identity, "n_train": len(train), "n_test": len(test),
                       "mean": mean, "std": std})
