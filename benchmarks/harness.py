"""The benchmark: our training engine against the plain reference, in one process.

For every entry (a registered network, a batch size, an input shape) it measures, in rounds
that alternate between the implementations (``measure.interleaved``):

- ``ours_train``: ``wpcore.train.fit`` fed by ``wpcore.data.DeviceLoader`` (data on the device,
  batched crop/flip), channels_last, bf16 autocast and torch.compile on CUDA: images/s.
- ``ours_step``: the same ``fit`` fed pre-made batches: the model's step alone; with the FLOPs
  of a step (``torch.utils.flop_counter``) this gives GFLOP/s and the share of the matmul
  ceiling measured in the same process.
- ``plain_train`` / ``plain_step``: the plain reference (``benchmarks.plain``: functional WRN,
  NCHW, fp32, SGD as the official port, ``loss.item()`` every step), fed by a torch DataLoader
  with per-image PIL transforms, or pre-made batches.
- ``graphed_step`` / ``graphed_train`` (on CUDA, or with ``--graphs on``): the whole step captured in
  one CUDA graph and replayed (``benchmarks.graphed``), on the pre-made batches or the DeviceLoader's.
- the data pipelines alone (ours and the DataLoader), in images/s.

Entries whose network is not registered on this branch are listed as skipped with a note.
``python -m benchmarks --help``; ``benchmarks/gpu.sh`` runs the GPU table.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F

from . import graphed, measure, plain


@dataclass
class Entry:
    name: str                     # registry name
    batch: int
    input_shape: tuple | None     # (C, H, W) of one example; None: the model's example_loss()
    plain: str = "module"         # "wrn": functional reference; "module": our module run the plain way
    kw: dict = field(default_factory=dict)   # builder kwargs
    loss_kw: dict = field(default_factory=dict)  # example_loss kwargs (detector)
    compile: bool | None = None   # None: the run's default
    lr: float = 0.1               # the patch net diverges at 0.1 on random pairs (cost is unchanged)
    note: str = ""
    cost_shape: tuple | None = None  # a detector's input as the plan sees it (C, H, W); else input_shape


def default_entries(device: str, tiny: bool = False) -> list[Entry]:
    """The benchmark's networks. On CPU the widest ones get small batches so a step stays seconds."""
    if tiny:
        return [Entry("wrn-10-1", 8, (3, 16, 16), "wrn"),
                Entry("diracnet-10-1", 8, (3, 16, 16)),
                Entry("2ch", 8, (2, 64, 64), kw={"width": 0.25}, lr=1e-3),
                Entry("fast-rcnn", 2, None, kw=_detector_example(), loss_kw={"batch_size": 2, "size": 64})]
    gpu = device == "cuda"
    det_batch, det_size = (16, 256) if gpu else (2, 128)
    big = Entry("wrn-28-10", 128 if gpu else 16, (3, 32, 32), "wrn", compile=True if gpu else None)
    return [  # on a GPU the target (WRN-28-10) goes first, so a time budget never drops it
        *([big] if gpu else []),
        Entry("wrn-16-1", 128, (3, 32, 32), "wrn"),
        Entry("wrn-16-2", 128, (3, 32, 32), "wrn"),
        Entry("wrn-16-4", 128, (3, 32, 32), "wrn"),
        *([] if gpu else [big]),
        Entry("diracnet-34-2", 128 if gpu else 64, (3, 32, 32)),
        Entry("2ch", 128, (2, 64, 64), lr=1e-3, note="DeepCompare 2ch, pairs of 64x64 patches; hinge loss"),
        Entry("fast-rcnn", det_batch, None, loss_kw={"batch_size": det_batch, "size": det_size},
              note=f"detector: trunk + RPN + RoI head, example_loss on {det_size}px images"),
        # last, so the time budget drops it first: is batch 128 what keeps WRN-28-10 from the peak?
        *([Entry("wrn-28-10", 512, (3, 32, 32), "wrn", compile=True, note="batch 512: beyond the thesis recipe")]
          if gpu else []),
    ]


