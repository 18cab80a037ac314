"""The convergence check of a chapter's baseline, drawn: test metric against training length."""
from __future__ import annotations


def show_convergence(records, runs: dict[float, list], metric: str = "test_error", label: str = "test error (%)",
                     what: str = "baseline"):
    """One dot per seed at each training length (epochs), the mean as a line; the profile's length
    marked. ``runs``: ``{multiplier: [experiments]}`` (a study's ``convergence(profile)``)."""
    import matplotlib.pyplot as plt

    from ..studies.convergence import values

    vals = values(records, runs, metric)
    epochs = {m: exps[0].epochs for m, exps in runs.items() if exps}
    fig, ax = plt.subplots(figsize=(4.6, 3.0))
    xs = sorted(m for m in vals if vals[m])
    for m in xs:
        ax.scatter([epochs[m]] * len(vals[m]), vals[m], color="0.45", s=14, zorder=3)
    ax.plot([epochs[m] for m in xs], [sum(vals[m]) / len(vals[m]) for m in xs], color="C0", marker="o", zorder=2,
            label="mean over seeds")
    if 1 in epochs:
        ax.axvline(epochs[1], color="C1", linestyle="--", linewidth=1, label="this profile's length")
    ticks = [epochs[m] for m in xs]
    ax.set(xscale="log", xlabel="training epochs (log scale)", ylabel=label, title=f"Convergence of {what}")
    if ticks:  # room either side, so the dots at the shortest and longest runs sit off the frame
        ax.set_xlim(min(ticks) / 1.25, max(ticks) * 1.25)
    ax.set_xticks(ticks, [str(t) for t in ticks])
    ax.minorticks_off()
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8)
    fig.tight_layout()
    return fig


NARROW = 0.2  # a check whose change lies within this share of its tolerance, either side, is called narrow


def narrow(check) -> bool:
    """The check's change is so close to its tolerance that one more seed could move it across."""
    e = check.evidence
    return check.verdict.decided and e.diff is not None and bool(e.margin) and \
        abs(abs(e.diff) - e.margin) <= NARROW * e.margin


def beyond_sentence(records, runs: dict[float, list], metric: str = "test_error") -> str:
    """The lengths past the check's 2x, where a study trains them (a trend the check does not judge),
    as a sentence; '' where it has none."""
    from statistics import mean, stdev

    from ..studies.convergence import METRIC_NAMES, values

    vals = values(records, runs, metric)
    longer = sorted(k for k in vals if k > 2 and vals[k])
    if not longer:
        return ""
    name = METRIC_NAMES.get(metric, metric.replace("_", " "))
    base, doubled = vals.get(1, []), vals.get(2, [])
    parts = []
    for m in longer:
        got = vals[m]
        spread = f" ± {stdev(got):.2f}" if len(got) > 1 else ""
        change = f", {mean(got) - mean(doubled):+.2f} from twice the training" if doubled else ""
        parts.append(f"at {m:g}x ({runs[m][0].epochs} epochs) {name} {mean(got):.2f}{spread} "
                     f"({len(got)} seed{'s' * (len(got) != 1)}{change})")
    text = "Trained longer still (shown, not part of the check): " + "; ".join(parts)
    if len(base) < 2 or not doubled:
        return text + "."
    sd = stdev(base)
    moved = abs(mean(vals[longer[-1]]) - mean(doubled)) > sd
    return (text + f", against one seed s.d. of {sd:.2f} at the profile's length: "
            + ("the baseline still learns past twice the training, by more than that s.d., so the check's pass "
               "does not mean it has stopped learning." if moved else
               "within that s.d. of twice the training, as a converged baseline should be."))


def longer_baseline(records, study, profile: str):
    """The chapter's claims judged again with its baseline's checked seeds trained longer
    (``studies.convergence.rejudge``): a table of the claims that use those runs (verdict and
    difference at each length; None where none does) and a sentence saying what was swapped and what
    changed ("" where the profile has no such runs)."""
    import pandas as pd

    from ..studies.convergence import rejudge
    from .verdicts import label, num

    moved, lengths, n_claims = rejudge(records, study, profile)
    if not lengths:
        return None, ""
    runs = study.convergence(profile)
    trained = " and ".join(f"{runs[m][0].epochs} epochs ({m:g}x)" for m in lengths)
    lead = (f"If the baseline had trained longer: the claims judged again with {runs[1][0].name()}'s seeds "
            f"{', '.join(map(str, lengths[2]))} trained for {trained} instead of {runs[1][0].epochs}, in place of "
            "their runs at this profile's length, every other run as it is. ")
    if not moved:
        return None, lead + "None of the chapter's claims uses those runs, so no verdict depends on them."
    flips = sum(r.flipped for r in moved)
    change = f"{flips} verdict{'s change' if flips != 1 else ' changes'}" if flips else "no verdict changes"
    table = pd.DataFrame([{"claim": r.as_trained.claim,
                           "as trained": f"{label(r.as_trained)} ({num(r.as_trained.evidence.diff)})",
                           **{f"baseline trained {m:g}x": f"{label(c)} ({num(c.evidence.diff)})"
                              for m, c in r.longer.items()},
                           "the longer baseline": r.push.value} for r in moved]).fillna("—")
    table = table[[c for c in table.columns if c != "the longer baseline"] + ["the longer baseline"]]
    return table, lead + (f"{len(moved)} of the {n_claims} claims use them, and {change} (differences in each "
                          "claim's own unit, as its verdict states them). Only the baseline trains longer here, so "
                          "this tests a claim only where the extra training works against it (the baseline is the "
                          "side the claim says is worse); where it works for the claim, it shows nothing. The "
                          "verdicts below stay those of the runs as trained.")


