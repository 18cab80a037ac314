"""One seaborn theme and palette for every figure in the book, and the figures chapters share.

Rules every figure here follows (issue 19): axes say what they show and in which unit; legends
sit outside the data; a metric that spans more than a decade gets a log axis (and the axis says
so); learning curves are drawn only when the runs were evaluated often enough for a curve to
mean something, otherwise the page says why there is none.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from matplotlib.ticker import MaxNLocator

PALETTE = "colorblind"
MIN_CURVE_POINTS = 5   # fewer evaluations per run than this make a curve of two or three dots
LOG_SPAN = 10.0        # a positive metric whose max / min exceeds this is drawn on a log axis

# metric key of the records -> axis label with its unit
METRIC_LABELS = {"train_loss": "training loss (cross-entropy)", "test_error": "test error (%)",
                 "test_loss": "test loss (cross-entropy)", "fpr95": "test FPR95 (%)", "AP": "test AP (%)",
                 "train_error": "training error (%)"}


def theme() -> None:
    """Apply the book's figure style (call once at the top of a chapter)."""
    sns.set_theme(style="whitegrid", context="notebook", palette=PALETTE)
    plt.rcParams.update({"figure.dpi": 110, "savefig.dpi": 110, "figure.figsize": (7.0, 4.0),
                         "axes.titleweight": "bold", "legend.frameon": False})


def legend_outside(fig, axes, title: str | None = None, ncol: int | None = None) -> None:
    """One legend for the figure, below the axes (out of the data); the axes' own legends go."""
    handles, labels = {}, []
    for ax in axes:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            if lab not in handles and not lab.startswith("_"):
                handles[lab] = h
                labels.append(lab)
        if ax.get_legend():
            ax.get_legend().remove()
    if labels:
        fig.legend([handles[lab] for lab in labels], labels, loc="lower center", title=title,
                   ncol=ncol or min(len(labels), 4), bbox_to_anchor=(0.5, 0.0), fontsize=9)
        rows = -(-len(labels) // (ncol or min(len(labels), 4)))
        fig.tight_layout(rect=(0, 0.06 + 0.05 * rows, 1, 1))


def log_if_wide(ax, values, label: str) -> bool:
    """A log y axis when positive ``values`` span more than ``LOG_SPAN``; the label says so."""
    v = pd.Series(values).dropna()
    if len(v) and (v > 0).all() and v.max() / v.min() > LOG_SPAN:
        ax.set_yscale("log")
        ax.set_ylabel(f"{label} (log scale)")
        return True
    ax.set_ylabel(label)
    return False


def history_frame(records, label=lambda r: r.extra.get("label") or r.config["model"]) -> pd.DataFrame:
    """Per-epoch rows of many records in one long table (columns: run, seed, epoch, metrics...)."""
    rows = []
    for r in records:
        for h in r.history:
            rows.append({"run": label(r), "seed": r.config.get("seed", 0), **h})
    return pd.DataFrame(rows)


TRAINING_COLUMNS = {"epoch", "lr", "train_loss", "steps", "time_s"}  # what fit writes in every history row


def evaluations(records) -> int:
    """The fewest evaluations any of these runs has: history rows with more than the training
    columns (a run evaluated every few epochs, ``eval_every``, has rows without)."""
    return min((sum(bool(set(h) - TRAINING_COLUMNS) for h in r.history) for r in records), default=0)


def curves(records, metrics=("train_loss", "test_error"), label=None, title: str | None = None,
           ylabels: dict | None = None):
    """Learning curves: one panel per metric, one line per run (mean over seeds, band = range of
    seeds), the legend below the panels, a log axis for a metric that spans decades."""
    kw = {"label": label} if label else {}
    df = history_frame(records, **kw)
    names = {**METRIC_LABELS, **(ylabels or {})}
    fig, axes = plt.subplots(1, len(metrics), figsize=(5.2 * len(metrics), 4.2), squeeze=False)
    for ax, m in zip(axes[0], metrics):
        sns.lineplot(df, x="epoch", y=m, hue="run", marker="o", errorbar=("pi", 100), ax=ax)
        ax.set(xlabel="epoch")
        log_if_wide(ax, df[m], names.get(m, m))
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if title:
        fig.suptitle(title)
    legend_outside(fig, axes[0])
    return fig


def learning_curves(records, metrics=("train_loss", "test_error"), label=None, title: str | None = None,
                    ylabels: dict | None = None):
    """``curves`` when every run has at least ``MIN_CURVE_POINTS`` evaluations; otherwise no
    figure, and a sentence that says why (the training summary holds the final values)."""
    from IPython.display import Markdown, display

    records = list(records)
    n = evaluations(records)
    if n < MIN_CURVE_POINTS:
        times = {0: "never", 1: "once", 2: "twice"}.get(n, f"{n} times")
        display(Markdown(f"*No learning curves here: these runs were evaluated {times} each, and "
                         f"a curve needs at least {MIN_CURVE_POINTS} points to show a trend. "
                         "Their final values are in the training summary above and the tables below.*"))
        return None
    return curves(records, metrics, label, title, ylabels)