def full_entries() -> list[Entry]:
    """One entry per distinct network, builder arguments, batch and input that the `full` profile
    trains (``wpcore.plan``), so the measured table covers every run the plan costs
    (``wpcore.cost`` matches a row by model, arguments, batch and input)."""
    import json as _json

    from wpcore import cost, plan

    out: dict[tuple, Entry] = {}
    for it in plan.build("full"):
        e = it.exp
        f = cost.facts(e)
        if f.kind is cost.Kind.NONE:
            continue
        key = (e.model, _json.dumps(e.model_kw, sort_keys=True), e.batch_size, f.shape)
        if key in out:
            continue
        if f.kind is cost.Kind.DETECTOR:
            out[key] = Entry(e.model, e.batch_size, None, kw=dict(e.model_kw), cost_shape=f.shape,
                             loss_kw={"batch_size": e.batch_size, "size": f.shape[1]}, note="full profile")
        else:
            kw = dict(e.model_kw) if f.kind is cost.Kind.PAIRS else {**e.model_kw, "num_classes": f.num_classes}
            out[key] = Entry(e.model, e.batch_size, f.shape, kw=kw, lr=1e-3 if f.kind is cost.Kind.PAIRS else 0.1,
                             compile=True if e.model == "wrn-28-10" else None, note="full profile")
    return list(out.values())


def _detector_example() -> dict:
    from wpcore.nets import registry

    return registry.example_kwargs("fast-rcnn")


def is_registered(name: str) -> bool:
    from wpcore.nets import registry

    return any(p.match(name) for p, _, _ in registry._PATTERNS)


# --- objectives ------------------------------------------------------------------------------

def hinge_objective(model, batch) -> torch.Tensor:
    """DeepCompare's hinge loss: labels in {-1, +1}, scores (N,)."""
    x, y = batch
    return F.relu(1 - y.float() * model(x).float().view(-1)).mean()


def objective_for(model, entry: Entry) -> Callable:
    from wpcore.train import classification_objective

    if entry.input_shape is None:
        kw, device = dict(entry.loss_kw), next(model.parameters()).device

        def detector_loss(m, batch):  # m may be the compiled wrapper; example_loss is a method of model
            with torch.device(device):  # example_loss makes its synthetic images with factory calls
                return model.example_loss(**kw)
        return detector_loss
    return hinge_objective if entry.name.startswith(("2ch", "siam", "pseudo-siam")) else classification_objective


def make_batch(entry: Entry, device: torch.device, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    if entry.input_shape is None:
        return None  # the detector makes its own synthetic batch in example_loss
    x = torch.randn(entry.batch, *entry.input_shape, generator=g).to(device)
    if entry.name.startswith(("2ch", "siam", "pseudo-siam")):
        y = torch.randint(0, 2, (entry.batch,), generator=g).to(device) * 2 - 1
    else:
        y = torch.randint(0, 10, (entry.batch,), generator=g).to(device)
    return x, y


def build(entry: Entry, device: torch.device):
    from wpcore.nets import create

    kw = dict(entry.kw)
    if entry.name.startswith(("wrn-", "diracnet-")):  # classifiers: CIFAR-like 10 classes
        kw.setdefault("num_classes", 10)
        kw.setdefault("in_channels", entry.input_shape[0])
    return create(entry.name, **kw).to(device)


def random_images(n: int, shape: tuple, seed: int = 0):
    """A CIFAR-like ImageSet of ``n`` random uint8 images (the cost does not depend on content)."""
    from wpcore.data.images import ImageSet

    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, 256, (n, *shape), generator=g, dtype=torch.uint8)
    y = torch.randint(0, 10, (n,), generator=g)
    return ImageSet("random", "train", x, y, [str(i) for i in range(10)], f"random:{n}:{shape}")


# --- runners: each call runs warm + steps steps and returns images/s of the timed steps --------

class ListBatches(list):
    """Pre-made batches: ``fit`` sees a loader that costs nothing."""


