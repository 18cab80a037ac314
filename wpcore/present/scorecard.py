"""The scorecard as a dashboard: every verdict of the book at a glance, each claim linked to its
section on its chapter page, checks apart from claims, and what the page was built from.

Words come from ``present.verdicts`` (``label``, ``explain``, ``slug``); this module only lays
them out. The colour of a verdict is its ``Verdict`` (and, for a single seed, its direction):
green holds, red does not hold, amber undecided by the statistics, blue-grey one seed, grey not
measured.
"""
from __future__ import annotations

import html
from collections import Counter

from ..studies.claim import Claim, Kind, Verdict
from ..studies.stats import TWO_LOOK_ERROR
from ..studies.verdict import spurious_expected
from .verdicts import explain, label, num, slug

TITLES = {"patches": "Patch matching", "multipath": "MultiPath detection", "wide_resnets": "Wide ResNets",
          "attention": "Attention transfer", "diracnets": "DiracNets"}
# verdict -> CSS class (book/wpbook.css colours them); single seeds by direction
CLASSES = {Verdict.HOLDS: "holds", Verdict.FAILS: "fails", Verdict.INCONCLUSIVE: "undecided",
           Verdict.NOT_SHOWN: "undecided", Verdict.NOT_MEASURED: "missing", Verdict.NOT_COMPARABLE: "missing"}
ORDER = ["holds", "fails", "undecided", "with", "against", "level", "missing"]
LEGEND = {"holds": "holds", "fails": "does not hold", "undecided": "undecided (inconclusive, not shown)",
          "with": "one seed, the thesis's way", "against": "one seed, against the thesis",
          "level": "one seed, no difference", "missing": "not measured"}


def css_class(c: Claim) -> str:
    if c.verdict is Verdict.INDICATIVE:
        return {True: "with", False: "against", None: "level"}[c.evidence.agrees]
    return CLASSES[c.verdict]


def link(c: Claim) -> str:
    """The claim's section on its chapter page (relative to a page in ``chapters/`` or ``book/``);
    an implementation check links to the chapter's verdict section (``show_verdicts`` anchors
    claims only)."""
    if c.kind is Kind.CHECK:
        return f"../chapters/{c.chapter}.html#verdict"
    return f"../chapters/{c.chapter}.html#{slug(c)}"


def badge(c: Claim) -> str:
    return f'<span class="wp-verdict wp-{css_class(c)}">{html.escape(label(c))}</span>'


SHORT = {"holds": "hold", "fails": "do not hold", "undecided": "undecided", "with": "one seed, thesis's way",
         "against": "one seed, against", "level": "one seed, no difference", "missing": "not measured"}


def summary_html(claims: list[Claim]) -> str:
    """One row per chapter: its number of claims, a coloured count per kind of verdict (only the
    kinds it has), and its implementation checks apart."""
    rows = []
    for ch in dict.fromkeys(c.chapter for c in claims):
        mine = [c for c in claims if c.chapter == ch and c.kind is Kind.CLAIM]
        n = Counter(css_class(c) for c in mine)
        checks = [c for c in claims if c.chapter == ch and c.kind is Kind.CHECK]
        ok = sum(c.verdict is Verdict.HOLDS for c in checks)
        badges = " ".join(f'<span class="wp-verdict wp-{k}">{n[k]} {html.escape(SHORT[k])}</span>'
                          for k in ORDER if n[k])
        rows.append(f'<tr><td><a href="../chapters/{ch}.html">{html.escape(TITLES.get(ch, ch))}</a></td>'
                    f"<td>{len(mine)}</td><td>{badges}</td><td>{f'{ok} of {len(checks)} pass' if checks else '—'}</td></tr>")
    return ('<table class="wp-dashboard"><thead><tr><th>chapter</th><th>claims</th><th>verdicts</th>'
            f"<th>checks</th></tr></thead><tbody>{''.join(rows)}</tbody></table>")


def counts(claims: list[Claim]) -> Counter:
    """How many claims of the thesis (checks left out) fall in each colour class."""
    return Counter(css_class(c) for c in claims if c.kind is Kind.CLAIM)


