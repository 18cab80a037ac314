"""``python -m wpcore plan``: every run of a profile, what it costs, what it needs, what is done.

For each study experiment (``studies.<chapter>.experiments(profile)``): its estimated GPU-hours,
the teacher it waits for, whether its data is here, and whether its record exists (``records.find``).
Totals per chapter and overall, on one GPU and on N (teachers before students, the longest runs
first; a run shared by two chapters counts once overall).

**The cost model** (every number an estimate except the measured rows; each run says which):
seconds per training image come from the measured GPU table ``benchmarks/results/gpu.json``
(``python -m benchmarks``, one H200, bf16; its WRN-28-10 rows were torch.compiled). A network,
batch and input size measured there uses its row ("measured"). Any other takes the larger of two
terms read off the table: its training FLOPs (``wpcore.flops``, counted on the meta device) at
the FLOP rate WRN-28-10 reaches, and, for networks too small to fill the GPU, a fixed time per
convolution layer per step (the table's small networks run at about 8 ms a step at batch 128,
whatever their width; such runs are "small", several fit on one GPU). Detectors: their trunk's
FLOPs, or the detector row's time per image beyond its trunk (RoI sampling and heads), whichever
is larger. The model reproduces the measured rows within about 2x (DiracNet-34-2, whose
parameterisation adds work per layer, is the worst). ImageNet runs are also capped by JPEG decoding: the
CPU decode-and-crop rate of ``wpcore.data.imagenet`` measured on this project's CPU (per core)
times the GPU machine's cores, a pessimistic bound where nvJPEG decodes on the GPU. An epoch
costs its training images, plus its test images at a third of the price (a forward pass);
attention students also pay their teacher's forward pass. Start-up, checkpoints and data
preparation are not counted.

``--preflight`` (:func:`preflight`) builds each distinct network at its real input size and takes
one training step on the available device (batch 2 on a CPU, the experiment's own batch on a GPU,
so an out-of-memory shows), and checks every dataset the runs read, so a run that would fail after
days fails in minutes.
"""
from __future__ import annotations

import functools
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from .experiment import Experiment

ROOT = Path(__file__).resolve().parent.parent
TABLE = ROOT / "benchmarks" / "results" / "gpu.json"
# wpcore.data.imagenet.decode + train_view of a 500x375 JPEG (quality 90), CPU time per image on
# this project's AMD EPYC core (2026-12-02): 330 images/s per core
JPEG_PER_CORE = 330.0
EVAL_COST = 1 / 3  # a test image costs a forward pass, about a third of a training step


class Kind(Enum):
    CLASSIFIER = "classifier"
    PAIRS = "patch pairs"
    DETECTOR = "detector"
    NONE = "no network"


class Data(Enum):
    PRESENT = "present"
    EMBEDDED = "embedded"            # ships with a package this project installs
    DOWNLOAD = "download"            # fetched and checked on first use (run fetches it before training)
    MISSING = "missing"              # must be put there by hand (licence or size)


@dataclass(frozen=True)
class Facts:
    shape: tuple[int, int, int]      # one input (C, H, W); pairs: (2, 64, 64)
    num_classes: int
    n_train: int                     # images (pairs) per epoch
    n_test: int
    kind: Kind = Kind.CLASSIFIER


FACTS = {
    "fashion-mnist": Facts((1, 28, 28), 10, 60_000, 10_000),
    "digits": Facts((1, 8, 8), 10, 1_297, 500),
    "cifar-10": Facts((3, 32, 32), 10, 50_000, 10_000),
    "cifar-100": Facts((3, 32, 32), 100, 50_000, 10_000),
    "svhn": Facts((3, 32, 32), 10, 604_388, 26_032),   # train + extra, as the paper
    "imagenet": Facts((3, 224, 224), 1000, 1_281_167, 50_000),
    "coco": Facts((3, 800, 1000), 81, 118_287, 5_000, Kind.DETECTOR),  # trainval35k -> val5k, shorter side 800
    "brown": Facts((2, 64, 64), 1, 500_000, 100_000, Kind.PAIRS),       # m50_500000 / m50_100000 pair lists
}


