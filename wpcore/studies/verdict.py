"""Verdicts on claims, computed from runs rather than typed.

A claim is judged by a *rule* over per-seed results; the rule returns a typed :class:`Verdict`
and the :class:`Evidence` it rests on (difference, standard error, seeds per side, unit, margin).
``wpcore.present.verdicts`` words each rule; nothing here writes prose about the outcome.

The rules (all use the difference of means ``diff = mean(a) - mean(b)`` with Welch's standard
error and the two-sided 95% interval ``diff ± t * se``, where ``t`` is Student's 97.5% quantile
at Welch's degrees of freedom: 2.78 for 3 vs 3 seeds, 2.31 for 5 vs 5, 1.96 in the limit):

- ``DIFFERENCE`` ("a is better than b"): holds when the interval lies on the claimed side of 0,
  does not hold when it lies on the other side, and is inconclusive otherwise. If no difference
  existed, a decided verdict would come out by chance 5% of the time (about 7% for a claim whose
  seeds were raised after a first look, ``stats.TWO_LOOK_ERROR``).
- ``NON_INFERIORITY`` ("a is as good as b, or better"; "a is at most ``margin`` worse"): holds
  when the whole interval lies below ``margin`` on the worse side; does not hold when the whole
  interval lies beyond it; otherwise *not shown*. No significant difference is not enough.
- ``EQUIVALENCE`` ("a and b are as accurate"; TOST-style): holds when the whole interval lies
  inside ``(-margin, margin)``; does not hold when it lies entirely outside; otherwise not shown.
- ``TOLERANCE`` ("we reach the thesis's number within ``margin``"): equivalence of our mean with
  a fixed value.
- ``PAIRED`` ("a is better than b" measured in pairs: the six Brown splits, a network timed
  folded and unfolded): the same interval on the per-pair differences, ``k - 1`` degrees of freedom.
- ``CHECK``: an implementation check (a value within a tolerance), not a claim of the thesis;
  the scorecard lists checks apart and leaves them out of its tally.

With one run on a side there is no spread: the verdict is ``INDICATIVE`` and the evidence says
whether the single result goes the thesis's way. Every evidence also carries the *minimal
detectable difference*: the true difference this many seeds with this spread would detect with
80% power, ``(t_0.975 + t_0.80) * se``.

Margins are constants of each study, fixed before any run with their reason (a rule for scaling
the thesis's own numbers to our error level), and pinned by tests; they are never tuned on our
results.

The types (``Claim``, ``Verdict``, ``Evidence``, ``Margin``...) are in ``studies.claim``, the
statistics (``welch``, ``critical``, ``mde``) in ``studies.stats``.
"""
from __future__ import annotations

import dataclasses
import math
from statistics import mean, stdev

from .claim import Better, Claim, Evidence, Kind, Margin, Rule, Verdict
from .stats import LEVEL, TWO_LOOK_ERROR, interval, mde, welch


def _sign(better: Better) -> int:
    """+1 if a lower value is better: then "a better than b" means diff < 0."""
    return 1 if better is Better.LOWER else -1


# --- the rules -------------------------------------------------------------------------------

def difference(a: list[float], b: list[float] | float, unit: str, better: Better = Better.LOWER,
               thesis_effect: float | None = None, note: str = "", level: float = LEVEL) -> tuple[Verdict, Evidence]:
    """Rule ``DIFFERENCE``: is ``a`` better than ``b``? ``b`` may be a fixed value (a deterministic
    baseline such as SIFT): then the interval comes from the spread of ``a`` alone."""
    fixed = not isinstance(b, list)
    base = {"rule": Rule.DIFFERENCE, "unit": unit, "better": better, "n": (len(a), 0 if fixed else len(b)),
            "thesis_effect": thesis_effect, "note": note}
    if not a or (not fixed and not b):
        return Verdict.NOT_MEASURED, Evidence(**base)
    s = _sign(better)
    diff = mean(a) - (b if fixed else mean(b))
    agrees = s * diff < 0 if diff != 0 else None
    if len(a) < 2 or (not fixed and len(b) < 2):
        return Verdict.INDICATIVE, Evidence(**base, diff=diff, agrees=agrees)
    if fixed:
        se, df = stdev(a) / math.sqrt(len(a)), len(a) - 1
    else:
        diff, se, df = welch(a, b)
    lo, hi = interval(diff, se, df, level)
    ev = Evidence(**base, diff=diff, se=se, df=df, lo=lo, hi=hi, agrees=agrees, mde=mde(se, df))
    good, bad = (hi < 0, lo > 0) if s > 0 else (lo > 0, hi < 0)
    return (Verdict.HOLDS if good else Verdict.FAILS if bad else Verdict.INCONCLUSIVE), ev


