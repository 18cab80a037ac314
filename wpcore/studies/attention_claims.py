"""The attention chapter's claims: each method against another for each pair of the profile, judged
on the records (``verdict.difference``) and read against the teacher's head start (``gap_rows``), and
the check that AT students look where their teacher does; ``studies.attention`` holds the design,
the records' helpers and the measurements."""
from __future__ import annotations

from dataclasses import replace
from statistics import mean

from ..profiles import check_profile
from . import attention as study
from . import convergence as conv
from . import verdict as v
from .attention import (
    CHAPTER,
    DISTANCE_IMAGES,
    METHOD_NAMES,
    PLANS,
    THESIS,
    THESIS_SOURCE,
    TWO_STAGE_SEEDS,
    convergence,
    errors,
    in_study,
)
from .claim import Claim, Kind, two_stage
from .verdict import mean_spread

# --- the teacher's head start ------------------------------------------------------------------
# A transfer method can at best close the gap between the student alone and its teacher, and our
# teacher is far less ahead of its student than the thesis's (CIFAR-10 WRN-16-2 -> WRN-16-1: 2.46
# points). So besides the thesis's raw differences, the page sets each method's share of the gap it
# closes next to the thesis's share, and each claim says what the thesis's difference becomes when
# scaled to our gap (the same share of a smaller gap).

def gap(records, teacher: str, student: str) -> float | None:
    """Our teacher's head start, in points of test error: the student alone's mean error minus the
    teacher's (its one run); None without both."""
    t, s = errors(records, teacher, student, "teacher"), errors(records, teacher, student, "student")
    return mean(s) - t[0] if t and s else None


def thesis_gap(teacher: str, student: str) -> float | None:
    """The thesis's head start for the pair (student alone minus teacher, CIFAR-10 points)."""
    ref = THESIS.get((teacher, student), {})
    return ref["student"][0] - ref["teacher"][0] if "student" in ref and "teacher" in ref else None


def scaled_to_gap(records, teacher: str, student: str, effect: float | None) -> float | None:
    """The thesis's difference ``effect`` for the pair as the same share of our gap (None where
    either gap is missing or ours is not a head start)."""
    ours, theirs = gap(records, teacher, student), thesis_gap(teacher, student)
    if effect is None or not ours or ours <= 0 or not theirs:
        return None
    return effect * ours / theirs


def gap_rows(records, profile: str) -> list[dict]:
    """Per pair and transfer method: the share of the teacher-student gap it closes, ours (with the
    interval of its difference to the student alone, over the students' seeds; the teacher is one
    run) next to the thesis's."""
    plan = PLANS[check_profile(profile)]
    rows = []
    for i, (t, s) in enumerate(plan.pairs):
        g, tg, ref = gap(records, t, s), thesis_gap(t, s), THESIS.get((t, s), {})
        alone = errors(records, t, s, "student")
        for m in plan.methods + (plan.extra_methods if i == 0 else ()):
            e = errors(records, t, s, m)
            if m in ("student", "flip") or not e or not g or g <= 0 or len(alone) < 2 or len(e) < 2:
                continue
            _, ev = v.difference(e, alone, "points of test error")
            rows.append({"pair": f"{t} → {s}", "method": METHOD_NAMES[m], "seeds": len(e), "gap": g,
                         "share": -ev.diff / g, "lo": -ev.hi / g, "hi": -ev.lo / g,
                         "thesis share": (ref["student"][0] - ref[m][0]) / tg if tg and m in ref else None,
                         "thesis gap": tg})
    return rows


def thesis_text(teacher: str, student: str, methods) -> str:
    """The thesis's numbers for a pair, each with its source tag."""
    ref = THESIS.get((teacher, student))
    if not ref:
        return (f"no thesis number for {teacher} → {student} (CIFAR-10 pairs: "
                + ", ".join(f"{a}→{b}" for a, b in THESIS) + ")")
    return "CIFAR-10 error: " + ", ".join(f"{METHOD_NAMES.get(m, m)} {ref[m][0]}% [{ref[m][1]}]"
                                          for m in methods) + f" ({THESIS_SOURCE})"


def thesis_effect(teacher: str, student: str, better: str, worse: str) -> float | None:
    ref = THESIS.get((teacher, student), {})
    return ref[better][0] - ref[worse][0] if better in ref and worse in ref else None


