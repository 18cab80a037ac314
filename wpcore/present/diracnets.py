"""Figures and tables of the DiracNets chapter (thesis ch. 5), drawn from the networks and the records.

The central figure (``parameterisation_figure``) shows the parameterisation on a real
``DiracConv2d``: the delta, the scaled normalised weight and the effective weight are read from
the module (``delta``, ``normalize_filters``, ``effective_weight``), not redrawn by hand.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
import torch

from ..studies import diracnets as study
from .figures import history_frame, legend_outside, log_if_wide
from .tables import fmt


def depth_frame(records) -> pd.DataFrame:
    """One row per run of the depth study: network role, depth, seed, final errors and loss."""
    return pd.DataFrame([{"network": study.role_of(r), "depth": study.depth_of(r), "seed": r.config["seed"],
                          "test error (%)": r.final["test_error"], "training loss": r.final["train_loss"],
                          "training error (%)": r.final.get("train_error")} for r in records])


def _kernel_mosaic(w: torch.Tensor) -> np.ndarray:
    """(C_out, C_in, k, k) -> one image: the k x k kernels in a C_out x C_in grid, NaN between them."""
    c_out, c_in, k, _ = w.shape
    img = np.full((c_out * (k + 1) - 1, c_in * (k + 1) - 1), np.nan)
    for o in range(c_out):
        for i in range(c_in):
            img[o * (k + 1):o * (k + 1) + k, i * (k + 1):i * (k + 1) + k] = w[o, i].numpy()
    return img


@torch.no_grad()
def parameterisation_figure(channels: int = 4, seed: int = 0):
    """The idea of the chapter on one Dirac convolution at initialisation (``DiracConv2d`` of
    ``channels`` in and out, 3x3): the delta I, the normalised weight scaled by b, and the
    effective weight W' the convolution applies, each read from the module itself."""
    from ..nets.dirac import DiracConv2d, normalize_filters

    torch.manual_seed(seed)
    conv = DiracConv2d(channels, channels, 3)
    a, b = conv.a[0].item(), conv.b[0].item()
    panels = [(conv.delta, "I: the Dirac delta\n(conv with I returns its input)"),
              (conv.b.view(-1, 1, 1, 1) * normalize_filters(conv.weight), f"b · W_norm  (b = {b:g})\nW_norm: each filter of unit norm"),
              (conv.effective_weight(), f"W' = a·I + b·W_norm  (a = {a:g})\nwhat the convolution applies")]
    fig, axes = plt.subplots(1, 3, figsize=(10.5, 3.7))
    for k, (ax, (w, title)) in enumerate(zip(axes, panels)):
        lim = w.abs().max().item()  # each panel its own symmetric scale: b·W_norm is ~30x smaller than I
        im = ax.imshow(_kernel_mosaic(w), cmap="RdBu_r", vmin=-lim, vmax=lim)
        ticks = [i * 4 + 1 for i in range(channels)]
        ax.set_xticks(ticks, [str(i + 1) for i in range(channels)])
        ax.set_yticks(ticks, [str(i + 1) for i in range(channels)] if k == 0 else [])
        ax.set(xlabel="input channel", ylabel="output channel" if k == 0 else None)
        ax.set_title(title, fontsize=9)
        ax.grid(False)
        fig.colorbar(im, ax=ax, fraction=0.046, label="weight value" if k == 2 else None)
    fig.suptitle(f"One {channels}-channel 3x3 Dirac convolution at initialisation: one 3x3 kernel per "
                 "(output, input) channel pair", fontsize=10)
    fig.tight_layout()
    return fig


