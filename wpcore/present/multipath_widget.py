"""Where tweaking teaches (thesis ch. 2): AP against the IoU threshold, and detections on a scene.

Left: the AP of each variant of the ablation at every IoU threshold 0.50, 0.55, ..., 0.95 (the
``AP@<t>`` pycocotools computed for each record, ``metrics.detection.coco_evaluate``), one line
per variant, each shown or hidden by its checkbox; a slider picks an IoU threshold, marked on the
curves. Right: a test scene (a slider) with its ground-truth boxes and the detections of a chosen
variant (a menu) scoring at least a chosen score (a slider); a detection is drawn right when it
overlaps a ground-truth box of its class by at least the chosen IoU (``present.multipath.correct``'s
rule: COCO's evaluation also matches each object once, so a second box on an object counts as
wrong there), so moving the IoU slider shows which boxes stop counting as the curve falls.

Where the numbers come from: AP from the records; detections recomputed from the weights each
record keeps (``present.multipath.top_detections``, which rebuilds the network with
``experiment.load_model``, in the arithmetic the record's AP was computed in) on the first ``SCENES`` scenes of the chapter's test split
(``tasks.multipath.test_split``), the ``KEEP`` best per scene; the counts shown beside the scene
are computed here, in Python, for every position of the controls.

The page needs no kernel and no network (``wpcore.present.vega``; the scenes travel as inline
PNGs). Elements marked ``data-field="..."`` hold the displayed numbers (tests read them); AP points
at the chosen threshold carry ``aria-label`` "AP at IoU: <variant>", detections "detection:
<variant>: <class> <score>, <right|wrong>".
"""
from __future__ import annotations

import html
import json
from dataclasses import dataclass

import altair as alt
import numpy as np
import torch
from torchvision.ops import box_iou

from .. import experiment, precision
from ..metrics.detection import IOU_THRESHOLDS
from ..tasks.multipath import test_split
from . import vega
from .explorer import COLOURS
from .multipath import top_detections

SCENES = 6                                          # test scenes to choose from
KEEP = 20                                           # detections kept per scene (the best-scoring)
SCORES = tuple(round(0.01 * k, 2) for k in range(100))  # score slider: 0.00, 0.01, ..., 0.99 (the integral
                                                        # loss's scores are low: fine steps)
SCENE_PX = 250                                      # drawn size of a scene
RIGHT, WRONG, TRUTH = COLOURS[2], COLOURS[3], "#ffffff"
INTEGRAL = (0.5, 0.75)                              # the integral loss's thresholds


def signals(n_variants: int) -> dict[str, str]:
    return {"iou": "wpm_iou", "variant": "wpm_variant", "scene": "wpm_scene", "score": "wpm_score",
            **{f"show_{v}": f"wpm_show_{v}" for v in range(n_variants)}}


@dataclass
class Scene:
    image: np.ndarray        # (H, W, 3) uint8
    boxes: list[list[float]]  # ground truth, xyxy pixels
    labels: list[int]         # 1..K-1


def scenes_of(record, n: int = SCENES) -> tuple[list[Scene], list, list[str]]:
    """The first ``n`` scenes of a record's test split: as drawn, as the detector's input, and the class names."""
    e = experiment.of_record(record)
    test = test_split(e.dataset, e.options)
    items = [test[i] for i in range(min(n, len(test)))]
    scenes = [Scene((x.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8), t["boxes"].tolist(),
                    t["labels"].tolist()) for x, t in items]
    return scenes, items, list(test.classes)


def best_iou(det: dict, target: dict) -> list[float]:
    """Per detection: its largest IoU with a ground-truth box of its class (0 if none)."""
    if len(det["boxes"]) == 0:
        return []
    if len(target["boxes"]) == 0:
        return [0.0] * len(det["boxes"])
    overlap = box_iou(det["boxes"], target["boxes"]) * (det["labels"][:, None] == target["labels"][None, :])
    return [float(v) for v in overlap.max(1).values]


