"""Verdicts in words: each rule of ``wpcore.studies.verdict`` says what it showed, and nothing more.

``label(claim)`` is the short verdict a table shows; ``explain(claim)`` is the sentence that says
how the rule reached it, with the numbers it used; ``show_verdicts`` is the verdict section of a
chapter (claims, checks, where we go against the thesis, the profile's limits).
"""
from __future__ import annotations

import re

from ..studies.claim import Better, Claim, Kind, Rule, Verdict
from ..studies.stats import LEVEL, TWO_LOOK_ERROR, seeds_to_detect

LABELS = {
    Verdict.HOLDS: "holds",
    Verdict.FAILS: "does not hold",
    Verdict.INCONCLUSIVE: "inconclusive",
    Verdict.NOT_SHOWN: "not shown",
    Verdict.NOT_COMPARABLE: "not comparable",
    Verdict.NOT_MEASURED: "not measured",
}
CHECK_LABELS = {Verdict.HOLDS: "check passes", Verdict.FAILS: "check fails"}


def label(c: Claim) -> str:
    """The verdict in a few words; a single-seed result always says which way it went."""
    if c.verdict is Verdict.INDICATIVE:
        way = {True: "goes the thesis's way", False: "goes against the thesis", None: "no difference"}
        return f"one seed; {way[c.evidence.agrees]}"
    if c.kind is Kind.CHECK and c.verdict in CHECK_LABELS:
        return CHECK_LABELS[c.verdict]
    return LABELS[c.verdict]


def num(x: float, signed: bool = True) -> str:
    """Two decimals, or two significant digits for small values."""
    if x is None:
        return "—"
    s = "+" if signed else ""
    return f"{x:{s}.2f}" if abs(x) >= 0.01 or x == 0 else f"{x:{s}.2g}"


def _interval(e) -> str:
    return f"95% interval {num(e.lo)} to {num(e.hi)} {e.unit}"


def _seeds(e) -> str:
    if e.rule is Rule.PAIRED:
        return f"{e.n[0]} pairs"
    if e.rule is Rule.TOLERANCE:
        return f"{e.n[0]} seeds"
    if e.n[1] == 0:
        return f"{e.n[0]} seeds against a fixed value"
    return f"{e.n[0]} vs {e.n[1]} seeds"


def _power(e) -> str:
    if e.mde is None:
        return ""
    text = f" With this spread, a true difference of {num(e.mde, False)} {e.unit} would be detected 80% of the time"
    if e.thesis_effect is not None:
        text += f" (the thesis's own difference: {num(e.thesis_effect)})"
    return text + "."


def _at_most(e) -> str:
    """For an undecided difference whose interval says more than the thesis comparison does: the
    largest true difference in the claim's direction the interval still allows."""
    if e.lo is None or e.hi is None or (e.thesis_effect is not None and not e.lo <= e.thesis_effect <= e.hi):
        return ""  # no interval, or _thesis_outside already bounds the effect
    bound = e.hi if e.better is Better.HIGHER else -e.lo
    return (f" In the claim's direction the interval allows a true difference of at most {num(bound, False)} "
            f"{e.unit}.")


def _seeds_needed(e) -> str:
    """For an undecided difference: whether these seeds could have detected the thesis's own effect,
    and if not, about how many would."""
    t = e.thesis_effect
    if t is None or e.mde is None or not e.se or abs(t) >= e.mde or t == 0:
        return ""
    k = seeds_to_detect(e.se, e.df, t)
    more = (f"about {k} times these seeds ({k * e.n[0]} vs {k * e.n[1]})" if k else
            "more than 100 times these seeds")
    return (f" The thesis's difference is smaller than that: detecting an effect of its size 80% of the time "
            f"would take {more}.")


def _thesis_outside(e) -> str:
    """For an inconclusive difference: whether the interval also rules out the thesis's own effect."""
    t = e.thesis_effect
    if t is None or e.lo is None or e.hi is None or e.lo <= t <= e.hi:
        return ""
    # the interval holds zero and not t, so every difference it allows is smaller than t in t's direction
    return (f" The interval does exclude the thesis's difference of {num(t)} {e.unit}: an effect in the thesis's "
            "direction, if there is one, is smaller here than the thesis reports.")


def _direction(e) -> str:
    return {True: " Its sign goes the thesis's way.", False: " Its sign goes against the thesis.", None: ""}[e.agrees]


def explain(c: Claim) -> str:
    """One or two sentences: what the rule computed and why that gives this verdict."""
    e = c.evidence
    text = _explain(c)
    if e.note and c.verdict not in (Verdict.NOT_MEASURED, Verdict.NOT_COMPARABLE):
        text += f" ({e.note[0].upper() + e.note[1:]}.)"
    return text