def depth_figure(records, depths, title: str):
    """Test error and final training loss vs depth, one line per network (mean; band: range of
    seeds; dots: single runs); the loss on a log axis when one network's loss explodes."""
    df = depth_frame(records)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.3))
    for ax, metric in zip(axes, ("test error (%)", "training loss")):
        sns.lineplot(df, x="depth", y=metric, hue="network", marker="o", errorbar=("pi", 100), ax=ax)
        sns.stripplot(df, x="depth", y=metric, hue="network", native_scale=True, dodge=False, alpha=0.4,
                      legend=False, ax=ax)
        ax.set_xticks(list(depths))
        ax.set_xlabel("depth (layers)")
    axes[0].set_ylabel("test error (%)")
    log = log_if_wide(axes[1], df["training loss"], "final training loss (cross-entropy)")
    fig.suptitle(title, fontsize=10)
    legend_outside(fig, axes, ncol=3)
    fig.log_axis = log  # the chapter's sentence says so when it is
    return fig


def ab_frames(dirac_records) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(per-epoch mean b/a per group, from 0.1 at epoch 0; final mean a and b per layer), all seeds."""
    hist = history_frame(dirac_records)
    groups = sorted(c for c in hist.columns if c.startswith("b_over_a_mean_g"))
    long = hist.melt(id_vars=["epoch", "seed"], value_vars=groups, var_name="group", value_name="b / a")
    long["group"] = long["group"].str.replace("b_over_a_mean_g", "group ")
    start = pd.DataFrame([{"epoch": 0, "seed": s, "group": g, "b / a": INIT_B_OVER_A}
                          for s in hist["seed"].unique() for g in long["group"].unique()])
    layers = pd.DataFrame([{"layer": i + 1, "seed": r.config["seed"], "value": v, "parameter": p}
                           for r in dirac_records for p in ("a", "b")
                           for i, v in enumerate(r.extra["ab_per_layer"][p])])
    return pd.concat([start, long], ignore_index=True), layers


INIT_B_OVER_A = 0.1   # b / a at initialisation (a = 1, b = 0.1)
MOVED = 0.05          # b / a moved by less than 5% of its initial value: "not changed yet"


def ab_change(dirac_records) -> float:
    """The largest relative change of the mean b/a of any group, after the last epoch (0.03 = 3%)."""
    long, _ = ab_frames(dirac_records)
    last = long[long["epoch"] == long["epoch"].max()].groupby("group")["b / a"].mean()
    return float((last - INIT_B_OVER_A).abs().max() / INIT_B_OVER_A)


def ab_figure(dirac_records, name: str):
    """Left: mean b/a per group after each epoch, on an axis from 0 to at least twice its initial
    value (so that seed noise does not look like change). Right: final mean a and b per layer."""
    long, layers = ab_frames(dirac_records)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.3))
    sns.lineplot(long, x="epoch", y="b / a", hue="group", marker="o", errorbar=("pi", 100), ax=axes[0])
    axes[0].axhline(INIT_B_OVER_A, color="grey", lw=0.8, ls=":")
    axes[0].set(title="mean b / a per group", xlabel="epoch", ylabel="mean b / a (initial 0.1)",
                ylim=(0, max(2 * INIT_B_OVER_A, 1.1 * long["b / a"].max())))
    axes[0].set_xticks(sorted(long["epoch"].unique()))
    sns.lineplot(layers, x="layer", y="value", hue="parameter", marker=".", errorbar=("pi", 100), ax=axes[1])
    for init in (1.0, 0.1):
        axes[1].axhline(init, color="grey", lw=0.8, ls=":")
    axes[1].set(title=f"final a and b per layer ({name})", xlabel="layer (input to output)",
                ylabel="channel mean of a or b", ylim=(0, max(1.2, 1.1 * layers["value"].max())))
    legend_outside(fig, axes, ncol=5)
    return fig


def ab_summary(dirac_records, name: str) -> str:
    """Where b/a, a and b ended, computed from the records; and, when b/a has barely moved, that
    the figure shows no change yet (plain text: Markdown outputs do not typeset math)."""
    long, layers = ab_frames(dirac_records)
    last = long[long["epoch"] == long["epoch"].max()].groupby("group")["b / a"].mean()
    a, b = layers[layers.parameter == "a"].value, layers[layers.parameter == "b"].value
    epochs = int(long["epoch"].max())
    text = (f"After {epochs} epoch{'s' * (epochs != 1)} ({dirac_records[0].final['steps']} optimizer steps) the mean "
            f"*b*/*a* of {name} is " + ", ".join(f"{g} {v:.3f}" for g, v in last.items())
            + f" (mean over {len(dirac_records)} seed{'s' * (len(dirac_records) != 1)}; {INIT_B_OVER_A} at initialisation). Over all layers and "
            f"seeds, the channel mean of *a* ends between {a.min():.3f} and {a.max():.3f} (initialised to 1) and "
            f"that of *b* between {b.min():.3f} and {b.max():.3f} (initialised to 0.1).")
    change = ab_change(dirac_records)
    if change < MOVED:
        text += (f" **Nothing has moved yet:** *b*/*a* is within {100 * change:.1f}% of its initial value, so at "
                 "this training length the figure shows the parameterisation still at its starting point; it "
                 "shows how far each group leaves the identity only for runs trained to convergence.")
    return text


def fold_frame(records) -> pd.DataFrame:
    """One row per trained DiracNet: its fold check and the share of forward time folding saves,
    computed by ``study.time_saved`` (the function the verdict uses)."""
    folds = study.fold_results(records)
    df = pd.DataFrame(folds)
    if not df.empty:
        df["saved"] = study.time_saved(folds)
        df["speedup"] = df["unfolded_ms"] / df["folded_ms"]
    return df


def fold_table(records) -> pd.DataFrame:
    """Folded vs unfolded per DiracNet, from the records, and all of them together: the largest
    relative difference, median times, and the time saved (mean ± s.d., as the verdict states it)."""
    from ..studies.verdict import mean_spread

    df = fold_frame(records)
    if df.empty:
        return df
    rows = []
    for model, g in list(df.groupby("model", sort=False)) + [("all trained DiracNets", df)]:
        rows.append({"network": model, "runs": len(g), "batch": ", ".join(map(str, sorted(set(g["fold_batch"])))),
                     "max relative difference": f"{g['fold_max_rel_diff'].max():.1e}",
                     "unfolded (ms, median)": fmt(g["unfolded_ms"].median(), 1),
                     "folded (ms, median)": fmt(g["folded_ms"].median(), 1),
                     "time saved (%)": mean_spread(list(g["saved"]), 0),
                     "speed-up (median)": fmt(g["speedup"].median(), 2, "x")})
    return pd.DataFrame(rows)


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


# --- tables of the thesis and of the networks ------------------------------------------------

def thesis_table() -> pd.DataFrame:
    """The thesis's errors and parameter counts, each with its source tags."""
    return pd.DataFrame([{"network": name, "parameters": fmt(v.get("params")),
                          "CIFAR-10 error (%)": fmt(v.get("cifar-10")), "CIFAR-100 error (%)": fmt(v.get("cifar-100")),
                          "ImageNet top-1 error (%)": fmt(v.get("imagenet-top1")), "source": v["source"]}
                         for name, v in study.THESIS.items()])


