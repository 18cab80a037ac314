"""The "where tweaking teaches" widgets of the patches and MultiPath chapters.

Fast tests: the patches widget's operating points are the counts of pairs at or above their
thresholds and ``metrics.matching``'s ROC there; its scores, recomputed from the records'
weights, give the records' FPR95 and ROC; the MultiPath widget's AP curves are the records'
(pycocotools, recomputed from the rebuilt detectors), its counts the detections' own; the HTML
loads nothing from outside. The slow test opens both pages of the smoke book in headless
Chromium with no kernel, moves every control and checks the numbers shown against Python's.
"""
import re
import shutil
import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from wpcore import experiment, precision
from wpcore.metrics.detection import IOU_THRESHOLDS
from wpcore.metrics.matching import TiedScoresWarning, fpr95, roc_curve, roc_steps, tied_count
from wpcore.present import multipath as mp_show
from wpcore.present import multipath_widget as MW
from wpcore.present import patches_widget as PW
from wpcore.present import vega
from wpcore.studies import multipath as mp_study
from wpcore.studies import patches as p_study
from wpcore.tasks import multipath as detect_task
from wpcore.tasks import patches as T

from .conftest import fmnist_available, needs_fmnist

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]


def no_outside_loads(html: str) -> None:
    """Scripts from the book's own folder only; every image inline."""
    text = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", html)  # base64 may spell anything
    assert "<script src" not in text and not re.search(r"cdn|jsdelivr|unpkg", text)
    # the only address: the spec's "$schema", a name that nothing fetches
    assert all(u.startswith("https://vega.github.io/schema/") for u in re.findall(r"https?://[^\s\"']+", text))
    assert '"../_static/offline/vega/"' in html and all((vega.VEGA_DIR / f).is_file() for f in vega.VEGA_FILES)
    urls = re.findall(r'"(?:url|left|right)": "([^"]*)"', html)
    assert urls and all(u.startswith("data:image/png;base64,") for u in urls)


def test_inline_images_decode_to_their_pixels():
    import base64
    import io

    from PIL import Image

    grey = np.arange(64 * 48, dtype=np.uint8).reshape(48, 64)
    colour = np.stack([grey, 255 - grey, grey // 2], -1)
    for pixels in (grey, colour):
        url = vega.png_data_url(pixels)
        back = np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))))
        assert url.startswith("data:image/png;base64,") and np.array_equal(back, pixels)


# --- patches: the numbers ----------------------------------------------------------------------


def tied_scores(n=301, seed=0):
    rng = np.random.default_rng(seed)
    match = rng.random(n) < 0.45
    scores = np.round(rng.normal(match * 1.2, 1.0), 1)  # rounded: many ties
    return scores, match


def test_operating_points_are_the_counts_at_their_thresholds_and_the_metrics_roc():
    scores, match = tied_scores()
    pts = PW.operating_points(scores, match)
    tpr, fpr = roc_steps(scores, match)
    sk_fpr, sk_tpr, sk_thr = roc_curve(scores, match)
    assert [p["step"] for p in pts] == list(range(PW.STEPS + 1)) and pts[0]["accepted"] == 0
    assert pts[-1]["accepted"] == len(scores) and pts[-1]["tpr"] == pts[-1]["fpr"] == 1.0
    on_sklearn = 0
    for p in pts[1:]:
        t, m = p["threshold"], p["accepted"]
        assert m == (scores >= t).sum()  # "score >= threshold" accepts exactly the pairs counted
        assert p["tpr"] == pytest.approx((scores[match] >= t).mean(), abs=1e-12)
        assert p["fpr"] == pytest.approx((scores[~match] >= t).mean(), abs=1e-12)
        assert (p["tpr"], p["fpr"]) == (tpr[m - 1], fpr[m - 1])
        assert p["tp"] == (scores[match] >= t).sum() and p["fp"] == (scores[~match] >= t).sum()
        k = np.flatnonzero(sk_thr == t)
        if len(k):  # sklearn keeps the thresholds where the curve turns
            on_sklearn += 1
            assert (sk_tpr[k[0]], sk_fpr[k[0]]) == pytest.approx((p["tpr"], p["fpr"]))
        assert abs(m - p["step"] * len(scores) / PW.STEPS) <= 1 + (scores == t).sum()  # the step's share, ties kept whole
    assert on_sklearn > 10