def facts(exp: Experiment) -> Facts:
    """What one run reads: input shape, classes, images per epoch (subsets and options applied)."""
    o = exp.options
    if exp.task in ("patches", "patch-sift"):
        base = FACTS["brown"] if exp.dataset.startswith("brown:") else Facts(
            (2, 64, 64), 1, o.get("n_train", 20_000), o.get("n_test", 4_000), Kind.PAIRS)
        return Facts(base.shape, 1, base.n_train, base.n_test, Kind.PAIRS if exp.task == "patches" else Kind.NONE)
    if exp.task == "detect":
        if exp.dataset == "coco":
            return FACTS["coco"]
        size = o.get("scene_size", 128)
        return Facts((3, size, size), 11, o.get("train_images", 1000), o.get("test_images", 200), Kind.DETECTOR)
    if exp.dataset not in FACTS:
        raise ValueError(f"no facts about dataset {exp.dataset!r}; known: {', '.join(FACTS)}")
    f = FACTS[exp.dataset]
    c, h, w = f.shape
    ds = o.get("downsample", 1) if exp.task == "dirac" else 1
    return Facts((c, h // ds, w // ds), f.num_classes, min(exp.train_subset or f.n_train, f.n_train),
                 min(exp.test_subset or f.n_test, f.n_test), f.kind)


# --- the measured table and FLOPs ---------------------------------------------------------------

@dataclass(frozen=True)
class Row:
    model: str
    batch: int
    shape: tuple
    img_per_s: float
    flops: float          # training FLOPs per image (the detector row: its trunk's)
    convs: int            # convolution layers of the network
    compiled: bool


@functools.cache
def table(path: Path = TABLE) -> tuple[dict, tuple[Row, ...]]:
    """(meta, rows) of the measured GPU table."""
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: it holds the measured throughputs the plan scales "
                                "(run `python -m benchmarks` on a GPU to make it)")
    d = json.loads(path.read_text())
    rows = []
    for r in d["rows"]:
        ips = r.get("ours_train") or r.get("ours_step")
        if not ips:
            continue
        shape, flops, kind = tuple(r["input"]), r["flop_per_img"], Kind.PAIRS if r["input"][:1] == [2] else Kind.CLASSIFIER
        if r["model"] == "fast-rcnn":  # the detector row: example images of 256 px, the default widths
            shape, kind = (3, 256, 256), Kind.DETECTOR
            flops = trunk_flops((), shape)
        convs = _convs(r["model"], "{}", shape, 10, kind)
        rows.append(Row(r["model"], r["batch"], shape, ips, flops, convs, bool(r.get("compile"))))
    return d["meta"], tuple(rows)


def _kind_of_row(r: Row) -> Kind:
    return Kind.DETECTOR if r.model == "fast-rcnn" else Kind.PAIRS if r.shape[0] == 2 else Kind.CLASSIFIER


def _meta_model(model: str, kw: str, shape: tuple, num_classes: int, kind: Kind):
    import torch

    from .nets import create

    kwargs = json.loads(kw)
    if kind == Kind.CLASSIFIER:
        kwargs |= {"num_classes": num_classes, "in_channels": shape[0]}
    with torch.device("meta"):
        return create(model, **kwargs)


@functools.cache
def _train_flops(model: str, kw: str, shape: tuple, num_classes: int, kind: Kind) -> float:
    from .flops import count_flops

    return float(count_flops(_meta_model(model, kw, shape, num_classes, kind), shape, backward=True))


@functools.cache
def _convs(model: str, kw: str, shape: tuple, num_classes: int, kind: Kind) -> int:
    from torch import nn

    net = _meta_model(model, kw, shape, num_classes, kind)
    return sum(isinstance(m, nn.Conv2d) or type(m).__name__.endswith("Conv") for m in net.modules())


