"""Run many study experiments: here one after another, or fanned out over GPUs with Ray.

``python -m wpcore run --profile full --chapter attention`` runs the chapter's experiments in this
process, in the chapter's order (teachers first). With ``--ray`` the same runs are fanned out:

- **one machine with N GPUs**: ``python -m wpcore run --profile full --ray`` starts a local Ray
  cluster that sees every GPU; each run asks for one GPU (``num_gpus=1``; Ray sets
  ``CUDA_VISIBLE_DEVICES``), and runs the plan marks *small* (latency-bound, ``wpcore.cost``) ask
  for ``1 / --runs-per-gpu`` of one, so several small networks share a GPU;
- **a Ray cluster**: start it as Ray documents (``ray start --head`` on one machine, ``ray start
  --address=<head>:6379`` on the others, with this repository installed, ``pip install -e
  .[cluster]``, on every node), then ``python -m wpcore run --profile full --ray auto`` on the head
  (or ``--ray <head>:6379``).

What holds in both: data is fetched and checked once, before the fan-out (``prepare_data``), so
no two runs download or unpack the same file; a student waits for its teacher (its task is given
the teacher's result, so Ray starts it only after the teacher's record exists); every run writes
its record with ``records.write`` (atomic). Each run also returns its record (JSON and weights) to
the driver, which installs what its ``runs/`` lacks, and a student's worker installs its teacher's
record first, so no shared filesystem is needed between nodes.

A few runs are big enough to want several GPUs each (WRN-50-2 on ImageNet, the COCO detectors):
run those with ``torchrun`` data parallelism, which makes the same record, before or after the
fan-out (the fan-out then reuses it):
``torchrun --nproc_per_node 8 -m wpcore run --profile full --chapter wide_resnets --select wrn-50-2``.
"""
from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .plan import Item

ENV_PREFIX = "WPCORE_"  # where records and data live, forwarded to the workers


@dataclass
class Outcome:
    key: str
    label: str
    ok: bool
    trained: bool = False
    seconds: float = 0.0
    message: str = ""
    finished_at: float = 0.0   # time.time() when the run returned (the tests check teachers come first)


def ordered(items: list[Item], plan_items: list[Item] | None = None) -> list[Item]:
    """``items`` each once, every teacher (taken from ``plan_items`` when not selected) before its
    students."""
    from .plan import distinct

    pool = {it.key: it for it in (plan_items or []) + items}
    out, seen = [], set()

    def add(it: Item):
        if it.key in seen:
            return
        if it.teacher and it.teacher in pool:
            add(pool[it.teacher])
        seen.add(it.key)
        out.append(it)

    for it in distinct(items):
        add(it)
    return out


def prepare_data(items: list[Item], log: Callable[[str], None] = print) -> dict[str, str]:
    """Fetch and check every dataset the runs read, once, before any run starts. Returns the
    datasets that cannot be had here, with what to do (ImageNet, COCO and PhotoTour are put in
    place by hand); the runs that read them are skipped, not the others (``runnable``)."""
    from .data import DataError, store
    from .plan import Data

    unavailable = {}
    for ds in dict.fromkeys(it.exp.dataset for it in items):
        it = next(x for x in items if x.exp.dataset == ds)
        try:
            if ds in store.FILES:
                d = store.dataset_dir(ds)  # downloads what is missing, verifies every file
                if ds.startswith("cifar"):
                    store.extract(d / store.FILES[ds][0].path, d / "extracted")
                log(f"data {ds}: {d}")
            elif ds.startswith("brown:"):
                from .data.phototour import phototour_dir

                for scene in (ds.split(":", 1)[1], it.exp.options.get("test_scene")):
                    if scene:
                        phototour_dir(scene, store.data_root() / "phototour")  # checks the md5, unpacks once
            elif it.data.status == Data.MISSING:
                raise DataError(it.data.detail)
        except (DataError, OSError) as e:
            unavailable[ds] = str(e)
            log(f"data {ds}: not available, its runs are skipped: {e}")
    return unavailable


def runnable(items: list[Item], unavailable: dict[str, str]) -> tuple[list[Item], list[Outcome]]:
    """(the runs whose data, and whose teacher's data, is here; an outcome for each skipped run)."""
    keep, skipped, lost = [], [], set()
    for it in items:
        if it.exp.dataset in unavailable or it.teacher in lost:
            lost.add(it.key)
            why = unavailable.get(it.exp.dataset, "its teacher cannot run")
            skipped.append(Outcome(it.key, it.label, False, message=f"skipped: {it.exp.dataset}: {why}"))
        else:
            keep.append(it)
    return keep, skipped


