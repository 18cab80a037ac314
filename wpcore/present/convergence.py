"""The convergence check of a chapter's baseline, drawn: test metric against training length."""
from __future__ import annotations


def show_convergence(records, runs: dict[float, list], metric: str = "test_error", label: str = "test error (%)",
                     what: str = "baseline"):
    """One dot per seed at each training length (epochs), the mean as a line; the profile's length
    marked. ``runs``: ``{multiplier: [experiments]}`` (a study's ``convergence(profile)``)."""
    import matplotlib.pyplot as plt

    from ..studies.convergence import values

    vals = values(records, runs, metric)
    epochs = {m: exps[0].epochs for m, exps in runs.items() if exps}
    fig, ax = plt.subplots(figsize=(4.6, 3.0))
    xs = sorted(m for m in vals if vals[m])
    for m in xs:
        ax.scatter([epochs[m]] * len(vals[m]), vals[m], color="0.45", s=14, zorder=3)
    ax.plot([epochs[m] for m in xs], [sum(vals[m]) / len(vals[m]) for m in xs], color="C0", marker="o", zorder=2,
            label="mean over seeds")
    if 1 in epochs:
        ax.axvline(epochs[1], color="C1", linestyle="--", linewidth=1, label="this profile's length")
    ax.set(xscale="log", xlabel="training epochs (log scale)", ylabel=label, title=f"Convergence of the {what}")
    ax.set_xticks([epochs[m] for m in xs], [str(epochs[m]) for m in xs])
    ax.minorticks_off()
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8)
    fig.tight_layout()
    return fig
