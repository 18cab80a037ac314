"""The page layer (``wpcore.present``): progress folded into one block, figures that follow the
reader's rules, diagrams drawn from the code, code shown as it is, the scorecard's words."""
import dataclasses

import matplotlib.pyplot as plt
import pytest
import torch

from wpcore import nets, records
from wpcore.experiment import Experiment
from wpcore.present import code, diagrams, figures, progress


class Screen:
    """Stands in for IPython's display: every display area and what it shows last."""

    def __init__(self):
        self.areas: list[list[str]] = []

    def display(self, obj, display_id=None):
        self.areas.append([obj.data])
        area = self.areas[-1]

        class Handle:
            def update(self, new):
                area.append(new.data)

        return Handle() if display_id else None


@pytest.fixture
def screen(monkeypatch):
    import IPython.display

    s = Screen()
    monkeypatch.setattr(IPython.display, "display", s.display)
    return s


def record(label, seed=0, wall=12.3, key=None, **final):
    return records.Record(key or f"k-{label}-{seed}", {"model": "wrn-10-1", "seed": seed, "epochs": 2},
                          [{"epoch": 1, "test_error": 50.0}, {"epoch": 2, "test_error": 40.0}], {"steps": 8, **final},
                          wall, {}, {}, {}, "2026-01-01",
                          {"label": label})


def test_a_chapters_runs_share_one_display_area_and_end_as_one_summary(screen):
    """The old progress opened one HTML line per run (30 rows on the attention page) and left a
    '0% starting' row behind whenever a run started another (a student loading its teacher)."""
    exps = [Experiment("wrn-10-2", label="teacher"), Experiment("wrn-10-1", label="AT", seed=0),
            Experiment("wrn-10-1", label="AT", seed=1)]
    log = progress.NotebookProgress(exps)
    log({"reused": "kt", "label": "teacher"})
    log({"start": "k0", "label": "AT"})
    log({"reused": "kt", "label": "wrn-10-2 seed 0"})  # the student's task loads its teacher
    log({"step": 4, "total_steps": 8, "epoch": 1, "train_loss": 0.7})
    log({"start": "k1", "label": "AT"})
    assert len(screen.areas) == 1
    last = screen.areas[0][-1]
    assert "run 3 of 3: AT, seed 1" in last and "starting" in last
    assert any("run 2 of 3: AT, seed 0 (its record wrn-10-2 seed 0)" in s for s in screen.areas[0])
    recs = [record("teacher", key="kt", wall=5.0), record("AT", 0, 41.6, key="k0", test_error=12.5),
            record("AT", 1, 40.2, key="k1", test_error=11.0)]
    log.summary(recs)
    assert len(screen.areas) == 1
    final = screen.areas[0][-1]
    assert final.count("<details>") == 1 and "starting" not in final
    assert "3 runs, 2 trained in this execution (82 s), 1 read from earlier records" in final
    # the times are the records' wall_time_s, the same number every other table of the page shows
    assert "<td>42</td>" in final and "<td>40</td>" in final and "<td>AT, seed 1</td>" in final


def test_log_axis_when_one_curve_explodes():
    _, ax = plt.subplots()
    assert figures.log_if_wide(ax, [0.5, 0.7, 2.3, 40.0], "training loss")
    assert ax.get_yscale() == "log" and "log scale" in ax.get_ylabel()
    _, ax = plt.subplots()
    assert not figures.log_if_wide(ax, [0.5, 0.7, 2.3], "training loss")
    assert ax.get_yscale() == "linear" and ax.get_ylabel() == "training loss"
    plt.close("all")


def test_no_learning_curve_from_two_points(screen):
    recs = [record("a"), record("b")]
    assert figures.learning_curves(recs) is None
    assert "No learning curves here" in screen.areas[0][0] and "evaluated twice each" in screen.areas[0][0]
    # six epochs evaluated every third one: two evaluations, still no curve
    sparse = [dataclasses.replace(r, history=[{"epoch": e, "train_loss": 1 / e, **({"test_error": 9.0} if e % 3 == 0 else {})}
                                              for e in range(1, 7)]) for r in recs]
    assert figures.evaluations(sparse) == 2 and figures.learning_curves(sparse) is None
    long = [dataclasses.replace(r, history=[{"epoch": e, "train_loss": 1 / e, "test_error": 50 / e}
                                            for e in range(1, 7)]) for r in recs]
    fig = figures.learning_curves(long)
    assert fig is not None and fig.legends and not any(ax.get_legend() for ax in fig.axes)  # legend outside
    plt.close("all")