def ap_rows(runs: dict, labels: list[str]) -> list[dict]:
    """The AP curve of every variant from its record, with the text the page shows for it."""
    out = []
    for v, lab in enumerate(labels):
        r = runs[lab]
        for t in IOU_THRESHOLDS:
            ap = r.final[f"AP@{t:.2f}"]
            out.append({"variant": lab, "v": v, "iou": t, "ap": ap,
                        "row": f"AP {ap:.1f}% at IoU ≥ {t:.2f} (AP@[.50:.95] {r.final['AP']:.1f}%; record {r.key[:10]})"})
    return out


def detections(record, items: list) -> list[dict]:
    """The ``KEEP`` best detections of a record's detector on ``items``, in the arithmetic its run
    was evaluated in (``record.precision``: bf16 autocast changes the scores, and so the AP)."""
    with precision.autocast(torch.device("cpu"), record.precision or "fp32"):
        return top_detections(record, items, KEEP)


def detection_rows(runs: dict, labels: list[str], items: list, classes: list[str], scale: float) -> list[dict]:
    """The ``KEEP`` best detections of every variant on every scene, with their best IoU."""
    out = []
    for v, lab in enumerate(labels):
        for s, (det, (_, target)) in enumerate(zip(detections(runs[lab], items), items), 1):
            for k, (b, c, score, iou) in enumerate(zip(det["boxes"].tolist(), det["labels"].tolist(),
                                                       det["scores"].tolist(), best_iou(det, target))):
                text = f"{classes[c - 1]} {score:.2f}"
                top = max(b[1] - 13 / scale, 0.0)  # a label band above the box (inside the scene at the top)
                out.append({"variant": lab, "v": v, "scene": s, "rank": k, "x0": b[0], "y0": b[1], "x1": b[2],
                            "y1": b[3], "cls": classes[c - 1], "score": float(score), "iou": iou, "text": text,
                            "lx1": b[0] + (6.2 * len(text) + 4) / scale, "ly0": top, "ly1": top + 13 / scale})
    return out


def counts(dets: list[dict], n_variants: int, n_scenes: int) -> list:
    """counts[v][scene - 1][score step][IoU step] = [detections shown, of which right]."""
    out = []
    for v in range(n_variants):
        per_scene = []
        for s in range(1, n_scenes + 1):
            d = [x for x in dets if x["v"] == v and x["scene"] == s]
            per_scene.append([[[sum(x["score"] >= a for x in d), sum(x["score"] >= a and x["iou"] >= t for x in d)]
                               for t in IOU_THRESHOLDS] for a in SCORES])
        out.append(per_scene)
    return out


@dataclass
class Widget:
    labels: list[str]
    aps: list[dict]
    scenes: list[Scene]
    dets: list[dict]
    counts: list
    size: tuple[int, int]    # (H, W) of the scenes
    start: dict               # the controls' first positions


def widget_data(runs: dict, labels: list[str]) -> Widget:
    scenes, items, classes = scenes_of(runs[labels[0]])
    h, w = scenes[0].image.shape[:2]
    dets = detection_rows(runs, labels, items, classes, SCENE_PX / max(h, w))
    c = counts(dets, len(labels), len(scenes))
    last = len(labels) - 1  # start: the full MultiPath network on the first scene, few enough boxes to read
    shown = [c[last][0][k][0][0] for k in range(len(SCORES))]
    few = [a for a, n in zip(SCORES, shown) if 1 <= n <= 5]
    score = few[0] if few else max((a for a, n in zip(SCORES, shown) if n), default=SCORES[0])
    return Widget(labels, ap_rows(runs, labels), scenes, dets, c, (h, w),
                  {"iou": 0.5, "variant": labels[last], "scene": 1, "score": score})


# --- the chart ---------------------------------------------------------------------------------


