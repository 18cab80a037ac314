"""The width/depth explorer (``studies.wide_resnets_explorer``, ``present.explorer``).

Fast tests: the grid's counts equal direct counts, the thesis's points and their sizes, our runs
read from records with speeds measured from them (and estimates labelled as such), the HTML loads
Vega from the book and nothing from outside. The slow test opens the smoke book's page in
headless Chromium with no kernel and no internet, moves the controls as a reader would, and
checks that the ringed marks and the row of numbers become those Python computes for the network.
"""
import json
import re
import shutil
from pathlib import Path

import pytest
import torch

from wpcore import flops, nets, records
from wpcore.present import explorer as show
from wpcore.present import vega
from wpcore.studies import wide_resnets as wrn
from wpcore.studies import wide_resnets_explorer as study
from wpcore.studies import wide_resnets_thesis as thesis
from wpcore.studies.verdict import machine

from .conftest import needs_fmnist

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]


def counted(depth, width, block="B(3,3)", in_channels=3):
    with torch.device("meta"):
        m = nets.create(f"wrn-{depth}-{width}", in_channels=in_channels, **({} if block == "B(3,3)" else {"block": block}))
    return sum(p.numel() for p in m.parameters())


# --- the numbers ---------------------------------------------------------------------------


@pytest.mark.parametrize("block", study.BLOCKS)
def test_grid_parameters_equal_direct_counts(block):
    for depth, width in [(10, 1), (34, 1), (16, 2), (22, 7), (40, 12)]:
        assert study.parameters(depth, width, block) == counted(depth, width, block), (depth, width)
    assert study.parameters(28, 5, block, in_channels=1) == counted(28, 5, block, in_channels=1)


@pytest.mark.parametrize("block,shape", [("B(3,3)", (3, 32, 32)), ("B(1,3,1)", (1, 14, 14))])
def test_grid_training_flops_equal_direct_counts(block, shape):
    kw = {} if block == "B(3,3)" else {"block": block}
    for depth, width in [(34, 1), (22, 7), (40, 12)]:
        assert study.training_flops(depth, width, block, shape) == flops.train_flops(f"wrn-{depth}-{width}", shape, **kw)


def test_thesis_points_carry_their_table_tag_and_the_thesis_sizes():
    pts = study.thesis_points()
    assert {p["table"] for p in pts} == {"Table 2", "Table 4", "Table 5"} and len(pts) == 19
    t5 = {f"wrn-{p['depth']}-{p['width']}": p for p in pts if p["table"] == "Table 5"}
    assert set(t5) == {"wrn-28-10", "wrn-40-4", "wrn-16-8"}
    for name, p in t5.items():  # our count of the network equals the thesis's
        assert p["params"] == thesis.THESIS[name]["params"] and p["error"] == thesis.THESIS[name]["cifar-10"]
        assert f"Table 5 [{p['tag']}]" == thesis.THESIS[name]["source"]
    z = next(p for p in pts if (p["depth"], p["width"], p["table"]) == (40, 4, "Table 4"))
    assert (z["error"], z["tag"], z["preprocessing"]) == (4.97, "T", "ZCA")
    assert z["compute"] == study.training_flops(40, 4) * 50_000 * 200


def fake_record(e, error, wall_s, device=None):
    """A record of experiment ``e`` as a run would write it (no weights)."""
    rec = records.Record(
        key=e.key(), config=e.config(), history=[{"epoch": i + 1, "time_s": wall_s * (i + 1) / e.epochs}
                                                 for i in range(e.epochs)],
        final={"test_error": error, "params": 1000}, wall_time_s=wall_s,
        device=device or {"type": "cpu", "cpu": "x86_64", "threads": 2}, code={},
        data={"n_train": e.train_subset, "shape": [1, 28, 28]}, created="2026-12-02T00:00:00+00:00",
        model_args={"num_classes": 10, "in_channels": 1})
    return records.write(rec)


def test_our_runs_are_the_recorded_ones_with_speeds_measured_from_them():
    exps = wrn.experiments("smoke")
    written = [fake_record(e, 50.0 + i, 4.0 + i) for i, e in enumerate(exps) if i not in (1, 2)]
    runs, planned = study.our_runs("smoke")
    assert planned == len(exps) and len(runs) == len(written)  # no record: not drawn, but counted
    for r, rec in zip(runs, written):
        assert r["error"] == rec.final["test_error"] and r["device"] == machine(rec)
        assert r["img_s"] == pytest.approx(rec.data["n_train"] * rec.config["epochs"] / rec.wall_time_s)
        assert r["compute"] == r["flops_image"] * rec.data["n_train"] * rec.config["epochs"]
    variants = {r["variant"] for r in runs}
    assert "" in variants and any("x training" in v for v in variants) and any("l = " in v for v in variants)


