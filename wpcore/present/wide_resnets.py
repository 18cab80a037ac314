"""Figures and tables of the Wide ResNets chapter (thesis ch. 3), drawn from the networks and the
records.

The central figure draws a WRN block from the ``Block`` module itself (the order of its BN-ReLU,
convolutions and dropout, its strides, widths and shortcut) beside the width/depth grid, whose
parameter counts come from building every network of the grid.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
import torch
from matplotlib.colors import LogNorm
from matplotlib.patches import Rectangle

from .. import nets
from ..nets.wrn import Block
from ..studies import wide_resnets as study
from ..studies import wide_resnets_thesis as thesis
from . import diagrams as D

GRID_DEPTHS = (10, 16, 22, 28, 40)
GRID_WIDTHS = (1, 2, 4, 8, 10)


def block_items(block: Block, shape: tuple[int, int, int]):
    """The operations of ``Block.forward`` on an input of ``shape`` (C, H, W), traced (torch.fx), as
    diagram boxes: the main path in order (a BN followed by its ReLU drawn as one box), the
    shortcut's text, and the index of the box the shortcut starts from (0: the block input)."""
    ops = D.trace(block, shape)
    add = ops[-1]                                   # the residual sum ends the block
    short = next((o for o in ops if o.target == "shortcut"), None)
    main = [o for o in ops if o is not add and o is not short]
    items, index = [(f"x  ({'×'.join(map(str, shape))})", "input", None)], {"x": 0}
    i = 0
    while i < len(main):
        o = main[i]
        if o.text == "BN" and i + 1 < len(main) and main[i + 1].text == "ReLU":
            items.append(("BN-ReLU", "norm", None))
            index[o.name] = index[main[i + 1].name] = len(items) - 1
            i += 2
            continue
        items.append((o.text, o.kind, "×".join(map(str, o.shape)) if o.kind == "conv" else None))
        index[o.name] = len(items) - 1
        i += 1
    if short is None:
        return items, "identity", 0
    return items, f"{short.text}\n→ {short.shape[0]} channels", index[short.inputs[0]]


def _draw_block(ax, block: Block, shape, title: str) -> None:
    D.canvas(ax, (0, 12.5), (0.2, 10.8))
    ax.set_title(title, fontsize=9)
    items, short, origin = block_items(block, shape)
    boxes = D.column(ax, 3.6, 10.0, items, step=1.05, w=5.6, h=0.78, fontsize=8)
    add = D.box(ax, 3.6, boxes[-1].y - 1.2, "+", "join", w=0.9, h=0.7, fontsize=12)
    D.arrow(ax, boxes[-1].bottom, add.top)
    D.box(ax, 3.6, add.y - 1.05, "block output", "output", w=5.6, h=0.7, fontsize=8)
    D.arrow(ax, add.bottom, (3.6, add.y - 0.7))
    start, x = boxes[origin], 7.3
    ax.plot([start.right[0], x, x], [start.y, start.y, add.y], color="#2b6cb0", lw=1.2)
    D.arrow(ax, (x, add.y), add.right, colour="#2b6cb0")
    ax.text(x + 0.2, (start.y + add.y) / 2, f"shortcut:\n{short}", ha="left", va="center", fontsize=7.5,
            color="#2b6cb0")


@torch.no_grad()
def block_inputs(net, shape: tuple[int, int, int]) -> dict[int, tuple[int, int, int]]:
    """The input shape (C, H, W) of every block of ``net`` for one image of ``shape``, by id."""
    seen: dict[int, tuple[int, int, int]] = {}

    def note(module, args) -> None:  # a pre-hook that returns None leaves the input as it is
        seen[id(module)] = tuple(args[0].shape[1:])

    hooks = [b.register_forward_pre_hook(note) for g in net.groups for b in g]
    net.eval()(torch.zeros(1, *shape))
    for h in hooks:
        h.remove()
    return seen


