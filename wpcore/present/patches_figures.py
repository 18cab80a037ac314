"""Figures of the patch-comparison chapter (thesis ch. 1): the networks, the data and the results.

The central figure (``architectures_figure``) draws the three ways of wiring a comparison network
by walking the registered networks themselves (``wpcore.nets.deepcompare``): every box is a
layer of the built module, in the paper's C(n,k,s) / P(k,s) / F(n) notation, with the shape a
64x64 pair gives it. The tables and sentences are in :mod:`.patches`.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch

from .. import nets
from ..data import pairs as PS
from ..data import photos as PH
from ..nets import deepcompare as dc
from . import diagrams as D
from .patches import _values, by_network

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

def pairs_figure(sample, n: int = 8, title: str = "Test pairs from the motorcycle stereo pair (64x64 patches)",
                 rows: tuple[str, str] = ("left image", "right image")):
    """``n`` pairs: top row patch 1, bottom row patch 2 (``rows`` names them)."""
    fig, axes = plt.subplots(2, n, figsize=(1.3 * n, 3.0))
    for k in range(n):
        for ch in range(2):
            axes[ch, k].imshow(sample.pairs[k, ch], cmap="gray", vmin=0, vmax=255)
            axes[ch, k].set_xticks([])
            axes[ch, k].set_yticks([])
            axes[ch, k].grid(False)
        axes[0, k].set_title("match" if sample.labels[k] > 0 else "non-match", fontsize=9)
    axes[0, 0].set_ylabel(rows[0], fontsize=9)
    axes[1, 0].set_ylabel(rows[1], fontsize=9)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def photo_pairs_figure(n: int = 8):
    """``n`` test pairs of the photographs (the standard profile's second half of the data):
    matches and non-matches alternate, so both kinds show."""
    ps = PH.photo_pairs("test", 200, seed=3)
    idx = np.r_[np.arange(n // 2), 100 + np.arange(n - n // 2)].reshape(2, -1).T.ravel()  # match, non-match, ...
    return pairs_figure(PS.PairSet(ps.pairs[idx], ps.labels[idx], ps.identity), n,
                        "Test pairs from the photographs' held-out regions (64x64 patches)",
                        ("photograph", "changed view"))


def roc_figure(records):
    """ROC of every run on the test pairs (one colour per network, one line per seed; SIFT dashed),
    FPR on a symlog axis, legend outside."""
    fig, ax = plt.subplots(figsize=(7.5, 4.6))
    for i, (name, rs) in enumerate(by_network(records).items()):
        vals = _values(rs, "fpr95")
        seeds = f", mean of {len(vals)} seeds" if len(vals) > 1 else ""
        for j, r in enumerate(rs):
            roc = r.extra["roc"]
            ax.plot(np.array(roc["fpr"]) * 100, np.array(roc["tpr"]) * 100, color=f"C{i}", lw=1.3 if j == 0 else 0.7,
                    label=f"{name} (FPR95 {np.mean(vals):.1f}%{seeds})" if j == 0 else None,
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