def test_a_network_without_a_run_gets_a_labelled_estimate():
    runs = [{"depth": 10, "width": 1, "block": "B(3,3)", "variant": "", "img_s": i, "device": "gpu A",
             "shape": (1, 28, 28), "dataset": "fashion-mnist", "rate": r} for r, i in ((1e9, 200.0), (3e9, 400.0), (2e9, 300.0))]
    runs.append(dict(runs[0], device="cpu B", rate=1e6))
    est = study.estimate_basis(runs)
    assert (est.device, est.runs, est.rate) == ("gpu A", 3, 2e9)  # the machine most runs were made on
    measured = study.speed(runs, est, 10, 1, "B(3,3)")
    assert measured["measured"] and measured["img_s"] == 400.0 and measured["runs"] == 3  # the fastest
    guess = study.speed(runs, est, 16, 4, "B(3,3)")
    assert not guess["measured"] and guess["img_s"] == pytest.approx(2e9 / study.training_flops(16, 4))
    assert show.speed_text(measured).startswith("400 images/s of fashion-mnist 1x28x28 on gpu A: measured, the fastest of 3 runs")
    assert show.speed_text(guess).endswith("on gpu A: an estimate")
    assert study.speed([], None, 16, 4, "B(3,3)") is None


def test_the_estimate_is_set_against_the_cpu_benchmark_rows(tmp_path):
    table = tmp_path / "cpu.json"
    rows = [{"model": "wrn-16-4", "batch": 128, "input": [3, 32, 32], "ours_train": 200.0},
            {"model": "wrn-16-2", "batch": 128, "input": [3, 16, 16], "ours_train": 900.0},  # not 32x32: left out
            {"model": "2ch", "batch": 128, "input": [2, 64, 64], "ours_train": 999.0}]
    table.write_text(json.dumps({"meta": {"threads": 2, "device": "CPU x", "date": "2026-11-28T05:00:00"}, "rows": rows}))
    est = study.Estimate(rate=2e9, device="cpu A", runs=3)
    (row,) = study.benchmark_agreement(est, table)
    assert row["network"] == "WRN-16-4" and row["measured"] == 100.0  # per thread
    assert row["ratio"] == pytest.approx(2e9 / study.training_flops(16, 4) / 100.0)
    assert study.benchmark_agreement(None, table) == [] and study.benchmark_agreement(est, tmp_path / "none") == []
    text = show.agreement_text([dict(row, ratio=5.0)])
    assert "outside the factor of 3" in text and "WRN-16-4" in text


@needs_fmnist
def test_the_published_estimate_is_within_the_stated_factor_of_the_benchmark():
    """The standard book's speed estimate (its committed records) against the committed CPU table."""
    rows = study.benchmark_agreement(study.explorer("standard").estimate)
    assert {r["network"] for r in rows} >= {"WRN-16-1", "WRN-16-2", "WRN-16-4", "WRN-28-10"}
    bad = [r for r in rows if not 1 / study.AGREEMENT_FACTOR <= r["ratio"] <= study.AGREEMENT_FACTOR]
    assert not bad, bad


def test_row_gives_the_thesis_tables_and_our_seeds():
    net = {"depth": 40, "width": 4, "block": "B(3,3)", "params": study.parameters(40, 4), "flops": 7.79e9,
           "thesis": [p for p in study.thesis_points() if (p["depth"], p["width"]) == (40, 4)], "speed": None,
           "ours": [{"variant": v, "error": e, "dataset": "fashion-mnist", "shape": (1, 14, 14), "n_train": 10000,
                     "epochs": 20} for v, e in [("", 13.0), ("", 14.0), ("dropout 0.3", 12.5)]]}
    r = show.row(net, "standard")
    assert r["name"] == "WRN-40-4 B(3,3)" and r["params"].startswith("8,949,210 (8.95 M)")
    assert r["thesis"] == "4.97% (Table 4 [T], ZCA); 4.53% (Table 5 [T], meanstd)"
    assert r["ours"].startswith("13.50 ± 0.71% (2 seeds, fashion-mnist 1x14x14, 10,000 images x 20 epochs); "
                                "dropout 0.3: 12.50% (1 seed")
    assert r["flops"] == "7.79 GFLOP per 32x32 image (forward + backward)"


