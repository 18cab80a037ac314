"""``run(experiment) -> record``: reuse a matching, current record, or train and write one.

Chapters and the CLI both call ``run``; what a run *does* is a task registered with
``@register_task("name")``. The task receives the :class:`Experiment` and a :class:`Context`
(device, progress log, checkpoint folder) and returns a :class:`TaskResult`. The built-in task
``classify`` (``wpcore.tasks.classify``) trains a registered network on an image dataset.

A record is reused when its key matches (what is trained: ``Experiment.config()`` and the
data's identity) *and* it is current: the code that defines the run has not changed since
(``wpcore.fingerprint``) and the records it was made from (a student's teacher) are the ones
it used. A stale record in ``runs/`` is retrained; a stale *published* record
(``results/<profile>/``) is reused and shown as made with older code, unless ``retrain_stale``.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import platform
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from . import fingerprint, precision, records
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
    schedule: str = "step"           # "step" (milestones, the thesis) or "cosine" (short runs; a deviation)
    warmup: float = 0.0              # fraction of training with a linear lr warm-up (0: the thesis)
    label_smoothing: float = 0.0     # of the classification loss (0: the thesis)
    train_subset: int | None = None  # class-balanced subset of the training set (None: all)
    test_subset: int | None = None
    image_size: int | None = None    # resize images to this many pixels a side (None: as stored)
    augment: bool = True             # random crop (reflection padding) + horizontal flip
    seed: int = 0                    # initialisation and batch order
    model_kw: dict = field(default_factory=dict)   # extra builder arguments (dropout, block...)
    options: dict = field(default_factory=dict)    # task-specific settings (teacher, beta...)
    max_steps: int | None = None     # stop early (tests)
    eval_every: int = 1              # epochs between test evaluations (the last epoch always)
    precision: str = "auto"          # the policy: "auto" (bf16 where native, else fp32), "bf16" or "fp32"
    label: str = ""                  # how figures name this run; not part of the key

    def __post_init__(self):
        from . import tasks  # noqa: F401  (registers the chapters' tasks)
        from .nets import registry

        if self.task not in TASKS:
            raise ValueError(f"unknown task {self.task!r}; known: {', '.join(sorted(TASKS))}")
        # the builder's signature checks the names; arguments equal to its defaults are dropped, so
        # that {"block": "B(3,3)"} and {} are one experiment and one key
        self.model_kw = registry.normalise(self.model, self.model_kw)
        with torch.device("meta"):  # checks depth, width and values too; allocates nothing
            registry.create(self.model, **self.model_kw)
        if not isinstance(self.epochs, int) or self.epochs < 0:
            raise ValueError(f"epochs must be a non-negative integer, got {self.epochs!r}")
        if self.epochs == 0 and TASKS[self.task].trains:
            raise ValueError(f"epochs must be at least 1 for task {self.task!r}: a run that trains nothing "
                             "proves nothing and is never recorded")
        if not isinstance(self.batch_size, int) or self.batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {self.batch_size!r}")
        for name in ("train_subset", "test_subset", "max_steps", "image_size"):
            v = getattr(self, name)
            if v is not None and (not isinstance(v, int) or v < 1):
                raise ValueError(f"{name} must be a positive integer or None, got {v!r}")
        if not self.lr > 0:
            raise ValueError(f"lr must be positive, got {self.lr!r}")
        if self.precision not in precision.CHOICES:
            raise ValueError(f"precision must be one of {', '.join(precision.CHOICES)}, got {self.precision!r}")
        if self.precision == "auto":  # the user's override (WPCORE_PRECISION=fp32 make book) enters the key
            self.precision = precision.policy()
        self.milestones = tuple(self.milestones)
        from .train import FitConfig  # checks schedule, warm-up and smoothing with fit's own rules

        FitConfig(epochs=self.epochs, lr=self.lr, weight_decay=self.weight_decay, schedule=self.schedule,
                  warmup=self.warmup, label_smoothing=self.label_smoothing, eval_every=self.eval_every)

    def config(self) -> dict:
        """The fields that define the run (everything but the label), JSON-canonical."""
        d = dataclasses.asdict(self)
        d.pop("label")
        return json.loads(json.dumps(d))

    def key(self) -> str:
        return records.make_key(self.config(), data_identity(self.dataset))

    def fingerprint(self) -> dict:
        """The fingerprint of the code this run uses (``wpcore.fingerprint``)."""
        from .nets import registry

        return fingerprint.of_run(TASKS[self.task].fn.__module__, registry.builder(self.model).__module__)

    def name(self) -> str:
        return self.label or f"{self.model} seed {self.seed}"


@dataclass
class Context:
    device: torch.device
    log: Callable[[dict], None] | None
    checkpoint: Path | None
    compile: bool = False
    amp: bool = False                # bf16 autocast: the experiment's resolved precision


@dataclass
class TaskResult:
    history: list[dict]
    final: dict
    model: nn.Module | None          # None for a task that trains nothing (a SIFT baseline)
    data: dict                       # identity of the data actually used
    extra: dict = field(default_factory=dict)
    model_args: dict = field(default_factory=dict)  # the builder's keyword arguments (load_model)
    depends_on: list[Record] = field(default_factory=list)  # records this run was made from (a teacher)


@dataclass(frozen=True)
class Task:
    fn: Callable[[Experiment, Context], TaskResult]
    trains: bool = True              # False: a baseline that fits nothing (epochs = 0 is then allowed)


TASKS: dict[str, Task] = {}


def register_task(name: str, trains: bool = True):
    def deco(fn):
        TASKS[name] = Task(fn, trains)
        return fn
    return deco


def data_identity(dataset: str) -> str:
    """A static identity of a dataset: the published checksums of its files, or the version of its
    generator for data this package makes (stereo pairs, warped photographs, composed scenes;
    tests pin each generator's output to its version)."""
    from .data import GENERATED, store

    if dataset in store.FILES:
        return dataset + ":" + ",".join((s.md5 or s.sha256_gunzip or "?")[:12] for s in store.FILES[dataset])
    base = dataset.split(":")[0]
    if base in GENERATED:
        return f"{dataset}:generator-v{GENERATED[base]}"
    return dataset


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def device_info(device: torch.device) -> dict:
    info = {"type": device.type, "torch": torch.__version__, "threads": torch.get_num_threads(),
            "cpu": platform.processor() or platform.machine(), "python": platform.python_version()}
    if device.type == "cuda":
        info["name"] = torch.cuda.get_device_name(device)
    return info


# --- is a record current? ----------------------------------------------------------------------

def staleness(rec: Record, exp: Experiment) -> list[str]:
    """Why ``rec`` is not current for ``exp`` (empty when it is): the source files that changed
    since it was made, and the records it was made from that are gone or were made again."""
    why = fingerprint.changed(rec.code.get("fingerprint"), exp.fingerprint())
    for dep in rec.depends_on:
        now = records.find(dep["key"])
        if now is None:
            why.append(f"its {dep.get('role', 'input')} record {dep['key']} is missing")
        elif now.created != dep["created"]:
            why.append(f"its {dep.get('role', 'input')} record {dep['key']} was made again ({now.created})")
    return why


def find(exp: Experiment, runs: Path | None = None) -> Record | None:
    """The record of ``exp`` (``records.find`` of its key), under the name ``exp`` gives it. A label is
    not part of the key, so one record can serve two roles: a convergence check's longer run that a
    later design makes its baseline is found under the baseline's name, not the one it was made with."""
    rec = records.find(exp.key(), runs)
    if rec is None or not exp.label or rec.extra.get("label") == exp.label:
        return rec
    return dataclasses.replace(rec, extra={**rec.extra, "label": exp.label})


def of_record(record: Record) -> Experiment:
    """The experiment a record was made by (its config holds every field but the label)."""
    names = {f.name for f in dataclasses.fields(Experiment)}
    return Experiment(**{k: v for k, v in record.config.items() if k in names},
                      label=record.extra.get("label", ""))


def record_staleness(record: Record) -> list[str]:
    """``staleness`` of a record against the experiment it was made by: what a page shows next to
    a published record made with older code (empty when current)."""
    return staleness(record, of_record(record))


def load_model(record: Record, device: str | torch.device = "cpu") -> nn.Module:
    """The trained network of a record, rebuilt with the builder arguments the record keeps and
    its weights loaded, in eval mode. The one way to rebuild a model from a record."""
    from .nets import create

    model = create(record.config["model"], **record.model_args)
    model.load_state_dict(records.load_weights(record, str(device)))
    return model.to(device).eval()


# --- running ----------------------------------------------------------------------------------

def run(exp: Experiment, *, device: str | torch.device | None = None, log: Callable[[dict], None] | None = None,
        force: bool = False, compile: bool = False, checkpoint_root: str | Path | None = None,
        resume: bool = True, retrain_stale: bool = False, runs: Path | None = None) -> Record:
    """Return the record of ``exp``: the stored one when its key matches and it is current, else
    train and store.

    A stale record in ``runs/`` is always retrained; a stale published one only with
    ``retrain_stale`` (otherwise it is returned and pages mark it as made with older code).
    Training checkpoints every epoch into ``<runs>/checkpoints/<key>/``; a run killed midway
    resumes from its last checkpoint when run again, unless the code changed in between (then it
    starts over) or ``resume=False``; the record's ``wall_time_s`` then counts the earlier sittings
    too (``_earlier_sittings``). ``runs``: the folder to look in first and write to (default
    ``records.runs_dir()``; ``wpcore.verify`` retrains into a scratch folder).
    """
    from .tasks.setup import seed_everything

    device = torch.device(device) if device else default_device()
    key = exp.key()
    fp = exp.fingerprint()
    if not force:
        rec = find(exp, runs)
        if rec is not None:
            why = staleness(rec, exp)
            if not why or (rec.published and not retrain_stale):
                if log:
                    log({"reused": key, "label": exp.name()} | ({"stale": why} if why else {}))
                return rec
            if log:
                log({"retrain": key, "label": exp.name(), "stale": why})
    from . import distributed  # under torchrun: every rank trains, rank 0 alone logs and writes
    log = log if distributed.is_main() else None
    ckpt = Path(checkpoint_root or (runs or records.runs_dir()) / "checkpoints") / key
    _check_checkpoint(ckpt, fp, resume, log)
    earlier = _earlier_sittings(ckpt)
    seed_everything(exp.seed)
    if log:
        log({"start": key, "label": exp.name()})
    used = precision.resolve(exp.precision, device)
    t0 = time.perf_counter()
    try:
        result = TASKS[exp.task].fn(exp, Context(device, log, ckpt, compile, amp=used == "bf16"))
    except torch.cuda.OutOfMemoryError:
        raise RuntimeError(f"out of GPU memory training {exp.model} with batch_size={exp.batch_size}; "
                           f"try batch_size={max(1, exp.batch_size // 2)} (and scale lr by the same factor)") from None
    wall = time.perf_counter() - t0 + (earlier["earlier_sittings_s"] if earlier else 0.0)
    # a loss or an error that is not a number means training diverged (an undefined COCO metric,
    # e.g. AP of large objects on scenes that have none, is NaN by convention and is kept)
    bad = {k: v for k, v in result.final.items()
           if isinstance(v, float) and not math.isfinite(v) and ("loss" in k or "error" in k)}
    if bad:
        shutil.rmtree(ckpt, ignore_errors=True)
        raise RuntimeError(f"{exp.name()} diverged: final {', '.join(f'{k} = {v}' for k, v in bad.items())}; "
                           f"no record was written. Lower the learning rate (now {exp.lr:g}) and run again")
    info = device_info(device) | ({"world_size": distributed.world_size()} if distributed.is_distributed() else {})
    rec = Record(key=key, config=exp.config(), history=result.history, final=result.final, wall_time_s=wall,
                 device=info, code=records.code_version() | {"fingerprint": fp}, data=result.data,
                 created=dt.datetime.now(dt.timezone.utc).isoformat(timespec="microseconds"),
                 extra={"label": exp.label, **result.extra, **(earlier or {})}, precision=used, model_args=result.model_args,
                 depends_on=[{"key": r.key, "created": r.created, "role": "teacher"} for r in result.depends_on],
                 folder=runs)
    if distributed.is_main():
        records.write(rec, result.model.state_dict() if result.model is not None else None)
        shutil.rmtree(ckpt, ignore_errors=True)  # the record now holds the final weights
    return rec


def _earlier_sittings(ckpt: Path) -> dict | None:
    """What a run about to resume from ``ckpt`` has already cost: {"resumed_from_epoch": epochs the
    checkpoint holds, "earlier_sittings_s": the training time its history has counted up to them}
    (None when it starts afresh). ``run`` adds the seconds to ``wall_time_s``, so a record's time
    covers every sitting, each counted up to its last checkpoint (work done after it and lost to
    the interruption is not counted)."""
    try:
        state = json.loads((ckpt / "state.json").read_text())
    except (OSError, json.JSONDecodeError):  # no checkpoint (or a corrupt one, which training reports)
        return None
    history = state.get("history") or []
    return {"resumed_from_epoch": int(state.get("epoch", 0)),
            "earlier_sittings_s": float(history[-1].get("time_s", 0.0)) if history else 0.0}


def _check_checkpoint(ckpt: Path, fp: dict, resume: bool, log) -> None:
    """Start over when asked to, or when the code changed since the checkpoint was written (a
    resume never mixes two versions of the code); then note the code the checkpoint belongs to.
    Under torchrun rank 0 alone decides and writes; the other ranks wait for it."""
    from . import distributed

    if distributed.is_main():
        stamp = ckpt / "fingerprint.json"
        if ckpt.exists() and resume:
            try:
                old = json.loads(stamp.read_text())
            except (OSError, json.JSONDecodeError):
                old = None
            changed = fingerprint.changed(old, fp)
            if changed:
                resume = False
                if log:
                    log({"restart": ckpt.name, "changed": changed})
        if not resume:
            shutil.rmtree(ckpt, ignore_errors=True)
        records.atomic_write(stamp, json.dumps(fp).encode())
    distributed.barrier()


def run_all(exps: list[Experiment], **kw) -> list[Record]:
    return [run(e, **kw) for e in exps]