def test_wrn_block_diagram_is_the_traced_forward():
    """The boxes follow Block.forward: BN-ReLU before each convolution, dropout before the last,
    the projection shortcut fed by the first BN-ReLU; a 1x1 block type shows its 1x1 convolution."""
    from wpcore.present.wide_resnets import block_inputs, block_items

    net = nets.create("wrn-16-4", dropout=0.3)
    shapes = block_inputs(net, (3, 32, 32))
    first, inner = net.groups[1][0], net.groups[1][1]
    items, short, origin = block_items(first, shapes[id(first)])
    assert [t for t, _, _ in items] == ["x  (64×32×32)", "BN-ReLU", "conv 3×3, stride 2", "BN-ReLU", "dropout 0.3",
                                        "conv 3×3"]
    assert items[2][2] == "128×16×16" and short.startswith("conv 1×1, stride 2") and origin == 1
    items, short, origin = block_items(inner, shapes[id(inner)])
    assert items[0][0] == "x  (128×16×16)" and short == "identity" and origin == 0
    b = nets.create("wrn-10-1", block="B(3,1,3)").groups[0][0]
    assert [t for t, _, _ in block_items(b, (16, 8, 8))[0] if t.startswith("conv")] == ["conv 3×3", "conv 1×1",
                                                                                      "conv 3×3"]


def test_patch_diagram_layers_are_the_networks_modules():
    from wpcore.nets import deepcompare as dc

    rows, out = diagrams.layer_table(nets.create("2ch").features, torch.zeros(1, 2, 64, 64))
    assert [r[0] for r in rows] == ["C(96,7,3)", "P(2,2)", "C(192,5,1)", "P(2,2)", "C(256,3,1)"]  # the paper's 2ch
    assert rows[0][2] == "96×20×20" and tuple(out.shape) == (1, 256, 1, 1)
    assert len(rows) == len([s for s in dc.TOWER])


def test_show_source_is_the_code_itself(screen):
    from wpcore.losses import attention

    where, text = code.source(attention.at_loss)
    assert where.startswith("wpcore/losses/attention.py, lines ")
    assert text.startswith("def at_loss(") and "at(student, p) - at(teacher, p)" in text
    where, text = code.source(nets.wrn.Block.forward)
    assert text.startswith("def forward(self")  # a method, dedented
    code.show_source(attention.at)
    assert "```python\ndef at(" in screen.areas[0][0]


def test_scorecard_colours_and_links():
    from wpcore.present import scorecard as card
    from wpcore.studies.claim import Claim, Kind, Verdict
    from wpcore.studies.verdict import check, difference

    v, e = difference([1.0], [2.0], "points")  # one seed: indicative, the thesis's way (lower)
    c1 = Claim("patches", "Two channels beat siamese.", "t", "o", v, e)
    v, e = check(0.0, 1.0, "x")
    c2 = Claim("diracnets", "Folding keeps outputs.", "t", "o", v, e, kind=Kind.CHECK)
    assert c1.verdict is Verdict.INDICATIVE and card.css_class(c1) == "with"
    assert card.link(c1) == "../chapters/patches.html#claim-two-channels-beat-siamese"
    summary = card.summary_html([c1, c2])
    assert "Patch matching" in summary and "1 of 1 pass" in summary and "1 one seed, thesis&#x27;s way" in summary
    html = card.claims_html([c1])
    assert 'href="../chapters/patches.html#claim-two-channels-beat-siamese"' in html and "wp-with" in html


def test_a_chapter_without_a_standard_design_says_so_under_standard(monkeypatch):
    from IPython import display as ipd

    from wpcore import present
    from wpcore.scorecard import study_modules

    shown = []
    monkeypatch.setattr(ipd, "display", lambda *objs, **kw: shown.extend(o.data for o in objs))
    designed = {m.CHAPTER: m.STANDARD_DESIGNED for m in study_modules()}
    assert all(isinstance(v, bool) for v in designed.values()) and designed["wide_resnets"]
    for mod in study_modules():
        for profile in ("quick", "standard"):
            shown.clear()
            present.start(profile, mod)
            warned = any("no standard design yet" in s for s in shown)
            assert warned == (profile == "standard" and not mod.STANDARD_DESIGNED), (mod.CHAPTER, profile)
