"""ImageNet ResNets (He et al. 2016) and WRN-50-2-bottleneck (thesis §3.1, ImageNet experiment).

Post-activation residual networks in torchvision's layout and parameter names, so torchvision's
weights load unchanged: a 7x7 stride-2 stem with BN-ReLU and a 3x3 stride-2 max-pool, four groups
(``layer1`` .. ``layer4``, 64/128/256/512 base width, stride 2 entering groups 2-4), global
average pooling and a linear classifier.

- ``resnet-18`` / ``resnet-34``: basic blocks (conv3x3-BN-ReLU-conv3x3-BN, + shortcut, ReLU).
- ``resnet-50``: bottleneck blocks conv1x1 -> conv3x3 -> conv1x1 (x4 expansion).
- ``wrn-50-2``: the thesis's WRN-50-2-bottleneck: ResNet-50 with the inner 1x1 and 3x3 doubled
  (128/256/512/1024 inner width, outputs still 256/512/1024/2048); 68,883,240 parameters
  ("68.9M", thesis §3.1 [R:pretrained/README]).

The stride of a bottleneck sits on its 3x3 (fb.resnet.torch, torchvision and the official WRN
definition, pretrained/wide-resnet.lua:87; the original Caffe ResNet put it on the first 1x1).
Init as torchvision: He fan-out normal for convolutions, BN gamma 1 and beta 0. The official
WRN-50-2 definition also sets BN gamma 1, beta 0 (pretrained/wide-resnet.lua:172-183, its
``BNInit`` from fb.resnet.torch), unlike the CIFAR WRN's U(0, 1); deviation: its convolutions are He
*fan-in* normal (pretrained/wide-resnet.lua:160-171), ours fan-out as torchvision's. The ImageNet
training recipe is not part of the thesis's code (reference §3.3).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .contract import GroupNet
from .registry import register


def _shortcut(c_in: int, c_out: int, stride: int) -> nn.Module | None:
    if c_in == c_out and stride == 1:
        return None
    return nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, c_in: int, planes: int, stride: int = 1, inner: int | None = None):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = _shortcut(c_in, planes, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        return F.relu(y + (self.downsample(x) if self.downsample is not None else x))


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, c_in: int, planes: int, stride: int = 1, inner: int | None = None):
        super().__init__()
        inner = inner or planes  # WRN-50-2: inner = 2 * planes
        self.conv1 = nn.Conv2d(c_in, inner, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(inner)
        self.conv2 = nn.Conv2d(inner, inner, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(inner)
        self.conv3 = nn.Conv2d(inner, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.downsample = _shortcut(c_in, planes * 4, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.bn1(self.conv1(x)))
        y = F.relu(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y))
        return F.relu(y + (self.downsample(x) if self.downsample is not None else x))


class ResNet(GroupNet):
    """(N, 3, H, W) -> groups at H/4, H/8, H/16, H/32 -> (N, num_classes)."""

    example_input_shape = (3, 64, 64)  # any size >= 32 works (global pooling)

    def __init__(
        self,
        block: type,
        layers: list[int],
        num_classes: int = 1000,
        in_channels: int = 3,
        width_factor: int = 1,
    ):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        c = 64
        for g, (planes, n) in enumerate(zip((64, 128, 256, 512), layers)):
            blocks = []
            for i in range(n):
                blocks.append(block(c, planes, 2 if (i == 0 and g > 0) else 1, planes * width_factor))
                c = planes * block.expansion
            setattr(self, f"layer{g + 1}", nn.Sequential(*blocks))
        self.fc = nn.Linear(c, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward_groups(self, x):
        o = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 3, 2, 1)  # (N, 64, H/4, W/4)
        out = []
        for layer in (self.layer1, self.layer2, self.layer3, self.layer4):
            o = layer(o)
            out.append(o)
        return out

    def forward_head(self, features):
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(features, 1), 1))  # (N, num_classes)


LAYERS = {18: (BasicBlock, [2, 2, 2, 2]), 34: (BasicBlock, [3, 4, 6, 3]), 50: (Bottleneck, [3, 4, 6, 3])}


@register(
    r"resnet-(18|34|50)",
    examples={"resnet-18": {"num_classes": 10}, "resnet-50": {"num_classes": 10}},
    help="ImageNet ResNet-18/34/50 (post-activation, torchvision layout); kw: num_classes, in_channels",
)
def resnet(depth: int, **kw) -> ResNet:
    """``create("resnet-18")``: 11,689,512 parameters with the 1000-class head."""
    block, layers = LAYERS[depth]
    return ResNet(block, layers, **kw)


@register(
    r"wrn-50-2",
    examples={"wrn-50-2": {"num_classes": 10}},
    help="WRN-50-2-bottleneck for ImageNet (thesis §3.1); kw: num_classes, in_channels",
)
def wrn_50_2(**kw) -> ResNet:
    """ResNet-50 with doubled inner width: 68,883,240 parameters with the 1000-class head."""
    return ResNet(Bottleneck, [3, 4, 6, 3], width_factor=2, **kw)
