"""One seaborn theme and palette for every figure in the book, and the figures chapters share."""
from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from matplotlib.ticker import MaxNLocator

PALETTE = "colorblind"


def theme() -> None:
    """Apply the book's figure style (call once at the top of a chapter)."""
    sns.set_theme(style="whitegrid", context="notebook", palette=PALETTE)
    plt.rcParams.update({"figure.dpi": 110, "savefig.dpi": 110, "figure.figsize": (7.0, 4.0),
                         "axes.titleweight": "bold", "legend.frameon": False})


def history_frame(records, label=lambda r: r.extra.get("label") or r.config["model"]) -> pd.DataFrame:
    """Per-epoch rows of many records in one long table (columns: run, seed, epoch, metrics...)."""
    rows = []
    for r in records:
        for h in r.history:
            rows.append({"run": label(r), "seed": r.config.get("seed", 0), **h})
    return pd.DataFrame(rows)


def curves(records, metrics=("train_loss", "test_error"), label=None, title: str | None = None):
    """Learning curves: one panel per metric, one line per run (mean over seeds, band = spread)."""
    kw = {"label": label} if label else {}
    df = history_frame(records, **kw)
    names = {"train_loss": "training loss (cross-entropy)", "test_error": "test error (%)",
             "test_loss": "test loss (cross-entropy)"}
    fig, axes = plt.subplots(1, len(metrics), figsize=(5.2 * len(metrics), 3.8), squeeze=False)
    for ax, m in zip(axes[0], metrics):
        sns.lineplot(df, x="epoch", y=m, hue="run", marker="o", errorbar=("pi", 100), ax=ax)
        ax.set(xlabel="epoch", ylabel=names.get(m, m))
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        if ax.get_legend():
            ax.get_legend().set_title(None)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