def training_state(check, profile: str) -> str:
    """How far a chapter's runs are trained, in words that match its convergence check (``check``:
    the study's CHECK claim from ``studies.convergence.check``, or None where the profile has none)."""
    from ..studies.verdict import Verdict

    if check is None and profile == "full":
        return "trained with the thesis's own recipes and schedules (`full` makes no convergence check of its own)"
    if check is None:
        return (f"far from convergence (`{profile}` is a pipeline check; `standard` trains its baselines until "
                "twice the training no longer changes them)")
    if check.verdict is Verdict.HOLDS and narrow(check):
        return ("trained until twice the training moves the baseline by just under one seed s.d. (the convergence "
                "check above passes narrowly: its baseline is at the edge of convergence)")
    if check.verdict is Verdict.HOLDS:
        return "trained until twice the training no longer moves the baseline (the convergence check above)"
    if check.verdict is Verdict.FAILS:
        return ("not trained to convergence (the convergence check above fails: twice the training still moves "
                "the baseline by more than one seed s.d.)")
    return f"of unknown convergence (the check above could not be made: it {check.evidence.note})"


def show_convergence_check(records, study, profile: str, metric: str = "test_error",
                           label: str = "test error (%)", unit: str = "points of test error"):
    """The section that shows whether a chapter's baseline has learned its task: the figure of
    ``show_convergence`` and a sentence with the check's verdict; a sentence alone where the
    profile does not check. Returns the check's claim (None without one)."""
    import matplotlib.pyplot as plt
    from IPython.display import Markdown, display

    from ..studies.convergence import check as convergence_check

    runs = study.convergence(profile)
    if not runs:
        display(Markdown(f"*The `{profile}` profile does not check convergence; its runs are "
                         f"{training_state(None, profile)}.*"))
        return None
    what = runs[1][0].model  # the claim the study's verdicts list, made the same way
    check = convergence_check(study.CHAPTER, records, runs, what=what, metric=metric, unit=unit)

    show_convergence(records, runs, metric, label, what=what)
    plt.show()
    from .verdicts import label as verdict_label

    display(Markdown(f"**Check, to pass or fail.** {check.claim} *Ours:* {check.ours}. "
                     f"**{verdict_label(check)}**. "
                     + (f"A narrow result: the change is within {NARROW:.0%} of the tolerance, so one more seed "
                        "could move it across. " if narrow(check) else "")
                     + f"So the runs of this chapter are {training_state(check, profile)}."))
    if longer := beyond_sentence(records, runs, metric):
        display(Markdown(longer))
    table, sentence = longer_baseline(records, study, profile)
    if sentence:
        display(Markdown(sentence))
    if table is not None:
        from .tables import show_table

        show_table(table, caption="Verdicts as trained, and with the baseline's checked seeds trained longer "
                                  "(difference in brackets)")
    return check


def floor_sentence(floor, ours: list[float], what: str) -> str:
    """The baseline's test errors set against a linear model's on the same images (``studies.linear``),
    as a sentence; '' without either."""
    from statistics import mean

    if floor is None or not ours:
        return ""
    _, h, w = floor.shape
    gap = floor.error - mean(ours)
    where = (f"On the same {floor.n_train:,} training images ({w}x{h} pixels) and {floor.n_test:,} test images, a "
             "linear model (multinomial logistic regression, scikit-learn, pixels standardised, its default "
             f"regularisation, not tuned) makes {floor.error:.2f}% test errors; the baseline ({what}, "
             f"{len(ours)} seed{'s' * (len(ours) != 1)}) makes {mean(ours):.2f}%, ")
    if gap > 0:
        return "**Against a linear model.** " + where + f"{gap:.2f} points fewer."
    return ("**Against a linear model.** " + where + f"{-gap:.2f} points more: the networks have not learned more "
            "than a linear model does, and their comparisons say little.")


def show_linear_floor(records, study, profile: str, floor) -> None:
    """After the convergence check of a classifier chapter: its baseline against ``floor``, a linear
    model fitted on the same images (``studies.linear.baseline_floor``); nothing where there is none."""
    from IPython.display import Markdown, display

    from ..studies.convergence import values

    runs = study.convergence(profile)
    if not runs:
        return
    if text := floor_sentence(floor, values(records, runs, "test_error").get(1, []), runs[1][0].model):
        display(Markdown(text))