def compare(records, profile: str, teacher: str, student: str, better: str, worse: str, sentence: str,
            thesis_methods) -> Claim:
    """Claim "method ``better`` gives a lower error than ``worse``" for one pair, judged on the records."""
    a, b = errors(records, teacher, student, better), errors(records, teacher, student, worse)
    effect = thesis_effect(teacher, student, better, worse)
    verdict, ev = v.difference(a, b, "points of test error", thesis_effect=effect)
    if ev.lo is not None and (scaled := scaled_to_gap(records, teacher, student, effect)) is not None:
        inside = "contains" if ev.lo <= scaled <= ev.hi else "excludes"
        ev = replace(ev, note="; ".join(filter(None, (ev.note, (
            f"our teacher's error is {gap(records, teacher, student):.2f} points below the student alone's, "
            f"the thesis's {thesis_gap(teacher, student):.2f}; scaled to our gap, the thesis's difference "
            f"would be {scaled:+.2f} points, which the interval {inside}")))))
    ours = (f"{PLANS[profile].data['dataset']} test error ({profile}, {teacher}→{student}): "
            f"{METHOD_NAMES[better]} {mean_spread(a)}% ({len(a)} seed{'s' * (len(a) != 1)}) vs {METHOD_NAMES[worse]} "
            f"{mean_spread(b)}% ({len(b)} seed{'s' * (len(b) != 1)})")
    if {better, worse} <= set(TWO_STAGE_SEEDS.get(profile, {})):
        ours, ev = two_stage(ours, ev)
    return Claim(CHAPTER, sentence.format(t=teacher, s=student), thesis_text(teacher, student, thesis_methods),
                 ours, verdict, ev)


def claims(records, profile: str) -> list[Claim]:
    """Verdicts per pair of the profile, and the check that AT students' attention is closer to
    their teacher's (measured from the records' weights)."""
    plan = PLANS[check_profile(profile)]
    all_records = list(records)
    records = in_study(all_records, profile)  # the convergence check's own runs apart
    out = []
    for i, (t, s) in enumerate(plan.pairs):
        out += [
            compare(records, profile, t, s, "at", "student",
                    "Attention transfer from {t} lowers the error of {s} trained alone.", ("student", "at")),
            compare(records, profile, t, s, "kd", "student",
                    "Knowledge distillation from {t} lowers the error of {s} trained alone.", ("student", "kd")),
        ]
        if "f-actt" in plan.methods:  # the thesis's baseline for AT: does it help, and does AT help more?
            out += [compare(records, profile, t, s, "f-actt", "student",
                            "Full-activation transfer (F-ActT, our FitNets-style definition) from {t} lowers the "
                            "error of {s} trained alone.", ("student", "f-actt")),
                    compare(records, profile, t, s, "at", "f-actt",
                            "Attention transfer from {t} beats full-activation transfer (F-ActT, our FitNets-style "
                            "definition) for {s}.", ("f-actt", "at"))]
        out += [
            compare(records, profile, t, s, "at+kd", "at",
                    "AT and KD combine: AT+KD from {t} beats AT alone for {s}.", ("at", "at+kd")),
        ]
        if "grad-at" in plan.methods or (i == 0 and "grad-at" in plan.extra_methods):
            out.append(compare(records, profile, t, s, "grad-at", "student",
                               "Gradient-based attention transfer from {t} lowers the error of {s} trained "
                               "alone.", ("student",)))
    dist = study.attention_distances(records, profile)  # through the module: tests replace it
    # in units of 1e-3 (the distances are small)
    a, b = [x * 1e3 for x in dist.get("at", [])], [x * 1e3 for x in dist.get("student", [])]
    verdict, ev = v.difference(a, b, "x1e-3 AT distance")
    out.append(Claim(CHAPTER, "A student trained with AT has attention maps closer to its teacher's than the "
                     "same network trained alone (the mechanism AT relies on).",
                     "shown qualitatively by the paper's attention-map figures [U]",
                     f"AT distance to {plan.pairs[0][0]} on {DISTANCE_IMAGES} test images (beta = 1, summed over "
                     f"groups, x1e-3): AT students {mean_spread(a)} vs plain students {mean_spread(b)}",
                     verdict, ev, kind=Kind.CHECK))
    if convergence(profile):
        runs = convergence(profile)
        out.append(conv.check(CHAPTER, all_records, runs, what=f"{runs[1][0].model} trained alone"))
    return out
