"""The width/depth explorer's data (thesis ch. 3): every WRN of the grid, the thesis's CIFAR-10
errors, our runs and what they cost. ``wpcore.present.explorer`` draws it.

- **The grid**: depth 10-40 (every N of 1-6), width 1-12, the six block types; for each network
  its parameters and its training FLOPs (forward + backward) per 32x32 CIFAR-10 image.
- **The thesis**: its CIFAR-10 errors of WRNs, Table 4 (ZCA whitening, the width/depth sweep),
  Table 5 (meanstd) and Table 2 (block types, WRN-d-2), each with its table and source tag.
- **Ours**: every WRN run of the chapter's ``experiments(profile)`` that has a record
  (``records.find``); a run without one is not drawn, and counted as missing. With a kernel, the
  reader can train any network of the grid with the chapter's recipe (``trial``; the panel of
  ``wpcore.present.explorer_train``); those runs are drawn as ours too (``extra``). Each run's training
  speed is measured, from its record: training images seen (training-set size x epochs) over the
  wall time of the run, evaluation after each epoch included, on the machine the record names.
- **Estimates**: a network of the grid that the profile did not train gets a speed estimate: the
  median training FLOP rate our runs achieved on their machine, over the network's training FLOPs
  per 32x32 image.

Counting is exact and cheap: counting every network of the grid one by one would take minutes
(PyTorch's FLOP counter costs about 0.1-0.5 s a network even on the meta device), but parameters
and FLOPs are polynomials of N = (d - 4) / 6 and k. For a fixed width the network is a stem, a
head and three groups of one first block and N - 1 identical ones: linear in N. Every
convolution of a group is 16k, 32k or 64k channels on both sides, except where group 1 starts
from the stem's 16 channels: quadratic in k. At k = 1 group 1 needs no projection shortcut, so
k = 1 is counted apart. Eight counts per block type (N = 1, 2 times k = 1-4) give the whole grid;
``tests/test_explorer.py`` checks it against direct counts.
"""
from __future__ import annotations

import functools
import json
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from statistics import median

import torch

from .. import flops, records
from ..experiment import Experiment
from ..nets import create
from .verdict import machine
from .wide_resnets import convergence, describe, experiments, single
from .wide_resnets_thesis import TABLE2_BLOCKS, TABLE4_ZCA, THESIS

DEPTHS = tuple(range(10, 41, 6))  # 10, 16, 22, 28, 34, 40: N = 1..6, the thesis's 16, 22, 28, 40 among them
WIDTHS = tuple(range(1, 13))      # k = 1..12, the thesis's widest CIFAR network is WRN-28-12
BLOCKS = tuple(TABLE2_BLOCKS)
CIFAR = (3, 32, 32)
THESIS_RECIPE = {"n_train": 50_000, "epochs": 200}  # CIFAR-10, thesis §3.3: what its training cost


def exact_grid(count: Callable[[int, int], int]) -> Callable[[int, int], int]:
    """``count(depth, width)`` of any WRN from eight calls: linear in N = (depth - 4) / 6 at a fixed
    width, quadratic in the width from k = 2 on (Lagrange through k = 2, 3, 4), k = 1 apart."""
    known = {(n, k): count(6 * n + 4, k) for n in (1, 2) for k in (1, 2, 3, 4)}

    def at(depth: int, width: int) -> int:
        n = (depth - 4) // 6

        def line(k: int) -> int:
            return known[1, k] + (n - 1) * (known[2, k] - known[1, k])

        if width == 1:
            return line(1)
        k = width  # twice the Lagrange polynomial, in integers: each product of two consecutive factors is even
        return (line(2) * (k - 3) * (k - 4) - 2 * line(3) * (k - 2) * (k - 4) + line(4) * (k - 2) * (k - 3)) // 2

    return at


def _kw(block: str) -> dict:
    return {} if block == "B(3,3)" else {"block": block}


@dataclass(frozen=True)
class Network:
    """One network of the grid; a depth, width or block type off it is refused in one line."""
    depth: int
    width: int
    block: str = "B(3,3)"

    def __post_init__(self):
        for name, value, grid in (("depth", self.depth, DEPTHS), ("width", self.width, WIDTHS),
                                  ("block", self.block, BLOCKS)):
            if value not in grid:
                raise ValueError(f"{name} must be one of {', '.join(map(str, grid))} (the explorer's grid), "
                                 f"got {value!r}")

    @property
    def model(self) -> str:
        return f"wrn-{self.depth}-{self.width}"


def trial(net: Network, profile: str, seed: int = 0) -> Experiment:
    """``net`` trained with the chapter's plain recipe at ``profile`` (``wide_resnets.single``).
    Seed 0, so that a network the chapter trains itself reuses the chapter's record."""
    return single(profile, net.model, seed, f"{net.model} {net.block} (explorer)", **_kw(net.block))