@functools.cache
def trunk_flops(widths: tuple, shape: tuple) -> float:
    """Training FLOPs of a detector's trunk on one image of ``shape`` (meta device)."""
    import torch

    from .flops import count_flops
    from .nets.multipath import Trunk

    class Summed(torch.nn.Module):  # count_flops wants one output tensor
        def __init__(self):
            super().__init__()
            self.trunk = Trunk(tuple(widths)) if widths else Trunk()

        def forward(self, x):
            return sum(o.sum() for o in self.trunk(x))

    with torch.device("meta"):
        net = Summed()
    return float(count_flops(net, shape, backward=True))


def train_flops(exp: Experiment, f: Facts | None = None) -> float:
    """Training FLOPs per image (per pair; per trunk pass for detectors) of the run's network."""
    f = f or facts(exp)
    if f.kind == Kind.DETECTOR:
        return trunk_flops(tuple(exp.model_kw.get("widths", ())), f.shape)
    return _train_flops(exp.model, json.dumps(exp.model_kw, sort_keys=True), f.shape, f.num_classes, f.kind)


@dataclass(frozen=True)
class Model:
    """The two terms of the estimate, both read off the measured table."""

    flop_rate: float          # training FLOP/s of the most compute-bound row (WRN-28-10, batch 128)
    per_conv_step: float      # seconds per convolution layer per step where the work is too small to matter
    detector_per_image: float  # seconds per image of the detector row beyond its trunk's arithmetic


