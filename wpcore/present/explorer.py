"""The width/depth explorer: pick a WRN by depth, width and block type and see where it sits.

Four linked Vega-Lite charts (drawn with Altair) of ``studies.wide_resnets_explorer.explorer``:
the width/depth plane with iso-parameter curves, and test error against parameters, against
training compute (FLOPs, PyTorch's counter) and against measured training time; the thesis's
points and ours. Three selection parameters, bound to a slider for the depth, a slider for the
width and a menu for the block type, highlight the chosen network in every chart, and a table
under the controls shows its row of numbers (text made here, in Python; the page's script only
looks it up).

The page needs no kernel and no network: the chart specification and its data are inline, and
Vega, Vega-Lite and vega-embed are loaded as every interactive chart of the book loads them
(``wpcore.present.vega``). Elements marked
``data-field="..."`` hold the row (tests read them); the marks that show the chosen network
(rings, and the dashed rule of the parameters chart) carry ``aria-label`` "<chart>: <network>"
("plane: WRN-16-2 B(3,3)"; charts: plane, size, params, compute, time).

With a kernel (``show_explorer(profile, live=True)``), at the ``TRAINABLE`` profiles, the explorer
sits in the panel of ``wpcore.present.explorer_train``, which trains the chosen network and redraws it.
"""
from __future__ import annotations

import html
import itertools
import math

import altair as alt

from ..studies import wide_resnets_explorer as study
from . import vega
from .explorer_text import (  # noqa: F401
    agreement_text,
    basis_text,
    geometry,
    net_name,
    ours_text,
    rate,
    row,
    si,
    sig,
    speed_text,
    thesis_text,
)

BOOK_VEGA = vega.BOOK_VEGA
START = (16, 2, "B(3,3)")           # the network shown first: the standard profile's shallow-wide one
TRAINABLE = ("smoke", "quick")      # with a kernel, a panel trains the chosen network: a run takes seconds to minutes
LEVELS = (3e5, 1e6, 3e6, 1e7, 3e7)  # iso-parameter curves (WRN-10-1, the smallest, has 78k)
# seaborn's "colorblind" palette, the book's (present.figures.PALETTE)
COLOURS = ["#0173b2", "#de8f05", "#029e73", "#d55e00", "#cc78bc", "#ca9161", "#56b4e9", "#949494"]
SHAPES = ["circle", "square", "triangle-up", "diamond", "cross", "triangle-down", "wedge", "stroke"]
FIELDS = [("name", "network"), ("params", "parameters"), ("flops", "training FLOPs"),
          ("speed", "training speed"), ("thesis", "thesis, CIFAR-10 error"), ("ours", "ours, test error")]
SIGNALS = {"depth": "sel_depth_depth", "width": "sel_width_width", "block": "sel_block_block"}


# --- the chart data ----------------------------------------------------------------------------


def series_of_thesis(p: dict) -> str:
    return {"Table 4": "thesis, Table 4 (ZCA)", "Table 5": "thesis, Table 5 (meanstd)",
            "Table 2": "thesis, Table 2 (block types)"}[p["table"]]


def series_of_ours(r: dict, profile: str) -> str:
    return f"ours, {r['dataset']} {geometry(r['shape'])} ({profile})"


def points_data(ex: study.Explorer) -> list[dict]:
    """One row per mark of the three error charts: the thesis's numbers and our runs."""
    out = []
    for p in ex.thesis:
        out.append({"series": series_of_thesis(p), "name": net_name(p["depth"], p["width"], p["block"]),
                    "depth": p["depth"], "width": p["width"], "block": p["block"], "error": p["error"],
                    "params": p["params"], "compute": p["compute"], "time": None, "plain": True,
                    "about": f"{p['table']} [{p['tag']}], CIFAR-10" + (f", {p['preprocessing']}" if p["preprocessing"] else ""),
                    "cost": f"{si(p['params'])} parameters; {si(p['compute'], 'FLOP')} for 200 epochs of 50,000 images"})
    for r in ex.ours:
        out.append({"series": series_of_ours(r, ex.profile), "name": net_name(r["depth"], r["width"], r["block"]),
                    "depth": r["depth"], "width": r["width"], "block": r["block"], "error": r["error"],
                    "params": r["params"], "compute": r["compute"], "time": r["wall_s"], "plain": not r["variant"],
                    "about": f"seed {r['seed']}" + (f", {r['variant']}" if r["variant"] else "")
                    + f", {r['n_train']:,} images x {r['epochs']} epochs",
                    "cost": f"{si(r['params'])} parameters; {si(r['compute'], 'FLOP')}; {sig(r['wall_s'])} s on "
                            f"{r['device']} ({rate(r['img_s'])} images/s)"})
    return out