def test_a_pair_is_accepted_from_the_first_step_whose_threshold_it_reaches():
    scores, match = tied_scores(seed=1)
    pts = PW.operating_points(scores, match)
    for s in scores[:40]:
        k = PW.first_step(s, pts)
        assert s >= pts[k]["threshold"] and (k == 1 or pts[k - 1]["threshold"] is None or s < pts[k - 1]["threshold"])


def fake_matcher(name, scores, match, key="k" * 16):
    f, t, _ = roc_curve(scores, match)
    rec = SimpleNamespace(key=key, config={"task": "patch-sift" if name == "SIFT" else "patches", "dataset": "stereo"},
                          final={"fpr95": 100 * fpr95(scores, match)}, extra={"roc": {"fpr": f.tolist(), "tpr": t.tolist()}})
    return PW.Matcher(name, rec, scores, match)


class _Pairs(SimpleNamespace):
    def __len__(self):
        return len(self.labels)


@pytest.fixture(scope="module")
def fake():
    """Two matchers of random scores on 120 random pairs (no training)."""
    rng = np.random.default_rng(2)
    n = 120
    match = np.arange(n) % 2 == 0
    ms = [fake_matcher("2ch", rng.normal(match * 2.0, 1.0), match),
          fake_matcher("SIFT", -rng.random(n) * 2 + match * 0.5, match)]
    pairs = _Pairs(pairs=torch.from_numpy(rng.integers(0, 256, (n, 2, 64, 64), dtype=np.uint8)),
                   identity="random pairs", labels=torch.tensor(match * 2 - 1))
    return ms, pairs


def test_spec_data_is_what_python_computes(fake):
    ms, pairs = fake
    s = PW.spec(ms, pairs)
    ops, verdicts = s["datasets"]["ops"], s["datasets"]["verdicts"]
    idx = PW.examples(ms[0])
    assert len(idx) == PW.EXAMPLES and np.mean(ms[0].match[idx]) == 0.5
    for m in ms:
        pts = PW.operating_points(m.scores, m.match)
        mine = [o for o in ops if o["net"] == m.name]
        assert [{k: o[k] for k in pts[0]} for o in mine] == pts
        assert all(o["row_tpr"] == PW.row(m, p_)["tpr"] for o, p_ in zip(mine, pts))
        vs = [v for v in verdicts if v["net"] == m.name]
        assert sorted(v["slot"] for v in vs) == list(range(PW.EXAMPLES))
        assert [v["pair"] for v in sorted(vs, key=lambda v: v["slot"])] == sorted(idx, key=lambda i: -m.scores[i])
        for o in mine:  # the strip's threshold line sits after the pairs the operating point accepts
            accepted = [v for v in vs if o["step"] >= v["first"]]
            assert o["cut"] == len(accepted)
            assert all(m.scores[v["pair"]] >= o["threshold"] for v in accepted)
            assert all(o["threshold"] is None or m.scores[v["pair"]] < o["threshold"] for v in vs if v not in accepted)
    fp = {r["net"]: r["fpr"] for r in s["datasets"]["fpr95"]}
    assert fp == {m.name: m.record.final["fpr95"] for m in ms}
    assert {p["name"] for p in s["params"]} == set(PW.SIGNALS.values())