def headline_html(claims: list[Claim], profile: str) -> str:
    """One paragraph (HTML): how many claims, how they came out, how many decided by chance alone."""
    thesis = [c for c in claims if c.kind is Kind.CLAIM]
    checks = [c for c in claims if c.kind is Kind.CHECK]
    n = counts(claims)
    judged, chance, twice = spurious_expected(claims)

    def tag(k: str, text: str) -> str:
        return f'<span class="wp-verdict wp-{k}">{n[k]} {text}</span>'

    single = n["with"] + n["against"] + n["level"]
    return (f"<p>Under the <code>{html.escape(profile)}</code> profile, <strong>{len(thesis)} claims</strong> of the "
            f"thesis: {tag('holds', 'hold')}, {tag('fails', 'do not hold')}, "
            f"{tag('undecided', 'undecided by the statistics')}, "
            + (f"{single} rest on one seed per side ({tag('with', 'the thesis’s way')}, {tag('against', 'against it')}, "
               f"{tag('level', 'no difference')}) " if single else "")
            + f"and {tag('missing', 'not measured')}; {len(checks)} checks (code and convergence) are listed apart. "
            f"{judged} claim{' is' if judged == 1 else 's are'} judged by a statistical rule with a 5% error rate"
            + (f" (about {TWO_LOOK_ERROR:.0%} for the {twice} whose seeds were raised after a first look left "
               "them undecided)" if twice else "")
            + f": even if none of {'its' if judged == 1 else 'their'} differences were real, about {chance:.1f} of "
            "them would come out decided by chance.</p>")


COLOURS = {"holds": "#1a9850", "fails": "#d73027", "undecided": "#fdae61", "with": "#91bfdb", "against": "#f4a6a6",
           "level": "#d9d9d9", "missing": "#f0f0f0"}


def figure(claims: list[Claim]):
    """One horizontal bar per chapter, split by verdict, in the dashboard's colours."""
    import matplotlib.pyplot as plt

    chapters = list(dict.fromkeys(c.chapter for c in claims))
    fig, ax = plt.subplots(figsize=(8, 0.55 * len(chapters) + 1.6))
    for i, ch in enumerate(chapters):
        n = Counter(css_class(c) for c in claims if c.chapter == ch and c.kind is Kind.CLAIM)
        left = 0
        for k in ORDER:
            if n[k]:
                ax.barh(i, n[k], left=left, color=COLOURS[k], edgecolor="#999999", lw=0.6, label=LEGEND[k])
                ax.text(left + n[k] / 2, i, str(n[k]), ha="center", va="center", fontsize=9)
                left += n[k]
    ax.set_yticks(range(len(chapters)), [TITLES.get(ch, ch) for ch in chapters])
    ax.invert_yaxis()
    ax.set_xlabel("claims of the thesis")
    ax.grid(False)
    handles, labels = ax.get_legend_handles_labels()
    keep = dict(zip(labels, handles))
    ax.legend(keep.values(), keep.keys(), loc="upper center", bbox_to_anchor=(0.5, -0.25), ncol=3, fontsize=8,
              frameon=False)
    ax.set_title("Verdicts per chapter", fontsize=10)
    fig.tight_layout()
    return fig


def figure_html(claims: list[Claim]) -> str:
    """``figure`` as an inline PNG in HTML (so that another page can show it as it is)."""
    import base64
    import io

    import matplotlib.pyplot as plt

    fig = figure(claims)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return (f'<img alt="verdicts per chapter" style="max-width:100%" '
            f'src="data:image/png;base64,{base64.b64encode(buf.getvalue()).decode()}"/>')


