"""The reproduction scorecard: every claim of every chapter, thesis vs ours, from the records.

Nothing here trains: a study whose records are missing for the profile is listed as not run.
"""
from __future__ import annotations

import importlib
import pkgutil

from . import experiment, records, studies
from .studies.claim import Claim, Rule
from .studies.verdict import not_measured

CHAPTER_ORDER = ["patches", "multipath", "wide_resnets", "attention", "diracnets"]  # thesis order


def study_modules() -> list:
    """The chapters' study modules (those that name their CHAPTER), in thesis order; helper
    modules of the package (verdict, claim, stats, the WRN explorer's grid, a chapter's claims module)
    are left out: a study names its CHAPTER and defines its ``experiments``."""
    mods = [importlib.import_module(f"{studies.__name__}.{m.name}") for m in pkgutil.iter_modules(studies.__path__)]
    mods = [m for m in mods if hasattr(m, "CHAPTER") and hasattr(m, "experiments")]
    return sorted(mods, key=lambda m: (CHAPTER_ORDER.index(m.CHAPTER) if m.CHAPTER in CHAPTER_ORDER else 99,
                                       m.CHAPTER))


def collect(profile: str) -> tuple[list[Claim], list[dict]]:
    """(claims, runs): the claims of every study whose records all exist, and one row per study
    saying how many of its runs were found."""
    claims, runs = [], []
    for mod in study_modules():
        exps = mod.experiments(profile)
        found = [experiment.find(e) for e in exps]
        have = [r for r in found if r is not None]
        runs.append({"chapter": mod.CHAPTER, "runs found": f"{len(have)} of {len(exps)}"})
        if exps and len(have) == len(exps):
            claims.extend(mod.claims(have, profile))
        else:
            claims.append(Claim(mod.CHAPTER, "(all claims of this chapter)", "see the chapter",
                                f"{len(have)} of {len(exps)} runs of the {profile} profile found",
                                *not_measured(Rule.DIFFERENCE, "", "execute the chapter to make its records")))
    return claims, runs


def complete(profile: str) -> bool:
    """Whether every run of every study of ``profile`` has a record (made here, published, or unpacked)."""
    return all(records.find(e.key()) is not None for mod in study_modules() for e in mod.experiments(profile))


def profiles_shown(profile: str) -> list[str]:
    """The profiles a page shows next to the thesis: the page's own, then every other profile whose
    records are all present (``standard`` when published, ``full`` when a user made or unpacked it)."""
    from .profiles import PROFILES

    others = [p for p in PROFILES if p not in (profile, "smoke") and complete(p)]
    return [profile, *others]
