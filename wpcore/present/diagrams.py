"""A small kit for architecture diagrams drawn from the networks themselves.

Every chapter's central figure is drawn by walking a built ``nn.Module`` (its layers, their
kernel sizes, strides and widths) and pushing a zero input through it for the shapes, so the
figure cannot disagree with the code that trains. This module holds the drawing primitives
(boxes, arrows, columns) and the translation of a layer into the papers' notation:
C(n,k,s) a convolution with n filters k x k at stride s, P(k,s) a max-pooling, F(n) a linear
layer (the DeepCompare paper's notation, used for every chapter).
"""
from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt
import torch
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch
from torch import nn

# fill colour per kind of box (colour-blind safe pastel tones)
COLOURS = {"input": "#e6e6e6", "conv": "#c6dbef", "pool": "#fdd0a2", "fc": "#c7e9c0", "join": "#f0f0f0",
           "norm": "#dadaeb", "loss": "#fcbba1", "output": "#ffeda0", "note": "#ffffff"}


@dataclass(frozen=True)
class Box:
    """A drawn box, by its centre and size (data units)."""
    x: float
    y: float
    w: float
    h: float

    @property
    def top(self) -> tuple[float, float]:
        return self.x, self.y + self.h / 2

    @property
    def bottom(self) -> tuple[float, float]:
        return self.x, self.y - self.h / 2

    @property
    def left(self) -> tuple[float, float]:
        return self.x - self.w / 2, self.y

    @property
    def right(self) -> tuple[float, float]:
        return self.x + self.w / 2, self.y


def canvas(ax, xlim: tuple[float, float], ylim: tuple[float, float]):
    """Prepare ``ax`` for drawing in data units, no axes, no grid."""
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_axis_off()
    return ax


def box(ax, x: float, y: float, text: str, kind: str = "conv", sub: str | None = None, w: float = 2.2,
        h: float = 0.55, fontsize: float = 9) -> Box:
    """A rounded box centred at (x, y) with ``text``, and ``sub`` (a shape) under it in grey."""
    ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.02,rounding_size=0.08",
                                facecolor=COLOURS[kind], edgecolor="#555555", lw=0.8))
    if sub:
        ax.text(x, y + h * 0.17, text, ha="center", va="center", fontsize=fontsize)
        ax.text(x, y - h * 0.25, sub, ha="center", va="center", fontsize=fontsize - 1.5, color="#444444")
    else:
        ax.text(x, y, text, ha="center", va="center", fontsize=fontsize)
    return Box(x, y, w, h)


def arrow(ax, start: tuple[float, float], end: tuple[float, float], text: str | None = None,
          colour: str = "#333333", style: str = "-|>", ls: str = "-", fontsize: float = 8, rad: float = 0.0) -> None:
    """An arrow from ``start`` to ``end``, with an optional label at its middle."""
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle=style, mutation_scale=10, color=colour, lw=1.0, ls=ls,
                                 connectionstyle=f"arc3,rad={rad}", shrinkA=1, shrinkB=1))
    if text:
        ax.text((start[0] + end[0]) / 2, (start[1] + end[1]) / 2, text, fontsize=fontsize, ha="center",
                va="center", color=colour, bbox={"facecolor": "white", "edgecolor": "none", "pad": 1.0})


def column(ax, x: float, y: float, items: list[tuple[str, str, str | None]], step: float = 0.75,
           w: float = 2.2, h: float = 0.5, previous: Box | None = None, fontsize: float = 9) -> list[Box]:
    """Boxes ``(text, kind, sub)`` top-down from ``y``, joined by arrows (from ``previous`` too)."""
    boxes = []
    for text, kind, sub in items:
        b = box(ax, x, y, text, kind, sub, w, h, fontsize)
        if previous is not None:
            arrow(ax, previous.bottom, b.top)
        boxes.append(b)
        previous, y = b, y - step
    return boxes


# --- layers in the papers' notation ---------------------------------------------------------

