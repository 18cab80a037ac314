"""The width/depth explorer: pick a WRN by depth, width and block type and see what it costs.

Two renderings of one precomputed grid (``wpcore.studies.wide_resnets_explorer.explorer_points``):

- ``explorer_html(points)``: self-contained HTML + plain JavaScript (the grid as inline JSON,
  ``<input type=range>`` sliders and a ``<select>``), no external script and no kernel, so it works
  in the published static book and offline. Each point is a dict with depth, width, block, name,
  params, fwd_flops, train_flops, img_s (None: not measured), thesis ({error, source} or None),
  ours ({error, n, data} or None).
- ``live_explorer(...)``: ipywidgets sliders for a running kernel, which build any WRN on the fly.

The page shows the point's values in elements marked ``data-field="..."`` (tests read them).
"""

from __future__ import annotations

import html
import json
import math
import uuid
from statistics import median

FIELDS = [
    ("name", "network"),
    ("params", "parameters (CIFAR-10 head)"),
    ("fwd", "forward FLOPs per 32x32 image"),
    ("train", "training FLOPs per image (3x forward)"),
    ("speed", "measured training speed"),
    ("thesis", "thesis CIFAR-10 error"),
    ("ours", "our test error"),
]


def _fmt_int(n: int) -> str:
    return f"{n:,}"


def _gflops(f: float) -> str:
    return f"{f / 1e9:.3f} GFLOP" if f < 1e10 else f"{f / 1e9:.1f} GFLOP"


def _two_digits(x: float) -> str:
    """An estimate to two significant digits: 0.43, 4.3, 43, 430, 4,300."""
    if x < 10:
        return f"{x:.2g}"
    return f"{round(x, 1 - math.floor(math.log10(x))):,.0f}"


def rate(points: list[dict]) -> float | None:
    """Median achieved training GFLOP/s over the measured points (for the estimates)."""
    r = [p["train_flops"] * p["img_s"] / 1e9 for p in points if p.get("img_s")]
    return median(r) if r else None


def cells(p: dict, gflops_s: float | None) -> dict[str, str]:
    """The displayed text of every field for one point (Python twin of the page's JavaScript)."""
    if p.get("img_s"):
        speed = f"{p['img_s']:.0f} images/s ({p['train_flops'] * p['img_s'] / 1e9:.0f} GFLOP/s)"
    elif gflops_s:
        est = _two_digits(gflops_s * 1e9 / p["train_flops"])
        speed = f"not measured; about {est} images/s at the median measured {gflops_s:.0f} GFLOP/s (estimate)"
    else:
        speed = "not measured"
    thesis = (
        f"{p['thesis']['error']:.2f}% ({p['thesis']['source']})" if p.get("thesis") else "— (not reported)"
    )
    ours = (
        f"{p['ours']['error']}% ({p['ours']['n']} seed{'s' * (p['ours']['n'] != 1)}; {p['ours']['data']})"
        if p.get("ours")
        else "— (no record in this profile)"
    )
    return {
        "name": f"WRN-{p['depth']}-{p['width']} {p['block']}",
        "params": _fmt_int(p["params"]),
        "fwd": _gflops(p["fwd_flops"]),
        "train": _gflops(p["train_flops"]),
        "speed": speed,
        "thesis": thesis,
        "ours": ours,
    }


_JS = """
(function () {
  var root = document.getElementById(%(id)s);
  var data = JSON.parse(root.querySelector('script[data-grid]').textContent);
  var pts = {};
  data.points.forEach(function (p) { pts[p.depth + '/' + p.width + '/' + p.block] = p; });
  var ctl = function (n) { return root.querySelector('[data-control="' + n + '"]'); };
  var show = function (n, t) { root.querySelector('[data-field="' + n + '"]').textContent = t; };
  function update() {
    var d = data.depths[+ctl('depth').value], w = data.widths[+ctl('width').value], b = ctl('block').value;
    root.querySelector('[data-show="depth"]').textContent = d;
    root.querySelector('[data-show="width"]').textContent = w;
    var c = data.cells[(pts[d + '/' + w + '/' + b] || {}).i];
    Object.keys(c || {}).forEach(function (k) { show(k, c[k]); });
  }
  ['depth', 'width', 'block'].forEach(function (n) {
    ctl(n).addEventListener('input', update); ctl(n).addEventListener('change', update);
  });
  update();
})();
"""

