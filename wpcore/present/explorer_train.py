"""Train the explorer's chosen network from the page, with a kernel (thesis ch. 3).

``TrainPanel(profile, start)``: the width/depth explorer (``present.explorer``) in an ipywidgets
``Output``, and under it a depth, a width and a block selector that offer the grid's values only
(``studies.wide_resnets_explorer``: depth 6n+4 from 10 to 40, width 1-12, the six block types), a
"Train at <profile>" button, a progress bar and one line of text. A click runs the chosen network
with the chapter's plain recipe at the profile (``study.trial``: ``wide_resnets.COMMON``, the
one recipe) through ``experiment.run``, so it writes a normal record to ``runs/``, or reuses the
record that exists. The bar follows the run's log (its step rows); the explorer is then redrawn
with the run among ours and the network chosen. The button is disabled while a run trains; an
error is one line of text.

The click trains in the kernel's own thread: the page's widgets follow it, other cells wait. An
interrupted run resumes from its last epoch's checkpoint at the next click (``experiment.run``).
The book's static page has no kernel and shows the explorer alone.
"""
from __future__ import annotations

import functools
from collections.abc import Callable

import ipywidgets as widgets
from IPython.display import HTML

from .. import experiment, records
from ..experiment import Experiment
from ..records import Record
from ..studies import wide_resnets_explorer as study
from .explorer import START, explorer_html, net_name


def one_line(error: BaseException) -> str:
    """An error as one line: its type and the first line of its message."""
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__


def name_of(net: study.Network) -> str:
    return net_name(net.depth, net.width, net.block)


def plan_text(exp: Experiment, profile: str) -> str:
    """What a click does for a network without a record."""
    images = f"{exp.train_subset:,}" if exp.train_subset else "all"
    return (f"no record yet: a click trains it at {profile}, {exp.epochs} epoch{'s' * (exp.epochs != 1)} of "
            f"{images} {exp.dataset} images")


def done_text(rec: Record, reused: bool) -> str:
    """The outcome of a click: the run's test error, whether it trained, where its record is."""
    how = "its record reused, not retrained" if reused else f"trained in {rec.wall_time_s:.1f} s"
    return f"test error {rec.final['test_error']:.2f}%, {how}; record {rec.path}"


class TrainPanel:
    """The explorer of ``profile`` (``start``: as drawn already; None: drawn at the first click) and
    the controls that train a network of its grid. ``recipe``: the experiment of a network (default
    ``study.trial`` at ``profile``)."""

    def __init__(self, profile: str, start: study.Explorer | None = None,
                 recipe: Callable[[study.Network], Experiment] | None = None):
        self.profile = profile
        self.recipe = recipe or functools.partial(study.trial, profile=profile)
        self.trained: list[Experiment] = []  # this panel's runs, drawn among ours
        self.explorer = start
        self.reused = False                  # whether the last click found its record
        self.running = ""                    # the network the click is training, as named in the line
        depth, width, block = START
        self.depth = widgets.SelectionSlider(options=study.DEPTHS, value=depth, description="depth d")
        self.width = widgets.SelectionSlider(options=study.WIDTHS, value=width, description="width k")
        self.block = widgets.Dropdown(options=study.BLOCKS, value=block, description="block")
        self.button = widgets.Button(description=f"Train at {profile}", icon="play")
        self.progress = widgets.IntProgress(value=0, min=0, max=1, description="training")
        self.message = widgets.Label()
        self.charts = widgets.Output()
        self.button.on_click(self.train)
        for control in (self.depth, self.width, self.block):
            control.observe(self.describe, names="value")
        self.describe()
        if start is not None:
            self.draw(start, START)

    def widget(self) -> widgets.VBox:
        return widgets.VBox([self.charts, widgets.HBox([self.depth, self.width, self.block]),
                             widgets.HBox([self.button, self.progress]), self.message])

    def chosen(self) -> study.Network:
        return study.Network(self.depth.value, self.width.value, self.block.value)

    def say(self, text: str) -> None:
        self.message.value = text

    def draw(self, ex: study.Explorer, start: tuple[int, int, str]) -> None:
        """Put the explorer ``ex`` in the output, ``start`` chosen (no kernel needed to fill it)."""
        self.explorer = ex
        self.charts.outputs = ()
        self.charts.append_display_data(HTML(explorer_html(ex, base=None, start=start)))

    def describe(self, _change: dict | None = None) -> None:
        """The line under the controls: what a click will do for the chosen network."""
        try:
            net = self.chosen()
            exp = self.recipe(net)
        except Exception as e:  # noqa: BLE001  (a recipe that refuses the network: said in one line)
            self.say(one_line(e))
            return
        found = records.find(exp.key()) is not None
        self.say(f"{name_of(net)}: " + ("has a record: a click draws it, without training" if found
                                        else plan_text(exp, self.profile)))

    def log(self, row: dict) -> None:
        """``experiment.run``'s log: the bar follows the steps, the line the epochs."""
        if "reused" in row:
            self.reused = True
            self.progress.max = self.progress.value = 1
        elif "step" in row:
            self.progress.max = row["total_steps"]
            self.progress.value = row["step"]
        elif "train_loss" in row:  # the row of an epoch
            error = f", test error {row['test_error']:.2f}%" if "test_error" in row else ""
            self.say(f"training {self.running}: epoch {row['epoch']}, train loss "
                     f"{row['train_loss']:.3f}{error}")

    def train(self, _button: widgets.Button | None = None) -> Record | None:
        """The click: the chosen network's record, trained or found, then the explorer redrawn with
        it. None, and the error in one line, when that fails."""
        self.button.disabled, self.reused = True, False
        self.progress.value, self.progress.max, self.progress.bar_style = 0, 1, "info"
        name = "the chosen network"
        try:
            net = self.chosen()
            name = self.running = name_of(net)
            exp = self.recipe(net)
            self.say(f"{name}: starting at {self.profile}")
            rec = experiment.run(exp, log=self.log)
            if exp.key() not in {e.key() for e in self.trained}:
                self.trained.append(exp)
            self.draw(study.explorer(self.profile, self.trained), (net.depth, net.width, net.block))
        except Exception as e:  # noqa: BLE001  (whatever fails, the page says it in one line)
            self.progress.bar_style = "danger"
            self.say(f"{name}: {one_line(e)}")
            return None
        except KeyboardInterrupt:  # the kernel interrupted: the next click resumes from the checkpoint
            self.progress.bar_style = "warning"
            self.say(f"{name}: interrupted; click again to resume from its last epoch")
            return None
        finally:
            self.button.disabled = False
        self.progress.bar_style = "success"
        self.say(f"{name}: {done_text(rec, self.reused)}")
        return rec