def non_inferiority(a: list[float], b: list[float], margin: Margin, unit: str, better: Better = Better.LOWER,
                    thesis_effect: float | None = None, note: str = "",
                    level: float = LEVEL) -> tuple[Verdict, Evidence]:
    """Rule ``NON_INFERIORITY``: is ``a`` at most ``margin`` worse than ``b`` (the reference)?
    ``level``: the interval's confidence (as in every rule; higher when several comparisons are
    judged at once, see ``all_of``)."""
    base = {"rule": Rule.NON_INFERIORITY, "unit": unit, "better": better, "n": (len(a), len(b)),
            "margin_reason": margin.reason, "thesis_effect": thesis_effect, "note": note}
    if not a or not b:
        return Verdict.NOT_MEASURED, Evidence(**base)
    m = margin.value(mean(b))
    s = _sign(better)
    diff = mean(a) - mean(b)
    worse = s * diff   # how much worse a is than b (negative: better)
    if len(a) < 2 or len(b) < 2:
        return Verdict.INDICATIVE, Evidence(**base, diff=diff, margin=m, agrees=worse < m)
    diff, se, df = welch(a, b)
    lo, hi = interval(diff, se, df, level)
    worst, best = (hi, lo) if s > 0 else (-lo, -hi)   # the interval in "how much worse" units
    ev = Evidence(**base, diff=diff, se=se, df=df, lo=lo, hi=hi, margin=m, agrees=worse < m, mde=mde(se, df))
    return (Verdict.HOLDS if worst < m else Verdict.FAILS if best > m else Verdict.NOT_SHOWN), ev


def equivalence(a: list[float], b: list[float], margin: Margin, unit: str, better: Better = Better.LOWER,
                thesis_effect: float | None = None, note: str = "") -> tuple[Verdict, Evidence]:
    """Rule ``EQUIVALENCE``: do ``a`` and ``b`` differ by less than ``margin`` either way?"""
    base = {"rule": Rule.EQUIVALENCE, "unit": unit, "better": better, "n": (len(a), len(b)),
            "margin_reason": margin.reason, "thesis_effect": thesis_effect, "note": note}
    if not a or not b:
        return Verdict.NOT_MEASURED, Evidence(**base)
    m = margin.value(mean(b))
    diff = mean(a) - mean(b)
    if len(a) < 2 or len(b) < 2:
        return Verdict.INDICATIVE, Evidence(**base, diff=diff, margin=m, agrees=abs(diff) < m)
    diff, se, df = welch(a, b)
    lo, hi = interval(diff, se, df)
    ev = Evidence(**base, diff=diff, se=se, df=df, lo=lo, hi=hi, margin=m, agrees=abs(diff) < m, mde=mde(se, df))
    inside, outside = (-m < lo and hi < m), (lo > m or hi < -m)
    return (Verdict.HOLDS if inside else Verdict.FAILS if outside else Verdict.NOT_SHOWN), ev


def tolerance(ours: list[float], target: float, margin: Margin, unit: str,
              note: str = "") -> tuple[Verdict, Evidence]:
    """Rule ``TOLERANCE``: is our mean within ``margin`` of the thesis's ``target``?"""
    base = {"rule": Rule.TOLERANCE, "unit": unit, "n": (len(ours), 0), "margin_reason": margin.reason,
            "note": note}
    if not ours:
        return Verdict.NOT_MEASURED, Evidence(**base)
    m = margin.value(target)
    diff = mean(ours) - target
    if len(ours) < 2:
        return Verdict.INDICATIVE, Evidence(**base, diff=diff, margin=m, agrees=abs(diff) < m)
    se, df = stdev(ours) / math.sqrt(len(ours)), len(ours) - 1
    lo, hi = interval(diff, se, df)
    ev = Evidence(**base, diff=diff, se=se, df=df, lo=lo, hi=hi, margin=m, agrees=abs(diff) < m, mde=mde(se, df))
    inside, outside = (-m < lo and hi < m), (lo > m or hi < -m)
    return (Verdict.HOLDS if inside else Verdict.FAILS if outside else Verdict.NOT_SHOWN), ev


def paired(diffs: list[float], unit: str, better: Better = Better.LOWER, thesis_effect: float | None = None,
           note: str = "", level: float = LEVEL) -> tuple[Verdict, Evidence]:
    """Rule ``PAIRED``: is ``a`` better than ``b``, from per-pair differences ``a_i - b_i``?"""
    k = len(diffs)
    base = {"rule": Rule.PAIRED, "unit": unit, "better": better, "n": (k, k), "thesis_effect": thesis_effect,
            "note": note}
    if not diffs:
        return Verdict.NOT_MEASURED, Evidence(**base)
    s = _sign(better)
    diff = mean(diffs)
    agrees = s * diff < 0 if diff != 0 else None
    if k < 2:
        return Verdict.INDICATIVE, Evidence(**base, diff=diff, agrees=agrees)
    se, df = stdev(diffs) / math.sqrt(k), k - 1
    lo, hi = interval(diff, se, df, level)
    ev = Evidence(**base, diff=diff, se=se, df=df, lo=lo, hi=hi, agrees=agrees, mde=mde(se, df))
    good, bad = (hi < 0, lo > 0) if s > 0 else (lo > 0, hi < 0)
    return (Verdict.HOLDS if good else Verdict.FAILS if bad else Verdict.INCONCLUSIVE), ev


