"""The widgets of the attention transfer and DiracNets chapters (``present.attention_widget``,
``present.diracnets_widget``).

Fast tests: the maps the attention widget ships equal F_sum^p of the networks' group outputs
scaled by their maximum, and its AT distances equal ``losses.attention.at_loss``; the Dirac
widget's ``calculate`` expression, evaluated for given a and b, equals the layer's
``effective_weight``; the depth chart's means are the means of the records; the HTML loads
nothing from outside. The slow test opens both pages of the smoke book in headless Chromium, with
no kernel and no internet, moves every control, and checks that the cells, readouts and marks
become what Python computes.
"""
import re
import shutil
from pathlib import Path
from statistics import mean
from types import SimpleNamespace

import pytest
import torch

from wpcore import nets
from wpcore.losses import attention as losses
from wpcore.nets.dirac import DiracConv2d
from wpcore.present import attention_widget as atw
from wpcore.present import diracnets_widget as dw
from wpcore.present import vega
from wpcore.studies import attention as at_study
from wpcore.studies import diracnets as d_study

from .conftest import needs_fmnist

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]


def d3(v: float, digits: int = 3) -> str:
    """A number as Vega's ``format(v, '.3f')`` writes it: U+2212 minus, no minus on a rounded zero."""
    s = f"{v:.{digits}f}"
    return s.lstrip("-").replace("-", "−") if float(s) == 0 else s.replace("-", "−")


def no_outside_loads(html: str) -> None:
    assert "<script src" not in html and not re.search(r"cdn|jsdelivr|unpkg", html)
    assert not re.search(r"""(src|href)\s*=\s*["']?https?:""", html)
    assert '"../_static/offline/vega/"' in html and all((vega.VEGA_DIR / f).is_file() for f in vega.VEGA_FILES)


# --- attention maps ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fake_maps():
    """``maps_data`` of three random WRNs on three random images, with records faked (no training)."""
    torch.manual_seed(0)
    models = {"teacher wrn-10-2": nets.create("wrn-10-2", in_channels=1).eval(),
              "student alone": nets.create("wrn-10-1", in_channels=1).eval(),
              "AT student": nets.create("wrn-10-1", in_channels=1).eval()}
    recs = {name: SimpleNamespace(config={"model": name.split()[-1] if "wrn" in name else "wrn-10-1",
                                          "dataset": "fashion-mnist"},
                                  final={"test_error": 10.0 + k}, data={"n_train": 256, "n_test": 256}, name=name)
            for k, name in enumerate(models)}
    raw = torch.randint(0, 256, (3, 1, 28, 28), dtype=torch.uint8)
    x = (raw.float() - 70) / 90
    mp = pytest.MonkeyPatch()
    mp.setattr(at_study, "map_networks", lambda records, t, s, seed=0: recs)
    mp.setattr(at_study, "test_images", lambda r, n: (raw[:n], x[:n], torch.tensor([0, 1, 9]), [f"c{i}" for i in range(10)]))
    mp.setattr(atw, "load_model", lambda r: models[r.name])
    try:
        data = atw.maps_data([], "smoke")
    finally:
        mp.undo()
    return data, models, x, raw


def test_shipped_maps_are_f_sum_p_scaled_by_their_maximum(fake_maps):
    data, models, x, raw = fake_maps
    assert [i["values"] for i in data["inputs"]] == [raw[i, 0].flatten().tolist() for i in range(3)]
    assert [n["name"] for n in data["networks"]] == list(models)
    assert data["networks"][1]["title"] == "student alone, wrn-10-1: 11.0% test error (its record)"
    assert len(data["maps"]) == len(models) * 3 * len(atw.POWERS) * 3  # networks x groups x p x images
    with torch.no_grad():
        groups = {name: m.forward_groups(x) for name, m in models.items()}
    for m in data["maps"]:
        a = losses.f_sum_p(groups[m["net"]][m["group"] - 1][m["image"] - 1:m["image"]], m["p"])[0]
        assert (m["h"], m["w"]) == tuple(a.shape)
        want = (a / a.max()).flatten()
        assert torch.allclose(torch.tensor(m["values"]), want, atol=0.5e-3 + 1e-6), (m["net"], m["group"], m["p"])
    assert max(max(m["values"]) for m in data["maps"]) == 1.0