def networks_data(ex: study.Explorer) -> list[dict]:
    """The grid, with each network's row of text and how many marks of each chart are its."""
    out = []
    for n in ex.networks:
        name = net_name(n["depth"], n["width"], n["block"])
        drawn = len(n["thesis"]) + len(n["ours"])
        out.append({"depth": n["depth"], "width": n["width"], "block": n["block"], "name": name,
                    "params": n["params"], "flops": n["flops"], "drawn": drawn, "timed": len(n["ours"]),
                    **{f"row_{k}": v for k, v in row(n, ex.profile).items()}})
    return out


def _crossing(curve: list[dict], depth: float) -> float | None:
    """The width at which an iso-parameter curve passes ``depth`` (it falls as the width grows)."""
    for a, b in itertools.pairwise(curve):
        if a["depth"] >= depth > b["depth"]:
            return a["width"] + (a["depth"] - depth) / (a["depth"] - b["depth"]) * (b["width"] - a["width"])
    return None


def iso_data(blocks=study.BLOCKS, levels=LEVELS) -> list[dict]:
    """Iso-parameter curves in the width/depth plane: for each block type, level and width, the
    (fractional) depth at which WRN-d-k has that many parameters (linear in d at a fixed k). Each
    curve is named once, in the free band above the deepest row where it enters the grid, else in
    the band under the shallowest row where it leaves it, else at the right edge."""
    lo, hi = study.DEPTHS[0], study.DEPTHS[-1]
    out = []
    for block in blocks:
        for level in levels:
            pts = []
            for k in study.WIDTHS:
                p10, p16 = study.parameters(lo, k, block), study.parameters(lo + 6, k, block)
                d = lo + 6 * (level - p10) / (p16 - p10)
                if -30 <= d <= 90:  # a point outside the plot on each side lets the clipped line reach the edge
                    pts.append({"block": block, "level": level, "width": k, "depth": round(d, 2)})
            out += pts
            name = f"{level / 1e6:g}M" if level >= 1e6 else f"{level / 1e3:g}k"
            top, bottom = _crossing(pts, hi), _crossing(pts, lo)
            if top is not None:
                out.append({"block": block, "label": name, "width": round(top, 2), "depth": hi + 2.2, "align": "center"})
            elif bottom is not None:
                out.append({"block": block, "label": name, "width": round(bottom, 2), "depth": lo - 2.0,
                            "align": "center"})
            elif pts and lo <= pts[-1]["depth"] <= hi:
                out.append({"block": block, "label": name, "width": 12.45, "depth": pts[-1]["depth"], "align": "right"})
    return out


# --- the chart -------------------------------------------------------------------------------


def selections(start: tuple[int, int, str] = START):
    depth = alt.selection_point(name="sel_depth", fields=["depth"], value=start[0], bind=alt.binding_range(
        min=study.DEPTHS[0], max=study.DEPTHS[-1], step=study.DEPTHS[1] - study.DEPTHS[0], name="depth d "))
    width = alt.selection_point(name="sel_width", fields=["width"], value=start[1], bind=alt.binding_range(
        min=study.WIDTHS[0], max=study.WIDTHS[-1], step=1, name="width k "))
    block = alt.selection_point(name="sel_block", fields=["block"], value=start[2], bind=alt.binding_select(
        options=list(study.BLOCKS), name="block "))
    return depth, width, block


def log_domain(values, margin: float = 0.06) -> list[float]:
    """A log axis's domain around ``values``, ``margin`` of their span (at least 0.1 decade) on
    each side; fixed, so that the axes stay put as the selection moves."""
    v = [x for x in values if x is not None and x > 0]
    if not v:
        return [1.0, 10.0]
    pad = 10 ** max(0.1, margin * math.log10(max(v) / min(v)))
    return [min(v) / pad, max(v) * pad]


ERROR_TICKS = (1, 2, 3, 4, 5, 6, 8, 10, 15, 20, 30, 40, 60, 80, 100)