def test_patches_html_loads_nothing_from_outside(fake):
    ms, pairs = fake
    html = PW.widget_html(ms, pairs)
    no_outside_loads(html)
    start = PW.start_step(ms[0])
    first = PW.row(ms[0], PW.operating_points(ms[0].scores, ms[0].match)[start])
    assert f'data-field="tpr">{first["tpr"]}<' in html and first["tpr"].startswith(("95", "96", "97", "98", "99", "100"))
    assert len(re.findall(r'"left": "data:image/png', html)) == PW.EXAMPLES


@pytest.fixture(scope="module")
def patch_records(tmp_path_factory):
    """The patches chapter's smoke runs, trained once for this module."""
    mp = pytest.MonkeyPatch()
    runs = tmp_path_factory.mktemp("runs")
    mp.setenv("WPCORE_RUNS", str(runs))
    yield runs, [experiment.run(e) for e in p_study.experiments("smoke")]
    mp.undo()


def test_rescored_matchers_reproduce_their_records(patch_records, monkeypatch):
    monkeypatch.setenv("WPCORE_RUNS", str(patch_records[0]))  # where the weights are
    ms, pairs = PW.matchers(patch_records[1])
    assert [m.name for m in ms] == ["2ch", "2ch-2stream", "siam", "siam-l2", "SIFT"]
    assert PW.check_rescored(ms) == []
    for m in ms:  # the scores behind the slider are those the run scored: same FPR95, same ROC
        assert 100 * fpr95(m.scores, m.match) == pytest.approx(m.record.final["fpr95"])
        assert T.roc_points(m.scores, m.match) == m.record.extra["roc"]
        assert len(m.scores) == len(pairs) == m.record.data["n_test"]


# --- MultiPath: the numbers --------------------------------------------------------------------


@pytest.fixture(scope="module")
def detectors(tmp_path_factory):
    """The MultiPath chapter's smoke runs and the widget's data, made once for this module."""
    if not fmnist_available():
        pytest.skip("Fashion-MNIST not installed (make data)")
    mp = pytest.MonkeyPatch()
    where = tmp_path_factory.mktemp("runs")
    mp.setenv("WPCORE_RUNS", str(where))
    exps = mp_study.experiments("smoke")
    recs = [experiment.run(e) for e in exps]
    runs = {lab: r[0] for lab, r in mp_study.by_label(recs).items()}
    labels = [e.label for e in exps]
    yield runs, labels, MW.widget_data(runs, labels), where
    mp.undo()


def test_ap_curves_are_the_records_and_pycocotools_agrees(detectors, monkeypatch):
    runs, labels, wd, where = detectors
    monkeypatch.setenv("WPCORE_RUNS", str(where))
    s = MW.spec(wd)
    ap = s["datasets"]["ap"]
    assert len(ap) == len(labels) * len(IOU_THRESHOLDS)
    for v, lab in enumerate(labels):
        assert [r["ap"] for r in ap if r["v"] == v] == [runs[lab].final[f"AP@{t:.2f}"] for t in IOU_THRESHOLDS]
    lab = labels[-1]  # the detector rebuilt from its record scores what its run recorded
    e = experiment.of_record(runs[lab])
    test = detect_task.test_split(e.dataset, e.options)
    with torch.no_grad(), precision.autocast(torch.device("cpu"), runs[lab].precision):  # as its run evaluated it
        again = detect_task.detection_eval(test, "cpu", cache=True)(experiment.load_model(runs[lab]))
    assert all(again[f"AP@{t:.2f}"] == pytest.approx(runs[lab].final[f"AP@{t:.2f}"], abs=1e-6) for t in IOU_THRESHOLDS)


