"""What a run costs on a GPU: an estimate scaled from the measured throughput table.

Every number is an estimate except the measured rows; each run's ``Cost.basis`` says which.
Seconds per training image come from the measured GPU table ``benchmarks/results/gpu.json``
(``python -m benchmarks``, one H200, bf16; its WRN-28-10 rows were torch.compiled). A network,
batch and input size measured there uses its row ("measured"). Any other takes the larger of two
terms read off the table: its training FLOPs (``wpcore.flops``, counted on the meta device) at
the FLOP rate WRN-28-10 reaches, and, for networks too small to fill the GPU, a fixed time per
convolution layer per step (the table's small networks run at about 8 ms a step at batch 128,
whatever their width; such runs are "small", several fit on one GPU). Detectors: their trunk's
FLOPs, or the detector row's time per image beyond its trunk (RoI sampling and heads), whichever
is larger. The model reproduces the measured rows within 2x: it estimates the small WRNs up to
1.8x slower than measured (WRN-16-2) and DiracNet-34-2, whose Dirac convolutions count as
convolutions, 1.2x faster. ImageNet runs are also capped by JPEG decoding: the CPU
decode-and-crop rate of ``wpcore.data.imagenet`` measured on this project's CPU (per core) times
the GPU machine's cores, a pessimistic bound where nvJPEG decodes on the GPU. An epoch
costs its training images, plus its test images at a third of the price (a forward pass);
attention students also pay their teacher's forward pass. Start-up, checkpoints and data
preparation are not counted.

``facts(exp)`` says what a run reads (input shape, classes, images per epoch), ``cost(exp)`` what
it costs; ``wpcore.plan`` totals them over a profile.
"""
from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from .experiment import Experiment

ROOT = Path(__file__).resolve().parent.parent
TABLE = ROOT / "benchmarks" / "results" / "gpu.json"
# every network the full profile trains, measured on the same GPU (`benchmarks/gpu.sh --profile-set
# full --ours-only`); where present its rows are used before the estimate, and before gpu.json's
FULL_TABLE = TABLE.with_name("gpu_full.json")
# wpcore.data.imagenet.decode + train_view of a 500x375 JPEG (quality 90), CPU time per image on
# this project's AMD EPYC core (2026-12-02): 330 images/s per core
JPEG_PER_CORE = 330.0
EVAL_COST = 1 / 3  # a test image costs a forward pass, about a third of a training step


class Kind(Enum):
    CLASSIFIER = "classifier"
    PAIRS = "patch pairs"
    DETECTOR = "detector"
    NONE = "no network"


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
    kw: str = "{}"        # the builder's arguments (JSON, sorted keys) the row was measured with
    detector: bool = False


@functools.cache
def table(path: Path | None = None, full: Path | None = None) -> tuple[dict, tuple[Row, ...]]:
    """(meta, rows) of the measured GPU table (default ``TABLE``): the rows of ``full`` (default
    ``FULL_TABLE``, where that file exists) first, then its own."""
    path, full = path or TABLE, full or FULL_TABLE
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: it holds the measured throughputs the plan scales "
                                "(run `python -m benchmarks` on a GPU to make it)")
    d = json.loads(path.read_text())
    extra = json.loads(full.read_text())["rows"] if full.exists() else []
    rows = []
    for r in [*extra, *d["rows"]]:
        ips = r.get("ours_train") or r.get("ours_step")
        if not ips:
            continue
        shape, flops, kind = tuple(r["input"]), r["flop_per_img"], Kind.PAIRS if r["input"][:1] == [2] else Kind.CLASSIFIER
        kw = json.dumps(r.get("kw", {}), sort_keys=True)
        if r["model"] == "fast-rcnn":  # the default table's detector row: example images of 256 px, default widths
            shape, kind = (3, 256, 256), Kind.DETECTOR
        elif r.get("kind") == "detector":  # a full-profile detector row: the plan's input, its own widths
            kind = Kind.DETECTOR
        if kind == Kind.DETECTOR:
            flops = trunk_flops(tuple(r.get("kw", {}).get("widths", ())), shape)
        convs = 0 if kind == Kind.DETECTOR else _convs(r["model"], kw, shape, 10, kind)
        rows.append(Row(r["model"], r["batch"], shape, ips, flops, convs, bool(r.get("compile")), kw,
                        kind == Kind.DETECTOR))
    return d["meta"], tuple(rows)


def _kind_of_row(r: Row) -> Kind:
    return Kind.DETECTOR if r.detector else Kind.PAIRS if r.shape[0] == 2 else Kind.CLASSIFIER


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

    from .nets.dirac import DiracConv

    net = _meta_model(model, kw, shape, num_classes, kind)
    return sum(isinstance(m, (nn.Conv2d, DiracConv)) for m in net.modules())  # a DiracConv2d is no nn.Conv2d


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

    A measured row (same network, builder arguments, batch and input) is used as it is. Otherwise
    the larger of two terms (``model()``): the
    arithmetic, training FLOPs / the FLOP rate WRN-28-10 reaches; and the per-step cost of a
    network whose layers are too small to fill the GPU, a fixed time per convolution layer
    (detectors: a fixed time per image, the RoI sampling and heads around the trunk). ImageNet
    runs, measured or not, take at least the JPEG decoding time (the benchmark's batches are made).
    """
    meta, rows = table()
    kw = json.dumps(exp.model_kw, sort_keys=True)
    row = next((r for r in rows if (r.model, r.batch, r.shape, r.kw) == (exp.model, exp.batch_size, f.shape, kw)), None)
    if row is not None:  # measured on pre-made batches: ImageNet's decoding is still capped below
        t, measured, small = 1 / row.img_per_s, True, False
        basis = f"measured {row.model} b{row.batch}" + (" compiled" if row.compiled else "")
    else:
        m, flops, measured = model(), train_flops(exp, f), False
        compute = flops / m.flop_rate
        if f.kind == Kind.DETECTOR:
            floor, what = m.detector_per_image, f"{1000 * m.detector_per_image:.1f} ms/image"
        else:
            convs = _convs(exp.model, kw, f.shape, f.num_classes, f.kind)
            floor = m.per_conv_step * convs / exp.batch_size
            what = f"{convs} convs x {1000 * m.per_conv_step:.2f} ms/step"
        t, small = max(compute, floor), floor > compute
        basis = f"est., latency ({what})" if small else f"est., {flops / 1e9:.0f} GFLOP/img at the WRN-28-10 rate"
    if exp.dataset == "imagenet":
        cores = max(1, meta.get("threads", 16) - 1)
        decode = 1 / (JPEG_PER_CORE * cores)
        if decode > t:
            t, small, measured = decode, False, False
            basis = f"est., JPEG decoding ({1 / decode:,.0f} img/s on {cores} cores)"
    return t, basis, measured, small

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
