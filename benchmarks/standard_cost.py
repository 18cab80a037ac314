"""What the `standard` book costs to train from nothing on this machine, measured two epochs a run shape.

``python -m benchmarks.standard_cost [--workers 2] [--chapters ...] [--merge] [--out benchmarks/results/standard_cost]``

``--chapters X --merge`` measures chapter X again and replaces its shapes and runs in the existing
table, keeping the other chapters' measurements (after a change to one chapter's design; the
table then says which chapters were measured when).

A rebuild of every `standard` record takes hours; the records' own wall times were taken on a machine
often loaded by other work, so they overstate it (up to 15x, `records verify` re-timings). This
benchmark measures instead: every distinct run shape of the book (a run with its seed and length
set aside) trains for **two epochs** through ``wpcore.experiment.run`` (data, model, teacher, two
epochs of ``fit`` with their evaluations, the record) into a scratch folder, on ``--workers``
processes with one thread each, which is how ``python -m wpcore book`` trains on a CPU
(``fanout.run_packed``). Each run then costs ``setup + first + (epochs - 1) x epoch`` seconds, where
``first`` is the first epoch's training and evaluation (warm-up included), ``epoch`` the second's
(the steady state) and ``setup`` the rest of the wall time (data, model, record). The book's
training span is the sum over its runs divided by the workers. (Until 2026-12-06 it measured one
epoch and counted every epoch as the first; first epochs turned out 0.7-1.17x of the second, so
that changed the total by under 10%: the machine changes it by 2x, see the results' README.)
"""
from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .measure import cpu_model, load_average


def runs(chapters: list[str] | None = None) -> list[tuple[str, int, object]]:
    """(chapter, index, experiment) of every `standard` run of the chapters (default all)."""
    from wpcore.scorecard import study_modules

    return [(m.CHAPTER, i, e) for m in study_modules() if not chapters or m.CHAPTER in chapters
            for i, e in enumerate(m.experiments("standard"))]


MEASURED = 2  # epochs trained per run shape: the first (warm-up) and one in the steady state


def shape(exp):
    """The run cut to two epochs (no training when it has none), seed and label kept out of its identity."""
    return dataclasses.replace(exp, epochs=min(exp.epochs, MEASURED), label="")


def shape_id(exp) -> str:
    return dataclasses.replace(shape(exp), seed=0).key()


def child(items: list[str], start_at: float, runs_dir: str) -> None:
    """Train each ``chapter:index`` cut to two epochs; print one JSON line per run."""
    import torch

    torch.set_num_threads(1)
    from wpcore.experiment import run

    table = {f"{c}:{i}": e for c, i, e in runs()}
    time.sleep(max(0.0, start_at - time.time()))
    for item in items:
        exp = shape(table[item])
        t0 = time.perf_counter()
        rec = run(exp, device="cpu", force=True, runs=Path(runs_dir))
        wall = time.perf_counter() - t0
        times = [h.get("time_s", 0.0) for h in rec.history]  # cumulative, after each epoch's evaluation
        first = times[0] if times else 0.0
        epoch = times[1] - times[0] if len(times) > 1 else first
        print(json.dumps({"item": item, "wall_s": wall, "first_s": first, "epoch_s": epoch,
                          "trained_s": times[-1] if times else 0.0}), flush=True)


def estimate(measured: dict, epochs: int, eval_every: int = 1) -> float:
    """Seconds of a run of ``epochs`` from its shape's two measured epochs: setup, the first epoch,
    then the second's time for each further one (a run without training costs its setup). A run
    that evaluates every ``eval_every`` > 1 epochs (and after its last, as ``fit`` does) has a
    shape whose first epoch is training alone and whose second is training and evaluation: each
    epoch then costs the first's time and each evaluation the difference (MultiPath, every 6th;
    counting an evaluation after every epoch overstated its runs by about 40%)."""
    if not epochs:
        return measured["setup_s"]
    if eval_every <= 1:
        return measured["setup_s"] + measured["first_s"] + (epochs - 1) * measured["epoch_s"]
    evaluations = epochs // eval_every + (epochs % eval_every != 0)
    return (measured["setup_s"] + epochs * measured["first_s"]
            + evaluations * max(measured["epoch_s"] - measured["first_s"], 0.0))


def by_shape(measured_shapes: dict) -> dict[str, dict]:
    """The table's measured shapes by shape id (each entry names its ``shape``): a run finds its
    measurement by what it trains, not by its position in a chapter, which a new experiment shifts."""
    return {m["shape"]: m for m in measured_shapes.values()}