def test_detections_and_counts_are_computed_from_the_rebuilt_detectors(detectors, monkeypatch):
    runs, labels, wd, where = detectors
    monkeypatch.setenv("WPCORE_RUNS", str(where))
    _, items, _ = MW.scenes_of(runs[labels[0]])
    for v, lab in enumerate(labels):
        with precision.autocast(torch.device("cpu"), runs[lab].precision):
            dets = mp_show.top_detections(runs[lab], items, MW.KEEP)
        for s, (det, (_, target)) in enumerate(zip(dets, items), 1):
            mine = [d for d in wd.dets if d["v"] == v and d["scene"] == s]
            assert [d["score"] for d in mine] == pytest.approx(det["scores"].tolist())
            assert [d["iou"] >= 0.5 for d in mine] == mp_show.correct(det, target, 0.5)  # the chapter's rule
            for a, score in enumerate(MW.SCORES):
                for t, iou in enumerate(IOU_THRESHOLDS):
                    shown = [d for d in mine if d["score"] >= score]
                    assert wd.counts[v][s - 1][a][t] == [len(shown), sum(d["iou"] >= iou for d in shown)]
    assert [len(sc.boxes) for sc in wd.scenes] == [len(t["boxes"]) for _, t in items]


def test_multipath_html_loads_nothing_from_outside_and_starts_as_python_says(detectors):
    _, labels, wd, _ = detectors
    html = MW.widget_html(wd)
    no_outside_loads(html)
    st = wd.start
    for k, text in MW.scene_text(wd, st["variant"], st["scene"], st["score"], st["iou"]).items():
        assert f'data-field="{k}">{text}<' in html.replace("&#x27;", "'")
    assert f'data-field="ap_0">{MW.ap_text(wd, 0, 0.5)}<' in html
    s = MW.spec(wd)
    assert {p["name"] for p in s["params"]} == set(MW.signals(len(labels)).values())


# --- the pages, in a browser -------------------------------------------------------------------


def check_patches_page(tab, url, records):
    from playwright.sync_api import expect

    ms, _ = PW.matchers(records)
    tab.goto(url, wait_until="networkidle")
    root = tab.locator(".wp-roc")
    assert root.count() == 1
    root.locator(".wpv-chart svg").wait_for()
    step, net = root.locator("input[name=wpp_step]"), root.locator("select[name=wpp_net]")

    def check(m, k):
        p = PW.operating_points(m.scores, m.match)[k]
        for field, text in PW.row(m, p).items():
            expect(root.locator(f'[data-field="{field}"]')).to_have_text(text)
        expect(root.locator(f'[aria-label="operating point: {m.name} at {k}%"]')).to_have_count(1)
        idx = sorted(PW.examples(ms[0]), key=lambda i: -m.scores[i])
        for slot, i in enumerate(idx):
            said = "accepted" if p["threshold"] is not None and m.scores[i] >= p["threshold"] else "rejected"
            expect(root.locator(f'[aria-label="pair {slot}: {said}, {PW.outcome(said == "accepted", m.match[i])}"]')
                   ).to_have_count(1)
        return p

    start = check(ms[0], PW.start_step(ms[0]))
    assert start["tpr"] >= 0.95
    step.focus()
    tab.keyboard.press("ArrowLeft")  # one step stricter, as a reader would move it
    check(ms[0], PW.start_step(ms[0]) - 1)
    step.fill("30")
    assert check(ms[0], 30) != start
    for m in ms[1:]:
        net.select_option(m.name)
        check(m, 30)
    step.fill("0")
    assert check(ms[-1], 0)["tpr"] == 0.0