_CSS = """
.wp-explorer {border:1px solid #ccc; border-radius:6px; padding:0.8em 1em; margin:1em 0; font-size:0.92em}
.wp-explorer label {display:inline-block; width:7em; font-weight:bold}
.wp-explorer input[type=range] {width:14em; vertical-align:middle}
.wp-explorer table {margin-top:0.6em; border-collapse:collapse}
.wp-explorer td {padding:2px 10px 2px 0; vertical-align:top}
.wp-explorer td:first-child {color:#555; white-space:nowrap}
"""


def explorer_html(points: list[dict], start: tuple[int, int, str] | None = None, caption: str = "") -> str:
    """The static explorer: one self-contained HTML block (inline CSS, JSON and JavaScript)."""
    depths = sorted({p["depth"] for p in points})
    widths = sorted({p["width"] for p in points})
    blocks = list(dict.fromkeys(p["block"] for p in points))
    g = rate(points)
    table = [cells(p, g) for p in points]
    data = {
        "depths": depths,
        "widths": widths,
        "points": [
            {"depth": p["depth"], "width": p["width"], "block": p["block"], "i": i}
            for i, p in enumerate(points)
        ],
        "cells": table,
    }
    d0, w0, b0 = start or (depths[0], widths[0], blocks[0])
    i0 = next(i for i, p in enumerate(points) if (p["depth"], p["width"], p["block"]) == (d0, w0, b0))
    uid = "wpx-" + uuid.uuid4().hex[:10]
    blob = json.dumps(data).replace("</", "<\\/")
    options = "".join(
        f'<option value="{html.escape(b)}"{" selected" if b == b0 else ""}>{html.escape(b)}</option>'
        for b in blocks
    )
    rows = "".join(
        f'<tr><td>{html.escape(label)}</td><td data-field="{k}">{html.escape(table[i0][k])}</td></tr>'
        for k, label in FIELDS
    )
    return (
        f'<div class="wp-explorer" id="{uid}"><style>{_CSS}</style>'
        + (f"<div><em>{html.escape(caption)}</em></div>" if caption else "")
        + f'<div><label>depth d</label><input type="range" data-control="depth" aria-label="depth" min="0" '
        f'max="{len(depths) - 1}" step="1" value="{depths.index(d0)}"> '
        f'<span data-show="depth">{d0}</span></div>'
        + f'<div><label>width k</label><input type="range" data-control="width" aria-label="width" min="0" '
        f'max="{len(widths) - 1}" step="1" value="{widths.index(w0)}"> '
        f'<span data-show="width">{w0}</span></div>'
        + f'<div><label>block</label><select data-control="block" aria-label="block">{options}</select></div>'
        + f"<table>{rows}</table>"
        + f'<script type="application/json" data-grid>{blob}</script>'
        + f"<script>{_JS % {'id': json.dumps(uid)}}</script></div>"
    )


def show_explorer(points: list[dict], **kw) -> None:
    from IPython.display import HTML, display

    display(HTML(explorer_html(points, **kw)))


def live_explorer(points: list[dict], depths=range(10, 101, 6), widths=range(1, 17), thesis=None):
    """ipywidgets version for a running kernel: any depth 6n+4 and width, built and counted live;
    grid points also show their measured speed, the thesis's error and ours."""
    import ipywidgets as W
    import torch

    from .. import flops
    from ..nets import create

    depths, widths = list(depths), list(widths)
    known = {(p["depth"], p["width"], p["block"]): p for p in points}
    blocks = list(dict.fromkeys(p["block"] for p in points))
    g = rate(points)

    def view(depth: int, width: int, block: str):
        from IPython.display import HTML, display

        p = known.get((depth, width, block))
        if p is None:
            kw = {} if block == "B(3,3)" else {"block": block}
            with torch.device("meta"):
                params = sum(q.numel() for q in create(f"wrn-{depth}-{width}", **kw).parameters())
            fwd = flops.forward_flops(f"wrn-{depth}-{width}", (3, 32, 32), **kw)
            p = {
                "depth": depth,
                "width": width,
                "block": block,
                "params": params,
                "fwd_flops": fwd,
                "train_flops": 3 * fwd,
                "img_s": None,
                "thesis": thesis(depth, width, block) if thesis else None,
                "ours": None,
            }
        c = cells(p, g)
        display(
            HTML(
                "<table>"
                + "".join(f"<tr><td>{label}</td><td>{html.escape(c[k])}</td></tr>" for k, label in FIELDS)
                + "</table>"
            )
        )

    return W.interactive(
        view,
        depth=W.SelectionSlider(options=depths, value=28 if 28 in depths else depths[0], description="depth d"),
        width=W.SelectionSlider(options=widths, value=10 if 10 in widths else widths[0], description="width k"),
        block=W.Dropdown(options=blocks, value=blocks[0], description="block"),
    )
