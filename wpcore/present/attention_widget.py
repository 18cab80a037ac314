"""The attention-map widget of the attention transfer chapter (thesis ch. 4): where do the teacher
and each kind of student look, group by group, as the exponent p changes?

Computed here, in Python, from the records' weights (``experiment.load_model``) on the first test
images of the teacher's record (``studies.attention.test_images``): for every network of
``studies.attention.map_networks`` (the teacher, the student alone, the AT, KD and AT+KD students
of seed 0, those the records have), every group g and every exponent p in ``POWERS``, the map
F_sum^p of the group output scaled to [0, 1] per image (``studies.attention.group_maps``, the
static figure's maps) at its native resolution; and the AT distance of each student's map to the
teacher's (``losses.attention.at_loss`` with that p, on that one image). The page only filters,
lays out and colours them: a Vega-Lite specification (drawn with Altair) with the maps inline,
three controls bound to Vega params (group, p, image), through ``present.vega.embed_html``.

What tests read: each heatmap cell has ``aria-label`` "<network>: row r, column c: v" (r, c from
1, v the shipped value, 3 decimals); the table under the controls has ``data-field`` cells
("shown", and "distance-<k>" for the k-th network) filled from Python's text for the setting.
"""
from __future__ import annotations

import html
import json

import altair as alt
import torch

from ..experiment import load_model
from ..losses import attention as losses
from ..studies import attention as study
from . import vega

POWERS = (1, 2, 4)          # the exponents of F_sum^p offered (the thesis's figures use 1, 2 and 4)
IMAGES = 3                  # test images offered
DIGITS = 3                  # decimals of a shipped map value (values in [0, 1])
START = {"group": 2, "p": 2, "image": 1}
SIGNALS = {"group": "at_group", "p": "at_p", "image": "at_image"}
CELL = 5                    # pixels per map cell at 28x28 (140 px); coarser groups get the same panel size


def key(group: int, p: int, image: int) -> str:
    return f"{group}/{p}/{image}"


@torch.no_grad()
def maps_data(records, profile: str, images: int = IMAGES, seed: int = 0) -> dict:
    """Everything the widget shows, computed from the records: {"networks": [{"name", "error",
    "title"}], "maps": [{"net", "group", "p", "image", "h", "w", "values"}], "inputs": [{"image",
    "h", "w", "values"}], "texts": {key: {"shown", "distance-<k>"}}, "about": str}."""
    teacher, student = study.PLANS[profile].pairs[0]
    named = study.map_networks(records, teacher, student, seed)
    t_rec = next(iter(named.values()))
    raw, x, y, classes = study.test_images(t_rec, images)
    models = {name: load_model(r) for name, r in named.items()}
    groups = {name: m.forward_groups(x) for name, m in models.items()}
    networks = [{"name": name, "error": r.final["test_error"],
                 "title": (name if r.config["model"] in name else f"{name}, {r.config['model']}")
                 + f": {r.final['test_error']:.1f}% test error (its record)"} for name, r in named.items()]
    maps = []
    for name, m in models.items():
        for p in POWERS:
            for g, per_image in enumerate(study.group_maps(m, x, p), 1):
                for i, a in enumerate(per_image, 1):
                    maps.append({"net": name, "group": g, "p": p, "image": i, "h": a.shape[0], "w": a.shape[1],
                                 "values": [round(float(v), DIGITS) for v in a.flatten()]})
    grey = raw.float().mean(1).round().int()  # (n, H, W); colour images: the mean of R, G and B
    inputs = [{"image": i + 1, "h": raw.shape[-2], "w": raw.shape[-1], "values": grey[i].flatten().tolist(),
               "colour": raw.shape[1] > 1} for i in range(raw.shape[0])]
    t_name = networks[0]["name"]
    texts = {}
    for g in range(1, len(groups[t_name]) + 1):
        for p in POWERS:
            for i in range(1, raw.shape[0] + 1):
                h, w = groups[t_name][g - 1].shape[-2:]
                row = {"shown": f"group {g} output ({h}x{w}), p = {p}, test image {i} "
                                f"({classes[int(y[i - 1])]})"}
                for k, name in enumerate(models):
                    if k:  # the students (the teacher is first)
                        d = losses.at_loss(groups[name][g - 1][i - 1:i], groups[t_name][g - 1][i - 1:i], p).item()
                        row[f"distance-{k}"] = f"{1e3 * d:.3f}"
                texts[key(g, p, i)] = row
    d = t_rec.data
    about = (f"Networks: the {profile} profile's records (students of seed {seed}), trained on {d.get('n_train', '?')} "
             f"{t_rec.config['dataset']} images; test error from each record ({d.get('n_test', '?')} test images). "
             f"Maps: F_sum^p of each group output on the first {raw.shape[0]} test images, each divided by its "
             "maximum; computed in Python from the records' weights.")
    return {"networks": networks, "maps": maps, "inputs": inputs, "texts": texts, "about": about,
            "classes": [classes[int(c)] for c in y]}