def chart(wd: Widget) -> alt.HConcatChart:
    sig = signals(len(wd.labels))
    params = [alt.param(name=sig[f"show_{v}"], value=True, bind=alt.binding_checkbox(name=lab))
              for v, lab in enumerate(wd.labels)]
    params += [alt.param(name=sig["iou"], value=wd.start["iou"], bind=alt.binding_range(
                   min=IOU_THRESHOLDS[0], max=IOU_THRESHOLDS[-1], step=0.05, name="IoU threshold ")),
               alt.param(name=sig["variant"], value=wd.start["variant"], bind=alt.binding_select(
                   options=wd.labels, name="detections of ")),
               alt.param(name=sig["scene"], value=wd.start["scene"], bind=alt.binding_range(
                   min=1, max=len(wd.scenes), step=1, name="test scene ")),
               alt.param(name=sig["score"], value=wd.start["score"], bind=alt.binding_range(
                   min=SCORES[0], max=SCORES[-1], step=0.01, name="minimum score "))]
    shown = "[" + ", ".join(sig[f"show_{v}"] for v in range(len(wd.labels))) + "][datum.v]"
    colour = alt.Color("variant:N", scale=alt.Scale(domain=wd.labels, range=COLOURS[:len(wd.labels)]),
                       legend=alt.Legend(title=None, orient="bottom", direction="vertical", labelLimit=400,
                                         labelFontSize=11))
    ap = alt.Data(name="ap")
    x = alt.X("iou:Q", title="IoU threshold for a detection to count as right",
              scale=alt.Scale(domain=[0.48, 0.97], nice=False), axis=alt.Axis(values=list(IOU_THRESHOLDS), format=".2f"))
    y = alt.Y("ap:Q", title="AP (%)", scale=alt.Scale(zero=True))
    band = alt.Chart(alt.Data(values=[{"a": INTEGRAL[0], "b": INTEGRAL[1]}])).mark_rect(color="#eee").encode(
        x=alt.X("a:Q", scale=alt.Scale(domain=[0.48, 0.97], nice=False)), x2="b:Q")
    band_text = alt.Chart(alt.Data(values=[{"iou": sum(INTEGRAL) / 2}])).mark_text(
        text="integral loss thresholds", fontSize=10, color="#666", baseline="top", y=4).encode(x="iou:Q")
    lines = alt.Chart(ap).mark_line(strokeWidth=2).encode(x=x, y=y, color=colour).transform_filter(shown)
    dots = alt.Chart(ap).mark_point(filled=True, size=35).encode(
        x=x, y=y, color=colour, tooltip=[alt.Tooltip("variant:N"), alt.Tooltip("iou:Q", format=".2f"),
                                         alt.Tooltip("ap:Q", title="AP (%), the record's", format=".2f")]
    ).transform_filter(shown)
    rule = alt.Chart(alt.Data(values=[{}])).transform_calculate(iou=sig["iou"]).mark_rule(
        color="black", strokeDash=[4, 3]).encode(x="iou:Q")
    ring = alt.Chart(ap).transform_filter(shown).transform_filter(f"abs(datum.iou - {sig['iou']}) < 1e-6").transform_calculate(
        aria="'AP at IoU: ' + datum.variant").mark_point(size=160, strokeWidth=2, color="black").encode(
        x=x, y=y, description="aria:N")
    left = (band + band_text + lines + dots + rule + ring).properties(width=270, height=250, title=alt.TitleParams(
        "AP against the IoU threshold", subtitle=["each variant's record (pycocotools);",
                                                  "tick the boxes to compare; dashed: the chosen",
                                                  "IoU threshold"]))

    h, w = wd.size
    side = max(h, w)
    sx = alt.Scale(domain=[0, side], nice=False, zero=False)
    sy = alt.Scale(domain=[0, side], nice=False, zero=False, reverse=True)
    here = f"datum.scene == {sig['scene']}"
    image = alt.Chart(alt.Data(name="scenes")).transform_filter(here).mark_image(
        width=SCENE_PX * w / side, height=SCENE_PX * h / side, align="left", baseline="top").encode(
        x=alt.XDatum(0, scale=sx, axis=None), y=alt.YDatum(0, scale=sy, axis=None), url="url:N")
    box = {"x": alt.X("x0:Q", scale=sx, axis=None), "x2": "x1:Q", "y": alt.Y("y0:Q", scale=sy, axis=None), "y2": "y1:Q"}
    truth = alt.Chart(alt.Data(name="truth")).transform_filter(here).mark_rect(
        fillOpacity=0, stroke=TRUTH, strokeWidth=1.5, strokeDash=[2, 2]).encode(**box)
    dets = alt.Chart(alt.Data(name="dets")).transform_filter(
        f"{here} && datum.variant == {sig['variant']} && datum.score >= {sig['score']}").transform_calculate(
        right=f"datum.iou >= {sig['iou']}").transform_calculate(
        aria="'detection: ' + datum.variant + ': ' + datum.text + ', ' + (datum.right ? 'right' : 'wrong')")
    is_right = alt.condition("datum.right", alt.value(RIGHT), alt.value(WRONG))
    frames = dets.mark_rect(fillOpacity=0, strokeWidth=2.5).encode(
        **box, stroke=is_right, strokeDash=alt.condition("datum.right", alt.value([1, 0]), alt.value([5, 3])),
        description="aria:N", tooltip=[alt.Tooltip("cls:N", title="class"), alt.Tooltip("score:Q", format=".3f"),
                                       alt.Tooltip("iou:Q", title="best IoU, same class", format=".2f")])
    tags = dets.mark_rect(opacity=0.85, clip=True).encode(x=alt.X("x0:Q", scale=sx, axis=None), x2="lx1:Q",
                                               y=alt.Y("ly0:Q", scale=sy, axis=None), y2="ly1:Q", fill=is_right)
    words = dets.mark_text(align="left", baseline="top", dx=2, dy=1, fontSize=10.5, color="white",
                           fontWeight="bold", clip=True).encode(x=alt.X("x0:Q", scale=sx, axis=None),
                                                     y=alt.Y("ly0:Q", scale=sy, axis=None), text="text:N")
    right = (image + truth + frames + tags + words).properties(
        width=SCENE_PX * w / side, height=SCENE_PX * h / side, title=alt.TitleParams(
            "a test scene, the chosen variant's detections",
            subtitle=["dotted white: ground truth; solid green: right",
                      "at the IoU threshold (right class); dashed red: wrong"]))
    return alt.hconcat(left, right, spacing=25).add_params(*params).configure_axis(
        labelFontSize=11, titleFontSize=12).configure_title(fontSize=13, subtitleFontSize=11, subtitleColor="#555",
                                                            anchor="start").configure_view(stroke=None)


