"""The four profiles every chapter runs under.

- ``smoke``: seconds per chapter, for tests; every code path runs, the numbers mean nothing.
- ``quick``: the fresh-machine pipeline check: every chapter trained from scratch on 2 CPU cores
  in about 20 minutes for the whole book; the networks learn only what that time allows.
- ``standard``: the published book: embedded data (Fashion-MNIST, scikit-image photographs),
  networks trained longer and seeds chosen for power, about 7.8 hours of 2 CPU cores for the whole
  book (measured: ``benchmarks/results/standard_cost.md``; the goal was 4); its records are
  committed, chapter by chapter, under ``results/standard/`` and pages made from them train
  nothing. A study without a design of its own sets ``STANDARD_DESIGNED = False`` and runs
  quick's experiments; its page says so.
- ``full``: the thesis's recipe on the thesis's datasets, on GPUs.

What each profile trains is chapter science and lives in ``wpcore.studies.<chapter>``.
"""
from __future__ import annotations

PROFILES = ("smoke", "quick", "standard", "full")
DESCRIPTION = {
    "smoke": "a smoke test: tiny subsets, one epoch; numbers are meaningless",
    "quick": "a pipeline check that trains everything from scratch on 2 CPU cores in about 20 minutes; "
             "its networks are far from converged",
    "standard": "the published book's profile: embedded data, networks trained longer and seeds enough to "
                "decide each claim where its effect is large enough, about 7.8 hours of 2 CPU cores in all (15.7 "
                "single-thread hours, measured; each chapter's convergence check shows whether its baseline "
                "has converged)",
    "full": "the thesis's recipe on the thesis's datasets (GPU)",
}


def check_profile(profile: str) -> str:
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; use one of: {', '.join(PROFILES)}")
    return profile
