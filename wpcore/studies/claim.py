"""A claim of the thesis, the verdict on it and the evidence the verdict rests on: the types the
rules of ``wpcore.studies.verdict`` return, the studies fill and ``wpcore.present.verdicts`` words.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from enum import Enum

# A claim whose seeds were raised after its first seeds left it undecided says so in its "ours" text,
# and its evidence counts the two looks (``two_stage``; ``Evidence.looks``, ``stats.TWO_LOOK_ERROR``).
TWO_LOOKS = "looking twice raises the chance of a decided verdict where no difference exists from 5% to about 7%"
TWO_STAGE_NOTE = f"seeds 3-5 were added after seeds 0-2 left the claim undecided; the verdict uses all six, and {TWO_LOOKS}"


class Verdict(Enum):
    HOLDS = "holds"
    FAILS = "does not hold"
    INCONCLUSIVE = "inconclusive"        # a difference within noise
    NOT_SHOWN = "not shown"              # equivalence / non-inferiority / tolerance: interval not inside the margin
    INDICATIVE = "one seed"              # single runs: a direction, no statistics
    NOT_COMPARABLE = "not comparable"    # e.g. speeds measured on different machines
    NOT_MEASURED = "not measured"

    @property
    def decided(self) -> bool:
        return self in (Verdict.HOLDS, Verdict.FAILS)


class Rule(Enum):
    DIFFERENCE = "difference"
    NON_INFERIORITY = "non-inferiority"
    EQUIVALENCE = "equivalence"
    TOLERANCE = "tolerance"
    PAIRED = "paired difference"
    CHECK = "check"


class Better(Enum):
    """Which way a metric improves."""
    LOWER = "lower"     # errors, FPR95, seconds
    HIGHER = "higher"   # AP, speed-ups


class Kind(Enum):
    CLAIM = "claim"     # something the thesis claims
    CHECK = "check"     # an implementation check (folding is exact, AT students mimic their teacher)


@dataclass(frozen=True)
class Margin:
    """How far apart two results may be and still count as "as good": ``relative`` times the
    reference's mean (or ``absolute`` units), with the reason the study gives for the number."""
    reason: str
    relative: float | None = None
    absolute: float | None = None

    def value(self, reference: float) -> float:
        if self.absolute is not None:
            return self.absolute
        return abs(self.relative * reference)

    def describe(self) -> str:
        return f"{self.relative:.0%} of the reference" if self.absolute is None else f"{self.absolute:g}"


@dataclass(frozen=True)
class Evidence:
    """What a verdict rests on. ``diff`` is ``mean(a) - mean(b)`` in ``unit`` (for ``TOLERANCE``,
    our mean minus the target; for ``CHECK``, the checked value), ``lo``/``hi`` its interval."""
    rule: Rule
    unit: str
    better: Better = Better.LOWER
    n: tuple[int, int] = (0, 0)
    diff: float | None = None
    se: float | None = None
    df: float | None = None
    lo: float | None = None
    hi: float | None = None
    margin: float | None = None
    margin_reason: str = ""
    agrees: bool | None = None          # does the observed result go the thesis's way?
    mde: float | None = None            # minimal detectable difference (80% power), in unit
    thesis_effect: float | None = None  # the thesis's own difference for this comparison, in its unit
    note: str = ""                      # anything else the reader must know (e.g. why not measured)
    looks: int = 1                      # times the seeds were judged: 2 for two-stage seeds (TWO_STAGE_NOTE)

    @property
    def single(self) -> bool:
        return min(self.n) < 2


@dataclass
class Claim:
    chapter: str
    claim: str       # what the thesis says, in a sentence
    thesis: str      # the thesis's evidence, with its source (table, tag)
    ours: str        # our evidence, with profile, dataset, seeds
    verdict: Verdict
    evidence: Evidence
    kind: Kind = Kind.CLAIM

    @property
    def against(self) -> bool:
        """Our result goes against the thesis (whatever its strength)."""
        return self.evidence.agrees is False


def two_stage(ours: str, evidence: Evidence, step: str = "") -> tuple[str, Evidence]:
    """A claim judged on two-stage seeds: its "ours" text with ``TWO_STAGE_NOTE`` (or, where only one
    ``step`` of the claim took the added seeds, the same note about that step), and its evidence with
    the two looks at its seeds."""
    note = (f"seeds 3-5 of {step} were added after seeds 0-2 left that step undecided; the verdict uses all six "
            f"there, and {TWO_LOOKS}") if step else TWO_STAGE_NOTE
    return f"{ours} ({note})", replace(evidence, looks=2)
