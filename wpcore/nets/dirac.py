"""DiracNets: very deep networks without skip connections (thesis ch. 5; arXiv 1706.00388).

The Dirac parameterization (v2) of a convolution with weight W (C_out, C_in, k...):

    W' = diag(a)·I + diag(b)·W_norm,    W_norm[o] = W[o] / ‖W[o]‖₂  (per output filter)

where I is the Dirac delta (``nn.init.dirac_``: conv(x, I) = x; for C_out ≠ C_in only the
min(C_out, C_in) diagonal is set) and a, b are per-output-channel vectors, initialised to 1 and
0.1. At initialisation a block is close to the identity, so a deep chain of them trains like a
residual network although it has no skip connection. A block is

    x -> ReLU -> conv(W', stride 1, pad k//2) -> BN

and a network is a plain chain of them, with 2x2 max-pooling between groups. After training,
W' and BN fold into one ordinary convolution (``wpcore.nets.fold``): a VGG-like conv-ReLU chain.

v1 (paper v1, branch ``v1``): scalar a (init 5) and b (init 1e-3), W ~ N(0, 0.1²), the
activation is NCReLU(x) = [max(x, 0), min(x, 0)] (2x the channels), the delta tiled so that
NCReLU followed by the Dirac conv is still the identity; no ReLU before the pooling head; weight
decay on every parameter.

Networks (official ``diracnet.py``):
- CIFAR DiracNet-d-w, n = (d - 4) / 6: stem conv3x3 (16w) + BN + ReLU, three groups of 2n
  blocks at 16w, 32w, 64w channels, max-pool 2 between groups, ReLU, average pool, linear.
- ImageNet DiracNet-18/34: stem conv7x7/2 (64w) + BN, max-pool 3/2, four groups of 2x[2,2,2,2]
  or 2x[3,4,6,3] blocks at 64w..512w, max-pool 2 between groups, ReLU, average pool, linear.
- PlainNet-d-w: the CIFAR DiracNet with ordinary convolutions (the thesis's "plain" baseline).

Parameters are counted as the official ``train.py`` does (conv weights, a, b, BN weight and
bias, linear); the delta is a non-persistent buffer, so it is neither counted nor saved.

Deviations from the official code: global average pooling instead of a fixed 8x8 / 7x7 pool, so
28x28 Fashion-MNIST works (identical at 32x32 / 224x224); modules instead of the functional form.
BN weight is drawn from U(0, 1), bias 0 (``bnparams``: ``torch.rand``, diracnet.py:27-31 on master,
39-40 on branch v1), W is He-normal, as in the official code.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .contract import GroupNet
from .registry import register

VERSIONS = ("v1", "v2")
IMAGENET_BLOCKS = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3)}  # ResNet blocks per group; Dirac has 2x


def ncrelu(x: torch.Tensor) -> torch.Tensor:
    """Concatenated ReLU of v1: (N, C, ...) -> (N, 2C, ...) = [max(x, 0), min(x, 0)]."""
    return torch.cat([x.clamp(min=0), x.clamp(max=0)], dim=1)


def dirac_delta(out_channels: int, in_channels: int, kernel: tuple[int, ...], tiled: bool = False) -> torch.Tensor:
    """The Dirac delta I, (C_out, C_in, *kernel), with conv(x, I) = x on the shared channels.

    ``tiled`` (v1): the min(C_out, C_in) identity repeated along the larger axis, so that input
    channels c and c + C (the two halves of NCReLU) both map to output c and their sum is x.
    """
    if not tiled:
        return _eye(out_channels, in_channels, kernel)
    n = min(out_channels, in_channels)
    eye = _eye(n, n, kernel)
    return eye.repeat(max(out_channels // in_channels, 1), max(in_channels // out_channels, 1),
                      *(1,) * len(kernel))


def _eye(out_channels: int, in_channels: int, kernel: tuple[int, ...]) -> torch.Tensor:
    """``nn.init.dirac_`` without its Python loop over channels (which is slow for wide layers)."""
    d = torch.zeros(out_channels, in_channels, *kernel)
    i = torch.arange(min(out_channels, in_channels))
    d[(i, i) + tuple(k // 2 for k in kernel)] = 1.0
    return d


def normalize_filters(w: torch.Tensor) -> torch.Tensor:
    """W / ‖W‖₂ per output filter: (C_out, C_in, *k), each w[o] of unit norm over C_in·k..."""
    return F.normalize(w.flatten(1), dim=1).view_as(w)


class DiracConv(nn.Module):
    """A stride-1 convolution with weight W' = diag(a)·I + diag(b)·W_norm (1d or 2d).

    v2: per-channel a (init 1), b (init 0.1), W He-normal. v1: scalar a (5), b (1e-3), W ~
    N(0, 0.1²) and a tiled delta; feed it ``ncrelu(x)`` and give ``in_channels`` = 2C.
    Padding defaults to k // 2 so that the output has the input's size.
    """

    dims = 2

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3, padding: int | None = None,
                 bias: bool = False, version: str = "v2"):
        super().__init__()
        if version not in VERSIONS:
            raise ValueError(f"Dirac version must be one of {VERSIONS}, got {version!r}")
        kernel = (kernel_size,) * self.dims
        self.version, self.padding = version, kernel_size // 2 if padding is None else padding
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels, *kernel))
        channels = out_channels if version == "v2" else 1
        self.a = nn.Parameter(torch.full((channels,), 1.0 if version == "v2" else 5.0))
        self.b = nn.Parameter(torch.full((channels,), 0.1 if version == "v2" else 1e-3))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.register_buffer("delta", dirac_delta(out_channels, in_channels, kernel, tiled=version == "v1"),
                             persistent=False)
        if version == "v2":
            nn.init.kaiming_normal_(self.weight)
        else:
            nn.init.normal_(self.weight, std=0.1)

    def effective_weight(self) -> torch.Tensor:
        """W' (C_out, C_in, *k), the weight an ordinary convolution would need."""
        shape = (-1,) + (1,) * (self.weight.dim() - 1)
        return self.a.view(shape) * self.delta + self.b.view(shape) * normalize_filters(self.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        conv = F.conv1d if self.dims == 1 else F.conv2d
        return conv(x, self.effective_weight(), self.bias, 1, self.padding)

    def extra_repr(self) -> str:
        c_out, c_in, *k = self.weight.shape
        return f"{c_in}, {c_out}, kernel_size={tuple(k)}, padding={self.padding}, version={self.version}"


class DiracConv1d(DiracConv):
    dims = 1


class DiracConv2d(DiracConv):
    dims = 2


class Block(nn.Module):
    """ReLU (NCReLU in v1) -> conv3x3 (Dirac or plain, no bias) -> BN; no skip connection."""

    def __init__(self, c_in: int, c_out: int, conv: str = "dirac", version: str = "v2"):
        super().__init__()
        self.nc = conv == "dirac" and version == "v1"
        fan_in = 2 * c_in if self.nc else c_in
        self.conv = (DiracConv2d(fan_in, c_out, 3, version=version) if conv == "dirac"
                     else nn.Conv2d(c_in, c_out, 3, padding=1, bias=False))
        self.bn = nn.BatchNorm2d(c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.conv(ncrelu(x) if self.nc else F.relu(x)))


class DiracNet(GroupNet):
    """A chain of Dirac (or plain) blocks in groups separated by 2x2 max-pooling."""

    def __init__(self, widths: list[int], blocks: list[int], stem: str = "cifar", num_classes: int = 10,
                 in_channels: int = 3, conv: str = "dirac", version: str = "v2"):
        super().__init__()
        if conv not in ("dirac", "plain"):
            raise ValueError(f"conv must be 'dirac' or 'plain', got {conv!r}")
        if version not in VERSIONS:
            raise ValueError(f"Dirac version must be one of {VERSIONS}, got {version!r}")
        self.conv_type, self.version = conv, version
        w0 = widths[0]
        if stem == "cifar":  # conv3x3 + BN + ReLU
            self.stem = nn.Sequential(nn.Conv2d(in_channels, w0, 3, padding=1, bias=False),
                                      nn.BatchNorm2d(w0), nn.ReLU())
        else:                # conv7x7/2 + BN + max-pool 3/2 (the first block applies the ReLU)
            self.stem = nn.Sequential(nn.Conv2d(in_channels, w0, 7, stride=2, padding=3, bias=False),
                                      nn.BatchNorm2d(w0), nn.MaxPool2d(3, 2, 1))
        self.groups = nn.ModuleList()
        c = w0
        for g, (w, count) in enumerate(zip(widths, blocks)):
            layers = [nn.MaxPool2d(2)] if g > 0 else []
            for i in range(count):
                layers.append(Block(c, w, conv, version))
                c = w
            self.groups.append(nn.Sequential(*layers))
        self.head_relu = not (conv == "dirac" and version == "v1")  # v1 pools the BN output directly
        self.fc = nn.Linear(c, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.uniform_(m.weight)  # the official bnparams: torch.rand, U(0, 1)
            elif isinstance(m, nn.Linear):
                nn.init.kaiming_normal_(m.weight)
                nn.init.zeros_(m.bias)

    def forward_groups(self, x: torch.Tensor) -> list[torch.Tensor]:
        out, o = [], self.stem(x)  # (N, w0, H, W), or (N, w0, H/4, W/4) with the ImageNet stem
        for group in self.groups:
            o = group(o)
            out.append(o)  # each group halves H and W (max-pool) and widens
        return out

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        o = F.relu(features) if self.head_relu else features
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(o, 1), 1))  # (N, num_classes)

    def no_weight_decay(self) -> set[str]:
        """v2 and plain: every 1-D parameter (a, b, BN, biases), as the official param groups; v1: none."""
        if self.conv_type == "dirac" and self.version == "v1":
            return set()
        return {n for n, p in self.named_parameters() if p.dim() <= 1}

    def dirac_convs(self) -> dict[str, DiracConv]:
        """Every Dirac convolution by name, input to output (e.g. to log how a and b evolve)."""
        return {n: m for n, m in self.named_modules() if isinstance(m, DiracConv)}


