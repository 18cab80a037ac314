"""The two widgets of the DiracNets chapter (thesis ch. 5): the parameterisation under the reader's
hands, and test error vs depth with a toggle per network.

``kernel_html``: sliders for a and b show the effective weights W' = a·I + b·W_norm
(``nets.dirac.DiracConv.effective_weight``) of one output channel of a *trained* Dirac
convolution: its 3x3 kernels on the first few input channels. I and W_norm
(``normalize_filters(weight)``, each output filter of unit norm) are read from the layer in
Python and travel in the data; the page computes a·I + b·W_norm with a Vega-Lite ``calculate``
transform, so the numbers shown equal Python's for the same a and b. The sliders start at the
layer's trained a and b.

``depth_html``: test error vs depth of the plain, Dirac and ResNet runs of the chapter's records
(one dot per seed, the line through the means computed here), with one checkbox per network.

What tests read: kernel cells have ``aria-label`` "input channel i, row r, column c: v" (v to 3
decimals, the text drawn in the cell); the readout has ``data-field`` "a", "b" and "ratio". Depth
marks have ``aria-label`` "<model> seed s: e%" (runs) and "<network> mean at depth d: e%" (means).
"""
from __future__ import annotations

import html
import json
from statistics import mean

import altair as alt
import torch

from ..experiment import load_model
from ..nets.dirac import normalize_filters
from ..studies import diracnets as study
from . import vega

KERNEL_SIGNALS = {"a": "dirac_a", "b": "dirac_b"}
IN_CHANNELS = 4             # input channels shown: the identity lives on one of them
DIGITS = 3                  # decimals of a displayed weight
NAMES = {"plain": "plain", "dirac": "DiracNet", "resnet": "ResNet"}
# seaborn's "colorblind" palette (present.figures.PALETTE), in the order of the static depth figure
COLOURS = {"plain": "#0173b2", "dirac": "#de8f05", "resnet": "#029e73"}


# --- the parameterisation --------------------------------------------------------------------

@torch.no_grad()
def conv_data(conv, out_channel: int = 0, in_channels: int = IN_CHANNELS) -> dict:
    """The delta and W_norm (``normalize_filters(conv.weight)``) of output channel ``out_channel``
    of a Dirac convolution, on its first ``in_channels`` input channels: {"cells": [{"in", "row",
    "col", "delta", "w_norm"}] (from 1), "a", "b" (that channel's values), "out_channel" (from 1)}."""
    w_norm = normalize_filters(conv.weight)[out_channel, :in_channels]   # (in_channels, 3, 3)
    delta = conv.delta[out_channel, :in_channels]
    cells = [{"in": i + 1, "row": r + 1, "col": c + 1, "delta": float(delta[i, r, c]), "w_norm": float(w_norm[i, r, c])}
             for i in range(w_norm.shape[0]) for r in range(w_norm.shape[1]) for c in range(w_norm.shape[2])]
    return {"cells": cells, "a": conv.a[out_channel].item(), "b": conv.b[out_channel].item(),
            "out_channel": out_channel + 1}


def kernel_data(record, layer: int = 0, out_channel: int = 0, in_channels: int = IN_CHANNELS) -> dict:
    """``conv_data`` of the ``layer``-th Dirac convolution of ``record``'s trained DiracNet, and
    "about": which layer of which run, in words."""
    convs = list(load_model(record).dirac_convs().items())
    name, conv = convs[layer]
    data = conv_data(conv, out_channel, in_channels)
    c_out, c_in = conv.weight.shape[:2]
    data["about"] = (
        f"The layer: Dirac convolution {layer + 1} of {len(convs)} ({name}, {c_in} to {c_out} channels) of "
        f"{record.config['model']}, seed {record.config['seed']}, trained in the {record.config['dataset']} run "
        f"of record {record.key[:12]}; its output channel {out_channel + 1}, whose trained a = {data['a']:.4f} "
        f"and b = {data['b']:.4f} the sliders start at. W_norm: that filter divided by its L2 norm over all "
        f"{c_in} input channels x 3 x 3 (here the first {min(in_channels, c_in)} input channels).")
    return data