def _explain(c: Claim) -> str:
    e, v = c.evidence, c.verdict
    if v is Verdict.NOT_MEASURED:
        return e.note or "This profile has no runs for it."
    if v is Verdict.NOT_COMPARABLE:
        return e.note or "The runs were not made on the same machine, so their speeds cannot be compared."
    if e.rule is Rule.CHECK:
        ok = "within" if v is Verdict.HOLDS else "beyond"
        return f"{num(e.diff, False)} {e.unit} is {ok} the tolerance {num(e.margin, False)}."
    if v is Verdict.INDICATIVE:
        margin = f" (margin {num(e.margin, False)})" if e.margin is not None else ""
        return (f"One run per side, so no spread and no statistics: the difference is {num(e.diff)} {e.unit}"
                f"{margin}.{_direction(e)} Take it as a hint, not evidence.")
    diff = f"The difference is {num(e.diff)} {e.unit} ({_interval(e)}; Welch's t over {_seeds(e)})"
    if e.rule is Rule.PAIRED:
        diff = f"The mean paired difference is {num(e.diff)} {e.unit} ({_interval(e)}; over {_seeds(e)})"
    if e.rule in (Rule.DIFFERENCE, Rule.PAIRED):
        chance = TWO_LOOK_ERROR if e.looks > 1 else 1 - LEVEL  # two-stage seeds were judged twice
        why = {Verdict.HOLDS: "the whole interval lies on the thesis's side of zero, so seed noise alone is unlikely "
                              f"({chance:.0%}) to explain it.",
               Verdict.FAILS: "the whole interval lies on the other side of zero: the claim fails here.",
               Verdict.INCONCLUSIVE: "the interval contains zero, so seed noise could explain it."}[v]
        return f"{diff}: {why}{_direction(e) if v is Verdict.INCONCLUSIVE else ''}" \
               f"{_power(e)}" \
               f"{_thesis_outside(e) + _seeds_needed(e) + _at_most(e) if v is Verdict.INCONCLUSIVE else ''}"
    m = num(e.margin, False)
    reason = f" ({e.margin_reason})" if e.margin_reason else ""
    if e.rule is Rule.NON_INFERIORITY:
        why = {Verdict.HOLDS: f"even its worst end is less than the margin of {m} {e.unit} worse{reason}, so "
                              "\"as good\" is shown.",
               Verdict.FAILS: f"even its best end is more than the margin of {m} {e.unit} worse{reason}.",
               Verdict.NOT_SHOWN: f"it reaches beyond the margin of {m} {e.unit}{reason}, so \"as good\" is not "
                                  "shown (no significant difference is not the same as equivalence)."}[v]
    elif e.rule is Rule.EQUIVALENCE:
        why = {Verdict.HOLDS: f"the whole interval lies within ±{m} {e.unit}{reason}, so the two are shown to be "
                              "equivalent.",
               Verdict.FAILS: f"the whole interval lies outside ±{m} {e.unit}{reason}.",
               Verdict.NOT_SHOWN: f"the interval is not inside ±{m} {e.unit}{reason}, so equivalence is not "
                                  "shown (no significant difference is not the same as equivalence)."}[v]
    else:  # TOLERANCE
        diff = (f"Our mean is {num(e.diff)} {e.unit} from the thesis's number ({_interval(e)}; "
                f"{_seeds(e)})")
        why = {Verdict.HOLDS: f"the whole interval lies within ±{m} {e.unit}{reason}.",
               Verdict.FAILS: f"the whole interval lies outside ±{m} {e.unit}{reason}.",
               Verdict.NOT_SHOWN: f"the interval is not inside ±{m} {e.unit}{reason}."}[v]
    return f"{diff}: {why}{_direction(e) if not v.decided else ''}{_power(e)}"


def slug(c: Claim) -> str:
    """A stable anchor for the claim on its chapter page (the scorecard links to it)."""
    words = re.findall(r"[a-z0-9]+", c.claim.lower())[:8]
    return "claim-" + "-".join(words)


def show_verdicts(claims, profile: str, limits: str) -> None:
    """The verdict section of a chapter: each claim with the thesis's number, ours and the verdict
    in words that match its rule; the implementation checks apart; every result that goes
    against the thesis; and, below ``full``, what this profile can and cannot show (``limits``)."""
    from IPython.display import Markdown, display

    claims = list(claims)
    for c in claims:
        if c.kind is Kind.CLAIM:
            display(Markdown(f'<span id="{slug(c)}"></span>**Claim.** {c.claim}\n\n- *Thesis:* {c.thesis}\n'
                             f"- *Ours:* {c.ours}\n- *Verdict:* **{label(c)}**. {explain(c)}"))
    checks = [c for c in claims if c.kind is Kind.CHECK]
    if checks:
        display(Markdown("**Checks** (not claims of the thesis: they test that our code does what it should "
                         "and whether the baseline has learned its task):\n\n" + "\n".join(f"- {c.claim} *Ours:* {c.ours}. **{label(c)}**: {explain(c)}"
                                                     for c in checks)))
    against = [c for c in claims if c.kind is Kind.CLAIM and c.against]
    if against:
        display(Markdown("**Where our runs go against the thesis** (every such result, whatever its strength):\n\n"
                         + "\n".join(f"- *{c.claim}* ({label(c)})" for c in against)
                         + f"\n\nThis is what we measured under the `{profile}` profile; see below for what it "
                           "can show."))
    if profile != "full":
        display(Markdown("What this profile can and cannot show: " + limits))
