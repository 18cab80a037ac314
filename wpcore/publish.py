"""Which records the book uses, whether they are current, and publishing them with the book.

``python -m wpcore records`` lists every record (in ``runs/`` and under ``results/``) with its
status; ``--check`` exits non-zero when a published record is stale or a published profile lacks
a record its chapters ask for. ``python -m wpcore records publish --profile standard`` copies the
profile's records from ``runs/`` to ``results/standard/`` (JSON with histories; weights only for
the runs a page draws from, ``page_weights`` of each study), read-only, and refuses stale ones.

Statuses: *current* (the code that defines the run and the records it was made from are
unchanged), *stale* (with the reason), *orphan* (no study of any profile asks for it: made by
hand with the CLI, or by an older version of a study).
"""
from __future__ import annotations

import json
import shutil
import stat
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from . import records
from .profiles import PROFILES


class Status(Enum):
    CURRENT = "current"
    STALE = "stale"
    ORPHAN = "orphan"


@dataclass
class Row:
    key: str
    where: str           # "runs" or "results/<profile>"
    label: str
    used_by: str         # "profile/chapter, ..." or ""
    status: Status
    why: str = ""


def used_experiments(profiles=PROFILES, chapters=None) -> dict[str, tuple[list[str], object]]:
    """{key: (["profile/chapter", ...], experiment)} of every run the studies ask for (only those of
    ``chapters`` when given)."""
    from .scorecard import study_modules

    mods = study_modules()
    if chapters is not None:
        unknown = set(chapters) - {m.CHAPTER for m in mods}
        if unknown:
            raise ValueError(f"no chapter {', '.join(sorted(unknown))}; the chapters are "
                             + ", ".join(m.CHAPTER for m in mods))
        mods = [m for m in mods if m.CHAPTER in chapters]
    out: dict[str, tuple[list[str], object]] = {}
    for profile in profiles:
        for mod in mods:
            for e in mod.experiments(profile):
                out.setdefault(e.key(), ([], e))[0].append(f"{profile}/{mod.CHAPTER}")
    return out


def status(profiles=PROFILES) -> list[Row]:
    """A row per record file, in ``runs/`` and every published folder."""
    from .experiment import staleness

    used = used_experiments(profiles)
    rows = []
    for rec in records.all_records():
        where = "runs" if not rec.published else f"results/{rec.folder.name}"
        users, exp = used.get(rec.key, ([], None))
        if exp is None:
            st, why = Status.ORPHAN, "no study asks for it"
        else:
            reasons = staleness(rec, exp)
            st, why = (Status.STALE, "; ".join(reasons)) if reasons else (Status.CURRENT, "")
        rows.append(Row(rec.key, where, rec.extra.get("label") or rec.config.get("model", "?"), ", ".join(users),
                        st, why))
    return rows


MANIFEST = "CHAPTERS"  # results/<profile>/CHAPTERS: the chapters published, one per line


def published_chapters(profile: str) -> list[str]:
    """The chapters of ``profile`` published under ``results/<profile>/`` (a profile is published
    chapter by chapter; ``publish`` lists them in its manifest: a record alone does not say, since
    chapters share runs, e.g. the attention teacher is a Wide ResNets run)."""
    path = records.RESULTS / profile / MANIFEST
    return path.read_text().split() if path.exists() else []


def check(profiles=PROFILES) -> list[str]:
    """Problems with the published records: stale ones, runs a published chapter asks for that are
    not there, and weights its page draws from that are not there (empty: every published record is
    current and every published chapter complete)."""
    problems = [f"results: {r.key} ({r.label}) is stale: {r.why}" for r in status(profiles)
                if r.where.startswith("results/") and r.status is Status.STALE]
    for folder in records.results_dirs():
        profile = folder.name
        if profile not in PROFILES:
            problems.append(f"results/{profile}: not a profile ({', '.join(PROFILES)})")
            continue
        weights = page_weight_keys(profile)
        for key, (users, exp) in used_experiments([profile], published_chapters(profile)).items():
            if not (folder / f"{key}.json").exists():
                problems.append(f"results/{profile}: missing {key} ({exp.name()}, {', '.join(users)})")
            elif key in weights and not (folder / f"{key}.safetensors").exists():
                problems.append(f"results/{profile}: {key} ({exp.name()}, {', '.join(users)}) has no weights, "
                                f"which its page draws from: publish it again")
    return problems


def page_weight_keys(profile: str) -> set[str]:
    """Keys of the runs whose weights a page of ``profile`` draws from (studies' ``page_weights``)."""
    from .scorecard import study_modules

    return {e.key() for mod in study_modules() if hasattr(mod, "page_weights") for e in mod.page_weights(profile)}