def effective(cells: list[dict], a: float, b: float) -> list[float]:
    """What the page's ``calculate`` computes, in Python: a·delta + b·w_norm per cell."""
    return [a * c["delta"] + b * c["w_norm"] for c in cells]


def kernel_chart(data: dict, element: str | None = None) -> alt.LayerChart:
    # the sliders reach below 0 when the trained a or b is negative, so that they start at it
    where = {"element": element} if element else {}
    a = alt.param(name=KERNEL_SIGNALS["a"], value=data["a"], bind=alt.binding_range(
        min=min(0.0, round(data["a"] - 0.5)), max=max(2.0, round(data["a"] + 0.5)), step=0.01,
        name="a (identity) ", **where))
    b = alt.param(name=KERNEL_SIGNALS["b"], value=data["b"], bind=alt.binding_range(
        min=min(0.0, round(data["b"] - 0.5)), max=max(2.0, round(data["b"] + 0.5)), step=0.01,
        name="b (learned weight) ", **where))
    # the colour scale is symmetric about 0, up to the largest |W'| of the cells shown: the delta's one
    # cell gives a + b·w_centre, every other cell b·w, so that is max(|a + b·w_centre|, |b|·max|w|)
    ka, kb = KERNEL_SIGNALS["a"], KERNEL_SIGNALS["b"]
    centre = next(c["w_norm"] for c in data["cells"] if c["delta"])
    rest = max(abs(c["w_norm"]) for c in data["cells"] if not c["delta"])
    top = f"max(abs({ka} + {kb} * {centre!r}), abs({kb}) * {rest!r}, 1e-6)"
    base = alt.Chart(alt.Data(name="cells")).transform_calculate(
        weight=f"{KERNEL_SIGNALS['a']} * datum.delta + {KERNEL_SIGNALS['b']} * datum.w_norm").transform_calculate(
        shown=f"format(datum.weight, '.{DIGITS}f')").transform_calculate(
        label="'input channel ' + datum.in + ', row ' + datum.row + ', column ' + datum.col + ': ' + datum.shown")
    x = alt.X("col:O", title="kernel column", axis=alt.Axis(labelAngle=0))
    y = alt.Y("row:O", title="kernel row")
    cells = base.mark_rect(stroke="white", strokeWidth=1).encode(
        x=x, y=y, color=alt.Color("weight:Q", title="effective weight W'",
                                  scale=alt.Scale(scheme="blueorange", domainMin=alt.ExprRef(f"-{top}"),
                                                  domainMax=alt.ExprRef(top)),
                                  legend=alt.Legend(orient="bottom", direction="horizontal", gradientLength=240,
                                                    format=".2f", titleOrient="left")),
        description="label:N",
        tooltip=[alt.Tooltip("in:O", title="input channel"), "row:O", alt.Tooltip("col:O", title="column"),
                 alt.Tooltip("delta:Q", title="I"), alt.Tooltip("w_norm:Q", title="W_norm", format=".4f"),
                 alt.Tooltip("weight:Q", title="W' = a·I + b·W_norm", format=f".{DIGITS}f")])
    text = base.mark_text(fontSize=11).encode(
        x=x, y=y, text="shown:N",
        color=alt.condition(f"abs(datum.weight) > 0.6 * {top}",
                            alt.value("white"), alt.value("black")))
    oc = data["out_channel"]
    return (alt.layer(cells, text).properties(width=120, height=120)
            .facet(column=alt.Column("in:O", title=f"input channel (output channel {oc})",
                                     header=alt.Header(labelFontSize=11, titleFontSize=11)))
            .add_params(a, b)
            .properties(title=alt.TitleParams(
                f"W' = a·I + b·W_norm: output channel {oc}'s 3x3 kernels", anchor="start",
                subtitle="a moves only the centre of the kernel on the matching input channel (the identity); "
                         "b scales the learned weights everywhere"))
            .configure_title(fontSize=13, subtitleFontSize=11, subtitleColor="#555").configure_view(stroke="#ccc"))


