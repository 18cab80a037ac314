"""Verdicts on claims, computed from runs rather than typed.

A claim that "A beats B" is judged on the per-seed results of both: the difference of means
against its standard error (Welch). With one seed per side there is no spread, and the verdict
says the result is indicative only.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import mean, stdev

HOLDS, FAILS, UNCLEAR, INDICATIVE, NOT_MEASURED = (
    "holds at this scale", "does not hold at this scale", "inconclusive (within noise)",
    "indicative only (one seed)", "not measured in this profile")


@dataclass
class Claim:
    chapter: str
    claim: str       # what the thesis says, in a sentence
    thesis: str      # the thesis's evidence, with its source (table, tag)
    ours: str        # our evidence, with profile, dataset, seeds
    verdict: str     # one of the constants above
    detail: str = "" # how the verdict was computed


def lower_is_better(a: list[float], b: list[float], z: float = 2.0) -> tuple[str, str]:
    """Verdict on "a is lower than b" (errors), with a one-line explanation."""
    if not a or not b:
        return NOT_MEASURED, "no runs"
    diff = mean(b) - mean(a)
    if len(a) < 2 or len(b) < 2:
        verdict = INDICATIVE
        return verdict, f"difference {diff:+.2f} points (single runs, no spread)"
    se = math.sqrt(stdev(a) ** 2 / len(a) + stdev(b) ** 2 / len(b))
    if diff > z * se:
        verdict = HOLDS
    elif diff < -z * se:
        verdict = FAILS
    else:
        verdict = UNCLEAR
    return verdict, f"difference {diff:+.2f} ± {se:.2f} points (mean over {len(a)} and {len(b)} seeds, ±1 s.e.)"


def mean_spread(values: list[float], digits: int = 2) -> str:
    if not values:
        return "—"
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{mean(values):.{digits}f} ± {stdev(values):.{digits}f}"