@functools.cache
def model() -> Model:
    _, rows = table()
    cls = [r for r in rows if _kind_of_row(r) == Kind.CLASSIFIER and r.batch == 128]
    top = max(cls, key=lambda r: r.flops)
    rate = top.flops * top.img_per_s
    bound = [r for r in rows if _kind_of_row(r) != Kind.DETECTOR and not r.compiled
             and r.flops * r.img_per_s < 0.1 * rate]  # latency-bound rows: under 10% of that rate
    per_conv = sorted(r.batch / r.img_per_s / r.convs for r in bound)[len(bound) // 2]
    det = next(r for r in rows if _kind_of_row(r) == Kind.DETECTOR)
    return Model(rate, per_conv, max(0.0, 1 / det.img_per_s - det.flops / rate))


# --- cost of one run ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Cost:
    gpu_hours: float
    basis: str              # which measurement, and how it was scaled
    measured: bool          # the table has this network, batch and input
    small: bool = False     # at the latency floor: several such runs fit on one GPU
    cpu_only: bool = False


def seconds_per_image(exp: Experiment, f: Facts) -> tuple[float, str, bool, bool]:
    """(seconds per training image on the table's GPU, basis, measured, small).

    A measured row is used as it is. Otherwise the larger of two terms (``model()``): the
    arithmetic, training FLOPs / the FLOP rate WRN-28-10 reaches; and the per-step cost of a
    network whose layers are too small to fill the GPU, a fixed time per convolution layer
    (detectors: a fixed time per image, the RoI sampling and heads around the trunk).
    """
    meta, rows = table()
    for r in rows:
        if (r.model, r.batch, r.shape) == (exp.model, exp.batch_size, f.shape) and not exp.model_kw:
            return 1 / r.img_per_s, f"measured {r.model} b{r.batch}" + (" compiled" if r.compiled else ""), True, False
    m, flops = model(), train_flops(exp, f)
    compute = flops / m.flop_rate
    if f.kind == Kind.DETECTOR:
        floor, what = m.detector_per_image, f"{1000 * m.detector_per_image:.1f} ms/image"
    else:
        convs = _convs(exp.model, json.dumps(exp.model_kw, sort_keys=True), f.shape, f.num_classes, f.kind)
        floor = m.per_conv_step * convs / exp.batch_size
        what = f"{convs} convs x {1000 * m.per_conv_step:.2f} ms/step"
    t, small = max(compute, floor), floor > compute
    basis = f"est., latency ({what})" if small else f"est., {flops / 1e9:.0f} GFLOP/img at the WRN-28-10 rate"
    if exp.dataset == "imagenet":
        cores = max(1, meta.get("threads", 16) - 1)
        decode = 1 / (JPEG_PER_CORE * cores)
        if decode > t:
            t, small, basis = decode, False, f"est., JPEG decoding ({1 / decode:,.0f} img/s on {cores} cores)"
    return t, basis, False, small


def cost(exp: Experiment) -> Cost:
    f = facts(exp)
    if f.kind == Kind.NONE:
        return Cost(0.0, "CPU only (no training)", False, cpu_only=True)
    t, basis, measured, small = seconds_per_image(exp, f)
    steps_per_epoch = max(1, f.n_train // exp.batch_size)
    steps = exp.epochs * steps_per_epoch if exp.max_steps is None else min(exp.epochs * steps_per_epoch, exp.max_steps)
    epochs = math.ceil(steps / steps_per_epoch) if steps else 0
    per_train_image = t
    teacher = exp.options.get("teacher")
    if exp.options.get("method") in ("grad-at", "flip"):
        per_train_image *= 2  # a double backward through the student
        basis += ", x2 double backward"
    if teacher:
        t_exp = Experiment(**teacher)
        t_t = seconds_per_image(t_exp, facts(t_exp))[0]
        per_train_image += t_t * (1 if exp.options.get("method") == "grad-at" else EVAL_COST)
        basis += " + teacher"
    seconds = steps * exp.batch_size * per_train_image + epochs * f.n_test * t * EVAL_COST
    return Cost(seconds / 3600, basis, measured and not teacher, small)


# --- whether the data is here ---------------------------------------------------------------------

@dataclass(frozen=True)
class DataStatus:
    status: Data
    detail: str = ""


def coco_root(exp: Experiment) -> Path | None:
    import os

    root = exp.options.get("coco_root") or os.environ.get("WPCORE_COCO")
    return Path(root) if root else None


def coco_problems(root: Path | None) -> list[str]:
    """What the detection task would miss under ``root``: the COCO 2014 layout (annotations, image
    folders) and every image the annotation files list (``wpcore.data.coco.missing``)."""
    if root is None:
        return ["$WPCORE_COCO is not set (the folder with annotations/ train2014/ val2014/)"]
    need = ["annotations/instances_train2014.json", "annotations/instances_val2014.json", "train2014", "val2014"]
    problems = [f"{root / n} is missing" for n in need if not (root / n).exists()]
    if problems:
        return problems
    from .data import coco

    gone = coco.missing(root)
    return [f"{len(gone)} file(s) missing or unreadable: {', '.join(gone[:5])}{' ...' if len(gone) > 5 else ''}"] if gone else []


def data_status(exp: Experiment) -> DataStatus:
    from .data import store

    ds = exp.dataset
    if ds in ("digits", "stereo", "warped", "fashion-scenes"):
        return DataStatus(Data.EMBEDDED)
    if ds in store.FILES:
        d = store.find_dir(ds)
        if d is not None:
            return DataStatus(Data.PRESENT, str(d))
        if all(s.url for s in store.FILES[ds]):
            return DataStatus(Data.DOWNLOAD, f"fetched and checked on first use into {store.data_root() / ds}")
        return DataStatus(Data.MISSING, store.how_to_get(ds))
    if ds.startswith("brown:"):
        from .data.phototour import PHOTOTOUR_ARCHIVES

        root = store.data_root() / "phototour"
        scenes = [ds.split(":", 1)[1]] + ([exp.options["test_scene"]] if exp.options.get("test_scene") else [])
        missing = [s for s in scenes if not (root / s / "info.txt").exists() and not (root / f"{s}.zip").exists()]
        if missing:
            return DataStatus(Data.MISSING, "; ".join(f"download {PHOTOTOUR_ARCHIVES[s][0]} into {root}"
                                                      for s in missing))
        return DataStatus(Data.PRESENT, str(root))
    if ds == "coco":
        problems = coco_problems(coco_root(exp))
        return DataStatus(Data.MISSING, "; ".join(problems)) if problems else DataStatus(Data.PRESENT,
                                                                                          str(coco_root(exp)))
    if ds == "imagenet":
        from .data import imagenet

        problems = imagenet.layout_problems()
        root = imagenet.imagenet_root()
        return (DataStatus(Data.MISSING, f"{'; '.join(problems)}; {imagenet.how_to_get(root)}") if problems
                else DataStatus(Data.PRESENT, str(root)))
    return DataStatus(Data.MISSING, f"unknown dataset {ds!r}")


# --- the plan -------------------------------------------------------------------------------------

@dataclass
class Item:
    chapter: str
    index: int                     # position in the chapter's experiments(profile): what --select takes
    exp: Experiment
    key: str
    cost: Cost
    data: DataStatus
    recorded: bool
    teacher: str | None = None     # the key of the run this one waits for
    shared_with: list[str] = field(default_factory=list)  # other chapters that run the same key

    @property
    def label(self) -> str:
        return self.exp.name()


def chapter_experiments(profile: str, chapters: list[str] | None = None) -> list[tuple[str, list[Experiment]]]:
    """(chapter, experiments) for every study of the profile (or the named chapters), thesis order."""
    from .profiles import check_profile
    from .scorecard import study_modules

    check_profile(profile)
    mods = study_modules()
    known = [m.CHAPTER for m in mods]
    for c in chapters or []:
        if c not in known:
            raise ValueError(f"unknown chapter {c!r}; chapters: {', '.join(known)}")
    return [(m.CHAPTER, m.experiments(profile)) for m in mods if not chapters or m.CHAPTER in chapters]


def build(profile: str, chapters: list[str] | None = None, device=None) -> list[Item]:
    """Every run of ``profile`` (optionally only ``chapters``) with its cost, teacher, data and record."""
    from . import records

    items, first_chapter = [], {}
    for chapter, exps in chapter_experiments(profile, chapters):
        for i, e in enumerate(exps):
            key = e.key()
            teacher = e.options.get("teacher")
            t_key = Experiment(**teacher).key() if teacher else None
            items.append(Item(chapter, i, e, key, cost(e), data_status(e), records.find(key) is not None, t_key))
            first_chapter.setdefault(key, []).append(chapter)
    for it in items:
        it.shared_with = [c for c in dict.fromkeys(first_chapter[it.key]) if c != it.chapter]
    return items


def distinct(items: list[Item]) -> list[Item]:
    """Each key once (a run two chapters share is made once)."""
    seen, out = set(), []
    for it in items:
        if it.key not in seen:
            seen.add(it.key)
            out.append(it)
    return out


def makespan_hours(items: list[Item], gpus: int) -> float:
    """Hours to run ``items`` on ``gpus`` GPUs, one run per GPU: the longest ready run first, a
    student only once its teacher is done (list scheduling; a lower bound is total / gpus)."""
    runs = {it.key: it for it in distinct(items)}
    done_at: dict[str, float] = {}
    free = [0.0] * gpus
    pending = sorted(runs.values(), key=lambda it: -it.cost.gpu_hours)
    while pending:
        ready = [it for it in pending if it.teacher not in runs or it.teacher in done_at]
        g = min(range(gpus), key=free.__getitem__)
        it = max(ready, key=lambda x: x.cost.gpu_hours - max(0.0, done_at.get(x.teacher, 0.0) - free[g]))
        start = max(free[g], done_at.get(it.teacher, 0.0) if it.teacher in runs else 0.0)
        free[g] = done_at[it.key] = start + it.cost.gpu_hours
        pending.remove(it)
    return max(done_at.values(), default=0.0)


def totals(items: list[Item], gpus: int = 8) -> list[dict]:
    """Rows per chapter and overall: runs, GPU-hours, hours on 1 GPU and on ``gpus``, still to run."""
    rows = []
    for chapter in list(dict.fromkeys(it.chapter for it in items)) + [None]:
        sel = distinct([it for it in items if chapter is None or it.chapter == chapter])
        todo = [it for it in sel if not it.recorded]
        hours = sum(it.cost.gpu_hours for it in sel)
        rows.append({"chapter": chapter or "all", "runs": len(sel), "gpu_hours": hours, "hours_1": hours,
                     f"hours_{gpus}": makespan_hours(sel, gpus), "to_run": len(todo),
                     "to_run_gpu_hours": sum(it.cost.gpu_hours for it in todo)})
    return rows


def _hours(h: float) -> str:
    return f"{h:.2f}" if h < 10 else f"{h:.0f}"


def format_plan(items: list[Item], profile: str, gpus: int = 8) -> str:
    meta, _ = table()
    lines = [(f"plan for profile {profile}: {len(items)} runs ({len(distinct(items))} distinct). GPU-hours are "
             f"estimates from the measured table {TABLE.relative_to(ROOT)} ({meta.get('device', '?')}, "
             f"{meta.get('date', '?')[:10]}); 'measured' rows use their own measurement, 'est.' rows scale one.")]
    by_key = {it.key: it for it in items}
    for chapter in dict.fromkeys(it.chapter for it in items):
        lines.append("")
        lines.append(f"== {chapter}")
        lines.append(f"{'#':>3}  {'label':38s} {'model':15s} {'dataset':14s} {'GPU-h':>7}  {'basis':44s} "
                     f"{'needs':6s} {'data':9s} recorded")
        for it in (x for x in items if x.chapter == chapter):
            needs = f"#{by_key[it.teacher].index}" if it.teacher in by_key else ("?" if it.teacher else "-")
            rec = "yes" if it.recorded else "no"
            if it.shared_with:
                rec += f" (same run as {', '.join(it.shared_with)})"
            lines.append(f"{it.index:>3}  {it.label[:38]:38s} {it.exp.model[:15]:15s} {it.exp.dataset[:14]:14s} "
                         f"{it.cost.gpu_hours:>7.3f}  {it.cost.basis[:44]:44s} {needs:6s} {it.data.status.value:9s} "
                         f"{rec}")
    lines += ["", (f"{'chapter':14s} {'runs':>5} {'GPU-hours':>10} {'1 GPU (h)':>10} {f'{gpus} GPUs (h)':>11} "
                  f"{'left to run':>12}")]
    for r in totals(items, gpus):
        lines.append(f"{r['chapter']:14s} {r['runs']:>5} {_hours(r['gpu_hours']):>10} {_hours(r['hours_1']):>10} "
                     f"{_hours(r[f'hours_{gpus}']):>11} {r['to_run']:>5} ({_hours(r['to_run_gpu_hours'])} h)")
    missing = dict.fromkeys(part for it in items if it.data.status == Data.MISSING
                            for part in it.data.detail.split("; "))
    if missing:
        lines += ["", "data to put in place before running:"] + [f"  {m}" for m in missing]
    small = sum(1 for it in distinct(items) if it.cost.small)
    if small:
        lines += ["", (f"{small} runs are at the latency floor (small networks): `run --ray --runs-per-gpu 4` packs "
                      "them, which the hours above do not assume.")]
    return "\n".join(lines)


# --- preflight ----------------------------------------------------------------------------------------

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

        def loss_fn(m):
            if exp.task in ("attention", "imagenet") and method != "student" or teacher is not None:
                from .losses.attention import transfer_loss

                return transfer_loss(m, teacher, x, y, method)[0]
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