# --- the page --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small():
    """An explorer of a few networks (the grid's own counts take seconds per block type)."""
    nets_ = [{"depth": d, "width": k, "block": b, "params": study.parameters(d, k, b), "flops": 1e9 * d * k,
              "thesis": [], "ours": [], "speed": None}
             for b in ("B(3,3)", "B(1,3,1)") for d in (10, 16) for k in (1, 2)]
    return study.Explorer("smoke", nets_, study.thesis_points(), [], 3, None)


def test_html_loads_vega_from_the_book_and_nothing_from_outside(small):
    html = show.explorer_html(small)
    assert "<script src" not in html and not re.search(r"cdn|jsdelivr|unpkg", html)
    assert all((vega.VEGA_DIR / f).is_file() for f in vega.VEGA_FILES) and '"../_static/offline/vega/"' in html
    uid = re.search(r'class="wp-explorer" id="(wpx-\w+)"', html)[1]
    spec = show.spec(small, controls=f"#{uid} .wpx-controls")
    # the page's script listens to the signals Vega-Lite makes of the bound selections: <name>_<field>
    assert {f"{p['name']}_{p['select']['fields'][0]}" for p in spec["params"]} == set(show.SIGNALS.values())
    assert all(p["bind"]["element"] == f"#{uid} .wpx-controls" for p in spec["params"])
    assert f'data-field="params">{study.parameters(16, 2):,} (' in html  # the start, WRN-16-2, without script
    assert "none is estimated" in html and "3 runs at smoke" in html


def test_in_a_notebook_the_vendored_javascript_is_inline(small):
    html = show.explorer_html(small, base=None)
    assert html.count("(function (define, module, exports) {") == 3 and "<script src" not in html


@pytest.fixture(scope="module")
def page(book_url):
    """The WRN page of the smoke book the whole test session shares (tests/conftest.py)."""
    return f"{book_url}/chapters/wide_resnets.html"


@pytest.mark.slow
@needs_fmnist
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="chromium not installed")
def test_moving_the_controls_moves_the_rings_and_the_row_offline(page, built_book, monkeypatch):
    from playwright.sync_api import expect, sync_playwright

    monkeypatch.setenv("WPCORE_RUNS", str(built_book.parent.parent / "runs"))  # the records the book was built from
    ex = study.explorer("smoke")
    rows = {(n["depth"], n["width"], n["block"]): show.row(n, "smoke") for n in ex.networks}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        tab = browser.new_page(viewport={"width": 1280, "height": 1400})
        errors, external = [], []
        tab.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        tab.on("pageerror", lambda e: errors.append(str(e)))
        tab.on("request", lambda r: None if r.url.startswith(page.split("/chapters")[0]) else external.append(r.url))
        tab.goto(page, wait_until="networkidle")
        root = tab.locator(".wp-explorer")
        assert root.count() == 1
        root.locator(".wpv-chart svg").wait_for()

        def check(net):
            name = show.net_name(*net)
            for field, text in rows[net].items():
                expect(root.locator(f'[data-field="{field}"]')).to_have_text(text)
            ring = root.locator(f'[aria-label="plane: {name}"]')
            expect(ring).to_have_count(1)
            expect(root.locator(f'[aria-label="size: {name}"]')).to_have_count(1)
            chosen = next(n for n in ex.networks if (n["depth"], n["width"], n["block"]) == net)
            expect(root.locator(f'[aria-label="params: {name}"]')).to_have_count(len(chosen["thesis"]) + len(chosen["ours"]))
            expect(root.locator(f'[aria-label="time: {name}"]')).to_have_count(len(chosen["ours"]))
            return ring.get_attribute("transform")

        depth = root.locator("input[name=sel_depth_depth]")
        width = root.locator("input[name=sel_width_width]")
        where = check((16, 2, "B(3,3)"))
        width.focus()
        tab.keyboard.press("ArrowRight")  # one step wider, as a reader would move it
        assert check((16, 3, "B(3,3)")) != where
        depth.fill("40")
        width.fill("4")
        check((40, 4, "B(3,3)"))  # two thesis points (Tables 4 and 5), ringed in the error charts
        root.locator("select[name=sel_block_block]").select_option("B(1,3,1)")
        depth.fill("10")
        width.fill("1")
        check((10, 1, "B(1,3,1)"))  # trained at smoke: our error and a measured speed
        assert "measured" in rows[10, 1, "B(1,3,1)"]["speed"]
        browser.close()
    assert not errors, errors
    assert not external, f"the page fetched from outside the book: {external}"