@torch.no_grad()
def ab_stats(net: nn.Module) -> dict[str, float]:
    """Mean a, mean b and mean b/a of the Dirac convolutions, per group (1-based) and overall.

    BN follows every Dirac conv, so per output channel only the ratio b/a matters: it says how
    far a layer has moved from the identity (b/a = 0.1 at initialisation). {} for other nets.
    """
    if not isinstance(net, DiracNet) or net.conv_type != "dirac":
        return {}
    rows: dict[str, list[torch.Tensor]] = {}
    for g, group in enumerate(net.groups, 1):
        for m in group.modules():
            if isinstance(m, DiracConv):
                for key, v in (("a", m.a), ("b", m.b), ("b_over_a", m.b / m.a)):
                    rows.setdefault(f"{key}_mean_g{g}", []).append(v.float())
                    rows.setdefault(f"{key}_mean", []).append(v.float())
    return {k: torch.cat(v).mean().item() for k, v in rows.items()}


@torch.no_grad()
def ab_per_layer(net: DiracNet) -> dict[str, list[float]]:
    """{"a": [...], "b": [...]}: the channel mean of a and of b of each Dirac conv, input to output."""
    convs = list(net.dirac_convs().values())
    return {"a": [c.a.mean().item() for c in convs], "b": [c.b.mean().item() for c in convs]}


