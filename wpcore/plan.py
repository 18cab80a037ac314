"""``python -m wpcore plan``: every run of a profile, what it costs, what it needs, what is done.

For each study experiment (``studies.<chapter>.experiments(profile)``): its estimated GPU-hours
(``wpcore.cost``: how they are estimated), the teacher it waits for, whether its data is here,
and whether its record exists (``records.find``). Totals per chapter and overall, on one GPU and
on N (teachers before students, the longest runs first; a run shared by two chapters counts once
overall). ``--preflight`` then takes one training step of each network (``wpcore.preflight``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from .cost import ROOT, TABLE, Cost, cost, table
from .experiment import Experiment

# --- whether the data is here ---------------------------------------------------------------------

class Data(Enum):
    PRESENT = "present"
    EMBEDDED = "embedded"            # ships with a package this project installs
    DOWNLOAD = "download"            # fetched and checked on first use (run fetches it before training)
    MISSING = "missing"              # must be put there by hand (licence or size)


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
    from .data import GENERATED, store

    ds = exp.dataset
    if ds == "digits" or ds in GENERATED:  # shipped with scikit-learn, or made by a generator of ours
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