def _run_one(fields: dict, env: dict, device: str | None, compile: bool, *teachers: dict,
             retrain_stale: bool = False) -> dict:
    """One run, in whatever process executes it (a Ray worker or this one); ``retrain_stale``: a
    stale published record is trained again too (``experiment.run``)."""
    os.environ.update(env)
    from . import records, share
    from .experiment import Experiment, run

    for t in teachers:  # a node without a shared runs/ folder gets the teacher's record first
        share.install(t["pack"])
    exp = Experiment(**fields)
    key = exp.key()
    before = records.find(key)
    t0 = time.perf_counter()
    rec = run(exp, device=device, compile=compile, retrain_stale=retrain_stale)
    trained = before is None or rec.created != before.created
    return {"key": rec.key, "trained": trained, "seconds": time.perf_counter() - t0,
            "pack": {} if rec.published else share.record_files(rec.key),  # published: every node has it
            "finished_at": time.time()}


def _env() -> dict:
    return {k: v for k, v in os.environ.items() if k.startswith(ENV_PREFIX)}


def _first_line(e: BaseException) -> str:
    cause = getattr(e, "cause", None) or e  # a RayTaskError carries the task's exception
    return f"{type(cause).__name__}: {(str(cause).strip().splitlines() or [''])[-1]}"


def _report(n: int, total: int, it: Item, r: dict, log: Callable[[str], None]) -> Outcome:
    log(f"[{n}/{total}] {'trained' if r['trained'] else 'reused '} {it.chapter} #{it.index} {it.label} "
        f"({r['seconds']:.0f} s)")
    return Outcome(it.key, it.label, True, r["trained"], r["seconds"], finished_at=r["finished_at"])


TEACHER_FAILED = "skipped: its teacher failed"


def _failed(n: int, total: int, it: Item, message: str, log: Callable[[str], None], skipped: bool = False) -> Outcome:
    log(f"[{n}/{total}] {'' if skipped else 'FAILED '}{it.chapter} #{it.index} {it.label}: {message}")
    return Outcome(it.key, it.label, False, message=message)


RUN_ERRORS = (ValueError, RuntimeError, OSError, FloatingPointError)  # a failed run; the others go on


def run_here(items: list[Item], device: str | None = None, compile: bool = False,
             log: Callable[[str], None] = print) -> list[Outcome]:
    """Every run in this process, in order; a failed teacher skips its students."""
    outcomes, failed = [], set()
    for n, it in enumerate(items, 1):
        if it.teacher in failed:
            failed.add(it.key)
            outcomes.append(_failed(n, len(items), it, TEACHER_FAILED, log, skipped=True))
            continue
        try:
            outcomes.append(_report(n, len(items), it, _run_one(dataclasses.asdict(it.exp), _env(), device, compile), log))
        except RUN_ERRORS as e:
            failed.add(it.key)
            outcomes.append(_failed(n, len(items), it, _first_line(e), log))
    return outcomes


def cpu_workers() -> int:
    """How many runs the CPU trains at a time by default: one per core, each with one thread.
    On this project's 2-core machine two runs side by side finish sooner than the same two one
    after the other with 2 threads (``benchmarks/results/cpu_packing.md``)."""
    return max(1, os.cpu_count() or 1)


def threads_per_worker(workers: int) -> int:
    return max(1, (os.cpu_count() or 1) // workers)


def _set_threads(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)


def run_packed(items: list[Item], workers: int, log: Callable[[str], None] = print,
               retrain_stale: bool = False) -> list[Outcome]:
    """Every run on this machine's CPU, ``workers`` at a time, each in its own process with
    ``cores // workers`` threads; a student starts once its teacher's record exists, a failed
    teacher skips its students. Records are written by the workers into the same ``runs/``."""
    import concurrent.futures as cf
    import multiprocessing as mp

    threads = threads_per_worker(workers)
    keys = {it.key for it in items}
    waiting, running, outcomes, done, failed = list(items), {}, [], set(), set()
    with cf.ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn"), initializer=_set_threads,
                                initargs=(threads,)) as pool:
        while waiting or running:
            for it in list(waiting):
                if it.teacher in failed:
                    waiting.remove(it)
                    failed.add(it.key)
                    outcomes.append(_failed(len(outcomes) + 1, len(items), it, TEACHER_FAILED, log, skipped=True))
                elif len(running) < workers and (it.teacher not in keys or it.teacher in done):
                    waiting.remove(it)
                    running[pool.submit(_run_one, dataclasses.asdict(it.exp), _env(), "cpu", False,
                                        retrain_stale=retrain_stale)] = it
            if not running:
                continue
            finished, _ = cf.wait(running, return_when=cf.FIRST_COMPLETED)
            for f in finished:
                it = running.pop(f)
                try:
                    outcomes.append(_report(len(outcomes) + 1, len(items), it, f.result(), log))
                    done.add(it.key)
                except RUN_ERRORS as e:
                    failed.add(it.key)
                    outcomes.append(_failed(len(outcomes) + 1, len(items), it, _first_line(e), log))
    return outcomes


def package_root() -> str:
    """The folder that holds the ``wpcore`` package this process imported (Ray workers import the same)."""
    return str(Path(__file__).resolve().parent.parent)