def chart(ex: study.Explorer, start: tuple[int, int, str] = START) -> alt.VConcatChart:
    """The four linked charts (data by name: ``networks``, ``points``, ``iso``), ``start`` chosen."""
    sd, sw, sb = selections(start)
    chosen = sd & sw & sb
    nets, points, iso = (alt.Data(name=n) for n in ("networks", "points", "iso"))
    data = points_data(ex)
    series = list(dict.fromkeys(p["series"] for p in data))
    legend = alt.Legend(title=None, orient="bottom", columns=2, labelLimit=400, symbolStrokeWidth=1.5)
    enc = {ch: cls("series:N", scale=alt.Scale(domain=series, range=rng[:len(series)]), legend=legend)
           for ch, cls, rng in (("fill", alt.Fill, COLOURS), ("stroke", alt.Stroke, COLOURS), ("shape", alt.Shape, SHAPES))}
    enc["fillOpacity"] = alt.condition("datum.plain", alt.value(0.85), alt.value(0.0))
    tips = [alt.Tooltip("name:N", title="network"), alt.Tooltip("series:N", title="from"),
            alt.Tooltip("error:Q", title="test error (%)", format=".2f"), alt.Tooltip("about:N", title="run"),
            alt.Tooltip("cost:N", title="cost")]
    lo, hi = log_domain([p["error"] for p in data], 0.04)
    error = alt.Y("error:Q", title="test error (%, log scale)",
                  scale=alt.Scale(type="log", domain=[lo, min(hi, 100)], nice=False),
                  axis=alt.Axis(values=[t for t in ERROR_TICKS if lo <= t <= hi], format="~g"))
    size = {"width": 245, "height": 200}

    def log_x(field: str, title: str, values) -> alt.X:
        return alt.X(f"{field}:Q", title=title, scale=alt.Scale(type="log", domain=log_domain(values), nice=False),
                     axis=alt.Axis(format="~s", tickCount=5))

    def marks(x: alt.X, name: str, keep: str = "true", y: alt.Y = error) -> alt.LayerChart:
        """Every point (``keep``: an expression for those the chart can place), the chosen ringed."""
        base = alt.Chart(points).encode(x=x, y=y).transform_filter(keep)
        dots = base.mark_point(filled=True, size=60, strokeWidth=1.5).encode(**enc, tooltip=tips)
        ring = base.mark_point(size=400, strokeWidth=2.5, color="black", filled=False).encode(
            description="chosen:N").transform_filter(chosen).transform_calculate(chosen=f"'{name}: ' + datum.name")
        return dots + ring

    x_params = log_x("params", "parameters (log scale)", [p["params"] for p in data + ex.networks])
    rule = alt.Chart(nets).mark_rule(strokeDash=[4, 3], color="black").encode(
        x=x_params, description="chosen:N").transform_filter(chosen).transform_calculate(
        chosen="'size: ' + datum.name")
    by_params = (rule + marks(x_params, "params")).properties(
        title=alt.TitleParams("test error vs parameters", subtitle="dashed: the chosen network's size"), **size)

    x_compute = log_x("compute", "training compute (FLOP, log scale)", [p["compute"] for p in data])
    by_compute = marks(x_compute, "compute").properties(
        title=alt.TitleParams("test error vs training compute",
                              subtitle="FLOP per image (counted) x images x epochs"), **size)

    devices = sorted({r["device"] for r in ex.ours}) or ["(no run has a record)"]
    x_time = log_x("time", "wall time of the run (s, log scale)", [r["wall_s"] for r in ex.ours])
    # our runs only: their own error axis, so that their spread is not squashed under the thesis's range
    errs = [r["error"] for r in ex.ours] or [0.0, 100.0]
    pad = max(0.5, 0.08 * (max(errs) - min(errs)))
    ours_error = alt.Y("error:Q", title="test error (%)", axis=alt.Axis(tickCount=6, format="~g"),
                       scale=alt.Scale(domain=[max(0.0, min(errs) - pad), min(100.0, max(errs) + pad)], nice=False))
    by_time = marks(x_time, "time", "isValid(datum.time)", ours_error).properties(
        title=alt.TitleParams("test error vs training time (ours)",
                              subtitle=["measured on " + "; ".join(devices), "its own linear error axis (our runs only)"]),
        **size)

    kx = alt.X("width:Q", title="width k (channels 16k, 32k, 64k)",
               scale=alt.Scale(domain=[0.5, study.WIDTHS[-1] + 0.5], nice=False),
               axis=alt.Axis(values=list(study.WIDTHS)))
    dy = alt.Y("depth:Q", title="depth d (layers)", scale=alt.Scale(domain=[study.DEPTHS[0] - 4, study.DEPTHS[-1] + 4], nice=False),
               axis=alt.Axis(values=list(study.DEPTHS)))
    curves = alt.Chart(iso).mark_line(color="#999", strokeWidth=1, clip=True, interpolate="monotone").encode(
        x=kx, y=dy, detail="level:N").transform_filter(sb).transform_filter("isValid(datum.level)")
    labels = alt.Chart(iso).mark_text(fontSize=9.5, color="#555", align=alt.ExprRef("datum.align")).encode(
        x=kx, y=dy, text="label:N").transform_filter(sb).transform_filter("isValid(datum.label)")
    grid = alt.Chart(nets).mark_point(size=12, color="#aaa", filled=True).encode(x=kx, y=dy).transform_filter(
        sb).add_params(sb, sw, sd)  # the chart that defines the controls; Vega lists the inputs in reverse
    here = alt.Chart(points).mark_point(filled=True, size=60, strokeWidth=1.5).encode(
        x=kx, y=dy, **enc, tooltip=tips).transform_filter(sb)
    you = alt.Chart(nets).mark_point(size=400, strokeWidth=2.5, color="black").encode(
        x=kx, y=dy, description="chosen:N").transform_filter(chosen).transform_calculate(
        chosen="'plane: ' + datum.name")
    plane = (curves + labels + grid + here + you).properties(
        title=alt.TitleParams("depth vs width", subtitle="grey: equal parameter counts, chosen block type"), **size)

    drawn = len(ex.ours)
    ours = f"ours: every {ex.profile} run with a record ({ex.planned - drawn} without one not drawn)"
    title = alt.TitleParams(
        f"The thesis's {len(ex.thesis)} CIFAR-10 errors of WRNs and {drawn} of our {ex.planned} runs at {ex.profile}",
        subtitle=[f"{ours}; ringed: the chosen network",
                  "hollow: our runs of a variant (dropout, deepening factor l, longer or shorter training)"],
        anchor="start")
    top = alt.hconcat(plane, by_params, spacing=30)
    return alt.vconcat(top, alt.hconcat(by_compute, by_time, spacing=30), spacing=25, title=title).resolve_scale(
        fill="shared", stroke="shared", shape="shared").configure_axis(labelFontSize=11, titleFontSize=11).configure_title(
        fontSize=13, subtitleFontSize=11, subtitleColor="#555").configure_legend(labelFontSize=11).configure_view(
        stroke="#ccc")


