"""Progress of a chapter's runs: one live line while they train, then one folded summary.

In a notebook, ``NotebookProgress(exps)`` is the ``log`` callback of every ``experiment.run`` of
the chapter. It keeps a single output area (``display_id``): while runs train it shows the
current run (its position in the chapter, label, seed, a bar and the latest metrics); a run
that starts another one (a student loading its teacher) is named as such, not as a new row.
``summary(records)`` then replaces that line with one collapsed block whose table is read from
the records themselves (epochs, steps, final metrics, ``wall_time_s``), so the times and
numbers agree with every other table of the page. In a terminal, a tqdm bar per run.
"""
from __future__ import annotations

import html
import time

# final metrics a summary shows when the records have them: key -> column name
METRICS = {"train_loss": "final training loss", "test_error": "test error (%)", "fpr95": "test FPR95 (%)",
           "AP": "test AP (%)"}


def _bar_html(frac: float) -> str:
    pct = max(0.0, min(1.0, frac)) * 100
    return (f'<span style="display:inline-block;width:10em;height:0.8em;background:#e6e6e6;vertical-align:middle">'
            f'<span style="display:block;width:{pct:.0f}%;height:100%;background:#0173b2"></span></span> {pct:3.0f}%')


def run_name(label: str, seed: int | None) -> str:
    """A run as a reader names it: its label and, when the label does not say it, its seed."""
    return label if seed is None or "seed" in label else f"{label}, seed {seed}"


class NotebookProgress:
    """``log`` callback for ``experiment.run`` inside a notebook: one output area per chapter.

    ``exps``: the chapter's experiments, in the order they are run (for "run i of n" and to tell
    a chapter's own runs from the runs they start, such as a teacher).
    """

    def __init__(self, exps=(), min_interval_s: float = 1.0):
        self.expected = [(e.name(), e.seed) for e in exps]
        self.done = 0                   # the chapter's own runs begun so far
        self.handle, self.min_interval_s, self.last = None, min_interval_s, 0.0
        self.current, self.nested, self.frac = "", "", 0.0
        self.reused: set[str] = set()   # record keys found, not trained, during this execution

    def _show(self, content: str) -> None:
        from IPython.display import HTML, display

        block = HTML(f'<div class="wp-progress">{content}</div>')
        if self.handle is None:
            self.handle = display(block, display_id=True)
        else:
            self.handle.update(block)

    def _line(self, text: str) -> str:
        return (f'<div style="font-family:monospace;font-size:0.85em">{html.escape(self.current)}'
                + (f" ({html.escape(self.nested)})" if self.nested else "")
                + f" {_bar_html(self.frac)} {html.escape(text)}</div>")

    def _begin(self, label: str, verb: str) -> None:
        if self.done < len(self.expected) and label == self.expected[self.done][0]:  # the chapter's next run
            self.done += 1
            self.current = f"run {self.done} of {len(self.expected)}: {run_name(label, self.expected[self.done - 1][1])}"
            self.nested, self.frac = "", 0.0
        elif not self.expected:  # no plan given: every run is the chapter's own
            self.current, self.nested, self.frac = label, "", 0.0
        else:  # a run started by the chapter's current run (a student's teacher)
            self.nested = f"{verb} {label}"

    def __call__(self, row: dict) -> None:
        if "reused" in row:
            self.reused.add(row["reused"])
            self._begin(row["label"], "its record")
            self._show(self._line("reusing the record"))
        elif "start" in row:
            self._begin(row["label"], "first training")
            self._show(self._line("starting"))
        elif "step" in row:
            self.frac = row["step"] / row["total_steps"]
            now = time.monotonic()
            if now - self.last >= self.min_interval_s or row["step"] == row["total_steps"]:
                self.last = now
                self._show(self._line(f"epoch {row['epoch']}, loss {row['train_loss']:.3f}"))
        elif "epoch" in row and "time_s" in row:
            shown = [f"{METRICS[m]} {row[m]:.2f}" for m in ("test_error", "fpr95", "AP") if m in row]
            self._show(self._line(f"epoch {row['epoch']} done" + "".join(f", {t}" for t in shown)))

    def summary(self, records) -> None:
        """Replace the live line by one collapsed block: how many runs were reused or trained, and
        a table of every run read from its record."""
        records = list(records)
        trained = [r for r in records if r.key not in self.reused]
        metrics = [m for m in METRICS if any(m in r.final for r in records)]
        head = "".join(f"<th>{h}</th>" for h in ("run", "epochs", "steps", *(METRICS[m] for m in metrics),
                                                  "training time (s)", "in this execution"))
        rows = []
        for r in records:
            cells = [run_name(r.extra.get("label") or r.config["model"], r.config.get("seed")),
                     r.config.get("epochs", "—"), r.final.get("steps", "—"),
                     *(_num(r.final.get(m)) for m in metrics), f"{r.wall_time_s:.0f}",
                     "reused" if r.key in self.reused else "trained"]
            rows.append("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in cells) + "</tr>")
        total = sum(r.wall_time_s for r in records)
        text = (f"Training: {len(records)} runs, {len(trained)} trained in this execution"
                + (f" ({sum(r.wall_time_s for r in trained):.0f} s)" if trained else "")
                + f", {len(records) - len(trained)} read from earlier records; {total:.0f} s of training in all "
                  "the records. Click for the table.")
        self._show(f"<details><summary>{html.escape(text)}</summary>"
                   f'<table class="wp-runs"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
                   "</details>")


def _num(v) -> str:
    if v is None:
        return "—"
    return f"{v:.3f}" if abs(v) < 10 else f"{v:.2f}"


class TerminalProgress:
    """``log`` callback for the CLI: a tqdm bar over optimizer steps, a line per epoch."""

    def __init__(self):
        self.bar = None

    def __call__(self, row: dict) -> None:
        from tqdm import tqdm

        if "reused" in row:
            stale = f" (made with older code: {'; '.join(row['stale'])})" if row.get("stale") else ""
            print(f"{row['label']}: reusing record {row['reused']}{stale}")
        elif "retrain" in row:
            print(f"{row['label']}: record {row['retrain']} is stale ({'; '.join(row['stale'])}); training it again")
        elif "restart" in row:
            print(f"checkpoint {row['restart']} was written by other code ({', '.join(row['changed'])}); starting over")
        elif "resumed_from_epoch" in row:
            print(f"resuming from epoch {row['resumed_from_epoch']} (checkpoint)")
        elif "start" in row:
            print(f"{row['label']}: training (record {row['start']})")
        elif "step" in row:
            if self.bar is None:
                self.bar = tqdm(total=row["total_steps"], unit="step", dynamic_ncols=True, mininterval=0.5)
            self.bar.n = row["step"]
            self.bar.set_postfix(epoch=row["epoch"], loss=f"{row['train_loss']:.3f}", refresh=False)
            self.bar.refresh()
        elif "epoch" in row and "time_s" in row:
            msg = ", ".join(f"{k} {v:.4g}" for k, v in row.items() if isinstance(v, float))
            (self.bar.write if self.bar else print)(f"epoch {row['epoch']}: {msg}")
            if self.bar is not None and self.bar.n >= self.bar.total:
                self.bar.close()
                self.bar = None