def spec(wd: Widget, controls: str | None = None) -> dict:
    """The Vega-Lite specification with its data inline (``usermeta.counts``: the counts shown
    beside the scene); ``controls``: the CSS selector of the element the inputs go into."""
    s = chart(wd).to_dict()
    s["datasets"] = {
        "ap": wd.aps, "dets": wd.dets,
        "scenes": [{"scene": i, "url": vega.png_data_url(sc.image)} for i, sc in enumerate(wd.scenes, 1)],
        "truth": [{"scene": i, "x0": b[0], "y0": b[1], "x1": b[2], "y1": b[3]}
                  for i, sc in enumerate(wd.scenes, 1) for b in sc.boxes]}
    s["usermeta"] = {"counts": wd.counts, "objects": [len(sc.boxes) for sc in wd.scenes],
                     "scores": list(SCORES), "ious": list(IOU_THRESHOLDS)}
    return vega.bind_controls(s, controls)


# --- the page ----------------------------------------------------------------------------------

_ON_VIEW = """
      var sig = %(signals)s, labels = %(labels)s, meta = spec.usermeta, rows = {};
      spec.datasets.ap.forEach(function (r) { rows[r.v + '/' + r.iou.toFixed(2)] = r.row; });
      function step(list, x) {  // the index of the slider's value in its list (the sliders' steps)
        var best = 0;
        list.forEach(function (y, i) { if (Math.abs(y - x) < Math.abs(list[best] - x)) { best = i; } });
        return best;
      }
      function set(field, text) { root.querySelectorAll('[data-field="' + field + '"]').forEach(function (e) { e.textContent = text; }); }
      function show() {
        var iou = view.signal(sig.iou), score = view.signal(sig.score), scene = view.signal(sig.scene);
        var v = labels.indexOf(view.signal(sig.variant));
        labels.forEach(function (lab, k) {
          set('ap_' + k, view.signal(sig['show_' + k]) ? rows[k + '/' + (+iou).toFixed(2)] : 'hidden (tick its box to show it)');
        });
        var c = meta.counts[v][scene - 1][step(meta.scores, score)][step(meta.ious, iou)];
        set('variant', labels[v]); set('scene', scene); set('objects', meta.objects[scene - 1]);
        set('score', (+score).toFixed(2)); set('iou', (+iou).toFixed(2));
        set('shown', c[0]); set('right', c[1]); set('wrong', c[0] - c[1]);
      }
      Object.keys(sig).forEach(function (k) { view.addSignalListener(sig[k], show); });
      show();
"""