def controls(data: dict, element: str | None = None) -> tuple:
    n_groups = max(m["group"] for m in data["maps"])
    where = {"element": element} if element else {}
    group = alt.param(name=SIGNALS["group"], value=START["group"], bind=alt.binding_range(
        min=1, max=n_groups, step=1, name="network group ", **where))
    p = alt.param(name=SIGNALS["p"], value=START["p"], bind=alt.binding_radio(
        options=list(POWERS), name="exponent p ", **where))
    image = alt.param(name=SIGNALS["image"], value=START["image"], bind=alt.binding_radio(
        options=list(range(1, len(data["inputs"]) + 1)),
        labels=[f"{i + 1} ({c})" for i, c in enumerate(data["classes"])], name="test image ", **where))
    return group, p, image


def _cells(source: alt.Data, chosen: str) -> alt.Chart:
    """The cells of the one map of ``source`` that ``chosen`` keeps (its ``values`` row by row,
    ``w`` wide): row and column from 1, row 1 on top."""
    return (alt.Chart(source).transform_filter(chosen).transform_flatten(["values"], as_=["value"])
            .transform_window(k="row_number()")
            .transform_calculate(row="floor((datum.k - 1) / datum.w) + 1", col="(datum.k - 1) % datum.w + 1")
            .transform_calculate(col0="datum.col - 0.5", col1="datum.col + 0.5", row0="datum.row - 0.5",
                                 row1="datum.row + 0.5"))


