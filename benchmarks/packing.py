"""Two small runs on a 2-core CPU: one after the other with 2 threads, or side by side with 1 each?

``python -m benchmarks.packing [--steps 120] [--rounds 2] [--out benchmarks/results/cpu_packing]``

For each case (the first runs of a ``standard`` chapter, cut to ``--steps`` optimizer steps, seeds 0
and 1), the driver starts child processes that train through ``wpcore.experiment.run`` (the book's
path: data, model, ``fit``, evaluation, record) into a temporary runs folder:

- ``sequential``: one child with 2 threads trains seed 0, then seed 1 (what the book's kernel does);
- ``packed``: two children with 1 thread each train one seed each, at the same time.

Children import everything first and then wait for a common start time, so the span measured is
training alone. The two modes alternate round by round (the median span of each is kept), and the
speed-up is ``sequential span / packed span`` for the same work (two runs).
"""
from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .measure import load_average

CASES = {  # label: (study module, index of its standard experiment)
    "WRN-16-2 (Fashion-MNIST 14x14, batch 128)": ("attention", 0),
    "2ch (patch pairs 32x32, batch 128)": ("patches", 0),
    "Fast R-CNN (scenes 64x64, batch 8)": ("multipath", 0),
}


def experiment(case: str, seed: int, steps: int):
    import importlib

    mod, index = CASES[case]
    exp = importlib.import_module(f"wpcore.studies.{mod}").experiments("standard")[index]
    return dataclasses.replace(exp, seed=seed, max_steps=steps, label="")


def child(case: str, seeds: list[int], steps: int, threads: int, start_at: float) -> None:
    """Train ``seeds`` one after another with ``threads`` threads; print one JSON line per run."""
    import torch

    torch.set_num_threads(threads)
    from wpcore.experiment import run

    exps = [experiment(case, s, steps) for s in seeds]
    time.sleep(max(0.0, start_at - time.time()))
    for exp in exps:
        t0 = time.time()
        rec = run(exp, device="cpu", force=True)
        print(json.dumps({"seed": exp.seed, "start": t0, "end": time.time(), "wall_s": rec.wall_time_s,
                          "threads": torch.get_num_threads()}), flush=True)


def spawn(case: str, seeds: list[int], steps: int, threads: int, start_at: float, runs: str) -> subprocess.Popen:
    env = os.environ | {"OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads), "WPCORE_RUNS": runs}
    cmd = [sys.executable, "-m", "benchmarks.packing", "--child", case, "--seeds", *map(str, seeds),
           "--steps", str(steps), "--threads", str(threads), "--start-at", str(start_at)]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True)


def mode(name: str, case: str, steps: int, runs: str, lead_s: float = 20.0) -> dict:
    start_at = time.time() + lead_s  # every child has imported torch and built its runs by then
    if name == "sequential":
        procs = [spawn(case, [0, 1], steps, 2, start_at, runs)]
    else:
        procs = [spawn(case, [s], steps, 1, start_at, runs) for s in (0, 1)]
    lines = []
    for p in procs:
        out, _ = p.communicate()
        if p.returncode:
            raise RuntimeError(f"{name} child failed ({p.returncode}) on {case}")
        lines += [json.loads(x) for x in out.splitlines() if x.startswith("{")]
    span = max(x["end"] for x in lines) - min(x["start"] for x in lines)
    return {"span_s": span, "runs": lines}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=120, help="optimizer steps per run (default 120)")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--cases", nargs="*", default=list(CASES), choices=list(CASES))
    ap.add_argument("--out", default="benchmarks/results/cpu_packing")
    ap.add_argument("--child", choices=list(CASES), help=argparse.SUPPRESS)
    ap.add_argument("--seeds", type=int, nargs="*", help=argparse.SUPPRESS)
    ap.add_argument("--threads", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--start-at", type=float, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.child:
        child(a.child, a.seeds, a.steps, a.threads, a.start_at)
        return 0
    result = {"date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), "cpus": os.cpu_count(),
              "steps": a.steps, "rounds": a.rounds, "load_before": load_average(), "cases": {}}
    with tempfile.TemporaryDirectory() as runs:
        for case in a.cases:
            rounds = {"sequential": [], "packed": []}
            for r in range(a.rounds):  # alternate, and swap the order every round
                for name in (("sequential", "packed") if r % 2 == 0 else ("packed", "sequential")):
                    rounds[name].append(mode(name, case, a.steps, runs))
                    print(f"{case}: round {r + 1} {name}: {rounds[name][-1]['span_s']:.1f} s", flush=True)
            med = {k: statistics.median(x["span_s"] for x in v) for k, v in rounds.items()}
            result["cases"][case] = {"rounds": rounds, "median_span_s": med,
                                     "speedup": med["sequential"] / med["packed"]}
    result["load_after"] = load_average()
    out = Path(a.out)
    out.with_suffix(".json").write_text(json.dumps(result, indent=1) + "\n")
    out.with_suffix(".md").write_text(table(result))
    print(table(result))
    return 0


def _load(avg) -> str:
    return ", ".join(f"{x:.2f}" for x in avg) if avg else "unknown"


def table(result: dict) -> str:
    rows = ["| run (standard profile) | one after the other, 2 threads | side by side, 1 thread each | speed-up |",
            "|---|---|---|---|"]
    for case, c in result["cases"].items():
        m = c["median_span_s"]
        rows.append(f"| {case} | {m['sequential']:.1f} s | {m['packed']:.1f} s | **{c['speedup']:.2f}x** |")
    return (f"# Two runs on {result['cpus']} CPU cores: sequential (2 threads) or packed (1 thread each)\n\n"
            f"Written by `python -m benchmarks.packing` ({result['date']}). Each span is the wall time to train "
            f"two runs (seeds 0 and 1) of a `standard` chapter's first experiment cut to {result['steps']} "
            f"optimizer steps, through `wpcore.experiment.run` (data, model, training, evaluation, record); "
            f"median of {result['rounds']} rounds, the modes alternating. Load average before "
            f"{_load(result['load_before'])}, after {_load(result['load_after'])}.\n\n" + "\n".join(rows) + "\n")


if __name__ == "__main__":
    sys.exit(main())