@functools.cache
def _params_of(block: str, in_channels: int, num_classes: int) -> Callable[[int, int], int]:
    def count(depth: int, width: int) -> int:
        with torch.device("meta"):
            net = create(f"wrn-{depth}-{width}", in_channels=in_channels, num_classes=num_classes, **_kw(block))
        return sum(p.numel() for p in net.parameters())

    return exact_grid(count)


@functools.cache
def _flops_of(block: str, shape: tuple[int, int, int], num_classes: int) -> Callable[[int, int], int]:
    return exact_grid(lambda d, k: flops.train_flops(f"wrn-{d}-{k}", shape, num_classes=num_classes, **_kw(block)))


def parameters(depth: int, width: int, block: str = "B(3,3)", in_channels: int = 3, num_classes: int = 10) -> int:
    """Parameters of WRN-depth-width with ``block`` (CIFAR-10 geometry by default)."""
    return _params_of(block, in_channels, num_classes)(depth, width)


def training_flops(depth: int, width: int, block: str = "B(3,3)", shape: tuple[int, int, int] = CIFAR,
                   num_classes: int = 10) -> int:
    """FLOPs of one training step (forward + backward, PyTorch's counter) per image of ``shape``."""
    return _flops_of(block, tuple(shape), num_classes)(depth, width)


# --- the thesis ------------------------------------------------------------------------------


def wrn_size(name: str) -> tuple[int, int] | None:
    """(depth, width) of a plain registry WRN name ("wrn-28-10"); None for any other name."""
    m = re.fullmatch(r"wrn-(\d+)-(\d+)", name)
    return (int(m[1]), int(m[2])) if m else None


def thesis_points() -> list[dict]:
    """The thesis's CIFAR-10 test errors of WRNs without dropout: {depth, width, block, error,
    table, preprocessing, tag} (tag: R official repository, T third-party quote, U unverified)."""
    out = [{"depth": d, "width": k, "block": "B(3,3)", "error": e, "table": "Table 4", "preprocessing": "ZCA",
            "tag": tag} for (d, k), (e, tag) in TABLE4_ZCA.items()]
    for name, row in THESIS.items():
        if size := wrn_size(name):
            table, tag = re.fullmatch(r"(Table \d+) \[(\w)\]", row["source"]).groups()
            out.append({"depth": size[0], "width": size[1], "block": "B(3,3)", "error": row["cifar-10"],
                        "table": table, "preprocessing": "meanstd", "tag": tag})
    out += [{"depth": d, "width": 2, "block": b, "error": e, "table": "Table 2", "preprocessing": "", "tag": "U"}
            for b, (d, e) in TABLE2_BLOCKS.items()]
    for p in out:
        p["params"] = parameters(p["depth"], p["width"], p["block"])
        p["compute"] = training_flops(p["depth"], p["width"], p["block"]) * THESIS_RECIPE["n_train"] * \
            THESIS_RECIPE["epochs"]
    return out


# --- ours ------------------------------------------------------------------------------------


@functools.cache
def _run_flops(model: str, shape: tuple[int, int, int], num_classes: int, kw: tuple) -> int:
    """Training FLOPs per image of a run's network, counted once for all its seeds."""
    return flops.train_flops(model, shape, num_classes=num_classes, **dict(kw))


def images_per_second(record) -> float:
    """Training images per second of a run: training-set size x epochs over its wall time (the
    evaluation after each epoch included)."""
    return record.data["n_train"] * len(record.history) / record.wall_time_s


def _variant(exp, profile: str, multiplier: dict[str, float]) -> str:
    """What sets a run apart from the profile's plain recipe ("" for a plain run)."""
    d = describe(exp.config())
    parts = [f"dropout {d['dropout']:g}"] * bool(d["dropout"]) + [f"l = {d['l']}"] * (d["l"] != 2)
    if multiplier.get(exp.key(), 1) != 1:
        parts.append(f"{multiplier[exp.key()]:g}x training")
    return ", ".join(parts)


def our_runs(profile: str, extra: Sequence[Experiment] = ()) -> tuple[list[dict], int]:
    """(the WRN runs of the chapter's experiments, and of ``extra`` (runs of ``trial``), that have a
    record, as dicts; how many WRN runs they make, each key once). Each run: depth, width, block, variant, dataset, shape, seed, error,
    params (as trained), epochs, n_train, wall_s, device, img_s, flops_image (one training step
    per image of its shape), compute (its whole training), rate (achieved training FLOP/s)."""
    multiplier = {e.key(): m for m, es in convergence(profile).items() for e in es}
    by_key: dict[str, Experiment] = {}
    for e in [*experiments(profile), *extra]:
        if e.task == "classify":
            by_key.setdefault(e.key(), e)  # a network the chapter trains too: drawn once
    exps = list(by_key.values())
    out = []
    for e in exps:
        r = records.find(e.key())
        if r is None:
            continue
        d = describe(r.config)
        shape = tuple(r.data["shape"])
        per_image = _run_flops(r.config["model"], shape, r.model_args.get("num_classes", 10),
                               tuple(sorted(r.config["model_kw"].items())))
        epochs = len(r.history)
        run = {"depth": d["depth"], "width": d["width"], "block": d["block"],
               "variant": _variant(e, profile, multiplier), "dataset": r.config["dataset"], "shape": shape,
               "seed": r.config["seed"], "error": r.final["test_error"], "params": r.final["params"],
               "epochs": epochs, "n_train": r.data["n_train"], "wall_s": r.wall_time_s, "device": machine(r),
               "img_s": images_per_second(r), "flops_image": per_image,
               "compute": per_image * r.data["n_train"] * epochs}
        run["rate"] = run["compute"] / run["wall_s"]
        out.append(run)
    return out, len(exps)


