"""Where tweaking teaches (thesis ch. 1): a patch matcher's ROC with a threshold slider.

A matcher says "same point" when a pair's score is at least a threshold. For the matcher chosen in
a menu (each network the chapter trained, and SIFT), the widget shows the ROC curve of the test
pairs (the record's, as the chapter's ROC figure draws it), the operating point at the threshold
the slider sets with its TPR and FPR, and a strip of test pairs ordered by the matcher's score,
each accepted or rejected at that threshold and marked as a true or false match.

Where the numbers come from: the scores are recomputed from the weights each record keeps
(``experiment.load_model``) on the test pairs of the record's experiment
(``tasks.patches.load_split``), scored as the task scores them (``tasks.patches.scores_of``; SIFT:
``sift_descriptors``, minus the distance of unit descriptors, as ``patch-sift`` does). The
slider has ``STEPS + 1`` positions; position k accepts the best-scoring k% of the test pairs:
its threshold is the score of the last pair accepted (moved to the end of a group of tied scores,
so that "score >= threshold" accepts exactly those pairs), and its TPR and FPR are
``metrics.matching.roc_steps`` after that pair.

The page needs no kernel and no network (``wpcore.present.vega``; the patches travel as inline
PNGs). Elements marked ``data-field="..."`` hold the chosen operating point (tests read them); the
operating point carries ``aria-label`` "operating point: <matcher> at <k>%", each pair of the strip
"pair <i>: <accepted|rejected>, <true|false> <positive|negative>".
"""
from __future__ import annotations

import html
import warnings
from dataclasses import dataclass

import altair as alt
import numpy as np

from .. import experiment
from ..metrics.matching import TIE_WARN_SHARE, TiedScoresWarning, fpr95, roc_steps, tied_count
from ..studies import patches as study
from ..tasks import patches as T
from . import vega
from .explorer import COLOURS

STEPS = 100      # slider positions 0..STEPS: accept the best-scoring 0%, 1%, ..., 100% of the test pairs
EXAMPLES = 8     # test pairs in the strip (half matches, half non-matches)
SIGNALS = {"net": "wpp_net", "step": "wpp_step"}
FIELDS = [("matcher", "matcher"), ("threshold", "threshold"), ("tpr", "true-positive rate"),
          ("fpr", "false-positive rate"), ("fpr95", "for reference")]
ACCEPT, REJECT, RIGHT, WRONG = COLOURS[0], COLOURS[1], COLOURS[2], COLOURS[3]


@dataclass
class Matcher:
    """One matcher of the chapter: its name, record and scores on the shared test pairs."""
    name: str
    record: object
    scores: np.ndarray   # (N,) higher = "same point"
    match: np.ndarray    # (N,) bool, the truth


def test_scores(record) -> tuple[np.ndarray, object]:
    """The scores (N,) a record's matcher gives its experiment's test pairs, and the pairs: the
    network rebuilt from the record's weights and scored as the task scores (fp32, eval mode); SIFT
    recomputed as the ``patch-sift`` task computes it."""
    _, test = T.load_split(experiment.of_record(record))
    if record.config["task"] == "patch-sift":
        d1, d2 = T.sift_descriptors(test.pairs[:, 0]), T.sift_descriptors(test.pairs[:, 1])
        return -np.linalg.norm(T.unit_rows(d1) - T.unit_rows(d2), axis=1), test
    return T.scores_of(experiment.load_model(record), test, "cpu"), test


def matchers(records) -> tuple[list[Matcher], object]:
    """Every run of the chapter as a Matcher, and the test pairs they share (the full profile's
    Brown splits each have their own: the widget shows the first split's)."""
    out, pairs = [], None
    for r in records:
        if pairs is not None and study.split_of(r) != study.split_of(out[0].record):
            continue
        scores, test = test_scores(r)
        pairs = pairs or test
        out.append(Matcher(r.extra.get("label") or study.name_of(r), r, scores, test.labels.numpy() > 0))
    return out, pairs


# --- the numbers -------------------------------------------------------------------------------