def claims_html(claims: list[Claim]) -> str:
    """Claims grouped by chapter: the claim (linked to its section), its coloured verdict, and,
    folded, the thesis's number, ours and how the verdict was reached."""
    parts = []
    for ch in dict.fromkeys(c.chapter for c in claims):
        rows = []
        for c in (c for c in claims if c.chapter == ch):
            rows.append(f'<tr><td><a href="{link(c)}">{html.escape(c.claim)}</a>'
                        f"<details><summary>thesis, ours, how</summary><p><em>Thesis:</em> {html.escape(c.thesis)}</p>"
                        f"<p><em>Ours:</em> {html.escape(c.ours)}</p><p><em>How:</em> {html.escape(explain(c))}</p>"
                        f"</details></td><td>{badge(c)}</td></tr>")
        parts.append(f'<h3 class="wp-chapter">{html.escape(TITLES.get(ch, ch))}</h3>'
                     f'<table class="wp-claims"><tbody>{"".join(rows)}</tbody></table>')
    return "".join(parts)


def power_html(claims: list[Claim]) -> str:
    """One row per claim that a statistical rule judged, under its chapter: our difference and its
    95% interval, the minimal detectable difference of its seeds (80% power), the thesis's own
    difference where the reference sheet gives one, and the verdict; a claim whose MDE exceeds the
    thesis's effect could not have decided at the thesis's size."""
    rows = []
    for ch in dict.fromkeys(c.chapter for c in claims):
        mine = [c for c in claims if c.chapter == ch and c.kind is Kind.CLAIM
                and c.evidence.mde is not None and c.evidence.diff is not None]
        if mine:
            rows.append(f'<tr class="wp-chapter-row"><td colspan="6">{html.escape(TITLES.get(ch, ch))}</td></tr>')
        for c in mine:
            e = c.evidence
            interval = f"{num(e.lo)} to {num(e.hi)}" if e.lo is not None and e.hi is not None else "—"
            thesis = num(e.thesis_effect) if e.thesis_effect is not None else "—"
            rows.append(f'<tr><td><a href="{link(c)}">{html.escape(c.claim)}</a>'
                        f'<span class="wp-unit">{html.escape(e.unit)}</span></td>'
                        f"<td>{num(e.diff)}</td><td>{interval}</td><td>{num(e.mde, False)}</td><td>{thesis}</td>"
                        f"<td>{badge(c)}</td></tr>")
    head = "".join(f"<th>{h}</th>" for h in ("claim (unit)", "ours", "95% interval", "detectable (80% power)",
                                             "thesis", "verdict"))
    return f'<table class="wp-power"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def longer_rows(profile: str) -> list[dict]:
    """Per chapter whose records are all present and whose baseline also trained longer: how many of
    its claims use the baseline's runs, how many of those the longer training works against (the only
    ones it tests) and how many verdicts it changes (``studies.convergence.rejudge``)."""
    from .. import experiment, scorecard
    from ..studies.convergence import Push, rejudge

    rows = []
    for mod in scorecard.study_modules():
        exps = mod.experiments(profile)
        recs = [experiment.find(e) for e in exps]
        if not exps or any(r is None for r in recs):
            continue
        moved, lengths, n = rejudge(recs, mod, profile)
        if lengths:
            rows.append({"chapter": TITLES.get(mod.CHAPTER, mod.CHAPTER),
                         "baseline trained longer": f"{mod.convergence(profile)[1][0].name()}, "
                                                    + " and ".join(f"{m:g}x" for m in lengths),
                         "claims": n, "use its runs": len(moved),
                         "tested (longer training works against them)": sum(r.push is Push.AGAINST for r in moved),
                         "verdicts that change": sum(r.flipped for r in moved)})
    return rows


def built_from(profile: str, records) -> str:
    """The profile and the code versions of the records the verdicts read."""
    from .tables import code_versions

    dates = sorted(r.created[:10] for r in records)
    return (f"Built from the `{profile}` profile's records: {len(records)} runs, code {code_versions(records)}"
            + (f", made {dates[0]}" + (f" to {dates[-1]}" if dates[-1] != dates[0] else "") if dates else "") + ".")


def records_of(profile: str) -> list:
    """The records of every study's experiments that exist for ``profile`` (what the scorecard's
    verdicts read; ``wpcore.scorecard.collect`` looks up the same keys)."""
    from .. import experiment, scorecard

    found = (experiment.find(e) for mod in scorecard.study_modules() for e in mod.experiments(profile))
    return [r for r in found if r is not None]
