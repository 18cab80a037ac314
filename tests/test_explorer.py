"""The width/depth explorer: a self-contained HTML+JS block that works in the static book.

The slow test builds the chapter's page at the smoke profile, serves it on 127.0.0.1, opens it in
headless Chromium with no kernel and no internet, moves the width and depth sliders and the block
selector, and checks that the displayed parameter count becomes the count of the network that
``wpcore.nets.create`` builds.
"""

import json
import re
import shutil
from pathlib import Path

import pytest
import torch

from wpcore import nets
from wpcore.present.explorer import cells, explorer_html, rate

from .conftest import needs_fmnist

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def params(depth, width, block="B(3,3)"):
    with torch.device("meta"):
        m = nets.create(f"wrn-{depth}-{width}", **({} if block == "B(3,3)" else {"block": block}))
    return sum(p.numel() for p in m.parameters())


def fake_points():
    pts = []
    for block in ("B(3,3)", "B(3,1)"):
        for d in (10, 16):
            for k in (1, 2):
                pts.append(
                    {
                        "depth": d,
                        "width": k,
                        "block": block,
                        "name": f"wrn-{d}-{k}",
                        "params": params(d, k, block),
                        "fwd_flops": 1e8 * d * k,
                        "train_flops": 3e8 * d * k,
                        "img_s": 100.0 if k == 1 else None,
                        "thesis": {"error": 6.85, "source": "CIFAR-10, Table 4 [U], ZCA"}
                        if (d, k) == (16, 2)
                        else None,
                        "ours": {"error": "12.00 ± 0.50", "n": 3, "data": "fashion-mnist"}
                        if d == 10
                        else None,
                    }
                )
    return pts


def test_html_is_self_contained_and_starts_at_the_given_point():
    pts = fake_points()
    html = explorer_html(pts, start=(16, 2, "B(3,3)"))
    assert "src=" not in html and "http" not in html  # no external script, nothing to fetch
    blob = re.search(r'<script type="application/json" data-grid>(.*?)</script>', html, re.DOTALL).group(1)
    data = json.loads(blob)
    assert data["depths"] == [10, 16] and data["widths"] == [1, 2] and len(data["cells"]) == len(pts)
    assert f'data-field="params">{params(16, 2):,}<' in html
    assert "6.85% (CIFAR-10, Table 4 [U], ZCA)" in html


def test_cells_label_measured_and_estimated_speed():
    pts = fake_points()
    g = rate(pts)
    assert g == pytest.approx((300 + 480) / 2)  # median GFLOP/s of the measured points (k = 1, d = 10 and 16)
    measured = cells(pts[0], g)["speed"]
    estimated = cells(next(p for p in pts if p["img_s"] is None), g)["speed"]
    assert measured.startswith("100 images/s") and "estimate" in estimated and "not measured" in estimated
    assert cells(pts[0], g)["ours"].startswith("12.00 ± 0.50% (3 seeds")
    assert cells(pts[-1], g)["ours"].startswith("—")


@pytest.fixture(scope="module")
def page(book_url):
    """The WRN page of the smoke book the whole test session shares (tests/conftest.py)."""
    return f"{book_url}/chapters/wide_resnets.html"


@pytest.mark.slow
@needs_fmnist
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="chromium not installed")
def test_static_page_explorer_updates_parameter_count_without_a_kernel(page):
    from playwright.sync_api import sync_playwright

    from wpcore.studies import wide_resnets_explorer as study

    grid = study.GRID["smoke"]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        tab = browser.new_page()
        errors, external = [], []
        tab.on("pageerror", lambda e: errors.append(str(e)))
        tab.on(
            "request", lambda r: external.append(r.url) if not r.url.startswith("http://127.0.0.1") else None
        )
        tab.goto(page, wait_until="networkidle")
        ex = tab.locator(".wp-explorer")
        assert ex.count() == 1
        shown = ex.locator('[data-field="params"]')
        depth, width = ex.locator('[data-control="depth"]'), ex.locator('[data-control="width"]')
        d, k = grid["depths"][int(depth.input_value())], grid["widths"][int(width.input_value())]
        assert shown.inner_text() == f"{params(d, k):,}"
        width.focus()
        tab.keyboard.press("ArrowRight")  # one step wider, as a reader would move it
        k2 = grid["widths"][int(width.input_value())]
        assert k2 > k and shown.inner_text() == f"{params(d, k2):,}" != f"{params(d, k):,}"
        depth.fill("0")
        assert ex.locator('[data-show="depth"]').inner_text() == str(grid["depths"][0])
        assert shown.inner_text() == f"{params(grid['depths'][0], k2):,}"
        ex.locator('[data-control="block"]').select_option("B(1,3,1)")
        assert shown.inner_text() == f"{params(grid['depths'][0], k2, 'B(1,3,1)'):,}"
        assert "images/s" in ex.locator('[data-field="speed"]').inner_text()
        browser.close()
    assert not errors, errors
    assert not external, f"the page fetched from outside the book: {external}"


def test_live_explorer_has_the_three_controls_and_builds_unlisted_networks():
    from wpcore.present.explorer import live_explorer

    w = live_explorer(fake_points(), depths=[10, 16, 22], widths=[1, 2, 3])
    kw = {c.description: c for c in w.children[:-1]}
    assert set(kw) == {"depth d", "width k", "block"} and list(kw["block"].options) == ["B(3,3)", "B(3,1)"]
    kw["depth d"].value, kw["width k"].value = 22, 3  # not in the grid: built and counted live
    assert w.kwargs == {"depth": 22, "width": 3, "block": "B(3,3)"}
