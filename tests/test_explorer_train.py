"""The explorer's training panel (``present.explorer_train``), driven in Python without a browser:
the selectors offer the grid only, a click trains the chosen network at the smoke recipe through
``experiment.run`` (a normal record, the bar fed by the run's log, the explorer redrawn with the
run among ours), a second click reuses the record, and a failure is one line of text."""
import pytest
from traitlets import TraitError

from wpcore import records
from wpcore.present.explorer_train import TrainPanel, one_line
from wpcore.studies import wide_resnets as wrn
from wpcore.studies import wide_resnets_explorer as study

from .conftest import needs_fmnist


@pytest.fixture
def small_grid(monkeypatch):
    """Two depths, two widths, one block type and no thesis points: the explorer draws in about a
    second instead of counting the FLOPs of the whole grid (``tests/test_explorer.py`` checks those)."""
    monkeypatch.setattr(study, "DEPTHS", (10, 16))
    monkeypatch.setattr(study, "WIDTHS", (1, 2))
    monkeypatch.setattr(study, "BLOCKS", ("B(3,3)",))
    monkeypatch.setattr(study, "thesis_points", list)


def html_of(panel: TrainPanel) -> str:
    (shown,) = panel.charts.outputs
    return shown["data"]["text/html"]


def test_a_trial_is_the_chapters_recipe_and_shares_the_chapters_records():
    exp = study.trial(study.Network(10, 1, "B(1,3,1)"), "quick")
    assert {k: getattr(exp, k) for k in wrn.COMMON["quick"]} == wrn.COMMON["quick"]
    assert (exp.model, exp.model_kw, exp.seed) == ("wrn-10-1", {"block": "B(1,3,1)"}, 0)
    chapters = {e.key() for e in wrn.experiments("smoke")}
    again = study.trial(study.Network(10, 2), "smoke")  # the chapter's shallow-wide network at smoke, seed 0
    assert again.key() in chapters
    new = study.trial(study.Network(22, 3), "smoke")
    assert study.our_runs("smoke", [again])[1] == len(chapters) == study.our_runs("smoke", [new, new])[1] - 1


@needs_fmnist
def test_a_click_trains_writes_a_record_and_redraws_then_reuses_it(small_grid, tmp_path, monkeypatch):
    monkeypatch.setenv("WPCORE_RUNS", str(tmp_path / "runs"))
    panel = TrainPanel("smoke", start=study.explorer("smoke"))
    assert 'data-field="name">WRN-16-2 B(3,3)<' in html_of(panel) and not panel.explorer.ours
    panel.depth.value, panel.width.value = 10, 1
    assert panel.message.value.startswith("WRN-10-1 B(3,3): no record yet: a click trains it at smoke, 1 epoch")

    panel.button.click()
    exp = study.trial(study.Network(10, 1), "smoke")
    rec = records.find(exp.key())
    assert rec is not None and rec.path.parent == tmp_path / "runs" and rec.weights_path.is_file()
    assert rec.config["model"] == "wrn-10-1" and rec.config["epochs"] == 1 and rec.extra["label"] == exp.label
    assert panel.progress.max == rec.history[-1]["steps"] > 1 and panel.progress.value == panel.progress.max
    assert panel.progress.bar_style == "success" and not panel.button.disabled and not panel.reused
    assert "trained in" in panel.message.value and f"{rec.final['test_error']:.2f}%" in panel.message.value
    ours = [r for r in panel.explorer.ours if (r["depth"], r["width"], r["block"]) == (10, 1, "B(3,3)")]
    assert [r["error"] for r in ours] == [rec.final["test_error"]]
    assert 'data-field="name">WRN-10-1 B(3,3)<' in html_of(panel)  # redrawn, the trained network chosen

    made = (rec.created, rec.path.stat().st_mtime_ns)
    panel.describe()
    assert "has a record" in panel.message.value
    panel.button.click()
    again = records.find(exp.key())
    assert (again.created, again.path.stat().st_mtime_ns) == made  # not retrained
    assert panel.reused and "its record reused, not retrained" in panel.message.value
    assert panel.progress.value == panel.progress.max and len(panel.trained) == 1
    assert len([r for r in panel.explorer.ours if r["depth"] == 10 and r["width"] == 1]) == 1


def test_the_selectors_offer_the_grid_only(small_grid):
    panel = TrainPanel("smoke")
    for control, value in ((panel.depth, 17), (panel.depth, 46), (panel.width, 13), (panel.block, "B(9,9)")):
        with pytest.raises(TraitError):
            control.value = value
    assert panel.chosen() == study.Network(16, 2, "B(3,3)")
    with pytest.raises(ValueError, match=r"^depth must be one of 10, 16 \(the explorer's grid\), got 17$"):
        study.Network(17, 1)


def test_a_failure_is_one_line_and_frees_the_button(small_grid):
    def refuse(net):
        raise ValueError(f"{net.model} is refused\nsecond line")

    panel = TrainPanel("smoke", recipe=refuse)
    assert panel.message.value == "ValueError: wrn-16-2 is refused"
    assert panel.train() is None
    assert panel.message.value == "WRN-16-2 B(3,3): ValueError: wrn-16-2 is refused"
    assert not panel.button.disabled and panel.progress.bar_style == "danger" and not panel.charts.outputs
    assert one_line(RuntimeError()) == "RuntimeError"