def chart(data: dict, element: str | None = None) -> alt.ConcatChart:
    group, p, image = controls(data, element)
    s = {k: f"{v}" for k, v in SIGNALS.items()}
    chosen = f"datum.group == {s['group']} && datum.p == {s['p']} && datum.image == {s['image']}"
    side = CELL * max(m["w"] for m in data["maps"])

    def axes(h_title: str):
        x = alt.X("col0:Q", title="column", scale=alt.Scale(zero=False, nice=False),
                  axis=alt.Axis(tickMinStep=1, format="d", labelFontSize=10, titleFontSize=10))
        y = alt.Y("row0:Q", title=h_title, scale=alt.Scale(zero=False, nice=False, reverse=True),
                  axis=alt.Axis(tickMinStep=1, format="d", labelFontSize=10, titleFontSize=10))
        return x, y, alt.X2("col1:Q"), alt.Y2("row1:Q")  # cell c spans c - 0.5 .. c + 0.5: ticks at centres

    x, y, x2, y2 = axes("row")
    inp = (_cells(alt.Data(name="inputs"), f"datum.image == {s['image']}")
           .mark_rect().encode(x=x, y=y, x2=x2, y2=y2,
                               fill=alt.Fill("value:Q", scale=alt.Scale(scheme="greys", reverse=True, domain=[0, 255]),
                                             legend=None),
                               tooltip=[alt.Tooltip("value:Q", title="pixel (0-255)")])
           .properties(width=side, height=side,
                       title=alt.TitleParams("input (test image)", subtitle="pixel values 0-255" + (
                           ", mean of R, G, B" if data["inputs"][0]["colour"] else ""))))
    panels = [inp]
    colour = alt.Color("value:Q", title="F_sum^p / its maximum",
                       scale=alt.Scale(scheme="inferno", domain=[0, 1]),
                       legend=alt.Legend(orient="bottom", direction="horizontal", gradientLength=260, format=".1f",
                                         titleOrient="left"))
    for n in data["networks"]:
        name, title = n["name"], n["title"]
        head, _, tail = title.partition(": ")
        panels.append(
            _cells(alt.Data(name="maps"), f"{chosen} && datum.net == {json.dumps(name)}")
            .transform_calculate(label=f"datum.net + ': row ' + datum.row + ', column ' + datum.col + ': ' "
                                       f"+ format(datum.value, '.{DIGITS}f')")
            .mark_rect().encode(x=x, y=y, x2=x2, y2=y2, color=colour, description="label:N",
                                tooltip=[alt.Tooltip("net:N", title="network"), alt.Tooltip("row:Q"),
                                         alt.Tooltip("col:Q", title="column"),
                                         alt.Tooltip("value:Q", title="F_sum^p / max", format=f".{DIGITS}f")])
            .properties(width=side, height=side, title=alt.TitleParams(head, subtitle=tail)))
    title = alt.TitleParams("Attention maps F_sum^p of one group output, per network",
                            subtitle="brighter: where the network's activations are stronger; each map scaled "
                                     "to [0, 1] by its maximum", anchor="start")
    # the input is drawn with ``fill``, the maps with ``color``: one shared scale and legend for the maps
    return (alt.concat(*panels, columns=3, spacing=18, title=title).add_params(group, p, image)
            .configure_title(fontSize=13, subtitleFontSize=11, subtitleColor="#555")
            .configure_concat(spacing=18).configure_view(stroke="#ccc"))


def spec(data: dict, element: str | None = None) -> dict:
    """The Vega-Lite specification, data inline (``datasets``: maps, inputs)."""
    s = chart(data, element).to_dict()
    s["datasets"] = {"maps": data["maps"], "inputs": data["inputs"]}
    return s



_CSS = vega.layout_css("wp-atmaps", "wpa")


def widget_html(data: dict, base: str | None = vega.BOOK_VEGA) -> str:
    """The widget as one HTML block: controls, the table of the setting, the maps."""
    uid = vega.new_id("wpa")
    s = spec(data, element=f"#{uid} .wpa-controls")
    start = data["texts"][key(START["group"], START["p"], START["image"])]
    rows = [("showing", "shown")] + [(f"AT distance to the teacher: {n['name']}", f"distance-{k}")
                                      for k, n in enumerate(data["networks"]) if k]
    table = "".join(f'<tr><td>{html.escape(label)}</td><td data-field="{f}">{html.escape(start[f])}</td></tr>'
                    for label, f in rows)
    above = ('<div class="wpa-controls"></div>' f'<table class="wpa-row">{table}</table>'
             f'<div class="wpa-note">{html.escape(data["about"])} AT distance (x1e-3): the AT loss with beta = 1 '
             "between the student's and the teacher's normalised maps of this group with this p, on this image: "
             "lower is closer.</div>")
    return vega.embed_html(s, uid, "wp-atmaps", above, vega.rows_js(SIGNALS, data["texts"]), _CSS, base)


def show_maps_widget(records, profile: str, live: bool = False) -> dict:
    """Display the widget for ``profile``'s records; ``live``: in a running notebook (the
    JavaScript inline), else for the book (loaded from its ``_static/offline/vega/``)."""
    from IPython.display import HTML, display

    data = maps_data(records, profile)
    display(HTML(widget_html(data, base=None if live else vega.BOOK_VEGA)))
    return data
