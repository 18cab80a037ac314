"""Figures and tables of the patch-comparison chapter (thesis ch. 1), drawn from the networks and
the records.

The central figure (``architectures_figure``) draws the three ways of wiring a comparison network
by walking the registered networks themselves (``wpcore.nets.deepcompare``): every box is a
layer of the built module, in the paper's C(n,k,s) / P(k,s) / F(n) notation, with the shape a
64x64 pair gives it.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from .. import nets
from ..nets import deepcompare as dc
from ..studies import patches as study
from . import diagrams as D
from .tables import fmt

SCORE = "score: same 3D point?"


STEP, H = 0.9, 0.62      # vertical pitch and height of a layer box (data units)
TOP, BOTTOM = 12.1, 1.5   # the drawing's vertical extent


def _two_channel(ax, net: dc.TwoChannel) -> None:
    D.canvas(ax, (0, 10), (BOTTOM, TOP + 0.5))
    ax.set_title("2-channel (2ch):\ncompare from the first layer", fontsize=9)
    rows, o = D.layer_table(net.features, torch.zeros(1, 2, dc.PATCH, dc.PATCH))
    head, _ = D.layer_table(net.head, o.flatten(1))
    items = [("patch pair as 2 channels", "input", "2×64×64")] + rows + head + [(SCORE, "output", None)]
    D.column(ax, 5, TOP, items, step=STEP, w=7.5, h=H, fontsize=8)


def _siamese(ax, net: dc.Siamese) -> None:
    D.canvas(ax, (0, 10), (BOTTOM, TOP + 0.5))
    shared = len(net.branches) == 1
    ax.set_title(f"{'siamese' if shared else 'pseudo-siamese'} (siam):\ndescribe each patch, then compare",
                 fontsize=9)
    tower, _ = D.layer_table(net.branches[0], torch.zeros(1, 1, dc.PATCH, dc.PATCH))
    cols = [D.column(ax, x, TOP, [(f"patch {k + 1}", "input", "1×64×64")] + tower, step=STEP, w=3.9, h=H, fontsize=8)
            for k, x in enumerate((2.4, 7.6))]
    D.arrow(ax, cols[0][2].right, cols[1][2].left, "shared" if shared else "own", style="<|-|>", ls="--",
            colour="#2b6cb0", fontsize=7)
    join = D.box(ax, 5, cols[0][-1].y - STEP - 0.1, "concatenate", "join", str(2 * net.dim), w=7.5, h=H, fontsize=8)
    for c in cols:
        D.arrow(ax, c[-1].bottom, join.top)
    head = [("−‖d₁/|d₁| − d₂/|d₂|‖", "fc", None)] if net.head is None else \
        D.layer_table(net.head, torch.zeros(1, 2 * net.dim))[0]
    D.column(ax, 5, join.y - STEP, head + [(SCORE, "output", None)], step=STEP, w=7.5, h=H, previous=join,
             fontsize=8)


def _two_stream(ax, net: dc.TwoChannel2Stream) -> None:
    D.canvas(ax, (0, 10), (BOTTOM, TOP + 0.5))
    ax.set_title("central-surround (2ch-2stream):\ntwo resolutions of the pair", fontsize=9)
    pair = D.box(ax, 5, TOP, "patch pair as 2 channels", "input", "2×64×64", w=7.5, h=H, fontsize=8)
    c, s = dc.central_surround(torch.zeros(1, 2, dc.PATCH, dc.PATCH))
    streams = []
    for x, text, stream, inp in ((2.4, "centre crop", net.centre, c), (7.6, "2x avg-pool", net.surround, s)):
        rows, o = D.layer_table(stream, inp)
        col = D.column(ax, x, TOP - STEP, [(text, "pool", D.shape_text(inp.shape))] + rows, step=STEP * 0.78,
                       w=3.9, h=H * 0.85, fontsize=7.5)
        D.arrow(ax, pair.bottom, col[0].top)
        streams.append((col[-1], o.flatten(1).shape[1]))
    width = sum(d for _, d in streams)
    join = D.box(ax, 5, streams[0][0].y - STEP, "concatenate", "join", str(width), w=7.5, h=H, fontsize=8)
    for b, _ in streams:
        D.arrow(ax, b.bottom, join.top)
    head, _ = D.layer_table(net.head, torch.zeros(1, width))
    D.column(ax, 5, join.y - STEP, head + [(SCORE, "output", None)], step=STEP, w=7.5, h=H, previous=join,
             fontsize=8)


def architectures_figure(width: float = 1.0):
    """The three ways of wiring a patch comparison network, drawn from the registered networks at
    ``width`` (1.0: the paper's channel counts). Boxes are layers in the paper's notation, C(n,k,s)
    convolution + ReLU, P(k,s) max-pooling, F(n) linear, each with its output shape for a 64x64 pair."""
    fig, axes = D.new(7.8, 6.4, 3)
    _two_channel(axes[0], nets.create("2ch", width=width))
    _siamese(axes[1], nets.create("siam", width=width))
    _two_stream(axes[2], nets.create("2ch-2stream", width=width))
    return D.save_or_show(fig)


# --- the data ------------------------------------------------------------------------------

def pairs_figure(sample, n: int = 8):
    """``n`` test pairs: top row the left-image patch, bottom row the right-image patch."""
    fig, axes = plt.subplots(2, n, figsize=(1.3 * n, 3.0))
    for k in range(n):
        for ch in range(2):
            axes[ch, k].imshow(sample.pairs[k, ch], cmap="gray", vmin=0, vmax=255)
            axes[ch, k].set_xticks([])
            axes[ch, k].set_yticks([])
            axes[ch, k].grid(False)
        axes[0, k].set_title("match" if sample.labels[k] > 0 else "non-match", fontsize=9)
    axes[0, 0].set_ylabel("left image", fontsize=9)
    axes[1, 0].set_ylabel("right image", fontsize=9)
    fig.suptitle("Test pairs from the motorcycle stereo pair (64x64 patches)")
    fig.tight_layout()
    return fig


# --- results ---------------------------------------------------------------------------------

def run_name(record) -> str:
    return record.extra.get("label") or study.name_of(record)


def roc_figure(records):
    """ROC of every run on the test pairs (SIFT dashed), FPR on a symlog axis, legend outside."""
    fig, ax = plt.subplots(figsize=(7.5, 4.6))
    for r in records:
        roc = r.extra["roc"]
        ax.plot(np.array(roc["fpr"]) * 100, np.array(roc["tpr"]) * 100,
                label=f"{run_name(r)} (FPR95 {r.final['fpr95']:.1f}%)",
                ls="--" if r.config["task"] == "patch-sift" else "-")
    ax.axhline(95, color="grey", lw=0.8)
    ax.annotate("95% recall", (100, 95), xytext=(-4, 3), textcoords="offset points", ha="right", fontsize=8,
                color="grey")
    ax.set(xscale="symlog", xlim=(0, 100), ylim=(50, 100.5),
           xlabel="false-positive rate (%, symmetric log scale)", ylabel="true-positive rate (%)",
           title="ROC on the test pairs")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    fig.tight_layout()
    return fig


def stereo_figure(stereo: dict, left: np.ndarray, name: str):
    """The stereo map of the 2ch network beside the ground truth, its error and the image."""
    ours = np.array(stereo["disparity"], dtype=float)
    gt = np.array([[np.nan if v is None else v for v in row] for row in stereo["ground_truth"]])
    half = stereo["stride"] // 2
    c0, c1 = stereo["cols"][0] - half, stereo["cols"][-1] + half
    r0, r1 = stereo["rows"][0] - half, stereo["rows"][-1] + half
    ext = (c0, c1, r1, r0)  # every panel in left-image pixel coordinates
    fig, axes = plt.subplots(2, 2, figsize=(11, 5.4))
    panels = [(left[r0:r1, c0:c1], "left image, test rows", {"cmap": "gray"}, None),
              (np.abs(ours - gt), "|ours − ground truth|", {"cmap": "magma", "vmin": 0, "vmax": 20},
               "disparity error (px)"),
              (ours, f"ours ({name}, winner-take-all)", {"cmap": "viridis", "vmin": 0, "vmax": stereo["max_disp"]},
               "disparity (px)"),
              (gt, "ground truth (white: unknown)", {"cmap": "viridis", "vmin": 0, "vmax": stereo["max_disp"]},
               "disparity (px)")]
    for ax, (im, title, kw, unit) in zip(axes.ravel(), panels):
        h = ax.imshow(im, extent=ext, interpolation="nearest", **kw)
        ax.set_title(title, fontsize=10)
        ax.set(xlabel="column (px)", ylabel="row (px)")
        ax.grid(False)
        if unit:
            fig.colorbar(h, ax=ax, fraction=0.025, label=unit)
    fig.tight_layout()
    return fig


def results_table(records) -> pd.DataFrame:
    """Ours next to the thesis's Brown mean, one row per run, from the records (the data and the
    thesis's sources go in the caption: ``results_caption``)."""
    rows = []
    for r in records:
        name = study.name_of(r)
        ref = study.THESIS.get(name) or study.THESIS_PYTORCH.get(name)
        tag = "" if not ref else (" [paper]" if name in study.THESIS else " [re-scored]")
        rows.append({"run": run_name(r), "parameters": fmt(r.final.get("params")),
                     "our FPR95 (%)": fmt(r.final["fpr95"]),
                     "interpolated (%)": fmt(r.final["fpr95_interp"]),
                     "on warped photos (%)": fmt(r.final.get("fpr95_transfer")),
                     "thesis, Brown mean (%)": (fmt(float(np.mean(ref))) + tag) if ref else "—"})
    return pd.DataFrame(rows)


def results_caption(records, profile: str) -> str:
    r = next(r for r in records if r.config["task"] == "patches")
    return (f"Ours ({profile} profile; {r.config['dataset']} pairs, {r.data.get('n_train', 0)} train / "
            f"{r.data.get('n_test', '?')} test) next to the thesis's Brown means: [paper] {study.THESIS_SOURCE}; "
            f"[re-scored] {study.THESIS_PYTORCH_SOURCE}")


def rankings(records) -> tuple[list[str], list[str]]:
    """The runs ordered best first by FPR95 on the stereo test pairs and on the warped photos
    (runs without a warped-photo score are left out of both)."""
    scored = [r for r in records if r.final.get("fpr95_transfer") is not None]
    return tuple([run_name(r) for r in sorted(scored, key=lambda r: r.final[key])] for key in ("fpr95", "fpr95_transfer"))


def ranking_sentence(records) -> str:
    """Whether the warped photos order the networks as the stereo pairs do, in words."""
    stereo, warped = rankings(records)
    if len(stereo) < 2:
        return "Only one run has a score on the warped photos, so there is no order to compare."
    if stereo == warped:
        return (f"Both test sets order the runs the same way, best first: {', '.join(stereo)}.")
    return ("**The two test sets order the runs differently.** Best first, on the stereo pairs: "
            f"{', '.join(stereo)}; on the warped photos: {', '.join(warped)}. A network that is best on one "
            "kind of pair need not be best on the other: rotation, scale and lighting changes (warped photos) "
            "ask for a different invariance than a horizontal shift (stereo).")


def curves_ylabels() -> dict:
    return {"train_loss": "training loss (hinge)", "fpr95": "test FPR95 (%)"}



# --- tables of the thesis and of the networks ------------------------------------------------

def thesis_tables() -> list[tuple[pd.DataFrame, str]]:
    """The thesis's Brown FPR95 per split and their mean: the paper's table and the re-scored models."""
    out = []
    for table, caption in ((study.THESIS, f"Thesis: {study.THESIS_SOURCE}"),
                           (study.THESIS_PYTORCH, f"Thesis models, {study.THESIS_PYTORCH_SOURCE}")):
        out.append((pd.DataFrame([{"network": m, **{s: fmt(v) for s, v in zip(study.SPLITS, vals)},
                                   "mean": fmt(float(np.mean(vals)))} for m, vals in table.items()]), caption))
    return out


def networks_table() -> pd.DataFrame:
    """Every registered DeepCompare network at the paper's width: parameters, descriptor, patch sizes."""
    rows = []
    for name in sorted(dc.BUILDERS):
        with torch.device("meta"):
            m = nets.create(name)
        rows.append({"network": name, "parameters": fmt(sum(p.numel() for p in m.parameters())),
                     "descriptor size": getattr(m, "dim", "— (no descriptor)"),
                     "patch sizes": "any >= 64" if "spp" in name else "64x64"})
    return pd.DataFrame(rows)
