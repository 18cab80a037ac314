"""Retrain published records and compare: does each record say what its code makes?

``python -m wpcore records --profile standard verify --chapter attention --index 4`` trains the
experiment of each chosen record again (``experiment.of_record``: its config, its seed) into a
scratch folder that is deleted afterwards, so nothing in ``runs/`` or ``results/`` changes, and
compares every number of the two histories, epoch by epoch, and of the final results (times
apart). On the machine and precision that made a record, training is deterministic and the numbers
agree exactly; on another CPU or a GPU the order of floating-point sums differs, so
``--tolerance`` allows a difference.
"""
from __future__ import annotations

import contextlib
import math
import tempfile
from dataclasses import dataclass
from pathlib import Path

from . import experiment
from .records import Record


@dataclass
class Comparison:
    key: str
    label: str
    max_diff: float      # the largest absolute difference of any number of the histories
    where: str           # "epoch 20 test_error: 12.56 vs 12.57", or why they cannot be compared
    published_s: float   # wall times of the two trainings
    retrained_s: float

    def agrees(self, tolerance: float = 0.0) -> bool:
        return self.max_diff <= tolerance


def difference(published: Record, again: Record) -> tuple[float, str]:
    """(largest absolute difference, where) over every number of the two histories and final results
    but times; a NaN matches only a NaN, and histories of different lengths do not compare (infinite
    difference)."""
    if len(published.history) != len(again.history):
        return math.inf, f"{len(published.history)} vs {len(again.history)} history rows"
    worst, where = 0.0, "every number equal"
    final = ({"epoch": "final", **published.final}, again.final)
    for a, b in [*zip(published.history, again.history), final]:
        for k, va in a.items():
            vb = b.get(k)
            if k in ("time_s", "epoch") or isinstance(va, bool) or not isinstance(va, (int, float)):
                continue
            if not isinstance(vb, (int, float)):
                return math.inf, f"epoch {a.get('epoch')} {k}: {va} vs missing"
            d = 0.0 if (math.isnan(va) and math.isnan(vb)) else abs(va - vb)
            d = math.inf if math.isnan(d) else d
            if d > worst:
                worst, where = d, f"epoch {a.get('epoch')} {k}: {va:.6g} vs {vb:.6g}"
    return worst, where


@contextlib.contextmanager
def threads_of(record: Record, device: str | None):
    """On a CPU, train with the thread count that made ``record`` (bf16 and fp32 sums are split
    differently across threads, and a detector's training then drifts: a MultiPath record trained
    with 1 thread and verified with 2 differed by 7 APm points); elsewhere, leave it."""
    import torch

    threads = record.device.get("threads")
    cpu = (device or experiment.default_device().type) == "cpu" and record.device.get("type") == "cpu"
    before = torch.get_num_threads()
    if cpu and threads:
        torch.set_num_threads(int(threads))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def verify(record: Record, device: str | None = None, log=None) -> Comparison:
    """Train ``record``'s experiment again in a scratch folder (on a CPU with the record's thread
    count) and compare the histories."""
    exp = experiment.of_record(record)
    with tempfile.TemporaryDirectory(prefix="wpcore-verify-") as scratch, threads_of(record, device):
        again = experiment.run(exp, device=device, force=True, resume=False, runs=Path(scratch), log=log)
    d, where = difference(record, again)
    # the label is the record's own (labels are not part of the key, so a record reused by a later
    # design keeps the label it was made with): seed and epochs say which run it is
    label = f"{exp.label or exp.model}, seed {exp.seed}, {exp.epochs} epochs"
    return Comparison(record.key, label, d, where, record.wall_time_s, again.wall_time_s)


def table(results: list[Comparison], tolerance: float) -> str:
    rows = [f"{'key':16s}  {'run':52s} {'largest difference':>18s}  {'verdict':8s} where; wall time published -> again"]
    for c in results:
        rows.append(f"{c.key:16s}  {c.label[:52]:52s} {c.max_diff:18.3g}  {'agrees' if c.agrees(tolerance) else 'DIFFERS':8s} "
                    f"{c.where}; {c.published_s:.0f} s -> {c.retrained_s:.0f} s")
    return "\n".join(rows)