def parameter_grid(depths=GRID_DEPTHS, widths=GRID_WIDTHS, in_channels: int = 3, num_classes: int = 10) -> pd.DataFrame:
    """Parameters of WRN-d-k for every depth and width (rows: depth, columns: width), counted on
    networks built on the meta device (no memory), CIFAR geometry by default."""
    out = {}
    for d in depths:
        for k in widths:
            with torch.device("meta"):
                out[d, k] = sum(p.numel() for p in nets.create(f"wrn-{d}-{k}", num_classes=num_classes,
                                                              in_channels=in_channels).parameters())
    return pd.Series(out).unstack()


def _draw_grid(ax, fig, grid: pd.DataFrame, marks: dict[str, list[tuple[int, int]]]) -> None:
    m = grid.values / 1e6
    norm = LogNorm(vmin=m.min(), vmax=m.max())
    im = ax.imshow(m, cmap="Blues", norm=norm, aspect="auto")
    ax.set_xticks(range(len(grid.columns)), [str(k) for k in grid.columns])
    ax.set_yticks(range(len(grid.index)), [str(d) for d in grid.index])
    ax.set(xlabel="widening factor k (channels 16k, 32k, 64k)", ylabel="depth d (layers, 6N + 4)")
    ax.grid(False)
    for i in range(m.shape[0]):
        for j in range(m.shape[1]):
            ax.text(j, i, f"{m[i, j]:.2g}M" if m[i, j] >= 0.1 else f"{m[i, j] * 1000:.0f}k", ha="center",
                    va="center", fontsize=8, color="white" if norm(m[i, j]) > 0.6 else "black")
    styles = [("#d55e00", "-"), ("#009e73", "--")]
    for (name, cells), (colour, ls) in zip(marks.items(), styles):
        for n, (d, k) in enumerate(cells):
            if d in grid.index and k in grid.columns:
                i, j = list(grid.index).index(d), list(grid.columns).index(k)
                ax.add_patch(Rectangle((j - 0.46, i - 0.46), 0.92, 0.92, fill=False, ec=colour, lw=2, ls=ls,
                                       label=name if n == 0 else None))
    fig.colorbar(im, ax=ax, fraction=0.05, label="parameters (millions, log scale)")
    ax.set_title("the width/depth grid: parameters of WRN-d-k", fontsize=9)


def idea_figure(trained: list[tuple[int, int]] = ()):
    """A WRN block (from ``Block``, with dropout 0.3 to show where it goes) and the grid of
    parameter counts of WRN-d-k with the thesis's main networks and ``trained`` (depth, width)
    outlined."""
    net = nets.create("wrn-16-4", dropout=0.3)
    shapes = block_inputs(net, (3, 32, 32))
    fig = plt.figure(figsize=(10.5, 5.0))
    gs = fig.add_gridspec(1, 3, width_ratios=[1.0, 1.0, 1.4])
    a0, a1, a2 = (fig.add_subplot(gs[0, i]) for i in range(3))
    inner, first = net.groups[1][1], net.groups[1][0]
    _draw_block(a0, inner, shapes[id(inner)], "WRN-16-4, a block inside group 2\n(identity shortcut)")
    _draw_block(a1, first, shapes[id(first)], "WRN-16-4, first block of group 2\n(width and stride change)")
    thesis = [(40, 4), (16, 8), (28, 10), (40, 10)]
    _draw_grid(a2, fig, parameter_grid(), {"the thesis's CIFAR networks": thesis,
                                           "trained on this page": list(trained)})
    a2.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), fontsize=8, ncol=2)
    fig.tight_layout(w_pad=0.5)
    return fig


# --- results ---------------------------------------------------------------------------------

TITLES = {"depth_width": "(a) depth vs width", "blocks": "(b) block type", "dropout": "(c) dropout in the block",
          "deepening": "(d) deepening factor l, WRN-40-1", "widening": "(e) widening at fixed depth"}