def init_ray(address: str | None = None, **kw):
    """Connect to a Ray cluster (``address``: "auto" or host:port), or start a local one that sees
    this machine's GPUs; workers import this checkout's wpcore. Does nothing if Ray is up."""
    try:
        import ray
    except ImportError:
        raise RuntimeError("--ray needs Ray: pip install -e .[cluster]") from None
    if ray.is_initialized():
        return ray
    path = os.pathsep.join(p for p in (package_root(), os.environ.get("PYTHONPATH")) if p)
    ray.init(address=address, include_dashboard=False, log_to_driver=True,
             runtime_env={"env_vars": {"PYTHONPATH": path}}, **kw)
    return ray


def run_ray(items: list[Item], address: str | None = None, runs_per_gpu: int = 1, device: str | None = None,
            compile: bool = False, timeout_s: float | None = None,
            log: Callable[[str], None] = print) -> list[Outcome]:
    """Fan ``items`` (ordered: teachers first) out over a Ray cluster; see the module docstring.

    ``timeout_s``: give up when no run has finished for that long (a run asking for a GPU the
    cluster lacks is never scheduled and raises nothing, so the tests set it).
    """
    ray = init_ray(address)
    from . import share

    gpus = ray.cluster_resources().get("GPU", 0)
    remote = ray.remote(max_retries=0)(_run_one)
    env, refs, by_ref = _env(), {}, {}
    for it in items:
        if gpus:
            opts = {"num_gpus": 1 / runs_per_gpu if it.cost.small else 1, "num_cpus": 1}
        else:  # a CPU-only cluster: one run per worker CPU
            opts = {"num_cpus": 1}
        deps = [refs[it.teacher]] if it.teacher in refs else []
        ref = remote.options(**opts, name=f"{it.chapter}#{it.index}").remote(
            dataclasses.asdict(it.exp), env, device, compile, *deps)
        refs[it.key], by_ref[ref] = ref, it
    outcomes, pending, done = [], list(by_ref), 0
    while pending:
        ready, pending = ray.wait(pending, num_returns=1, timeout=timeout_s)
        if not ready:
            names = ", ".join(f"{by_ref[r].chapter} #{by_ref[r].index}" for r in pending[:5])
            raise TimeoutError(f"no run finished in {timeout_s} s (waiting for {names}); does the cluster have "
                               f"the GPUs the runs ask for? (cluster: {ray.cluster_resources()})")
        it, done = by_ref[ready[0]], done + 1
        try:
            r = ray.get(ready[0])
            share.install(r["pack"])  # the driver's runs/ gets every record made elsewhere
            outcomes.append(_report(done, len(items), it, r, log))
        except Exception as e:  # noqa: BLE001  (a failed run is reported; the others go on)
            outcomes.append(_failed(done, len(items), it, _first_line(e), log))
    return outcomes


def summary(outcomes: list[Outcome]) -> str:
    failed = [o for o in outcomes if not o.ok]
    trained = sum(o.trained for o in outcomes if o.ok)
    text = f"{len(outcomes) - len(failed)} of {len(outcomes)} runs recorded ({trained} trained, " \
           f"{len(outcomes) - len(failed) - trained} reused)"
    return text + "".join(f"\nfailed: {o.label}: {o.message}" for o in failed)


def train_missing(profile: str, chapters: list[str] | None = None, workers: int | None = None,
                  log: Callable[[str], None] = print, retrain_stale: bool = False) -> list[Outcome]:
    """Before the book executes its chapters on a CPU: train the runs they will ask for and lack,
    ``workers`` (default: one per core) at a time (``run_packed``); the chapters then reuse every
    record. A stale record in ``runs/`` counts as missing (``experiment.run`` would retrain it);
    a stale published one too with ``retrain_stale`` (``book --retrain``). Nothing happens on a GPU machine, with one worker, or with fewer than two
    runs missing (the chapters, or ``book --retrain``, train those one after the other)."""
    import torch

    from . import plan
    from .experiment import default_device
    from .scorecard import study_modules

    workers = workers or cpu_workers()
    known = [m.CHAPTER for m in study_modules()]
    wanted = [c for c in (chapters or known) if c in known]
    if default_device().type != "cpu" or workers < 2 or not wanted:
        return []
    everything = plan.build(profile, wanted, torch.device("cpu"))
    missing = [it for it in ordered(everything) if not it.recorded or _retrains(it, retrain_stale)]
    if len(missing) < 2:
        return []
    log(f"training the {len(missing)} runs of the {profile} profile that have no "
        f"{'current ' if retrain_stale else ''}record, {workers} at a time "
        f"({threads_per_worker(workers)} thread(s) each) ...")
    missing, skipped = runnable(missing, prepare_data(missing, log=log))
    return skipped + run_packed(missing, workers, log=log, retrain_stale=retrain_stale)


def _retrains(it: Item, retrain_stale: bool) -> bool:
    """Would ``experiment.run(it.exp, retrain_stale=...)`` train again the record it finds?"""
    from .experiment import find, staleness

    rec = find(it.exp)
    return rec is not None and (retrain_stale or not rec.published) and bool(staleness(rec, it.exp))
