"""Folding a trained DiracNet into a plain conv-ReLU chain for inference (thesis §5.1).

In eval mode every block ReLU -> conv(W') -> BN is an affine map after the activation:

    BN(conv(x, W')) = conv(x, W' · s) + (β - μ·s),   s = γ / sqrt(σ² + ε)   (per output channel)

so W' = diag(a)·I + diag(b)·W_norm and the BN statistics become one ordinary convolution with
a bias. The stem's conv + BN folds the same way. The result is the VGG-like network of the
official ``DiracNet`` nn.Module (pretrained "folded" models): conv, [ReLU, conv]..., max-pools,
ReLU, average pool, linear. Folding is exact up to float rounding (the tests check agreement
within 1e-4 relative to the output scale in float32) and only valid in eval mode, because
training-mode BN uses batch statistics.

``fold`` also folds the plain baseline (ordinary conv + BN), which makes it a like-for-like
speed reference.
"""
from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from .contract import GroupNet
from .dirac import Block, DiracConv, DiracNet, ncrelu


def fold_conv_bn(weight: torch.Tensor, bias: torch.Tensor | None, bn: nn.BatchNorm2d) -> tuple[torch.Tensor, torch.Tensor]:
    """(weight (C_out, C_in, k, k), bias (C_out,) or None) and eval-mode BN -> folded (weight, bias)."""
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)  # (C_out,)
    b = bias if bias is not None else torch.zeros_like(bn.running_mean)
    return weight * scale.view(-1, 1, 1, 1), bn.bias + (b - bn.running_mean) * scale


def _folded_conv(conv: nn.Module, bn: nn.BatchNorm2d) -> nn.Conv2d:
    """One nn.Conv2d (with bias) equal to ``bn(conv(x))`` in eval mode."""
    if isinstance(conv, DiracConv):
        w, b, stride, padding = conv.effective_weight(), conv.bias, 1, conv.padding
    else:
        w, b, stride, padding = conv.weight, conv.bias, conv.stride, conv.padding
    w, b = fold_conv_bn(w, b, bn)
    out = nn.Conv2d(w.shape[1], w.shape[0], tuple(w.shape[2:]), stride=stride, padding=padding, bias=True)
    out.weight.data.copy_(w)
    out.bias.data.copy_(b)
    return out


class NCReLU(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return ncrelu(x)


class FoldedNet(GroupNet):
    """A plain conv(+bias)-ReLU chain with the group structure of the net it was folded from."""

    def __init__(self, stem: nn.Sequential, groups: list[nn.Sequential], fc: nn.Linear, head_relu: bool):
        super().__init__()
        self.stem, self.groups, self.fc, self.head_relu = stem, nn.ModuleList(groups), fc, head_relu

    def forward_groups(self, x: torch.Tensor) -> list[torch.Tensor]:
        out, o = [], self.stem(x)
        for group in self.groups:
            o = group(o)
            out.append(o)
        return out

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        o = F.relu(features) if self.head_relu else features
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(o, 1), 1))


@torch.no_grad()
def fold(net: DiracNet) -> FoldedNet:
    """The eval-mode equivalent of a (trained) DiracNet or PlainNet as a conv-ReLU chain."""
    if not isinstance(net, DiracNet):
        raise TypeError(f"fold expects a DiracNet or PlainNet, got {type(net).__name__}")
    conv, bn, *rest = net.stem  # cifar: conv, BN, ReLU; imagenet: conv, BN, max-pool
    stem = nn.Sequential(_folded_conv(conv, bn), *copy.deepcopy(rest))
    groups = []
    for group in net.groups:
        layers: list[nn.Module] = []
        for m in group:
            if isinstance(m, Block):
                layers += [NCReLU() if m.nc else nn.ReLU(), _folded_conv(m.conv, m.bn)]
            else:  # max-pool between groups
                layers.append(copy.deepcopy(m))
        groups.append(nn.Sequential(*layers))
    device = next(net.parameters()).device
    return FoldedNet(stem, groups, copy.deepcopy(net.fc), net.head_relu).to(device).eval()