def _error_panel(ax, df: pd.DataFrame, title: str) -> None:
    sns.pointplot(df, x="network", y="test error (%)", errorbar="sd", linestyle="none", capsize=0.2,
                  color="black", ax=ax)
    sns.stripplot(df, x="network", y="test error (%)", color="0.55", size=4, ax=ax)
    ax.set_title(title, fontsize=10)
    ax.set(xlabel=None)
    ax.tick_params(axis="x", labelsize=8, rotation=35)
    for t in ax.get_xticklabels():
        t.set_ha("right")


def _mark_depths(ax, networks: list[str]) -> None:
    """Separate the widening panel's depths (networks named wrn-d-k, in drawing order) by a dotted line
    and name each group's depth above it."""
    depths = [int(n.split("-")[1]) for n in networks]
    starts = [i for i, d in enumerate(depths) if i == 0 or d != depths[i - 1]]
    for a, b in zip(starts, [*starts[1:], len(depths)]):
        if a:
            ax.axvline(a - 0.5, color="0.6", linestyle=":", linewidth=1)
        ax.text((a + b - 1) / 2, 0.98, f"depth {depths[a]}", transform=ax.get_xaxis_transform(), ha="center",
                va="top", fontsize=8, color="0.3")


def errors_figure(records, profile: str):
    """Final test error of every network of the experiments: mean ± s.d. over seeds (black), each seed
    a grey dot. One panel per experiment with runs, the main dataset of the profile: (a)-(c) in a first
    row, the deepening factor and widening (where the profile runs them) in a second."""
    by_key = {r.key: r for r in records}
    main_ds = study.COMMON[profile]["dataset"]
    frames = {part: pd.DataFrame([{"network": e.label.replace(" (", "\n("),
                                   "test error (%)": by_key[e.key()].final["test_error"]}
                                  for e in part_exps if e.dataset == main_ds and e.key() in by_key],
                                 columns=["network", "test error (%)"])
              for part, part_exps in study.parts(profile).items()}
    rows = [["depth_width", "blocks", "dropout"], [p for p in ("deepening", "widening") if len(frames[p])]]
    rows = [r for r in rows if r]
    fig = plt.figure(figsize=(9, 4.6 * len(rows)), layout="constrained")
    subfigs = fig.subfigures(len(rows), 1) if len(rows) > 1 else [fig]
    for sub, row in zip(subfigs, rows):
        axes = sub.subplots(1, len(row), gridspec_kw={"width_ratios": [max(3, frames[p]["network"].nunique())
                                                                         for p in row]}, squeeze=False)[0]
        for ax, part in zip(axes, row):
            _error_panel(ax, frames[part], TITLES[part])
            if part == "widening":
                _mark_depths(ax, list(dict.fromkeys(frames[part]["network"])))
    fig.suptitle(f"Final test error, {main_ds} ({profile} profile): mean ± s.d. over seeds (black), "
                 "single runs (grey)", fontsize=10)
    return fig


def ours_table(records, profile: str) -> pd.DataFrame:
    """Our test error per network (mean ± s.d. over seeds) and the wall time per run, from the records."""
    from .tables import fmt

    summary = pd.DataFrame(study.summary_rows(records, profile))
    return summary.assign(parameters=summary["parameters"].map(fmt),
                          **{"s / run": summary["s / run"].map(lambda v: fmt(v, 0))}).drop(columns=["mean error"])