@torch.no_grad()
def identity_table(seed: int = 0) -> pd.DataFrame:
    """A Dirac convolution with a = 1, b = 0 is the identity: v2 on x, v1 on NCReLU(x)."""
    from ..nets.dirac import DiracConv2d, ncrelu

    torch.manual_seed(seed)
    x = torch.randn(2, 8, 9, 9)
    rows = []
    for version, inp in (("v2", x), ("v1", ncrelu(x))):
        conv = DiracConv2d(inp.shape[1], 8, 3, version=version)
        conv.a.fill_(1.0)
        conv.b.zero_()
        rows.append({"version": version,
                     "a, b": f"{tuple(conv.a.shape)} per {'channel' if version == 'v2' else 'layer'}",
                     "input to the conv": "x" if version == "v2" else "NCReLU(x)",
                     "max |conv(input) - x| with a=1, b=0": f"{(conv(inp) - x).abs().max().item():.1e}"})
    return pd.DataFrame(rows)


def parameters_table() -> pd.DataFrame:
    """Our parameter counts (networks built on the meta device) next to the thesis's [C] counts."""
    from .. import nets

    rows = []
    for name, classes in (("diracnet-28-10", 10), ("diracnet-28-10", 100), ("diracnet-34-2", 10),
                          ("diracnet-18", 1000), ("diracnet-34", 1000)):
        with torch.device("meta"):
            n = sum(p.numel() for p in nets.create(name, num_classes=classes).parameters())
        thesis = study.THESIS[name]["params_cifar100" if classes == 100 else "params"]
        rows.append({"network": name, "classes": classes, "ours": fmt(n), "thesis": fmt(thesis),
                     "equal": "yes" if n == thesis else "NO"})
    return pd.DataFrame(rows)