def check_multipath_page(tab, url, runs, labels):
    from playwright.sync_api import expect

    wd = MW.widget_data(runs, labels)
    tab.goto(url, wait_until="networkidle")
    root = tab.locator(".wp-ap")
    assert root.count() == 1
    root.locator(".wpv-chart svg").wait_for()
    shown = [True] * len(labels)
    pos = dict(wd.start)

    def check():
        for v, lab in enumerate(labels):
            expect(root.locator(f'[data-field="ap_{v}"]')).to_have_text(MW.ap_text(wd, v, pos["iou"], shown[v]))
            expect(root.locator(f'[aria-label="AP at IoU: {lab}"]')).to_have_count(int(shown[v]))
        now = MW.scene_text(wd, pos["variant"], pos["scene"], pos["score"], pos["iou"])
        for k, text in now.items():
            expect(root.locator(f'[data-field="{k}"]')).to_have_text(text)
        expect(root.locator(f'[aria-label^="detection: {pos["variant"]}: "]')).to_have_count(int(now["shown"]))
        expect(root.locator(f'[aria-label^="detection: {pos["variant"]}: "][aria-label$=", right"]')
               ).to_have_count(int(now["right"]))

    check()
    root.locator("input[name=wpm_show_1]").uncheck()
    shown[1] = False
    check()
    root.locator("input[name=wpm_iou]").fill("0.75")
    pos["iou"] = 0.75
    check()
    root.locator("input[name=wpm_score]").fill("0.05")
    pos["score"] = 0.05
    check()
    root.locator("input[name=wpm_scene]").fill("2")
    pos["scene"] = 2
    check()
    root.locator("select[name=wpm_variant]").select_option(labels[0])
    pos["variant"] = labels[0]
    root.locator("input[name=wpm_iou]").fill("0.5")
    pos["iou"] = 0.5
    check()


def browse(base_url, pages):
    """Open each page with a fresh tab; -> console errors and requests outside the book."""
    from playwright.sync_api import sync_playwright

    errors, external = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        for run in pages:
            tab = browser.new_page(viewport={"width": 1280, "height": 1400})
            tab.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            tab.on("pageerror", lambda e: errors.append(str(e)))
            tab.on("request", lambda r: None if r.url.startswith((base_url, "data:")) else external.append(r.url))
            run(tab)
            tab.close()
        browser.close()
    return errors, external


@pytest.mark.slow
@needs_fmnist
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="chromium not installed")
def test_moving_the_controls_shows_pythons_numbers_offline(book_url, built_book, monkeypatch):
    monkeypatch.setenv("WPCORE_RUNS", str(built_book.parent.parent / "runs"))  # the records the book was built from
    p_records = [experiment.run(e) for e in p_study.experiments("smoke")]
    exps = mp_study.experiments("smoke")
    runs = {lab: r[0] for lab, r in mp_study.by_label([experiment.run(e) for e in exps]).items()}
    errors, external = browse(book_url, [
        lambda tab: check_patches_page(tab, f"{book_url}/chapters/patches.html", p_records),
        lambda tab: check_multipath_page(tab, f"{book_url}/chapters/multipath.html", runs, [e.label for e in exps])])
    assert not errors, errors
    assert not external, f"the pages fetched from outside the book: {external}"


def test_a_matcher_that_no_longer_gives_its_records_fpr95_is_flagged(fake):
    ms, pairs = fake
    assert PW.check_rescored(ms) == [] and "Warning" not in PW.note(ms, pairs)
    off = PW.Matcher("2ch", SimpleNamespace(**{**vars(ms[0].record), "final": {"fpr95": 1.0}}), ms[0].scores, ms[0].match)
    assert PW.check_rescored([off, ms[1]]) == ["2ch"]
    assert "Warning: rescored, 2ch no longer gives the FPR95 of its record." in PW.note([off, ms[1]], pairs)


def test_tied_scores_are_said_in_the_note_not_raised_as_a_warning(fake):
    """The page once showed a raw TiedScoresWarning (with this machine's path) under the widget."""
    ms, pairs = fake
    tied = np.round(ms[0].scores, 1)  # 120 scores on a 0.1 grid: most tie
    with pytest.warns(TiedScoresWarning):  # the metric itself still warns
        ms = [fake_matcher("2ch", tied, ms[0].match), ms[1]]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert PW.check_rescored(ms) == []
        text = PW.note(ms, pairs)
    assert f"(2ch {tied_count(tied)} of 120)" in text and "SIFT" not in text.split("Scores that tie")[1]
    assert "tie" not in PW.note(fake[0], pairs)