def kernel_spec(data: dict, element: str | None = None) -> dict:
    s = kernel_chart(data, element).to_dict()
    s["datasets"] = {"cells": data["cells"]}
    return s


_KERNEL_ON_VIEW = """
      var signals = %(signals)s;
      function show() {
        var a = view.signal(signals.a), b = view.signal(signals.b);
        root.querySelector('[data-field="a"]').textContent = a.toFixed(3);
        root.querySelector('[data-field="b"]').textContent = b.toFixed(3);
        root.querySelector('[data-field="ratio"]').textContent = a ? (b / a).toFixed(3) : '— (a = 0)';
      }
      Object.keys(signals).forEach(function (k) { view.addSignalListener(signals[k], show); });
      show();
"""

_EXTRA_CSS = ".%(cls)s .vega-bind input[type=range] + span {display:none}  /* Vega's raw value; the table shows it rounded */\n"


def _css(cls: str) -> str:
    return vega.layout_css(cls, "wpd", slider_em=14, extra=_EXTRA_CSS % {"cls": cls})


def kernel_html(data: dict, base: str | None = vega.BOOK_VEGA) -> str:
    """The parameterisation widget as one HTML block: sliders, the values of a, b and b/a, the kernels."""
    uid = vega.new_id("wpk")
    s = kernel_spec(data, element=f"#{uid} .wpd-controls")
    rows = [("a", "a", data["a"]), ("b", "b", data["b"]), ("b / a (how far from the identity)", "ratio", data["b"] / data["a"])]
    table = "".join(f'<tr><td>{html.escape(label)}</td><td data-field="{f}">{v:.3f}</td></tr>' for label, f, v in rows)
    above = ('<div class="wpd-controls"></div>' f'<table class="wpd-row">{table}</table>'
             f'<div class="wpd-note">{html.escape(data["about"])}</div>')
    return vega.embed_html(s, uid, "wp-diracw", above, _KERNEL_ON_VIEW % {"signals": json.dumps(KERNEL_SIGNALS)},
                           _css("wp-diracw"), base)


# --- test error vs depth ---------------------------------------------------------------------

def depth_data(records) -> dict:
    """{"runs": one row per record, "means": one row per network and depth (the mean over seeds,
    computed here), "about": where the numbers come from}."""
    runs = [{"role": study.role_of(r), "network": NAMES[study.role_of(r)], "model": r.config["model"],
             "depth": study.depth_of(r), "seed": r.config["seed"], "error": round(r.final["test_error"], 2)}
            for r in records if study.role_of(r) and "28-10" not in r.config["model"]]
    means = []
    for role in study.ARCHS:
        for d in sorted({x["depth"] for x in runs}):
            e = [r["error"] for r in runs if r["role"] == role and r["depth"] == d]
            if e:
                means.append({"role": role, "network": NAMES[role], "depth": d, "error": round(mean(e), 2),
                              "seeds": len(e)})
    r0 = records[0]
    d = r0.data
    size = r0.config.get("image_size")
    widths = sorted({x["model"].split("-")[2] for x in runs})
    about = (f"From the chapter's records: {len(runs)} runs, {r0.config['dataset']}"
             + (f" at {size}x{size}" if size else "") + f", {d.get('n_train', '?')} training images x "
             f"{r0.config['epochs']} epochs, test error on {d.get('n_test', '?')} test images; "
             f"width {', '.join(widths)}.")
    return {"runs": runs, "means": means, "about": about}