def ours_runner(model, batches, objective, entry: Entry, device: torch.device, warm: int, steps: int,
                compile: bool, amp: bool | None) -> Callable[[], float]:
    """``fit`` itself, timed by its own progress rows (one row, hence one sync, every ``warm`` steps)."""
    from wpcore.train import FitConfig, fit

    def run() -> float:
        rows: dict[int, float] = {}
        cfg = FitConfig(epochs=1, lr=entry.lr, max_steps=warm + steps, log_every=warm, compile=compile, amp=amp)
        fit(model, batches, cfg, objective=objective, device=device,
            log=lambda r: rows.__setitem__(r["step"], r["elapsed_s"]) if "step" in r else None)
        return steps * entry.batch / (rows[warm + steps] - rows[warm])

    return run


def plain_runner(model, opt, batches: Callable, objective, entry: Entry, device: torch.device,
                 warm: int, steps: int) -> Callable[[], float]:
    """The port's loop: ``for batch in loader: cast to device; plain_step``; host-synced every step."""

    def step(b) -> None:
        b = tuple(t.to(device, non_blocking=True) for t in b) if isinstance(b, (tuple, list)) else b
        plain.plain_step(model, opt, b, objective)

    def run() -> float:
        model.train()
        return steps * entry.batch / measure.timed_loop(device, warm, steps, batches(), step)

    return run


def pipeline_rates(shape: tuple, batch: int, device: torch.device, n_batches: int, workers: int,
                   rounds: int) -> dict[str, float]:
    """Images/s of the two data pipelines alone (CIFAR-like crop + flip + normalise)."""
    from wpcore.data import DeviceLoader

    data = random_images(batch * n_batches, shape)
    mean, std = data.mean_std()
    ours = DeviceLoader(data, batch, True, device, mean, std, crop=4, flip=True)
    loader = plain.plain_loader(data.images, data.labels, batch, mean, std, workers)

    def time_ours() -> float:
        t = time.perf_counter()
        for x, _ in ours:
            pass
        measure.sync(device)
        return len(ours) * batch / (time.perf_counter() - t)

    def time_plain() -> float:
        t = time.perf_counter()
        n = 0
        for x, _ in loader:
            x = x.to(device, non_blocking=True)
            n += len(x)
        measure.sync(device)
        return n / (time.perf_counter() - t)

    time_ours()  # warm-up (allocations; workers start)
    time_plain()
    r = measure.interleaved({"ours": time_ours, "plain": time_plain}, rounds)
    return {"ours": measure.median(r["ours"]), "plain": measure.median(r["plain"]),
            "ours_rounds": r["ours"], "plain_rounds": r["plain"]}


def plain_runners(entry: Entry, row: dict, batch, n: int, device: torch.device, args, warm: int, steps: int,
                  images) -> dict[str, Callable[[], float]]:
    """The plain reference: the functional WRN, or our module used the plain way (NCHW, fp32, eager),
    on the pre-made batch and (``images``: the entry's (ImageSet, mean, std)) through a DataLoader."""
    if entry.plain == "wrn":
        d, k = (int(v) for v in entry.name.split("-")[1:3])
        ref = plain.PlainWRN(d, k, 10, entry.input_shape[0]).to(device)
        row["plain_params_match"] = sum(p.numel() for p in ref.parameters()) == row["params"]
        ref_objective = None
    else:
        torch.manual_seed(0)
        ref = build(entry, device)
        ref_objective = objective_for(ref, entry)
    ref_opt = plain.plain_optimizer(ref, lr=entry.lr)
    row["plain"] = "functional WRN (official port's way)" if entry.plain == "wrn" else "same module, NCHW fp32 eager"
    runners = {"plain_step": plain_runner(ref, ref_opt, lambda: [batch] * n, ref_objective, entry, device, warm, steps)}
    if images is not None:
        data, mean, std = images
        workers = args.workers if args.workers is not None else (min(8, os.cpu_count() or 1)
                                                                 if device.type == "cuda" else 0)
        pl = plain.plain_loader(data.images, data.labels, entry.batch, mean, std, workers)
        runners["plain_train"] = plain_runner(ref, ref_opt, lambda: pl, ref_objective, entry, device, warm, steps)
    return runners


# --- one entry ---------------------------------------------------------------------------------