def thesis_tables() -> list[tuple[pd.DataFrame, str]]:
    """The thesis's numbers: main networks, block types, dropout (each with its source tags)."""
    from .tables import fmt

    return [
        (pd.DataFrame([{"network": name, "parameters": fmt(v["params"] / 1e6, 1, "M"),
                        "CIFAR-10 error (%)": fmt(v["cifar-10"]), "CIFAR-100 error (%)": fmt(v["cifar-100"]),
                        "source": v["source"]} for name, v in thesis.THESIS.items()]),
         "Thesis numbers (CIFAR test error, %)"),
        (pd.DataFrame([{"block type": b, "network": f"WRN-{d}-2", "CIFAR-10 error (%)": fmt(e), "source": "Table 2 [U]"}
                       for b, (d, e) in thesis.TABLE2_BLOCKS.items()]),
         "Block types at similar size (CIFAR-10 test error, %); the depths of the last four are recalled"),
        (pd.DataFrame([{"network": m, "dataset": ds, "without dropout (%)": fmt(a), "with dropout (%)": fmt(b),
                        "source": f"Table 6 [{tag}]"} for (m, ds), (a, b, tag) in thesis.TABLE6_DROPOUT.items()]),
         "Dropout in the block (test error, %; dropout 0.3 on CIFAR, 0.4 on SVHN)"),
        (pd.DataFrame([{"l (3x3 convolutions per block)": n, "CIFAR-10 error (%)": fmt(e), "source": "Table 3 [U]"}
                       for n, e in thesis.TABLE3_DEEPENING.items()]),
         "Deepening factor l at equal size (WRN-40-2, CIFAR-10 test error, %)"),
        (pd.DataFrame([{"network": f"WRN-{d}-{k}", "depth": d, "width k": k, "CIFAR-10 error (%)": fmt(e),
                        "source": f"Table 4 [{tag}]"} for (d, k), (e, tag) in sorted(thesis.TABLE4_ZCA.items())]),
         "Width and depth (CIFAR-10 test error, %, ZCA whitening)"),
    ]


def planned_cells(exps) -> list[tuple[int, int]]:
    """(depth, width) of every network the page's experiments train."""
    return sorted({(int(e.model.split("-")[1]), int(e.model.split("-")[2])) for e in exps})


# --- tables of the networks ------------------------------------------------------------------

@torch.no_grad()
def groups_table(name: str = "wrn-16-4", shape: tuple[int, int, int] = (3, 32, 32)) -> pd.DataFrame:
    """Output shape and parameters of each group of ``name`` on one image of ``shape``."""
    from .tables import fmt

    net = nets.create(name, num_classes=10, in_channels=shape[0])
    groups = net.forward_groups(torch.zeros(1, *shape))
    return pd.DataFrame([{"group": i + 1, "output shape (C, H, W)": tuple(g.shape[1:]),
                          "parameters": fmt(sum(p.numel() for p in net.groups[i].parameters()))}
                         for i, g in enumerate(groups)])


def cost_variants() -> list[tuple[str, dict, int]]:
    """(name, builder arguments, input side) of every variant of the paper the chapter costs."""
    variants = [("wrn-28-10", {}, 32), ("wrn-40-4", {}, 32), ("wrn-16-8", {}, 32)]
    variants += [(f"wrn-{d}-2", {} if b == "B(3,3)" else {"block": b}, 32) for b, (d, _) in thesis.TABLE2_BLOCKS.items()]
    variants += [("wrn-40-2", {"l": n}, 32) for n in (1, 3, 4)]
    return variants + [("resnet-50", {}, 224), ("wrn-50-2", {}, 224)]


def cost_table(variants=None) -> pd.DataFrame:
    """Parameters (networks built on the meta device) and FLOPs (PyTorch's counter, one forward
    pass; a training step is about 3x) of each variant, CIFAR-10 or ImageNet head."""
    from .. import flops
    from .tables import fmt

    rows = []
    for name, kw, size in variants or cost_variants():
        with torch.device("meta"):
            m = nets.create(name, **({"num_classes": 1000} if size == 224 else {}), **kw)
            params = sum(p.numel() for p in m.parameters())
        fwd = flops.count_flops(m, (3, size, size))
        rows.append({"network": name + "".join(f" {k}={v}" for k, v in kw.items()), "input": f"{size}x{size}",
                     "parameters": fmt(params), "forward GFLOP": fmt(fwd / 1e9, 2),
                     "training GFLOP / image": fmt(3 * fwd / 1e9, 2)})
    return pd.DataFrame(rows)