def test_distances_are_the_at_loss_of_the_setting(fake_maps):
    data, models, x, _ = fake_maps
    with torch.no_grad():
        t = models["teacher wrn-10-2"].forward_groups(x)
        s = models["AT student"].forward_groups(x)
    for g, p, i in [(1, 1, 1), (2, 2, 1), (3, 4, 3)]:
        row = data["texts"][atw.key(g, p, i)]
        assert row["distance-2"] == f"{1e3 * losses.at_loss(s[g - 1][i - 1:i], t[g - 1][i - 1:i], p).item():.3f}"
        assert set(row) == {"shown", "distance-1", "distance-2"}  # the students
        assert row["shown"] == f"group {g} output ({t[g - 1].shape[-2]}x{t[g - 1].shape[-1]}), p = {p}, test image {i} " \
                               f"(c{[0, 1, 9][i - 1]})"


def test_attention_widget_html_loads_nothing_from_outside(fake_maps):
    data = fake_maps[0]
    html = atw.widget_html(data)
    no_outside_loads(html)
    start = data["texts"][atw.key(**atw.START)]
    assert f'data-field="distance-1">{start["distance-1"]}<' in html  # the start, without script
    s = atw.spec(data)
    assert {p["name"] for p in s["params"]} == set(atw.SIGNALS.values())
    assert html.count("(function (define, module, exports) {") == 0
    assert atw.widget_html(data, base=None).count("(function (define, module, exports) {") == 3


def test_group_maps_take_the_exponent():
    torch.manual_seed(1)
    net = nets.create("wrn-10-1", in_channels=1).eval()
    x = torch.randn(2, 1, 28, 28)
    with torch.no_grad():
        g = net.forward_groups(x)[2]
    for p in (1, 4):
        got = at_study.group_maps(net, x, p)[2]
        want = losses.f_sum_p(g, p)
        assert torch.allclose(torch.from_numpy(got), want / want.flatten(1).amax(1)[:, None, None], atol=1e-6)
    assert (at_study.group_maps(net, x)[0] == at_study.group_maps(net, x, 2)[0]).all()


# --- the Dirac parameterisation -------------------------------------------------------------


def evaluate(expr: str, a: float, b: float, datum: dict) -> float:
    """A Vega expression of the kernel spec evaluated in Python (it uses only +, *, -, abs, max)."""
    py = expr.replace(dw.KERNEL_SIGNALS["a"], repr(a)).replace(dw.KERNEL_SIGNALS["b"], repr(b))
    return eval(re.sub(r"datum\.(\w+)", r"datum['\1']", py), {"abs": abs, "max": max, "datum": datum})


@pytest.fixture(scope="module")
def conv():
    torch.manual_seed(2)
    c = DiracConv2d(8, 8, 3)
    with torch.no_grad():
        c.a.uniform_(0.5, 1.5)
        c.b.uniform_(0.0, 0.5)
    return c


def test_the_page_computes_the_effective_weight_python_computes(conv):
    data = dw.conv_data(conv, out_channel=2, in_channels=4)
    assert (data["a"], data["b"]) == (conv.a[2].item(), conv.b[2].item()) and len(data["cells"]) == 4 * 9
    s = dw.kernel_spec(data)
    weight = next(t["calculate"] for t in _transforms(s) if t.get("as") == "weight")
    for a, b in [(data["a"], data["b"]), (0.3, 1.5), (0.0, 2.0), (1.0, 0.0)]:
        with torch.no_grad():
            c = DiracConv2d(8, 8, 3)
            c.weight.copy_(conv.weight)
            c.a.fill_(a)
            c.b.fill_(b)
            want = c.effective_weight()[2, :4]
        got = [evaluate(weight, a, b, cell) for cell in data["cells"]]
        assert got == pytest.approx(dw.effective(data["cells"], a, b), abs=1e-12)
        for cell, v in zip(data["cells"], got):
            assert v == pytest.approx(want[cell["in"] - 1, cell["row"] - 1, cell["col"] - 1].item(), abs=1e-6)
    # a = 1, b = 0: the identity on the matching input channel only
    ident = dw.effective(data["cells"], 1.0, 0.0)
    assert [c["in"] for c, v in zip(data["cells"], ident) if v] == [3] and sum(ident) == 1.0


