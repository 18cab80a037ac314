"""The statistics under the verdicts: Welch's difference of two means, its Student interval, and
the minimal detectable difference of a comparison.

Every interval is two-sided at ``LEVEL``: ``diff ± critical(df) * se``, where ``critical`` is
Student's 97.5% quantile at Welch's degrees of freedom (2.78 for 3 vs 3 seeds, 2.31 for 5 vs 5,
1.96 in the limit). The minimal detectable difference is the true difference this many seeds with
this spread would detect with ``POWER``: ``(t_0.975 + t_0.80) * se``.
"""
from __future__ import annotations

import math
from statistics import mean, stdev

from scipy.stats import t as student_t

LEVEL = 0.95    # two-sided confidence of every interval (5% chance of a spurious decided verdict)
POWER = 0.80    # for the minimal detectable difference
# The chance of a decided verdict where no difference exists, for two-stage seeds: judged at 3 vs 3
# seeds, and, if undecided, again at 6 vs 6 (``claim.TWO_STAGE_NOTE``). Simulated (200,000 pairs of
# normal samples, Welch's interval at LEVEL): 3.6% at the first look alone (Welch's t is
# conservative at 3 vs 3), 4.6% at 6 vs 6 alone, 7.2% for the two together (a test re-simulates it).
TWO_LOOK_ERROR = 0.072


def welch(a: list[float], b: list[float]) -> tuple[float, float, float]:
    """(mean(a) - mean(b), its standard error, Welch-Satterthwaite degrees of freedom); both sides
    need two values or more."""
    va, vb = stdev(a) ** 2 / len(a), stdev(b) ** 2 / len(b)
    se = math.sqrt(va + vb)
    if se == 0:
        return mean(a) - mean(b), 0.0, float(len(a) + len(b) - 2)
    df = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1))
    return mean(a) - mean(b), se, df


def critical(df: float, level: float = LEVEL) -> float:
    """Student's two-sided quantile: the interval is ``diff ± critical * se``."""
    return float(student_t.ppf(0.5 + level / 2, df))


def mde(se: float, df: float) -> float:
    """The smallest true difference detected with 80% power at this standard error."""
    return (critical(df) + float(student_t.ppf(POWER, df))) * se


def seeds_to_detect(se: float, df: float, effect: float, most: int = 100) -> int | None:
    """How many times these seeds (on each side, at the same spread) would detect a true difference
    of ``effect`` with 80% power: the smallest k for which the MDE at ``se / sqrt(k)`` falls to |effect|
    (degrees of freedom grown as k times the seeds would: ``k * (df + 2) - 2``); None beyond ``most``."""
    for k in range(1, most + 1):
        if mde(se / math.sqrt(k), k * (df + 2) - 2) <= abs(effect):
            return k
    return None


def interval(diff: float, se: float, df: float, level: float = LEVEL) -> tuple[float, float]:
    """The two-sided ``level`` interval of ``diff``: ``diff ± critical * se``."""
    half = critical(df, level) * se
    return diff - half, diff + half