def check(value: float | None, limit: float, unit: str, note: str = "") -> tuple[Verdict, Evidence]:
    """Rule ``CHECK``: is ``value`` at most ``limit``?"""
    if value is None:
        return Verdict.NOT_MEASURED, Evidence(Rule.CHECK, unit, margin=limit, note=note)
    ok = value <= limit
    return (Verdict.HOLDS if ok else Verdict.FAILS), Evidence(Rule.CHECK, unit, n=(1, 0), diff=value, margin=limit,
                                                              agrees=ok, note=note)


def all_of(results: dict[str, tuple[Verdict, Evidence]],
           strict: dict[str, tuple[Verdict, Evidence]] | None = None) -> tuple[Verdict, Evidence]:
    """A claim about every one of several comparisons ("no block type beats B(3,3)", "every
    learned network beats SIFT"). It holds when every comparison holds (an intersection needs no
    correction for multiplicity); it does not hold when some comparison fails in ``strict`` (the
    same comparisons judged at the Bonferroni-corrected level ``1 - 0.05 / k``; default: as given).
    The evidence shown is the comparison that decides: the failing one, or else the weakest."""
    strict = strict or results
    order = {Verdict.FAILS: 0, Verdict.NOT_MEASURED: 1, Verdict.INDICATIVE: 2, Verdict.NOT_SHOWN: 3,
             Verdict.INCONCLUSIVE: 3, Verdict.HOLDS: 4}
    failing = [k for k, (v, _) in strict.items() if v is Verdict.FAILS]
    if failing:
        name = failing[0]
        v, ev = Verdict.FAILS, strict[name][1]
    else:
        name = min(results, key=lambda k: (order[results[k][0]], -(results[k][1].hi or 0)))
        v, ev = results[name]
        if v is Verdict.FAILS:  # failed at the uncorrected level only: not decided
            v = Verdict.NOT_SHOWN if ev.rule is not Rule.DIFFERENCE else Verdict.INCONCLUSIVE
    agrees = False if any(e.agrees is False for _, e in results.values()) else ev.agrees
    note = f"the deciding one of {len(results)} comparisons: {name}" + (f"; {ev.note}" if ev.note else "")
    return v, dataclasses.replace(ev, note=note, agrees=agrees)


def bonferroni(k: int) -> float:
    """The confidence level of each of ``k`` comparisons that keeps the family's error at 5%."""
    return 1 - (1 - LEVEL) / max(k, 1)


def not_measured(rule: Rule, unit: str, note: str) -> tuple[Verdict, Evidence]:
    return Verdict.NOT_MEASURED, Evidence(rule, unit, note=note)


def machine(record) -> str:
    """The machine a record was trained on, in words."""
    d = record.device
    n = d.get("threads", "?")
    return d.get("name") or f"{d.get('type', '?')} ({d.get('cpu') or '?'}, {n} thread{'' if n == 1 else 's'})"


def not_comparable(records) -> str:
    """Why the wall times of ``records`` cannot be compared ("" when they can): speeds count only
    between runs made on the same machine (device, threads), with the same PyTorch and the same
    training loop."""
    def build(r):
        return (machine(r), r.device.get("torch"), r.code.get("fingerprint", {}).get("files", {}).get("wpcore/train.py"))
    builds = {build(r) for r in records}
    if len(builds) <= 1:
        return ""
    return ("the runs were made on different machines or builds (" + "; ".join(sorted(f"{m}, torch {t}"
            for m, t, _ in builds)) + "), so their speeds are not comparable")


def spurious_expected(claims: list[Claim]) -> tuple[int, float, int]:
    """(number of claims judged by a statistical rule with two or more seeds a side, the number of
    decided verdicts expected by chance alone among them, how many of them had two-stage seeds): 5%
    a claim judged once, ``TWO_LOOK_ERROR`` one whose seeds were judged twice."""
    judged = [c for c in claims if c.kind is Kind.CLAIM and c.evidence.se is not None]
    twice = sum(c.evidence.looks > 1 for c in judged)
    return len(judged), (len(judged) - twice) * (1 - LEVEL) + twice * TWO_LOOK_ERROR, twice


def mean_spread(values: list[float], digits: int = 2) -> str:
    if not values:
        return "—"
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{mean(values):.{digits}f} ± {stdev(values):.{digits}f}"