def cifar_blocks(depth: int) -> int:
    """Blocks per group of the CIFAR nets: 2n with n = (depth - 4) / 6."""
    if not isinstance(depth, int) or depth < 10 or (depth - 4) % 6:
        raise ValueError(f"DiracNet depth must be 6n+4 with n >= 1 (10, 16, 22, 28, 34, ...), got {depth}")
    return 2 * (depth - 4) // 6


def _cifar(depth: int, width: int, conv: str, **kw) -> DiracNet:
    if not isinstance(width, int) or width < 1:
        raise ValueError(f"DiracNet width must be an integer >= 1, got {width}")
    n = cifar_blocks(depth)
    net = DiracNet([16 * width, 32 * width, 64 * width], [n, n, n], "cifar", conv=conv, **kw)
    net.depth, net.width = depth, width
    return net


@register(r"diracnet-(\d+)-(\d+)", examples=["diracnet-10-1", "diracnet-16-1"],
          help="CIFAR DiracNet-depth-width (depth = 6n+4); kw: num_classes, in_channels, version (v1|v2)")
def diracnet(depth: int, width: int, **kw) -> DiracNet:
    """CIFAR DiracNet-d-w, e.g. ``create("diracnet-28-10", num_classes=100)``."""
    return _cifar(depth, width, "dirac", **kw)


@register(r"plainnet-(\d+)-(\d+)", examples=["plainnet-10-1", "plainnet-16-1"],
          help="Plain baseline: DiracNet-depth-width with ordinary convolutions; kw: num_classes, in_channels")
def plainnet(depth: int, width: int, **kw) -> DiracNet:
    """The DiracNet's layers with no parameterization (ReLU-conv-BN chain), e.g. ``plainnet-28-1``."""
    return _cifar(depth, width, "plain", **kw)


@register(r"diracnet-(18|34)", examples={"diracnet-18": {"width": 0.25}, "diracnet-34": {"width": 0.125}},
          help="ImageNet DiracNet-18/34; kw: width (multiplier), num_classes (1000), in_channels, version")
def diracnet_imagenet(depth: int, width: float = 1.0, num_classes: int = 1000, **kw) -> DiracNet:
    """ImageNet DiracNet-18 or -34 (a width multiplier as the official code; 1 = 64..512 channels)."""
    if not width > 0:
        raise ValueError(f"DiracNet width multiplier must be positive, got {width}")
    widths = [max(1, int(v * width)) for v in (64, 128, 256, 512)]
    net = DiracNet(widths, [2 * b for b in IMAGENET_BLOCKS[depth]], "imagenet", num_classes, **kw)
    net.depth, net.width, net.example_input_shape = depth, width, (3, 64, 64)
    return net