def run_entries(everything, measured_shapes: dict) -> list[dict]:
    """Each run's estimate (from its shape's measurement) and its record's own wall time."""
    from wpcore import records

    measured = by_shape(measured_shapes)
    out = []
    for c, i, e in everything:
        rec = records.find(e.key())
        out.append({"chapter": c, "index": i, "label": e.name(), "epochs": e.epochs, "eval_every": e.eval_every,
                    "estimate_s": estimate(measured[shape_id(e)], e.epochs, e.eval_every),
                    "recorded_s": rec.wall_time_s if rec else None})
    return out


def split(items: list[tuple[str, float]], workers: int) -> list[list[str]]:
    """Longest first, each to the least loaded worker."""
    loads = [0.0] * workers
    out: list[list[str]] = [[] for _ in range(workers)]
    for item, cost in sorted(items, key=lambda x: -x[1]):
        w = loads.index(min(loads))
        out[w].append(item)
        loads[w] += cost
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--chapters", nargs="*")
    ap.add_argument("--out", default="benchmarks/results/standard_cost")
    ap.add_argument("--merge", action="store_true",
                    help="with --chapters: replace those chapters in the existing table, keep the others")
    ap.add_argument("--reestimate", action="store_true",
                    help="measure nothing: estimate every run again from the table's measured shapes (after a "
                         "change to the estimate, or to runs' lengths); refused when a run's shape was not measured")
    ap.add_argument("--child", nargs="*", help=argparse.SUPPRESS)
    ap.add_argument("--start-at", type=float, help=argparse.SUPPRESS)
    ap.add_argument("--runs", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.child is not None:
        child(a.child, a.start_at, a.runs)
        return 0
    from wpcore import records

    everything = runs(a.chapters)
    shapes: dict[str, tuple[str, float]] = {}  # shape id -> (first chapter:index, recorded s per epoch)
    for c, i, e in everything:
        sid = shape_id(e)
        if sid not in shapes:
            rec = records.find(e.key())
            per = rec.wall_time_s / max(e.epochs, 1) if rec else 60.0
            shapes[sid] = (f"{c}:{i}", per)
    if a.reestimate:
        return reestimate(Path(a.out), everything, shapes)
    result = {"date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), "cpus": os.cpu_count(), "cpu": cpu_model(),
              "workers": a.workers, "load_before": load_average(), "shapes": {}, "runs": []}
    t_start = time.time()
    with tempfile.TemporaryDirectory() as scratch:
        start_at = time.time() + 20.0  # every child has imported torch and built its experiments by then
        env = os.environ | {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        procs = [subprocess.Popen([sys.executable, "-m", "benchmarks.standard_cost", "--child", *part,
                                   "--start-at", str(start_at), "--runs", scratch], env=env,
                                  stdout=subprocess.PIPE, text=True)
                 for part in split(list(shapes.values()), a.workers)]
        measured = {}
        for p in procs:
            out, _ = p.communicate()
            if p.returncode:
                raise RuntimeError(f"a child failed ({p.returncode})")
            for line in out.splitlines():
                if line.startswith("{"):
                    x = json.loads(line)
                    measured[x["item"]] = x
    result["span_s"] = time.time() - t_start
    by_item = {f"{c}:{i}": e for c, i, e in everything}
    for sid, (item, _) in shapes.items():
        m = measured[item]
        result["shapes"][item] = {"label": by_item[item].name(), "setup_s": max(m["wall_s"] - m["trained_s"], 0.0),
                                  "first_s": m["first_s"], "epoch_s": m["epoch_s"], "shape": sid}
    result["runs"] = run_entries(everything, result["shapes"])
    result["load_after"] = load_average()
    out = Path(a.out)
    if a.merge:
        result = merged(json.loads(out.with_suffix(".json").read_text()), result, {c for c, _, _ in everything})
    return write(out, result)


def reestimate(out: Path, everything, shapes: dict[str, tuple[str, float]]) -> int:
    """``--reestimate``: the table's runs estimated again from its measured shapes."""
    result = json.loads(out.with_suffix(".json").read_text())
    measured = by_shape(result["shapes"])
    unmeasured = sorted({item for sid, (item, _) in shapes.items() if sid not in measured})
    if unmeasured:
        raise SystemExit(f"--reestimate: run shapes {', '.join(unmeasured)} were not measured: measure again "
                         f"(--chapters {' '.join(sorted({i.split(':')[0] for i in unmeasured}))} --merge)")
    result["runs"] = run_entries(everything, result["shapes"])
    result["reestimated"] = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    return write(out, result)


def write(out: Path, result: dict) -> int:
    """The table as JSON and Markdown next to each other, and on the screen."""
    out.with_suffix(".json").write_text(json.dumps(result, indent=1) + "\n")
    out.with_suffix(".md").write_text(table(result))
    print(table(result))
    return 0


def merged(old: dict, new: dict, chapters: set[str]) -> dict:
    """``old`` with the shapes and runs of ``chapters`` replaced by ``new``'s; ``measured`` lists
    each chapter's date and CPU (the machine must be the same for the sum to mean anything)."""
    if old.get("cpu") != new.get("cpu") or old.get("workers") != new.get("workers"):
        raise SystemExit(f"--merge: the table was measured on {old.get('cpu')!r} with {old.get('workers')} workers, "
                         f"this run on {new.get('cpu')!r} with {new.get('workers')}: measure every chapter again")
    when = old.get("measured") or {r["chapter"]: old["date"] for r in old["runs"]}
    keep = {k: v for k, v in old["shapes"].items() if k.split(":")[0] not in chapters}
    out = {**old, "shapes": {**keep, **new["shapes"]},
           "runs": [r for r in old["runs"] if r["chapter"] not in chapters] + new["runs"],
           "measured": {**when, **{c: new["date"] for c in chapters}}}
    order = list(dict.fromkeys(r["chapter"] for r in old["runs"] + new["runs"]))
    out["runs"].sort(key=lambda r: (order.index(r["chapter"]), r["index"]))
    return out


def table(result: dict) -> str:
    chapters: dict[str, dict] = {}
    for r in result["runs"]:
        c = chapters.setdefault(r["chapter"], {"runs": 0, "estimate_s": 0.0, "recorded_s": 0.0})
        c["runs"] += 1
        c["estimate_s"] += r["estimate_s"]
        c["recorded_s"] += r["recorded_s"] or 0.0
    w = result["workers"]
    rows = [("| chapter | runs | one thread, summed (h) | book span, "
             f"{w} workers (h) | records' own walls, summed (h) |"), "|---|---|---|---|---|"]
    for name, c in chapters.items():
        rows.append(f"| {name} | {c['runs']} | {c['estimate_s'] / 3600:.2f} | {c['estimate_s'] / 3600 / w:.2f} | "
                    f"{c['recorded_s'] / 3600:.2f} |")
    tot = sum(c["estimate_s"] for c in chapters.values())
    rec = sum(c["recorded_s"] for c in chapters.values())
    rows.append(f"| **all** | {sum(c['runs'] for c in chapters.values())} | **{tot / 3600:.2f}** | "
                f"**{tot / 3600 / w:.2f}** | {rec / 3600:.2f} |")
    load = ", ".join(f"{x:.2f}" for x in result["load_before"]) if result["load_before"] else "unknown"
    return (f"# What the `standard` book costs to train on {result['cpus']} CPU cores ({result.get('cpu', 'model not recorded')})\n\n"
            f"Written by `python -m benchmarks.standard_cost` ({result['date']}): every distinct run shape "
            f"({len(result['shapes'])}) trained for two epochs through `wpcore.experiment.run`, {w} at a time "
            f"with one thread each (how `python -m wpcore book` trains on a CPU), then each run estimated "
            f"as setup + first epoch + (epochs - 1) x second epoch (each epoch with its evaluation; a run that "
            f"evaluates every k-th epoch as setup + epochs x first epoch + evaluations x (second - first)). "
            f"Measuring took {result['span_s'] / 60:.1f} min; load average before: "
            f"{load}. The records' own walls were taken on a machine often busy with other work.\n\n"
            + (f"Estimates made again from these measurements on {result['reestimated']} (`--reestimate`).\n\n"
               if result.get("reestimated") else "")
            + ("Chapters measured again later (`--merge`, same machine): "
               + ", ".join(f"{c} {d}" for c, d in result["measured"].items() if d != result["date"]) + ".\n\n"
               if any(d != result["date"] for d in result.get("measured", {}).values()) else "")
            + "\n".join(rows) + "\n")


if __name__ == "__main__":
    sys.exit(main())
