"""Kernel-free interactive charts: a Vega-Lite specification (drawn with Altair) as one HTML block.

Every interactive chart of the book goes through ``embed_html``: the specification and its data
inline, Vega, Vega-Lite and vega-embed loaded from the book's own ``_static/offline/vega/``
(committed under ``book/_vendor/vega/``, copied by ``wpcore.book.vendor``) or, in a running
notebook (``base=None``), inlined from there. The page needs no kernel and no network. A chart may
bring a few lines of its own JavaScript (``on_view``) that run once the view exists, e.g. to fill a
table from the chosen point; the numbers themselves are computed in Python and travel in the data.
"""
from __future__ import annotations

import json
import uuid
from pathlib import Path

VEGA_DIR = Path(__file__).resolve().parents[2] / "book" / "_vendor" / "vega"
VEGA_FILES = ("vega.min.js", "vega-lite.min.js", "vega-embed.min.js")
BOOK_VEGA = "../_static/offline/vega/"      # from a chapter's page (chapters/<name>.html) to the vendored files

_JS = """
(function () {
  var root = document.getElementById(%(id)s), base = %(base)s, files = %(files)s;
  var spec = JSON.parse(root.querySelector('script[data-spec]').textContent);
  function fail(why) {
    root.querySelector('.wpv-chart').textContent = 'The charts could not be drawn: ' + why + '.';
  }
  function loaded() {
    if (window.vegaEmbed) { return Promise.resolve(window.vegaEmbed); }
    if (!base) { return Promise.reject(new Error('Vega is not on the page')); }
    if (typeof window.define === 'function' && window.define.amd && window.requirejs) {
      // a page with require.js: the UMD builds register as AMD modules
      return new Promise(function (ok, no) {
        window.requirejs.config({paths: {'vega': base + 'vega.min', 'vega-lite': base + 'vega-lite.min',
                                         'vega-embed': base + 'vega-embed.min'}});
        window.requirejs(['vega-embed'], ok, no);
      });
    }
    window.wpVega = window.wpVega || files.reduce(function (p, f) {
      return p.then(function () {
        return new Promise(function (ok, no) {
          var s = document.createElement('script');
          s.src = base + f; s.onload = ok;
          s.onerror = function () { no(new Error('could not load ' + base + f)); };
          document.head.appendChild(s);
        });
      });
    }, Promise.resolve()).then(function () { return window.vegaEmbed; });
    return window.wpVega;
  }
  loaded().then(function (embed) {
    return embed(root.querySelector('.wpv-chart'), spec, {renderer: 'svg', actions: false});
  }).then(function (result) {
    (function (view, root, spec) {
%(on_view)s
    })(result.view, root, spec);
  }).catch(function (e) { fail(e.message); });
})();
"""


def inline_scripts() -> str:
    """The vendored files inline (a running notebook has no ``_static``); as plain globals, also
    where require.js is on the page."""
    out = []
    for f in VEGA_FILES:
        code = (VEGA_DIR / f).read_text()
        assert "</script" not in code.lower(), f
        out.append(f"<script>(function (define, module, exports) {{\n{code}\n}}).call(window);</script>")
    return "".join(out)


def new_id(prefix: str) -> str:
    """A fresh element id (a page may show the same chart twice)."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def embed_html(spec: dict, uid: str, css_class: str, above: str = "", on_view: str = "", css: str = "",
               base: str | None = BOOK_VEGA) -> str:
    """One HTML block ``<div class="{css_class}" id="{uid}">``: ``css`` (a style element), ``above``
    (controls, a table: HTML placed before the chart), the chart, drawn from ``spec`` (a Vega-Lite
    dict, data inline), and ``on_view`` (JavaScript run with ``view``, ``root`` and ``spec`` once the
    chart is drawn). ``base``: the URL of the folder holding the vendored JavaScript (None: inline it)."""
    blob = json.dumps(spec).replace("</", "<\\/")
    js = _JS % {"id": json.dumps(uid), "base": json.dumps(base), "files": json.dumps(list(VEGA_FILES)),
                "on_view": on_view}
    return (f'<div class="{css_class}" id="{uid}">' + (f"<style>{css}</style>" if css else "") + above
            + '<div class="wpv-chart">(the charts need JavaScript)</div>'
            f'<script type="application/json" data-spec>{blob}</script>'
            + ("" if base else inline_scripts()) + f"<script>{js}</script></div>")


def png_data_url(pixels) -> str:
    """An image for a chart's ``mark_image``, inline: (H, W) or (H, W, 3) uint8 -> "data:image/png;base64,..."."""
    import base64
    import io

    import numpy as np
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(pixels, dtype=np.uint8)).save(buf, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def bind_controls(spec: dict, selector: str | None) -> dict:
    """Put the inputs of ``spec``'s bound params into the element ``selector`` (None: leave them
    under the charts); returns ``spec``."""
    if selector:
        for p in spec.get("params", []):
            if "bind" in p:
                p["bind"]["element"] = selector
    return spec


_ROWS_JS = """
      var signals = %(signals)s, rows = %(rows)s, names = Object.keys(signals);
      function show() {
        var row = rows[names.map(function (k) { return view.signal(signals[k]); }).join('/')];
        root.querySelectorAll('[data-field]').forEach(function (td) {
          td.textContent = row ? row[td.dataset.field] : '—';
        });
      }
      names.forEach(function (k) { view.addSignalListener(signals[k], show); });
      show();
"""


def rows_js(signals: dict[str, str], rows: dict[str, dict[str, str]]) -> str:
    """An ``on_view`` script that fills the block's ``data-field`` cells from ``rows`` whenever a
    control moves: ``rows`` maps the controls' values, in the order of ``signals`` ({name: Vega
    signal}) joined by "/", to {field: text} (the text made in Python)."""
    return _ROWS_JS % {"signals": json.dumps(signals), "rows": json.dumps(rows).replace("</", "<\\/")}


def layout_css(cls: str, prefix: str, slider_em: float = 12, extra: str = "") -> str:
    """The book's widget layout for the block of class ``cls``: controls in a wrapping row
    (``.{prefix}-controls``), a two-column table (``table.{prefix}-row``), a grey note
    (``.{prefix}-note``), the chart scrolling sideways when wider than the column; ``extra``: the
    widget's own rules."""
    c = f".{cls}"
    return f"""
{c} {{margin:1em 0; font-size:0.92em}}
{c} .{prefix}-controls {{display:flex; flex-wrap:wrap; gap:0.3em 2em; margin-bottom:0.5em}}
{c} .vega-bind-name {{font-weight:bold; margin-right:0.4em}}
{c} .vega-bind label {{margin-right:0.6em}}
{c} .vega-bind input[type=range] {{width:{slider_em}em; vertical-align:middle}}
{c} table.{prefix}-row {{border-collapse:collapse; margin:0.4em 0 0.8em 0}}
{c} table.{prefix}-row td {{padding:2px 12px 2px 0; vertical-align:top}}
{c} table.{prefix}-row td:first-child {{color:#555; white-space:nowrap}}
{c} .{prefix}-note {{color:#555; font-size:0.9em; margin:0.2em 0 0.8em 0}}
{c} .wpv-chart {{overflow-x:auto}}
""" + extra