@dataclass
class Estimate:
    """How the speed of a network without a run is estimated: ``rate`` FLOP/s, the median training
    rate of our ``runs`` runs on ``device``, over the network's training FLOPs per 32x32 image (the
    explorer's geometry: the image size of our runs changes the FLOPs, not much the rate)."""
    rate: float
    device: str
    runs: int

    def img_s(self, depth: int, width: int, block: str) -> float:
        return self.rate / training_flops(depth, width, block)


def estimate_basis(runs: list[dict]) -> Estimate | None:
    """The basis of the speed estimates: the runs on the machine most of them were made on (None
    without runs)."""
    if not runs:
        return None
    device = Counter(r["device"] for r in runs).most_common(1)[0][0]
    there = [r for r in runs if r["device"] == device]
    return Estimate(median(r["rate"] for r in there), device, len(there))


CPU_TABLE = Path(__file__).resolve().parents[2] / "benchmarks" / "results" / "cpu.json"
AGREEMENT_FACTOR = 3.0  # the estimate is stated to be within this factor of the CPU benchmark table


def benchmark_agreement(estimate: Estimate | None, table: Path = CPU_TABLE) -> list[dict]:
    """The speed estimate set against the CPU benchmark table (``python -m benchmarks``: our engine,
    whole training path, 32x32, its own machine and threads) for every WRN it measured: per row the
    estimate (img/s, one thread, B(3,3)), the table's rate per thread and their ratio. [] without an
    estimate or a table."""
    if estimate is None or not table.exists():
        return []
    data = json.loads(table.read_text())
    threads = data["meta"]["threads"]
    out = []
    for r in data["rows"]:
        size = wrn_size(r["model"])
        if size is None or tuple(r["input"]) != CIFAR:
            continue
        d, k = size
        est, measured = estimate.img_s(d, k, "B(3,3)"), r["ours_train"] / threads
        out.append({"network": f"WRN-{d}-{k}", "batch": r["batch"], "estimate": est, "measured": measured,
                    "ratio": est / measured, "device": data["meta"]["device"], "date": data["meta"]["date"][:10]})
    return out


@dataclass
class Explorer:
    """Everything the explorer shows for one profile."""
    profile: str
    networks: list[dict]                   # the grid: depth, width, block, params, flops, thesis, ours, speed
    thesis: list[dict]                     # thesis_points()
    ours: list[dict]                       # our_runs(profile)[0]
    planned: int                           # WRN runs the chapter's experiments make
    estimate: Estimate | None


def speed(runs: list[dict], estimate: Estimate | None, depth: int, width: int, block: str) -> dict | None:
    """The training speed of a network: measured (the fastest of its plain runs, or of all its runs if
    it has no plain one, on the machine of the first: other work on a machine only ever slows a run
    down, so the fastest is the least disturbed) or estimated; None without a basis."""
    mine = [r for r in runs if (r["depth"], r["width"], r["block"]) == (depth, width, block)]
    plain = [r for r in mine if not r["variant"]] or mine
    if plain:
        device = plain[0]["device"]
        same = [r for r in plain if r["device"] == device]
        return {"measured": True, "img_s": max(r["img_s"] for r in same), "device": device, "runs": len(same),
                "shape": same[0]["shape"], "dataset": same[0]["dataset"]}
    if estimate is None:
        return None
    return {"measured": False, "img_s": estimate.img_s(depth, width, block), "device": estimate.device,
            "shape": CIFAR}


def explorer(profile: str, extra: Sequence[Experiment] = ()) -> Explorer:
    """The grid with the thesis's numbers and ours, from the records of ``profile`` (and of ``extra``)."""
    thesis = thesis_points()
    ours, planned = our_runs(profile, extra)
    est = estimate_basis(ours)
    nets = []
    for block in BLOCKS:
        for depth in DEPTHS:
            for width in WIDTHS:
                where = (depth, width, block)
                nets.append({"depth": depth, "width": width, "block": block,
                             "params": parameters(depth, width, block), "flops": training_flops(depth, width, block),
                             "thesis": [p for p in thesis if (p["depth"], p["width"], p["block"]) == where],
                             "ours": [r for r in ours if (r["depth"], r["width"], r["block"]) == where],
                             "speed": speed(ours, est, depth, width, block)})
    return Explorer(profile, nets, thesis, ours, planned, est)