def notation(m: nn.Module) -> tuple[str, str] | None:
    """(text, kind) of a layer in paper notation; None for layers a diagram leaves implicit (ReLU)."""
    if isinstance(m, nn.Conv2d):
        return f"C({m.out_channels},{m.kernel_size[0]},{m.stride[0]})", "conv"
    if isinstance(m, nn.MaxPool2d):
        k, s = m.kernel_size, m.stride
        return f"P({k if isinstance(k, int) else k[0]},{s if isinstance(s, int) else s[0]})", "pool"
    if isinstance(m, nn.AvgPool2d):
        return f"avg-pool {m.kernel_size}", "pool"
    if isinstance(m, nn.Linear):
        return f"F({m.out_features})", "fc"
    return None


def shape_text(shape) -> str:
    """(N, C, H, W) -> "C×H×W"; (N, D) -> "D"."""
    return "×".join(str(s) for s in tuple(shape)[1:])


@torch.no_grad()
def layer_table(seq: nn.Sequential, x: torch.Tensor) -> tuple[list[tuple[str, str, str]], torch.Tensor]:
    """Run ``x`` through ``seq`` layer by layer: [(notation, kind, output shape)] for every layer a
    diagram shows (a ReLU is folded into the layer before it), and the output."""
    rows = []
    for m in seq:
        x = m(x)
        name = notation(m)
        if name is not None:
            rows.append((*name, shape_text(x.shape)))
    return rows, x


def save_or_show(fig, tight: bool = True):
    """Tighten a diagram's layout (diagrams have no axes to keep apart) and return it."""
    if tight:
        fig.tight_layout(pad=0.3)
    return fig


def new(width: float, height: float, ncols: int = 1, **kw):
    """A figure of ``ncols`` empty drawing areas."""
    fig, axes = plt.subplots(1, ncols, figsize=(width, height), squeeze=False, **kw)
    return fig, list(axes[0])


# --- a module's forward, traced ------------------------------------------------------------

@dataclass(frozen=True)
class Op:
    """One operation of a traced forward: its node name, a label, a kind (box colour), its output
    shape and the node names it reads."""
    name: str
    text: str
    kind: str
    shape: tuple
    inputs: tuple[str, ...]
    target: str = ""


def _op_label(node, module: nn.Module | None) -> tuple[str, str]:
    import operator

    import torch.nn.functional as F

    if module is not None:
        if isinstance(module, nn.Conv2d):
            k, s = module.kernel_size[0], module.stride[0]
            return f"conv {k}×{k}" + (f", stride {s}" if s > 1 else ""), "conv"
        if isinstance(module, nn.BatchNorm2d):
            return "BN", "norm"
        if isinstance(module, nn.ReLU):
            return "ReLU", "norm"
        if isinstance(module, nn.Dropout):
            return f"dropout {module.p:g}", "pool"
        name = notation(module)
        return name if name else (type(module).__name__, "conv")
    fn = node.target
    if fn in (F.relu, torch.relu):
        return "ReLU", "norm"
    if fn is F.dropout:
        p = node.args[1] if len(node.args) > 1 else node.kwargs.get("p", 0.5)
        return f"dropout {p:g}", "pool"
    if fn in (operator.add, torch.add):
        return "+", "join"
    return getattr(fn, "__name__", str(fn)), "conv"


def trace(module: nn.Module, shape: tuple[int, ...]) -> list[Op]:
    """The operations ``module.forward`` performs on one input of ``shape`` (no batch dimension),
    in order, traced with torch.fx (the code's own control flow decides what is there), each with
    its output shape."""
    from torch.fx import symbolic_trace
    from torch.fx.passes.shape_prop import ShapeProp

    gm = symbolic_trace(module.eval())
    ShapeProp(gm).propagate(torch.zeros(1, *shape))
    mods = dict(gm.named_modules())
    ops = []
    for node in gm.graph.nodes:
        if node.op in ("placeholder", "output", "get_attr"):
            continue
        text, kind = _op_label(node, mods.get(node.target) if node.op == "call_module" else None)
        meta = node.meta.get("tensor_meta")
        ops.append(Op(node.name, text, kind, tuple(meta.shape[1:]) if meta is not None else (),
                      tuple(a.name for a in node.all_input_nodes), str(node.target)))
    return ops
