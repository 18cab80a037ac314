"""Wide Residual Networks (thesis ch. 3; Zagoruyko & Komodakis, BMVC 2016), every block type.

WRN-d-k: depth d = 6N + 4, widening factor k. A 3x3 stem to 16 channels, three groups of N
pre-activation blocks at 16k, 32k, 64k channels (stride 2 entering groups 2 and 3), then
BN-ReLU, global average pooling and a linear classifier.

Block B(3,3):  x -> BN-ReLU -> conv3x3(stride s) -> BN-ReLU -> [dropout] -> conv3x3 -> + shortcut
The shortcut is the identity, or, when the width changes, a 1x1 strided convolution fed by the
*pre-activated* input (the first BN-ReLU is shared), as in the official code
(models/wide-resnet.lua:51-67, pytorch/resnet.py:35-43). Convolutions have no bias; He (fan-in)
normal init (models/utils.lua:3-9); linear bias 0.

Block types (paper §2, Tables 2-3), named by the kernel sizes of their convolutions, every
convolution BN-ReLU-preactivated and ``16k/32k/64k`` channels wide (no width reduction):
B(3,3) basic, B(3,1,3) an extra 1x1, B(1,3,1) bottleneck at constant width, B(1,3), B(3,1),
B(3,1,1) network-in-network style. Every block follows the official generic block, a loop over
its convolutions (models/wide-resnet.lua:51-63; with a per-type kernel list in the first commit,
8606dab:37-81): the *first* convolution carries the stride, whatever its kernel (8606dab:50-52
sets it on the leading 1x1 of the bottleneck; HEAD:43 on the first 3x3), and every later
convolution is BN-ReLU-[dropout]-conv (HEAD:57-61), so a block of c convolutions has c - 1
dropouts; the shortcut is never dropped. For the block types the name's d = 6N + 4 fixes N,
whatever the number of convolutions (the paper's Table 2 names B(3,1,3) networks "WRN-22-2";
its parameter counts, 1.1M to 1.5M, come out so).

The deepening factor ``l`` (paper §3, Table 3): blocks of l 3x3 convolutions, ``B(3)`` ...
``B(3,3,3,3)``, at a *fixed* number of convolutions: d = 3lN + 4, N = (d - 4) / (3l) blocks per
group, so WRN-40-2 has 36 convolutions 3x3 in its groups and 2,243,546 parameters for every l
(N = 12, 6, 4, 3 for l = 1..4); l = 2 is B(3,3).

BN: gamma ~ U(0, 1), beta 0, as all the official code: the Lua models keep Torch7's
``nn.BatchNormalization:reset()`` (``weight:uniform()``, ``bias:zero()``, BatchNormalization.lua:
65-74 of torch/nn; models/utils.lua initialises convolutions and linear biases only), the
PyTorch port draws ``torch.rand`` (pytorch/utils.py:25-29).

Deviations from the official code: global average pooling instead of a fixed 8x8 pool, so
28x28 Fashion-MNIST and 8x8 digits work (at 32x32 the two are identical); a projection shortcut
also where only the stride changes (the official code would fail there; no WRN has one); we keep
the Lua recipe's dropout, which the PyTorch port lacks.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .contract import GroupNet
from .registry import register

# block name -> kernel sizes of its convolutions (paper Table 2)
BLOCKS = {
    "B(3,3)": (3, 3),
    "B(3,1,3)": (3, 1, 3),
    "B(1,3,1)": (1, 3, 1),
    "B(1,3)": (1, 3),
    "B(3,1)": (3, 1),
    "B(3,1,1)": (3, 1, 1),
}
MAX_DEEPENING = 4  # the paper tests l = 1..4


def check_depth(depth: int, l: int | None = None) -> int:
    """N, the blocks per group: (depth - 4) / 6, or (depth - 4) / (3 l) with the deepening factor."""
    step = 3 * (l or 2)
    if not isinstance(depth, int) or depth < step + 4 or (depth - 4) % step:
        valid = ", ".join(str(step * n + 4) for n in range(1, 5))
        which = "" if l is None else f" with deepening factor l={l}"
        raise ValueError(f"WRN depth{which} must be {step}n+4 with n >= 1 ({valid}, ...), got {depth}")
    return (depth - 4) // step


def block_kernels(block: str = "B(3,3)", l: int | None = None) -> tuple[int, ...]:
    """Kernel sizes of a block's convolutions: ``block_kernels("B(1,3,1)") == (1, 3, 1)``;
    with the deepening factor, ``block_kernels(l=3) == (3, 3, 3)``."""
    if l is not None:
        if not isinstance(l, int) or not 1 <= l <= MAX_DEEPENING:
            raise ValueError(f"deepening factor l must be an integer in 1..{MAX_DEEPENING}, got {l!r}")
        if block not in ("B(3,3)", block_name((3,) * l)):
            raise ValueError(f"give either block={block!r} or l={l} (l means B(3,...,3) with l convolutions)")
        return (3,) * l
    if block not in BLOCKS:
        raise ValueError(f"unknown block {block!r}; known: {', '.join(BLOCKS)}, or l=1..{MAX_DEEPENING}")
    return BLOCKS[block]


def block_name(kernels: tuple[int, ...]) -> str:
    return "B(" + ",".join(map(str, kernels)) + ")"


class Block(nn.Module):
    """Pre-activation residual block with convolutions of the given kernel sizes, the first one
    strided, dropout before each later one (the official generic block, see the module docstring).

    (N, c_in, H, W) -> (N, c_out, H / stride, W / stride)
    """

    def __init__(self, c_in: int, c_out: int, stride: int, kernels=(3, 3), dropout: float = 0.0):
        super().__init__()
        self.bns = nn.ModuleList()
        self.convs = nn.ModuleList()
        c = c_in
        for i, k in enumerate(kernels):
            self.bns.append(nn.BatchNorm2d(c))
            self.convs.append(nn.Conv2d(c, c_out, k, stride if i == 0 else 1, k // 2, bias=False))
            c = c_out
        self.dropout = dropout
        self.shortcut = (
            nn.Conv2d(c_in, c_out, 1, stride, bias=False) if c_in != c_out or stride != 1 else None
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        o = F.relu(self.bns[0](x))
        y = self.convs[0](o)
        for i in range(1, len(self.convs)):
            y = F.relu(self.bns[i](y))
            if self.dropout > 0:
                y = F.dropout(y, self.dropout, self.training)
            y = self.convs[i](y)
        # the projection shortcut sees the pre-activated input, the identity sees x itself
        return y + (self.shortcut(o) if self.shortcut is not None else x)


class WideResNet(GroupNet):
    def __init__(
        self,
        depth: int,
        width: int,
        num_classes: int = 10,
        in_channels: int = 3,
        block: str = "B(3,3)",
        dropout: float = 0.0,
        l: int | None = None,  # the paper's deepening factor
    ):
        super().__init__()
        kernels = block_kernels(block, l)
        n = check_depth(depth, l)
        if not isinstance(width, int) or width < 1:
            raise ValueError(f"WRN width (widening factor k) must be an integer >= 1, got {width}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        if dropout > 0 and len(kernels) < 2:
            raise ValueError("dropout sits between a block's convolutions: it needs l >= 2")
        self.depth, self.width, self.block_type = depth, width, block_name(kernels)
        widths = [16 * width, 32 * width, 64 * width]
        self.stem = nn.Conv2d(in_channels, 16, 3, 1, 1, bias=False)
        self.groups = nn.ModuleList()
        c = 16
        for g, w in enumerate(widths):
            blocks = [
                Block(c if i == 0 else w, w, (1 if g == 0 else 2) if i == 0 else 1, kernels, dropout)
                for i in range(n)
            ]
            self.groups.append(nn.Sequential(*blocks))
            c = w
        self.bn = nn.BatchNorm2d(c)
        self.fc = nn.Linear(c, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.uniform_(m.weight)  # Torch7 BN reset / torch.rand: U(0, 1); beta stays 0
            elif isinstance(m, nn.Linear):
                nn.init.zeros_(m.bias)

    def forward_groups(self, x):
        out, o = [], self.stem(x)  # (N, 16, H, W)
        for group in self.groups:
            o = group(o)
            out.append(o)  # (N, 16k, H, W), (N, 32k, H/2, W/2), (N, 64k, H/4, W/4)
        return out

    def forward_head(self, features):
        o = F.relu(self.bn(features))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(o, 1), 1))  # (N, num_classes)


@register(
    r"wrn-(?!50-2\Z)(\d+)-(\d+)",  # wrn-50-2 is the ImageNet bottleneck (resnet.py)
    examples=["wrn-10-1", "wrn-16-1", "wrn-16-2", "wrn-16-4", "wrn-22-2", "wrn-28-10", "wrn-40-1"],
    help="Wide ResNet WRN-depth-width (depth = 6n+4); kw: num_classes, in_channels, block "
    "(B(3,3), B(3,1,3), B(1,3,1), B(1,3), B(3,1), B(3,1,1)), l (3x3 convs per block; depth = 3ln+4), dropout",
)
def wrn(depth: int, width: int, **kw) -> WideResNet:
    """WRN-d-k as in the thesis, e.g. ``create("wrn-28-10", num_classes=100)``,
    ``create("wrn-22-2", block="B(3,1,3)")``, ``create("wrn-40-2", l=3)`` (4 blocks of 3 per group)."""
    return WideResNet(depth, width, **kw)