def operating_points(scores: np.ndarray, match: np.ndarray, steps: int = STEPS) -> list[dict]:
    """Position k = 0..steps accepts the best-scoring k/steps of the pairs: {"step", "accepted"
    (pairs), "threshold" (None: above every score), "tpr", "fpr" (fractions), "tp", "fp"}."""
    s = np.asarray(scores, dtype=np.float64)
    desc = s[np.argsort(-s, kind="stable")]
    tpr, fpr = roc_steps(s, match)
    n, n_pos = len(s), int(match.sum())
    out = []
    for k in range(steps + 1):
        m = round(k * n / steps)
        while 0 < m < n and desc[m] == desc[m - 1]:  # a tied group is accepted whole
            m += 1
        t, f = (float(tpr[m - 1]), float(fpr[m - 1])) if m else (0.0, 0.0)
        out.append({"step": k, "accepted": m, "threshold": float(desc[m - 1]) if m else None, "tpr": t, "fpr": f,
                    "tp": round(t * n_pos), "fp": round(f * (n - n_pos))})
    return out


def first_step(score: float, points: list[dict]) -> int:
    """The first slider position that accepts a pair of this score."""
    return next(p["step"] for p in points if p["threshold"] is not None and score >= p["threshold"])


def examples(m: Matcher, k: int = EXAMPLES) -> np.ndarray:
    """Indices of ``k`` test pairs, half matches and half non-matches, spread evenly over the
    ranks of ``m``'s scores within each (so that the threshold cuts through them)."""
    out = []
    for group in (np.flatnonzero(m.match), np.flatnonzero(~m.match)):
        ranked = group[np.argsort(-m.scores[group], kind="stable")]
        out += [int(ranked[round(q * (len(ranked) - 1))]) for q in np.linspace(0.1, 0.9, k // 2)]
    return np.array(out)


def pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def row(m: Matcher, p: dict) -> dict[str, str]:
    """The displayed text of the chosen operating point."""
    n, n_pos = len(m.scores), int(m.match.sum())
    t = ("above every score: no pair accepted" if p["threshold"] is None else
         f"score ≥ {p['threshold']:.4g}: {p['accepted']:,} of {n:,} test pairs accepted")
    return {"matcher": f"{m.name} (record {m.record.key[:10]}, rescored from its "
                       f"{'descriptors' if m.record.config['task'] == 'patch-sift' else 'weights'})",
            "threshold": t,
            "tpr": f"{pct(p['tpr'])}: {p['tp']:,} of {n_pos:,} matching pairs accepted",
            "fpr": f"{pct(p['fpr'])}: {p['fp']:,} of {n - n_pos:,} non-matching pairs accepted",
            "fpr95": f"FPR95 {m.record.final['fpr95']:.1f}% (the record's; the FPR where the TPR is closest to 95%)"}


def outcome(accepted: bool, match: bool) -> str:
    return f"{'true' if accepted == match else 'false'} {'positive' if accepted else 'negative'}"


# --- the chart data ----------------------------------------------------------------------------


def datasets(ms: list[Matcher], pairs) -> dict[str, list[dict]]:
    """``ops``: every operating point of every matcher, with its row of text and how many of the
    strip's pairs it accepts; ``roc``: the records' ROC points (%); ``patches``: the strip's pairs
    as images; ``verdicts``: per matcher and pair, its score, slot in the strip (by score) and the
    first position that accepts it."""
    idx = examples(ms[0])
    ops, roc, verdicts = [], [], []
    for m in ms:
        pts = operating_points(m.scores, m.match)
        first = {int(i): first_step(m.scores[i], pts) for i in idx}
        for p in pts:
            ops.append({"net": m.name, **p, "cut": sum(f <= p["step"] for f in first.values()),
                        **{f"row_{k}": v for k, v in row(m, p).items()}})
        roc += [{"net": m.name, "fpr": 100 * f, "tpr": 100 * t} for f, t in zip(m.record.extra["roc"]["fpr"],
                                                                                m.record.extra["roc"]["tpr"])]
        order = sorted(idx, key=lambda i: -m.scores[i])
        verdicts += [{"net": m.name, "pair": int(i), "slot": order.index(i), "score": float(m.scores[i]),
                      "first": first[int(i)], "match": bool(m.match[i])} for i in idx]
    patches = [{"pair": int(i), "left": vega.png_data_url(pairs.pairs[i, 0].numpy()),
                "right": vega.png_data_url(pairs.pairs[i, 1].numpy())} for i in idx]
    return {"ops": ops, "roc": roc, "patches": patches, "verdicts": verdicts,
            "fpr95": [{"net": m.name, "fpr": m.record.final["fpr95"], "tpr": 95.0} for m in ms]}


def start_step(m: Matcher) -> int:
    """The slider's first position: the first that reaches 95% recall."""
    return next(p["step"] for p in operating_points(m.scores, m.match) if p["tpr"] >= 0.95)


# --- the chart ---------------------------------------------------------------------------------

SLOT, PATCH_PX = 68, 52  # the strip: pixels per pair, per patch (8 slots fit the page column)
FPR_TICKS = [0, 1, 2, 5, 10, 20, 50, 100]


def chart(names: list[str], start: tuple[str, int], n_pairs: int) -> alt.VConcatChart:
    net = alt.param(name=SIGNALS["net"], value=start[0], bind=alt.binding_select(options=names, name="matcher "))
    step = alt.param(name=SIGNALS["step"], value=start[1], bind=alt.binding_range(
        min=0, max=STEPS, step=1, name="threshold: accept the top (% of pairs) "))
    chosen = f"datum.net == {SIGNALS['net']}"
    at = f"{chosen} && datum.step == {SIGNALS['step']}"
    xs, ys = alt.Scale(type="symlog", constant=1, domain=[0, 100], nice=False), alt.Scale(domain=[0, 100])
    x = alt.X("fpr:Q", title="false-positive rate (%, symmetric log scale)", scale=xs, axis=alt.Axis(values=FPR_TICKS))
    y = alt.Y("tpr:Q", title="true-positive rate (%)", scale=ys)
    roc = alt.Data(name="roc")
    others = alt.Chart(roc).mark_line(color="#bbb", strokeWidth=1).encode(x=x, y=y, detail="net:N").transform_filter(
        f"datum.net != {SIGNALS['net']}")
    curve = alt.Chart(roc).mark_line(color=COLOURS[0], strokeWidth=2.5).encode(x=x, y=y).transform_filter(chosen)
    recall = alt.Chart(alt.Data(values=[{"tpr": 95}])).mark_rule(color="#777", strokeDash=[4, 3]).encode(y="tpr:Q")
    recall_text = alt.Chart(alt.Data(values=[{"tpr": 95, "fpr": 0}])).mark_text(
        align="left", dx=4, dy=9, fontSize=11, color="#555", text="95% recall").encode(x=x, y=y)
    star = alt.Chart(alt.Data(name="fpr95")).mark_point(shape="diamond", size=90, color=COLOURS[4], filled=True).encode(
        x=x, y=y, tooltip=[alt.Tooltip("fpr:Q", title="FPR95 (%), the record's", format=".1f")]).transform_filter(chosen)
    ops = alt.Chart(alt.Data(name="ops")).transform_filter(at).transform_calculate(
        fpr_pct="100 * datum.fpr", tpr_pct="100 * datum.tpr", zero="0",
        label="'TPR ' + format(100 * datum.tpr, '.1f') + '%, FPR ' + format(100 * datum.fpr, '.1f') + '%'",
        aria="'operating point: ' + datum.net + ' at ' + datum.step + '%'")
    ox, oy = alt.X("fpr_pct:Q", scale=xs), alt.Y("tpr_pct:Q", scale=ys)
    point = ops.mark_point(size=220, filled=True, color="black").encode(x=ox, y=oy, description="aria:N")
    guides = ops.mark_rule(strokeDash=[2, 2], color="black").encode(x=ox, y=oy, y2="zero:Q") + \
        ops.mark_rule(strokeDash=[2, 2], color="black").encode(x=alt.X("zero:Q", scale=xs), x2="fpr_pct:Q", y=oy)
    label = ops.mark_text(align=alt.ExprRef("datum.fpr > 0.2 ? 'right' : 'left'"),
                          dx=alt.ExprRef("datum.fpr > 0.2 ? -10 : 10"), dy=14, fontSize=12, fontWeight="bold").encode(x=ox, y=oy, text="label:N")
    roc_chart = (others + curve + recall + recall_text + guides + star + point + label).properties(
        width=420, height=300, title=alt.TitleParams(
            "ROC on the test pairs: the chosen matcher at the chosen threshold",
            subtitle=["curve: the record's ROC (grey: the other matchers); dot: the slider's threshold;",
                      "diamond: the record's FPR95"]))

    # the strip: pairs ordered by the chosen matcher's score, highest left
    sxs = alt.Scale(domain=[-0.5, EXAMPLES - 0.5], nice=False, zero=False)
    sys_ = alt.Scale(domain=[0, 200], reverse=True, nice=False, zero=False)
    sx = alt.X("slot:Q", scale=sxs, axis=None)
    base = alt.Chart(alt.Data(name="verdicts")).transform_filter(chosen).transform_calculate(
        accepted=f"{SIGNALS['step']} >= datum.first").transform_calculate(
        right="datum.accepted == datum.match",
        truth="datum.match ? 'match' : 'non-match'", said="datum.accepted ? 'accepted' : 'rejected'",
        outcome="(datum.right ? 'true ' : 'false ') + (datum.accepted ? 'positive' : 'negative')",
        aria="'pair ' + datum.slot + ': ' + datum.said + ', ' + datum.outcome",
        score_text="'score ' + format(datum.score, '.3g')")
    images = base.transform_lookup(lookup="pair", from_=alt.LookupData(data=alt.Data(name="patches"), key="pair",
                                                                       fields=["left", "right"]))
    layers = [images.mark_image(width=PATCH_PX, height=PATCH_PX, baseline="top").encode(
                  x=sx, y=alt.YDatum(6, scale=sys_, axis=None), url="left:N"),
              images.mark_image(width=PATCH_PX, height=PATCH_PX, baseline="top").encode(
                  x=sx, y=alt.YDatum(6 + PATCH_PX + 2, scale=sys_, axis=None), url="right:N"),
              base.mark_rect(fillOpacity=0, strokeWidth=3).encode(
                  x=alt.X("x0:Q", scale=sxs, axis=None), x2="x1:Q", y=alt.YDatum(2, scale=sys_, axis=None),
                  y2=alt.Y2Datum(6 + 2 * PATCH_PX + 6),
                  stroke=alt.condition("datum.accepted", alt.value(ACCEPT), alt.value(REJECT)),
                  strokeDash=alt.condition("datum.accepted", alt.value([1, 0]), alt.value([5, 3])),
                  description="aria:N").transform_calculate(x0="datum.slot - 0.42", x1="datum.slot + 0.42")]
    for dy, field, colour in ((136, "truth", None), (151, "score_text", None), (168, "said", "said"),
                              (184, "outcome", "right")):
        enc = {"x": sx, "y": alt.YDatum(dy, scale=sys_, axis=None), "text": f"{field}:N"}
        if colour == "said":
            enc["color"] = alt.condition("datum.accepted", alt.value(ACCEPT), alt.value(REJECT))
        elif colour == "right":
            enc["color"] = alt.condition("datum.right", alt.value(RIGHT), alt.value(WRONG))
        layers.append(base.mark_text(fontSize=9.5, baseline="middle",
                                     fontWeight="bold" if colour else "normal").encode(**enc))
    cut = alt.Chart(alt.Data(name="ops")).transform_filter(at).transform_calculate(x="datum.cut - 0.5").mark_rule(
        color="black", strokeWidth=2).encode(x=alt.X("x:Q", scale=sxs, axis=None), y=alt.YDatum(0, scale=sys_, axis=None),
                                             y2=alt.Y2Datum(196))
    strip = alt.layer(*layers, cut).properties(width=SLOT * EXAMPLES, height=200, title=alt.TitleParams(
        f"{EXAMPLES} of the {n_pairs:,} test pairs, ordered by the chosen matcher's score (highest left)",
        subtitle="top: left-image patch, below: right-image patch; black line: the threshold; "
                 "true = the matcher is right"))
    return alt.vconcat(roc_chart, strip, spacing=22).add_params(net, step).configure_axis(
        labelFontSize=11, titleFontSize=12).configure_title(fontSize=13, subtitleFontSize=11, subtitleColor="#555",
                                                            anchor="start").configure_view(stroke=None)


def spec(ms: list[Matcher], pairs, controls: str | None = None) -> dict:
    """The Vega-Lite specification with its data inline; ``controls``: the CSS selector of the
    element the inputs go into (None: under the charts)."""
    s = chart([m.name for m in ms], (ms[0].name, start_step(ms[0])), len(pairs)).to_dict()
    s["datasets"] = datasets(ms, pairs)
    return vega.bind_controls(s, controls)


# --- the page ----------------------------------------------------------------------------------


_CSS = vega.layout_css("wp-roc", "wpr", slider_em=16)


def note(ms: list[Matcher], pairs) -> str:
    off = check_rescored(ms)
    warn = (f" Warning: rescored, {', '.join(off)} no longer give{'s' * (len(off) == 1)} the FPR95 of "
            f"{'its record' if len(off) == 1 else 'their records'}." if off else "")
    tied = {m.name: (tied_count(m.scores), len(m.scores)) for m in ms}
    ties = [f"{name} {k}" for name, (k, n) in tied.items() if k > TIE_WARN_SHARE * n]
    tie = (f" Scores that tie with another score ({', '.join(ties)} of {len(pairs):,}): FPR95 takes the expected "
           "value over the orders of the tied pairs, as when the record was made (wpcore.metrics.matching.fpr95)."
           if ties else "")
    return (f"Where the numbers come from: every matcher scores the same {len(pairs):,} test pairs ({pairs.identity}), "
            "rescored here from its record (networks: rebuilt from the record's weights; SIFT: its descriptors "
            "recomputed); TPR and FPR count the accepted pairs (wpcore.metrics.matching.roc_steps). The curves are "
            "the ROC points each record stored when it was made." + tie + warn)


def widget_html(ms: list[Matcher], pairs, base: str | None = vega.BOOK_VEGA) -> str:
    """The widget as one HTML block: controls, the chosen operating point's row, the charts."""
    uid = vega.new_id("wpr")
    s = spec(ms, pairs, controls=f"#{uid} .wpr-controls")
    first = next(p for p in s["datasets"]["ops"] if p["net"] == ms[0].name and p["step"] == start_step(ms[0]))
    rows = "".join(f'<tr><td>{html.escape(label)}</td><td data-field="{k}">{html.escape(first["row_" + k])}</td></tr>'
                   for k, label in FIELDS)
    above = ('<div class="wpr-controls"></div>' f'<table class="wpr-row">{rows}</table>'
             f'<div class="wpr-note">{html.escape(note(ms, pairs))}</div>')
    rows = {f"{p['net']}/{p['step']}": {k[4:]: v for k, v in p.items() if k.startswith("row_")}
            for p in s["datasets"]["ops"]}
    return vega.embed_html(s, uid, "wp-roc", above, vega.rows_js(SIGNALS, rows), _CSS, base)


def show_threshold_widget(records, live: bool = False) -> list[Matcher]:
    """Display the threshold widget of the chapter's ``records``; ``live``: in a running notebook
    (the JavaScript inline), else for the book (loaded from its ``_static/offline/vega/``)."""
    from IPython.display import HTML, display

    ms, pairs = matchers(records)
    display(HTML(widget_html(ms, pairs, base=None if live else vega.BOOK_VEGA)))
    return ms


def check_rescored(ms: list[Matcher]) -> list[str]:
    """Matchers whose rescored FPR95 differs from their record's (the page would then show other
    scores than the run measured); empty when all agree."""
    with warnings.catch_warnings():  # ties were read the same way when the record was made; only the numbers matter here
        warnings.simplefilter("ignore", TiedScoresWarning)
        return [m.name for m in ms if abs(100 * fpr95(m.scores, m.match) - m.record.final["fpr95"]) > 1e-6]