def publish(profile: str, chapters: list[str] | None = None, log=print) -> dict:
    """Copy the profile's records (those of ``chapters`` only, when given) from ``runs/`` into
    ``results/<profile>/``, read-only; weights only where a page needs them. Refuses (ValueError,
    listing them) when a record is missing or stale. The other chapters' published records stay."""
    from .experiment import staleness

    used = used_experiments([profile], chapters)
    others = set(used_experiments([profile])) - set(used)
    want_weights = page_weight_keys(profile)
    missing, stale, todo = [], [], []
    for key, (_, exp) in used.items():
        rec = records.find(key)
        if rec is None:
            missing.append(f"{key} ({exp.name()})")
        elif why := staleness(rec, exp):
            stale.append(f"{key} ({exp.name()}): {'; '.join(why)}")
        else:
            todo.append(rec)
    if missing or stale:
        raise ValueError(f"cannot publish {profile}: " + "; ".join(
            ([f"{len(missing)} missing: " + ", ".join(missing[:5])] if missing else [])
            + ([f"{len(stale)} stale: " + ", ".join(stale[:5])] if stale else []))
            + f". Make them first: python -m wpcore run --profile {profile}"
            + "".join(f" --chapter {c}" for c in chapters or []))
    out = records.RESULTS / profile
    out.mkdir(parents=True, exist_ok=True)
    replaced = replacements(todo, out)
    size = 0
    for rec in todo:
        size += _copy(rec, out, rec.key in want_weights)
    keep = {f"{k}{ext}" for k in {r.key for r in todo} | others for ext in (".json", ".safetensors")} | {MANIFEST}
    for f in out.iterdir():  # records the profile no longer asks for
        if f.name not in keep or (f.suffix == ".safetensors" and f.stem in used and f.stem not in want_weights):
            f.chmod(stat.S_IWUSR | stat.S_IRUSR)
            f.unlink()
    from .scorecard import study_modules

    done = set(published_chapters(profile)) | set(chapters or [m.CHAPTER for m in study_modules()])
    records.atomic_write(out / MANIFEST, "".join(f"{c}\n" for c in sorted(done)).encode())
    summary = {"profile": profile, "records": len(todo), "weights": len(want_weights & {r.key for r in todo}),
               "bytes": size, "replaced": replaced}
    log(f"published {summary['records']} records of {profile}"
        + (f" ({', '.join(chapters)})" if chapters else "") + f" ({summary['weights']} with weights, "
        f"{size / 1e6:.1f} MB) in {out}")
    if replaced:
        log(replaced_line(replaced))
    return summary


@dataclass
class Replacement:
    """A published record replaced by a retrained one of the same key (the same config and data)."""
    key: str
    label: str
    max_diff: float        # largest absolute difference of any history or final number, times apart
    where: str             # where it is largest, or why the two cannot be compared
    weights_equal: bool | None  # None where either has no weights file


def replacements(todo: list, out: Path) -> list[Replacement]:
    """Each record of ``todo`` that replaces a published record of the same key made by another
    training (another ``created``), compared with it (``verify.difference``; weights tensor by
    tensor where both have them): republishing after a change to training code says whether the
    change changed any number."""
    from .verify import difference

    rows = []
    for rec in todo:
        old_path = out / f"{rec.key}.json"
        if rec.folder == out or not old_path.exists():
            continue
        try:
            old = records.read(old_path)
        except ValueError as e:
            rows.append(Replacement(rec.key, rec.config.get("label") or rec.key, float("inf"), str(e), None))
            continue
        if old.created == rec.created:  # the same training published again, not a retrained one
            continue
        diff, where = difference(old, rec)
        old_w, new_w = old.weights_path, rec.weights_path
        rows.append(Replacement(rec.key, rec.config.get("label") or rec.key, diff, where,
                                _same_tensors(old_w, new_w) if old_w.exists() and new_w.exists() else None))
    return rows


def _same_tensors(a: Path, b: Path) -> bool:
    import torch

    from .safe import load_safetensors

    x, y = load_safetensors(a), load_safetensors(b)
    return x.keys() == y.keys() and all(x[k].dtype == y[k].dtype and torch.equal(x[k], y[k]) for k in x)


def replaced_line(rows: list[Replacement]) -> str:
    """One line: how many published records were replaced, and whether any number or weight changed."""
    equal = [r for r in rows if r.max_diff == 0 and r.weights_equal is not False]
    weighed = [r for r in rows if r.weights_equal is not None]
    line = (f"replaced {len(rows)} published records by retrained ones of the same key: {len(equal)} equal in "
            f"every number" + (f" ({len(weighed)} weights files compared)" if weighed else ""))
    worst = max(rows, key=lambda r: (r.max_diff, r.weights_equal is False))
    if len(equal) < len(rows):
        line += (f"; {len(rows) - len(equal)} differ, the most {worst.label} ({worst.key}): {worst.max_diff:g}, "
                 f"{worst.where}" + ("; its weights differ" if worst.weights_equal is False else ""))
    return line


def _copy(rec, out: Path, weights: bool) -> int:
    """Copy one record (and its weights when asked) into ``out``, read-only; bytes written."""
    size = 0
    if rec.folder != out:
        data = json.dumps(rec.to_json(), indent=1, default=float).encode()
        for name, payload in [(f"{rec.key}.json", data)]:
            target = out / name
            if target.exists():
                target.chmod(stat.S_IWUSR | stat.S_IRUSR)
            records.atomic_write(target, payload)
            target.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
        if weights:
            if not rec.weights_path.exists():
                raise ValueError(f"{rec.key} has no weights file ({rec.weights_path}); retrain it to publish")
            target = out / f"{rec.key}.safetensors"
            if target.exists():
                target.chmod(stat.S_IWUSR | stat.S_IRUSR)
            shutil.copyfile(rec.weights_path, target)
            target.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
    size += (out / f"{rec.key}.json").stat().st_size
    if weights:
        size += (out / f"{rec.key}.safetensors").stat().st_size
    return size