def _transforms(spec: dict) -> list[dict]:
    """Every transform anywhere in a Vega-Lite spec."""
    out = []

    def walk(node):
        if isinstance(node, dict):
            out.extend(node.get("transform", []))
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)
    walk(spec)
    return out


def test_the_colour_scale_spans_the_largest_weight_shown(conv):
    data = dw.conv_data(conv, out_channel=0, in_channels=4)
    scale = dw.kernel_spec(data)["spec"]["layer"][0]["encoding"]["color"]["scale"]
    for a, b in [(1.0, 0.1), (0.2, 1.9), (0.0, 0.0)]:
        top = evaluate(scale["domainMax"]["expr"], a, b, {})
        assert top == pytest.approx(max(max(abs(v) for v in dw.effective(data["cells"], a, b)), 1e-6))
        assert evaluate(scale["domainMin"]["expr"], a, b, {}) == -top


def test_kernel_widget_html_loads_nothing_from_outside(conv):
    data = dict(dw.conv_data(conv), about="a layer")
    html = dw.kernel_html(data)
    no_outside_loads(html)
    assert f'data-field="ratio">{data["b"] / data["a"]:.3f}<' in html
    assert {p["name"] for p in dw.kernel_spec(data)["params"]} == set(dw.KERNEL_SIGNALS.values())


# --- test error vs depth --------------------------------------------------------------------


def fake_run(model, seed, error):
    return SimpleNamespace(config={"model": model, "seed": seed, "dataset": "fashion-mnist", "epochs": 4,
                                   "image_size": 14}, final={"test_error": error}, data={"n_train": 2000, "n_test": 1000})


def test_depth_chart_means_are_the_records_means_and_every_network_has_a_toggle():
    recs = [fake_run(f"{fam}-{d}-1", s, 10 + d / 10 + s + k)
            for k, fam in enumerate(("plainnet", "diracnet", "wrn")) for d in (10, 22) for s in (0, 1, 2)]
    recs.append(fake_run("diracnet-28-10", 0, 4.0))  # the thesis's network: not in the depth study
    data = dw.depth_data(recs)
    assert len(data["runs"]) == 18 and {r["role"] for r in data["runs"]} == set(d_study.ARCHS)
    for m in data["means"]:
        e = [r.final["test_error"] for r in recs[:-1] if d_study.role_of(r) == m["role"] and d_study.depth_of(r) == m["depth"]]
        assert m["error"] == round(mean(e), 2) and m["seeds"] == 3
    assert "18 runs" in data["about"] and "2000 training images x 4 epochs" in data["about"]
    s = dw.depth_spec(data)
    assert {p["name"] for p in s["params"]} == {f"show_{r}" for r in d_study.ARCHS}
    assert all(p["bind"]["input"] == "checkbox" and p["value"] is True for p in s["params"])
    no_outside_loads(dw.depth_html(data))


# --- in the browser --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pages(book_url):
    return f"{book_url}/chapters/attention.html", f"{book_url}/chapters/diracnets.html"


def watch(tab, book: str):
    errors, external = [], []
    tab.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    tab.on("pageerror", lambda e: errors.append(str(e)))
    tab.on("request", lambda r: None if r.url.startswith(book) else external.append(r.url))
    return errors, external


