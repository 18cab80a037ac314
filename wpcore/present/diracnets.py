"""Figures and tables of the DiracNets chapter (thesis ch. 5), drawn from its records."""
from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from ..studies import diracnets as study
from .figures import history_frame
from .tables import fmt


def depth_frame(records) -> pd.DataFrame:
    """One row per run of the depth study: network role, depth, seed, final errors and loss."""
    return pd.DataFrame([{"network": study.role_of(r), "depth": study.depth_of(r), "seed": r.config["seed"],
                          "test error (%)": r.final["test_error"], "training loss": r.final["train_loss"],
                          "training error (%)": r.final.get("train_error")} for r in records])


def depth_figure(records, depths, title: str):
    """Test error and final training loss vs depth, one line per network (mean; band: range of seeds)."""
    df = depth_frame(records)
    fig, axes = plt.subplots(1, 2, figsize=(10.5, 3.8))
    for ax, metric in zip(axes, ("test error (%)", "training loss")):
        sns.lineplot(df, x="depth", y=metric, hue="network", marker="o", errorbar=("pi", 100), ax=ax)
        sns.stripplot(df, x="depth", y=metric, hue="network", native_scale=True, dodge=False, alpha=0.4,
                      legend=False, ax=ax)
        ax.set_xticks(list(depths))
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def ab_frames(dirac_records) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(per-epoch mean b/a per group, from 0.1 at epoch 0; final mean a and b per layer), all seeds."""
    hist = history_frame(dirac_records)
    groups = sorted(c for c in hist.columns if c.startswith("b_over_a_mean_g"))
    long = hist.melt(id_vars=["epoch", "seed"], value_vars=groups, var_name="group", value_name="b / a")
    long["group"] = long["group"].str.replace("b_over_a_mean_g", "group ")
    start = pd.DataFrame([{"epoch": 0, "seed": s, "group": g, "b / a": 0.1}
                          for s in hist["seed"].unique() for g in long["group"].unique()])
    layers = pd.DataFrame([{"layer": i + 1, "seed": r.config["seed"], "value": v, "parameter": p}
                           for r in dirac_records for p in ("a", "b")
                           for i, v in enumerate(r.extra["ab_per_layer"][p])])
    return pd.concat([start, long], ignore_index=True), layers


def ab_figure(dirac_records, name: str):
    """Left: mean b/a per group after each epoch. Right: final mean a and b of every layer."""
    long, layers = ab_frames(dirac_records)
    fig, axes = plt.subplots(1, 2, figsize=(10.5, 3.8))
    sns.lineplot(long, x="epoch", y="b / a", hue="group", marker="o", errorbar=("pi", 100), ax=axes[0])
    axes[0].set(title="mean b / a per group")
    axes[0].set_xticks(sorted(long["epoch"].unique()))
    sns.lineplot(layers, x="layer", y="value", hue="parameter", marker=".", errorbar=("pi", 100), ax=axes[1])
    for init in (1.0, 0.1):
        axes[1].axhline(init, color="grey", lw=0.8, ls=":")
    axes[1].set(title=f"final a and b per layer ({name})")
    fig.tight_layout()
    return fig


def ab_summary(dirac_records, name: str) -> str:
    """A sentence on where b/a, a and b ended, computed from the records."""
    long, layers = ab_frames(dirac_records)
    last = long[long["epoch"] == long["epoch"].max()].groupby("group")["b / a"].mean()
    a, b = layers[layers.parameter == "a"].value, layers[layers.parameter == "b"].value
    return (f"After {int(long['epoch'].max())} epochs the mean $b/a$ of {name} is "
            + ", ".join(f"{g} {v:.3f}" for g, v in last.items())
            + f" (mean over {len(dirac_records)} seeds; 0.1 at initialisation). Over all layers and seeds, the "
            f"channel mean of $a$ ends between {a.min():.3f} and {a.max():.3f} (initialised to 1) and that of "
            f"$b$ between {b.min():.3f} and {b.max():.3f} (initialised to 0.1), after "
            f"{dirac_records[0].final['steps']} optimizer steps.")


def fold_table(records) -> pd.DataFrame:
    """Folded vs unfolded per DiracNet, from the records: max relative difference, median times."""
    folds = pd.DataFrame(study.fold_results(records))
    if folds.empty:
        return folds
    folds["speedup"] = folds["unfolded_ms"] / folds["folded_ms"]
    agg = folds.groupby("model", sort=False).agg(
        runs=("seed", "count"), max_rel_diff=("fold_max_rel_diff", "max"), batch=("fold_batch", "first"),
        unfolded_ms=("unfolded_ms", "median"), folded_ms=("folded_ms", "median"), speedup=("speedup", "median"))
    return pd.DataFrame({
        "network": agg.index, "runs": agg["runs"].values, "batch": agg["batch"].values,
        "max relative difference": [f"{v:.1e}" for v in agg["max_rel_diff"]],
        "unfolded (ms)": [fmt(v, 1) for v in agg["unfolded_ms"]],
        "folded (ms)": [fmt(v, 1) for v in agg["folded_ms"]],
        "speed-up": [fmt(v, 2, "x") for v in agg["speedup"]]})


def error_by_depth_table(records) -> pd.DataFrame:
    """Test error (mean ± s.d. over seeds) of each network at each depth, with parameter counts."""
    df = depth_frame(records)
    table = (df.groupby(["depth", "network"])["test error (%)"]
             .agg(lambda v: fmt(v.mean()) + (f" ± {v.std():.2f}" if len(v) > 1 else ""))
             .unstack("network")[list(study.ARCHS)])
    table.columns = [f"{c} error (%)" for c in table.columns]
    table = table.reset_index()
    params = {(study.role_of(r), study.depth_of(r)): r.final["params"] for r in records}
    table["parameters (plain / dirac / resnet)"] = [
        " / ".join(fmt(params.get((role, d))) for role in study.ARCHS) for d in table["depth"]]
    return table