def bench_entry(entry: Entry, device: torch.device, args) -> dict:
    row: dict = {"model": entry.name, "batch": entry.batch, "input": list(entry.cost_shape or entry.input_shape or []),
                 "kw": {k: v for k, v in entry.kw.items() if k not in ("num_classes", "in_channels")},
                 "kind": "detector" if entry.input_shape is None else "input", "note": entry.note}
    if not is_registered(entry.name):
        row["skipped"] = f"{entry.name} is not in the registry on this branch (another chapter adds it)"
        return row
    if device.type == "cuda":
        torch._dynamo.reset()  # each entry compiles its own graphs, whatever the entries before it
        torch.cuda.reset_peak_memory_stats(device)
    torch.manual_seed(0)
    model = build(entry, device)
    objective = objective_for(model, entry)
    batch = make_batch(entry, device)
    row["params"] = sum(p.numel() for p in model.parameters())
    model.train()
    row["flop_per_img"] = measure.count_flops(lambda: objective(model, batch).backward()) / entry.batch
    model.zero_grad(set_to_none=True)
    compile = args.compile if entry.compile is None else entry.compile
    amp = None if args.amp == "auto" else args.amp == "on"
    warm, steps = args.warm, args.steps
    if steps is None:  # aim at ~args.seconds of timed steps per round
        probe = torch.optim.SGD(model.parameters(), lr=0.0)
        for _ in range(2 if device.type == "cuda" else 1):  # on CUDA the first step autotunes
            t = time.perf_counter()
            plain.plain_step(model, probe, batch, objective)
        steps = max(2, min(200, math.ceil(args.seconds / max(time.perf_counter() - t, 1e-4))))
    steps = -(-steps // warm) * warm  # a multiple of warm: fit logs a row every `warm` steps
    row.update(warm=warm, steps=steps, compile=compile)

    n = warm + steps
    runners: dict[str, Callable[[], float]] = {}
    cl = torch.channels_last if batch is not None and batch[0].dim() == 4 else torch.contiguous_format
    premade = ListBatches([(batch[0].contiguous(memory_format=cl), batch[1]) if batch else None] * n)
    runners["ours_step"] = ours_runner(model, premade, objective, entry, device, warm, steps, compile, amp)
    # the CIFAR-like pipeline (DeviceLoader crop + flip) for small images; ImageNet-size inputs are
    # timed on pre-made batches (the plan caps them by JPEG decoding, wpcore/cost.py)
    images = entry.input_shape is not None and not entry.name.startswith(("2ch", "siam", "pseudo-siam")) \
        and entry.input_shape[-1] <= 64
    if images:
        from wpcore.data import DeviceLoader

        data = random_images(n * entry.batch, entry.input_shape)
        mean, std = data.mean_std()
        loader = DeviceLoader(data, entry.batch, True, device, mean, std, crop=4, flip=True)
        runners["ours_train"] = ours_runner(model, loader, objective, entry, device, warm, steps, compile, amp)

    if args.graphs and batch is not None:  # the whole step in one CUDA graph (benchmarks/graphed.py)
        capture = device.type == "cuda"
        try:
            runners["graphed_step"] = graphed.graphed_runner(model, lambda: premade, objective, entry.lr, device,
                                                             warm, steps, args.bf16, capture)
            if images:
                runners["graphed_train"] = graphed.graphed_runner(model, lambda: loader, objective, entry.lr, device,
                                                                  warm, steps, args.bf16, capture)
        except Exception as err:  # a failed capture costs this column, not the entry
            if args.strict:
                raise
            runners.pop("graphed_step", None)
            row["graphed"] = f"failed: {type(err).__name__}: {str(err).splitlines()[0][:200]}"
        row.setdefault("graphed", "captured" if capture else "eager (no CUDA graph on this device)")

    if not args.ours_only:
        runners.update(plain_runners(entry, row, batch, n, device, args, warm, steps,
                                     (data, mean, std) if images else None))

    for fn in runners.values():  # warm-up round (compilation, allocator, workers), not kept
        fn()
    # the ceiling is measured in every round too, next to the steps: on a shared machine the share
    # of the ceiling is the median of per-round ratios, not a ratio of two medians taken apart
    # in the arithmetic our step runs in: a bf16 GEMM when autocast is on, else fp32
    gemm_dtype = torch.bfloat16 if args.bf16 else torch.float32
    runners["ceiling"] = lambda: measure.matmul_ceiling(device, n=args.gemm, dtype=gemm_dtype, repeats=3)
    rates = measure.interleaved(runners, args.rounds)
    for k, v in rates.items():
        row[k] = measure.median(v)
        row[k + "_rounds"] = [round(r, 2) for r in v]
    row["ceiling_gflops"] = row.pop("ceiling")
    row["gflops"] = row["ours_step"] * row["flop_per_img"] / 1e9
    row["ceiling_share"] = measure.median([s * row["flop_per_img"] / 1e9 / c for s, c in
                                           zip(rates["ours_step"], rates["ceiling"])])
    if "plain_step" in row:
        row["plain_gflops"] = row["plain_step"] * row["flop_per_img"] / 1e9
        row["step_ratio"] = row["ours_step"] / row["plain_step"]
    if device.type == "cuda":
        row["peak_memory_gib"] = torch.cuda.max_memory_allocated(device) / 2 ** 30
    if images and "plain_train" in row:
        row["train_ratio"] = row["ours_train"] / row["plain_train"]
    if "graphed_step" in row:
        row["graphed_step_ratio"] = row["graphed_step"] / row["ours_step"]
    return row


# --- the table -----------------------------------------------------------------------------------

def _f(v, fmt=None) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    return fmt.format(v) if fmt else (f"{v:.0f}" if abs(v) >= 100 else f"{v:.3g}")


def table(result: dict) -> str:
    """One markdown table: throughput, ratios, GFLOP/s, share of the ceiling, pipeline headroom."""
    pipe = result.get("pipeline", {})
    head = ("| model | batch | ours train img/s | plain train img/s | train ratio | ours step img/s | "
            "plain step img/s | step ratio | GFLOP/s | % of matmul ceiling | pipeline / consumption |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in result["rows"]:
        if "skipped" in r:
            lines.append(f"| {r['model']} | {r['batch']} | skipped: {r['skipped']} |" + " |" * 8)
            continue
        p = pipe.get("x".join(map(str, r["input"])), {})
        head_room = p.get("ours") / r["ours_train"] if p and r.get("ours_train") else None
        lines.append(
            f"| {r['model']} | {r['batch']} | {_f(r.get('ours_train'))} | {_f(r.get('plain_train'))} | "
            f"{_f(r.get('train_ratio'), '{:.2f}x')} | {_f(r['ours_step'])} | {_f(r.get('plain_step'))} | "
            f"{_f(r.get('step_ratio'), '{:.2f}x')} | {_f(r['gflops'])} | {_f(100 * r['ceiling_share'], '{:.0f}%')} | "
            f"{_f(head_room, '{:.0f}x')} |")
    graphed_rows = [r for r in result["rows"] if "graphed" in r]
    if graphed_rows:  # the whole step in one CUDA graph, against ours (fit) on the same data
        lines += ["", ("| model | batch | whole step | ours train img/s | graphed train img/s | ours step img/s | "
                       "graphed step img/s | graphed / ours (step) |"), "|" + "---|" * 8]
        for r in graphed_rows:
            lines.append(f"| {r['model']} | {r['batch']} | {r['graphed']} | {_f(r.get('ours_train'))} | "
                         f"{_f(r.get('graphed_train'))} | {_f(r.get('ours_step'))} | {_f(r.get('graphed_step'))} | "
                         f"{_f(r.get('graphed_step_ratio'), '{:.2f}x')} |")
    m = result["meta"]
    lines.append("")
    lines.append(f"Matmul ceiling ({m['gemm']}): median {m['ceiling_gflops']:.0f} GFLOP/s "
                 f"(per entry: {', '.join(f'{c:.0f}' for c in m['ceilings'])}).")
    peak = _datasheet_peak(m["device"])
    if peak:  # the GPU target is a share of the datasheet peak, not of the measured GEMM
        lines.append(f"Share of the datasheet dense bf16 peak ({peak:.0f} TFLOP/s): " + ", ".join(
            f"{r['model']} @{r['batch']} {100 * r['gflops'] / 1e3 / peak:.0f}%" for r in result["rows"] if "gflops" in r) + ".")
    mem = [f"{r['model']} @{r['batch']} {r['peak_memory_gib']:.1f}" for r in result["rows"] if "peak_memory_gib" in r]
    if mem:
        lines.append("Peak GPU memory (GiB, both implementations of the entry): " + ", ".join(mem) + ".")
    for shape, p in pipe.items():
        lines.append(f"Data pipeline {shape}, batch {p['batch']}: ours {p['ours']:.0f} img/s, "
                     f"DataLoader+PIL ({p['workers']} workers) {p['plain']:.0f} img/s ({p['ours'] / p['plain']:.1f}x).")
    lines.append(f"Ours in {m.get('ours_precision', '?')}; the plain reference in fp32. "
                 f"Device: {m['device']}; torch {m['torch']}; threads {m['threads']}; "
                 f"load average before {m['load_before']}, after {m['load_after']}; {m['date']}.")
    return "\n".join(lines)


def _datasheet_peak(device_name: str) -> float | None:
    """Dense bf16 TFLOP/s of the card by its datasheet (performance.md), where we know it."""
    for key, tflops in (("H100", 989.0), ("H200", 989.0), ("A100", 312.0)):
        if key in device_name:
            return tflops
    return None


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    p.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    p.add_argument("--tiny", action="store_true", help="tiny networks and inputs, one round (the tests)")
    p.add_argument("--models", default=None, help="comma-separated subset of the entries, e.g. wrn-16-1,wrn-16-4")
    p.add_argument("--rounds", type=int, default=None, help="timing rounds per implementation (median kept)")
    p.add_argument("--warm", type=int, default=None, help="untimed steps per round (also fit's log interval)")
    p.add_argument("--steps", type=int, default=None, help="timed steps per round (default: ~--seconds)")
    p.add_argument("--seconds", type=float, default=None, help="target timed seconds per round")
    p.add_argument("--threads", type=int, default=None, help="CPU threads (default: all cores)")
    p.add_argument("--workers", type=int, default=None, help="DataLoader workers of the plain reference")
    p.add_argument("--compile", action="store_true", help="torch.compile our model in every entry")
    p.add_argument("--amp", choices=("auto", "on", "off"), default="auto",
                   help="bf16 autocast for ours (auto: where native, as fit does: wpcore/precision.py)")
    p.add_argument("--profile-set", choices=("default", "full"), default="default",
                   help="full: one entry per network, arguments, batch and input the full profile trains "
                        "(what `plan --profile full` costs; write it with --json benchmarks/results/gpu_full.json)")
    p.add_argument("--ours-only", action="store_true", help="skip the plain reference (the cost table needs ours)")
    p.add_argument("--graphs", choices=("auto", "on", "off"), default="auto",
                   help="also time the whole step captured in a CUDA graph (auto: on CUDA; on a CPU it runs eagerly)")
    p.add_argument("--gemm", type=int, default=None, help="matmul ceiling size (default 2048 CPU, 8192 CUDA)")
    p.add_argument("--batch", action="append", default=[], metavar="MODEL=N", help="batch size of one entry")
    p.add_argument("--budget", type=float, default=None, help="seconds; entries not started by then are skipped")
    p.add_argument("--strict", action="store_true", help="stop at the first failing entry (default: note it)")
    p.add_argument("--json", default=None, help="write the full result here")
    p.add_argument("--md", default=None, help="write the table here")
    a = p.parse_args(argv)
    a.device = torch.device(a.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    from wpcore import precision  # what fit's autocast will do: bf16 where the hardware has it natively

    a.bf16 = precision.resolve("auto", a.device) == "bf16" if a.amp == "auto" else a.amp == "on"
    gpu = a.device.type == "cuda"
    a.graphs = gpu if a.graphs == "auto" else a.graphs == "on"
    if a.tiny:
        a.rounds, a.warm, a.steps = a.rounds or 1, a.warm or 1, a.steps or 1
        a.gemm = a.gemm or 256
    a.rounds = a.rounds or 3
    a.warm = a.warm or (5 if gpu else 1)
    a.seconds = a.seconds or (2.0 if gpu else 3.0)
    return a


def run(args) -> dict:
    device = args.device
    if device.type == "cpu":
        torch.set_num_threads(args.threads or os.cpu_count() or 1)
    else:
        torch.backends.cudnn.benchmark = True  # as the official main.py; for both implementations
    entries = full_entries() if args.profile_set == "full" else default_entries(device.type, args.tiny)
    if args.models:
        wanted = args.models.split(",")
        entries = [e for e in entries if e.name in wanted]
    for spec in args.batch:  # --batch wrn-16-4=32
        name, _, b = spec.partition("=")
        for e in entries:
            if e.name == name:
                e.batch = int(b)
                if e.input_shape is None:
                    e.loss_kw["batch_size"] = int(b)
    meta = {"device": _device_name(device), "torch": torch.__version__, "threads": torch.get_num_threads(),
            "load_before": _load(), "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "gemm": f"{'bf16' if args.bf16 else 'fp32'} {args.gemm or (8192 if device.type == 'cuda' else 2048)}^3",
            "ours_precision": "bf16 autocast" if args.bf16 else "fp32",
            "rounds": args.rounds, "tiny": args.tiny}
    rows = []
    t_run = time.perf_counter()
    for e in entries:
        t = time.perf_counter()
        if args.budget and t - t_run > args.budget:
            rows.append({"model": e.name, "batch": e.batch, "input": list(e.input_shape or []),
                         "skipped": f"time budget of {args.budget:.0f} s spent"})
            continue
        try:
            rows.append(bench_entry(e, device, args))
        except Exception as err:  # one failing entry must not cost the rest of the table
            if args.strict:
                raise
            rows.append({"model": e.name, "batch": e.batch, "input": list(e.input_shape or []),
                         "skipped": f"failed: {type(err).__name__}: {str(err).splitlines()[0][:200]}"})
        rows[-1]["wall_s"] = round(time.perf_counter() - t, 1)
        print(f"# {e.name}: {_summary(rows[-1])}", file=sys.stderr, flush=True)
    pipeline = {}
    for shape, batch in sorted({(tuple(r["input"]), r["batch"]) for r in rows
                                if "ours_train" in r}, key=lambda s: -s[1]):  # the largest batch per shape
        workers = args.workers if args.workers is not None else (min(8, os.cpu_count() or 1)
                                                                 if device.type == "cuda" else 0)
        key = "x".join(map(str, shape))
        if key in pipeline:
            continue
        pipeline[key] = {"batch": batch, "workers": workers,
                         **pipeline_rates(shape, batch, device, 4 if args.tiny else 20, workers, args.rounds)}
    ceilings = [r["ceiling_gflops"] for r in rows if "ceiling_gflops" in r]
    meta.update(load_after=_load(), ceilings=ceilings, ceiling_gflops=measure.median(ceilings),
                platform=platform.platform())
    return {"meta": meta, "rows": rows, "pipeline": pipeline}


def _summary(r: dict) -> str:
    if "skipped" in r:
        return "skipped (" + r["skipped"] + ")"
    return ", ".join(f"{k} {r[k]:.1f}" for k in ("ours_train", "plain_train", "ours_step", "plain_step", "gflops")
                     if k in r) + f" ({r['wall_s']} s)"


def _load() -> list[float] | None:
    la = measure.load_average()
    return [round(v, 2) for v in la] if la else None


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"CPU {platform.processor() or platform.machine()}, {os.cpu_count()} cores"


def main(argv=None) -> int:
    args = parse_args(argv)
    result = run(args)
    text = table(result)
    print(text)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(result, indent=1))
    if args.md:
        Path(args.md).parent.mkdir(parents=True, exist_ok=True)
        Path(args.md).write_text(text + "\n")
    return 0