@pytest.mark.slow
@needs_fmnist
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="chromium not installed")
def test_moving_the_controls_shows_what_python_computes_offline(pages, built_book, book_url, monkeypatch):
    from playwright.sync_api import expect, sync_playwright

    from wpcore import experiment

    monkeypatch.setenv("WPCORE_RUNS", str(built_book.parent.parent / "runs"))  # the records the book was built from
    at_records = [experiment.run(e) for e in at_study.experiments("smoke")]
    maps = atw.maps_data(at_records, "smoke")
    d_records = [experiment.run(e) for e in d_study.study("smoke")]  # as the page: without the convergence runs
    depth_recs = [r for r in d_records if "28-10" not in r.config["model"]]
    deep = d_study.DEPTHS["smoke"][-1]
    dirac_rec = next(r for r in depth_recs if d_study.role_of(r) == "dirac" and d_study.depth_of(r) == deep)
    layer = next(iter(experiment.load_model(dirac_rec).dirac_convs().values()))
    depth = dw.depth_data(depth_recs)

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        tab = browser.new_page(viewport={"width": 1280, "height": 1400})
        errors, external = watch(tab, book_url)

        # attention maps: every control, the cells and the table against Python's
        tab.goto(pages[0], wait_until="networkidle")
        root = tab.locator(".wp-atmaps")
        assert root.count() == 1
        root.locator(".wpv-chart svg").wait_for()

        def check(group, p_, image):
            for field, text in maps["texts"][atw.key(group, p_, image)].items():
                expect(root.locator(f'[data-field="{field}"]')).to_have_text(text)
            for net in maps["networks"]:
                m = next(m for m in maps["maps"] if (m["net"], m["group"], m["p"], m["image"]) == (net["name"], group, p_, image))
                expect(root.locator(f'[aria-label^="{net["name"]}: row "]')).to_have_count(m["h"] * m["w"])
                for r, c in [(1, 1), (m["h"] // 2 + 1, m["w"] // 3 + 1), (m["h"], m["w"])]:
                    v = m["values"][(r - 1) * m["w"] + c - 1]
                    expect(root.locator(f'[aria-label="{net["name"]}: row {r}, column {c}: {d3(v)}"]')).to_have_count(1)

        check(2, 2, 1)
        group = root.locator("input[name=at_group]")
        group.focus()
        tab.keyboard.press("ArrowLeft")  # as a reader moves the slider
        check(1, 2, 1)
        root.locator("input[name=at_p][value='4']").check()
        check(1, 4, 1)
        group.fill("3")
        root.locator("input[name=at_p][value='1']").check()
        root.locator("input[name=at_image][value='3']").check()
        check(3, 1, 3)

        # the parameterisation: a and b move the effective weights
        tab.goto(pages[1], wait_until="networkidle")
        kernel = tab.locator(".wp-diracw")
        assert kernel.count() == 1
        kernel.locator(".wpv-chart svg").wait_for()
        cells = dw.conv_data(layer)["cells"]

        def check_kernel(a, b):
            with torch.no_grad():
                layer.a.fill_(a)
                layer.b.fill_(b)
                w = layer.effective_weight()[0]
            for cell in cells:
                v = w[cell["in"] - 1, cell["row"] - 1, cell["col"] - 1].item()
                label = f'input channel {cell["in"]}, row {cell["row"]}, column {cell["col"]}: {d3(v)}'
                expect(kernel.locator(f'[aria-label="{label}"]')).to_have_count(1)
            expect(kernel.locator('[data-field="a"]')).to_have_text(f"{a:.3f}")
            expect(kernel.locator('[data-field="b"]')).to_have_text(f"{b:.3f}")
            expect(kernel.locator('[data-field="ratio"]')).to_have_text(f"{b / a:.3f}")

        a0, b0 = layer.a[0].item(), layer.b[0].item()
        check_kernel(a0, b0)  # the trained layer as it is
        kernel.locator("input[name=dirac_a]").fill("0.3")
        kernel.locator("input[name=dirac_b]").fill("1.5")
        check_kernel(0.3, 1.5)

        # test error vs depth: each checkbox hides and shows its network
        chart = tab.locator(".wp-diracdepth")
        chart.locator(".wpv-chart svg").wait_for()

        def check_depth(hidden=()):
            for r in depth["runs"]:
                expect(chart.locator(f'[aria-label="{r["model"]} seed {r["seed"]}: {r["error"]:.2f}%"]')).to_have_count(
                    0 if r["role"] in hidden else 1)
            for m in depth["means"]:
                label = f'{m["network"]} mean at depth {m["depth"]}: {m["error"]:.2f}%'
                expect(chart.locator(f'[aria-label="{label}"]')).to_have_count(0 if m["role"] in hidden else 1)

        check_depth()
        for role in d_study.ARCHS:
            box = chart.locator(f"input[name=show_{role}]")
            box.uncheck()
            check_depth({role})
            box.check()
        check_depth()
        browser.close()
    assert not errors, errors
    assert not external, f"the pages fetched from outside the book: {external}"
