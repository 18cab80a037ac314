"""The three profiles every chapter runs under.

- ``smoke``: seconds per chapter, for tests; every code path runs, the numbers mean nothing.
- ``quick``: the default; real embedded data (Fashion-MNIST, digits, scikit-image photographs)
  on 2 CPU cores, about 5 minutes a chapter; small-scale but honest numbers.
- ``full``: the thesis's recipe on the thesis's dataset, on a GPU.

What each profile trains is chapter science and lives in ``wpcore.studies.<chapter>``.
"""
from __future__ import annotations

PROFILES = ("smoke", "quick", "full")
DESCRIPTION = {
    "smoke": "a smoke test: tiny subsets, one epoch; numbers are meaningless",
    "quick": "small-scale runs on embedded data, sized for 2 CPU cores",
    "full": "the thesis's recipe on the thesis's dataset (GPU)",
}


def check_profile(profile: str) -> str:
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; use one of: {', '.join(PROFILES)}")
    return profile