_CSS = vega.layout_css("wp-ap", "wpm", slider_em=10)


def scene_text(wd: Widget, variant: str, scene: int, score: float, iou: float) -> dict[str, str]:
    """The numbers beside the scene at one position of the controls, as the page shows them."""
    v, a, t = wd.labels.index(variant), SCORES.index(score), IOU_THRESHOLDS.index(iou)
    shown, right = wd.counts[v][scene - 1][a][t]
    return {"variant": variant, "scene": str(scene), "objects": str(len(wd.scenes[scene - 1].boxes)),
            "score": f"{score:.2f}", "iou": f"{iou:.2f}", "shown": str(shown), "right": str(right),
            "wrong": str(shown - right)}


def ap_text(wd: Widget, v: int, iou: float, shown: bool = True) -> str:
    if not shown:
        return "hidden (tick its box to show it)"
    return next(r["row"] for r in wd.aps if r["v"] == v and r["iou"] == iou)


def widget_html(wd: Widget, base: str | None = vega.BOOK_VEGA) -> str:
    """The widget as one HTML block: controls, the numbers at the controls' positions, the charts."""
    uid = vega.new_id("wpm")
    s = spec(wd, controls=f"#{uid} .wpm-controls")
    st = wd.start
    now = scene_text(wd, st["variant"], st["scene"], st["score"], st["iou"])

    def f(k: str) -> str:
        return f'<span data-field="{k}">{html.escape(now[k])}</span>'

    rows = "".join(f'<tr><td>{html.escape(lab)}</td><td data-field="ap_{v}">{html.escape(ap_text(wd, v, st["iou"]))}</td></tr>'
                   for v, lab in enumerate(wd.labels))
    rows += (f'<tr><td>on the scene</td><td>{f("variant")}, test scene {f("scene")} (ground-truth objects: {f("objects")}): '
             f'{f("shown")} detections scoring ≥ {f("score")}, {f("right")} right at IoU ≥ {f("iou")}, '
             f'{f("wrong")} wrong</td></tr>')
    note = (f"Where the numbers come from: AP at each IoU threshold is the record's (pycocotools on the "
            f"{wd.size[1]}x{wd.size[0]} test scenes); the detections are recomputed from each record's weights on the "
            f"first {len(wd.scenes)} test scenes, the {KEEP} best-scoring per scene; a detection is right when it "
            "overlaps a ground-truth box of its class by at least the IoU threshold (COCO's AP also counts a second "
            "box on the same object as wrong).")
    above = (f'<div class="wpm-controls"></div><table class="wpm-row">{rows}</table>'
             f'<div class="wpm-note">{html.escape(note)}</div>')
    return vega.embed_html(s, uid, "wp-ap", above, _ON_VIEW % {"signals": json.dumps(signals(len(wd.labels))),
                                                                "labels": json.dumps(wd.labels)}, _CSS, base)


def show_ap_widget(runs: dict, labels: list[str], live: bool = False) -> Widget:
    """Display the widget for the chapter's ``runs`` ({variant label: record}) in the order of
    ``labels``; ``live``: in a running notebook (the JavaScript inline), else for the book."""
    from IPython.display import HTML, display

    wd = widget_data(runs, labels)
    display(HTML(widget_html(wd, base=None if live else vega.BOOK_VEGA)))
    return wd