@torch.no_grad()
def networks_table(profile: str) -> tuple[pd.DataFrame, str]:
    """Plain, Dirac and ResNet of the profile's deepest depth: group outputs, 3x3 convolutions,
    parameters; and the table's caption."""
    from .. import nets

    depth = study.DEPTHS[profile][-1]
    shape = (1, 14, 14) if profile != "full" else (3, 32, 32)
    rows = []
    for role in study.ARCHS:
        name = study.model_name(role, depth, study.WIDTH[profile])
        net = nets.create(name, in_channels=shape[0])
        outs = net.forward_groups(torch.zeros(1, *shape))
        rows.append({"network": name, "group outputs (C, H, W)": ", ".join(str(tuple(o.shape[1:])) for o in outs),
                     "3x3 convolutions": sum(1 for m in net.modules() if getattr(m, "weight", None) is not None
                                             and m.weight.dim() == 4 and m.weight.shape[-1] == 3),
                     "parameters": fmt(sum(p.numel() for p in net.parameters()))})
    return pd.DataFrame(rows), f"The three networks of depth {depth} on a {shape} input"


def speed_table(record, profile: str) -> pd.DataFrame:
    """Folded vs unfolded, measured now (not a record): ``record``'s trained DiracNet and an
    ImageNet-shaped DiracNet-18 (random weights), at batch 1 and a larger batch."""
    from .. import nets
    from ..experiment import load_model
    from ..tasks.diracnets import fold_speed

    trained = load_model(record)
    size = 64 if profile == "smoke" else 112
    cases = [(f"{record.config['model']} (trained)", trained, tuple(record.data["shape"]), (1, 256)),
             (f"diracnet-18 at {size}x{size}", nets.create("diracnet-18"), (3, size, size), (1, 16))]
    return pd.DataFrame([{"network": name, "batch": row["batch"], "unfolded (ms)": fmt(row["unfolded_ms"], 1),
                          "folded (ms)": fmt(row["folded_ms"], 1),
                          "time saved (%)": fmt(100 * (1 - row["folded_ms"] / row["unfolded_ms"]), 0),
                          "speed-up": fmt(row["speedup"], 2, "x"), "max relative difference": f"{row['max_rel_diff']:.1e}"}
                         for name, net, shape, batches in cases
                         for row in fold_speed(net, shape, batches, repeats=3 if profile == "smoke" else 9)])


def thesis_networks_rows(records) -> list[dict]:
    """Our runs of the thesis's own CIFAR networks (full profile) next to its numbers."""
    return [{"network": r.extra.get("label") or r.config["model"], "our error (%)": fmt(r.final["test_error"]),
             "thesis error (%)": fmt(study.THESIS.get(r.config["model"], {}).get(r.config["dataset"])),
             "source": study.THESIS.get(r.config["model"], {}).get("source", "—")}
            for r in records if "28-10" in r.config["model"]]