def spec(ex: study.Explorer, controls: str | None = None, start: tuple[int, int, str] = START) -> dict:
    """The Vega-Lite specification with its data inline (``datasets``); ``controls``: the CSS
    selector of the element the inputs go into (None: under the charts)."""
    s = chart(ex, start).to_dict()
    s["datasets"] = {"networks": networks_data(ex), "points": points_data(ex), "iso": iso_data()}
    return vega.bind_controls(s, controls)


# --- the page ----------------------------------------------------------------------------------


_CSS = vega.layout_css("wp-explorer", "wpx")


def explorer_html(ex: study.Explorer, base: str | None = BOOK_VEGA, start: tuple[int, int, str] = START) -> str:
    """The explorer as one HTML block: controls, the chosen network's row, the charts. ``base``:
    the URL of the folder holding the vendored JavaScript (None: inline it); ``start``: the
    network (depth, width, block) chosen first."""
    uid = vega.new_id("wpx")
    s = spec(ex, controls=f"#{uid} .wpx-controls", start=start)
    first = next(n for n in s["datasets"]["networks"] if (n["depth"], n["width"], n["block"]) == tuple(start))
    rows = "".join(f'<tr><td>{html.escape(label)}</td><td data-field="{k}">{html.escape(first["row_" + k])}</td></tr>'
                   for k, label in FIELDS)
    above = ('<div class="wpx-controls"></div>' f'<table class="wpx-row">{rows}</table>'
             f'<div class="wpx-note">{html.escape(basis_text(ex))}</div>')
    rows = {f"{n['depth']}/{n['width']}/{n['block']}": {k: n["row_" + k] for k, _ in FIELDS}
            for n in s["datasets"]["networks"]}
    return vega.embed_html(s, uid, "wp-explorer", above, vega.rows_js(SIGNALS, rows), _CSS, base)


def show_explorer(profile: str, live: bool = False) -> study.Explorer:
    """Display the explorer of ``profile``'s records; ``live``: in a running notebook (the
    JavaScript inline, and at the ``TRAINABLE`` profiles the panel of ``explorer_train`` under it that
    trains the chosen network and redraws the explorer), else for the book (loaded from its
    ``_static/offline/vega/``)."""
    from IPython.display import HTML, display

    ex = study.explorer(profile)
    if live and profile in TRAINABLE:
        from .explorer_train import TrainPanel

        display(TrainPanel(profile, ex).widget())
    else:
        display(HTML(explorer_html(ex, base=None if live else BOOK_VEGA)))
    return ex
