"""Progress of long runs: a bar per run that updates live and leaves its final state behind.

In a notebook each run gets one HTML line updated in place (``display_id``), so the executed
notebook, and the static HTML built from it, shows the finished bar with the final metrics.
In a terminal, a tqdm bar per run.
"""
from __future__ import annotations

import html
import time


def _bar_html(label: str, frac: float, text: str) -> str:
    pct = max(0.0, min(1.0, frac)) * 100
    return (f'<div class="wp-progress" style="font-family:monospace;font-size:0.85em;margin:2px 0">'
            f'<span style="display:inline-block;width:16em">{html.escape(label)}</span>'
            f'<span style="display:inline-block;width:12em;height:0.8em;background:#e6e6e6;vertical-align:middle">'
            f'<span style="display:block;width:{pct:.0f}%;height:100%;background:#0173b2"></span></span>'
            f' {pct:3.0f}% {html.escape(text)}</div>')


class NotebookProgress:
    """``log`` callback for ``experiment.run`` / ``fit`` inside a notebook."""

    def __init__(self, min_interval_s: float = 1.0):
        self.handle, self.label, self.last, self.min_interval_s = None, "", 0.0, min_interval_s
        self.frac = 0.0

    def _show(self, frac: float, text: str) -> None:
        from IPython.display import HTML, display

        content = HTML(_bar_html(self.label, frac, text))
        if self.handle is None:
            self.handle = display(content, display_id=True)
        else:
            self.handle.update(content)

    def __call__(self, row: dict) -> None:
        if "reused" in row:
            self.handle, self.label = None, row["label"]
            self._show(1.0, f"reused record {row['reused']}")
        elif "start" in row:
            self.handle, self.label, self.frac = None, row["label"], 0.0
            self._show(0.0, "starting")
        elif "step" in row:
            self.frac = row["step"] / row["total_steps"]
            now = time.monotonic()
            if now - self.last >= self.min_interval_s or row["step"] == row["total_steps"]:
                self.last = now
                self._show(self.frac, f"epoch {row['epoch']}, loss {row['train_loss']:.3f}, {row['elapsed_s']:.0f} s")
        elif "epoch" in row and "time_s" in row:
            err = f", test error {row['test_error']:.2f}%" if "test_error" in row else ""
            self._show(self.frac, f"epoch {row['epoch']}{err}, {row['time_s']:.0f} s")


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