def depth_chart(data: dict, element: str | None = None) -> alt.LayerChart:
    where = {"element": element} if element else {}
    shown = {role: alt.param(name=f"show_{role}", value=True,
                             bind=alt.binding_checkbox(name=f"{NAMES[role]} ", **where)) for role in study.ARCHS}
    keep = " || ".join(f"(datum.role == '{role}' && show_{role})" for role in study.ARCHS)
    roles = [NAMES[r] for r in study.ARCHS]
    colour = alt.Color("network:N", title="network", scale=alt.Scale(domain=roles, range=[COLOURS[r] for r in study.ARCHS]),
                       legend=alt.Legend(orient="right"))
    errors = [r["error"] for r in data["runs"]]
    depths = sorted({r["depth"] for r in data["runs"]})
    x = alt.X("depth:Q", title="depth (layers)", scale=alt.Scale(domain=[depths[0] - 2, depths[-1] + 2], nice=False),
              axis=alt.Axis(values=depths, format="d"))
    y = alt.Y("error:Q", title="test error (%)",
              scale=alt.Scale(domain=[max(0.0, min(errors) - 2), min(100.0, max(errors) + 2)], nice=False))
    means = alt.Chart(alt.Data(name="means")).transform_filter(keep).transform_calculate(
        label="datum.network + ' mean at depth ' + datum.depth + ': ' + format(datum.error, '.2f') + '%'")
    line = means.mark_line(strokeWidth=2).encode(x=x, y=y, color=colour, detail="role:N")
    dots = means.mark_point(filled=True, size=70).encode(
        x=x, y=y, color=colour, description="label:N",
        tooltip=[alt.Tooltip("network:N"), alt.Tooltip("depth:Q"), alt.Tooltip("error:Q", title="mean test error (%)",
                                                                                format=".2f"),
                 alt.Tooltip("seeds:Q")])
    runs = alt.Chart(alt.Data(name="runs")).transform_filter(keep).transform_calculate(
        label="datum.model + ' seed ' + datum.seed + ': ' + format(datum.error, '.2f') + '%'").mark_point(
        size=40, opacity=0.6, strokeWidth=1.5).encode(
        x=x, y=y, color=colour, description="label:N",
        tooltip=[alt.Tooltip("model:N", title="network"), alt.Tooltip("seed:Q"),
                 alt.Tooltip("error:Q", title="test error (%)", format=".2f")])
    return (alt.layer(line, dots, runs).add_params(*shown.values())
            .properties(width=430, height=260, title=alt.TitleParams(
                "Test error vs depth: plain, DiracNet, ResNet", anchor="start",
                subtitle="filled dots and lines: the mean over seeds; rings: single runs")).configure_axis(
                labelFontSize=11, titleFontSize=11).configure_title(fontSize=13, subtitleFontSize=11,
                                                                    subtitleColor="#555").configure_view(stroke="#ccc"))


def depth_spec(data: dict, element: str | None = None) -> dict:
    s = depth_chart(data, element).to_dict()
    s["datasets"] = {"runs": data["runs"], "means": data["means"]}
    return s


def depth_html(data: dict, base: str | None = vega.BOOK_VEGA) -> str:
    """The depth chart as one HTML block: a checkbox per network, the chart."""
    uid = vega.new_id("wpe")
    above = ('<div class="wpd-controls"></div>' f'<div class="wpd-note">{html.escape(data["about"])} '
             "Untick a network to hide it.</div>")
    return vega.embed_html(depth_spec(data, element=f"#{uid} .wpd-controls"), uid, "wp-diracdepth", above, "",
                           _css("wp-diracdepth"), base)


def show_kernel_widget(record, live: bool = False) -> dict:
    """Display the parameterisation widget for ``record``'s DiracNet (``live``: in a running notebook)."""
    from IPython.display import HTML, display

    data = kernel_data(record)
    display(HTML(kernel_html(data, base=None if live else vega.BOOK_VEGA)))
    return data


def show_depth_widget(records, live: bool = False) -> dict:
    """Display the depth chart of the chapter's records (``live``: in a running notebook)."""
    from IPython.display import HTML, display

    data = depth_data(records)
    display(HTML(depth_html(data, base=None if live else vega.BOOK_VEGA)))
    return data
