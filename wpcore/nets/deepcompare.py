"""Patch-comparison networks of thesis ch. 1 (Zagoruyko & Komodakis, "Learning to Compare Image
Patches via Convolutional Neural Networks", CVPR 2015; code: szagoruyko/cvpr15deepcompare).

Every network takes a *pair batch* ``x: (N, 2, H, W)`` (channel 0 = patch 1, channel 1 = patch 2,
mean-subtracted, /256) and returns a similarity score ``(N,)``: higher means "more alike". These
are not image classifiers, so they are plain ``nn.Module`` s, not ``GroupNet`` s.

Notation (paper): C(n,k,s) conv n filters k x k stride s, P(k,s) max-pool, F(n) linear.

- ``2ch``          C(96,7,3)-P(2,2)-C(192,5,1)-P(2,2)-C(256,3,1)-F(256)-F(1) on the 2-channel pair.
- ``2ch-deep``     C(96,4,3)-Stack(96)-P(2,2)-Stack(192)-F(1); Stack(n) = 3 x C(n,3,1), no padding,
                   ceil-mode pool. Like training/models/2chdeep.lua we keep its hidden F(768).
- ``2ch-2stream``  central-surround: the centre 32x32 crop and the 2x average-pooled whole patch
                   each go through C(96,5,1)-P(2,2)-C(96,3,1)-P(2,2)-C(192,3,1)-C(192,3,1)
                   (the paper's "95" is a typo; the code has 96), then F(768)-F(1).
- ``siam``         shared branch C(96,7,3)-P(2,2)-C(192,5,1)-P(2,2)-C(256,3,1) -> 256-d per patch;
                   decision F(512)-F(1) on the concatenation.
- ``pseudo-siam``  the same with two unshared branches.
- ``siam-2stream`` central and surround branches C(96,4,2)-P(2,2)-C(192,3,1)-C(256,3,1)-C(256,3,1),
                   shared between the two patches; descriptor = 512-d; decision F(512)-F(1) (paper).
                   As in the code (pytorch/eval.py) the branches end without a ReLU; the Lua
                   training file uses a deeper 1024-1024 head, the paper and we use F(512).
- ``*-l2``         score = -||d1/|d1| - d2/|d2|||: the distance of L2-normalised descriptors,
                   as the official evaluator computes it (pytorch/eval.py).
- ``*-spp``        spatial pyramid pooling between the last convolution and the decision layers
                   (the paper's SPP networks), so any patch size >= 64 works. The pyramid
                   levels are unknown [U]: training/models/ holds no SPP model, and issue #15
                   answers only "There is no difference in SPP training, see the paper". Our
                   pyramid has one level, a 1x1 max-pool over the whole last map
                   (``SPP_LEVELS``): the paper's tower ends
                   in a 1x1 map at 64x64, so any finer level would pool that one cell into
                   several bins (our earlier (1, 2) fed the same 256 numbers to the decision
                   layer five times). With one level, an SPP net at 64x64 *is* the plain net
                   (same parameters), which fits the author's remark; larger patches give a
                   larger map that the level max-pools. See ``spp_bins``.

ReLU follows every convolution and hidden linear layer unless said otherwise. ``width`` scales
every channel count (1.0 = the paper; the quick profile trains thinner nets on 2 CPU cores).
Init: He fan-in normal, zero bias. Deviation: training/*.lua uses "MSRinit", N(0, sqrt(2 / (k*k*n_out))),
a fan-*out* scale that shrinks the signal ~7x per layer here (2 -> 96 channels); with our short SGD
runs it left 2ch-2stream and siam at zero output (hinge loss 1.0 after 160 steps), so we use fan-in.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .registry import register

PATCH = 64  # the paper's patch size; central-surround streams see 32x32


def _c(n: int, width: float) -> int:
    return max(1, round(n * width))


def conv_stack(spec: list, c_in: int, width: float, last_relu: bool = True) -> nn.Sequential:
    """spec: ("C", n, k, s) or ("P", k, s, ceil). ReLU after every conv (but the last if told)."""
    layers: list[nn.Module] = []
    convs = [i for i, s in enumerate(spec) if s[0] == "C"]
    for i, s in enumerate(spec):
        if s[0] == "C":
            layers.append(nn.Conv2d(c_in, _c(s[1], width), s[2], s[3]))
            c_in = _c(s[1], width)
            if last_relu or i != convs[-1]:
                layers.append(nn.ReLU(inplace=True))
        else:
            layers.append(nn.MaxPool2d(s[1], s[2], ceil_mode=s[3]))
    return nn.Sequential(*layers)


TOWER = [("C", 96, 7, 3), ("P", 2, 2, False), ("C", 192, 5, 1), ("P", 2, 2, False), ("C", 256, 3, 1)]
DEEP = ([("C", 96, 4, 3)] + [("C", 96, 3, 1)] * 3 + [("P", 2, 2, True)] + [("C", 192, 3, 1)] * 3)
STREAM_2CH = [("C", 96, 5, 1), ("P", 2, 2, False), ("C", 96, 3, 1), ("P", 2, 2, False),
              ("C", 192, 3, 1), ("C", 192, 3, 1)]
STREAM_SIAM = [("C", 96, 4, 2), ("P", 2, 2, False), ("C", 192, 3, 1), ("C", 256, 3, 1), ("C", 256, 3, 1)]


def central_surround(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, C, 64, 64) -> centre 32x32 crop (N, C, 32, 32) and 2x avg-pooled surround (N, C, 32, 32)."""
    h, w = x.shape[-2:]
    centre = x[..., h // 4: h // 4 + h // 2, w // 4: w // 4 + w // 2]
    return centre, F.avg_pool2d(x, 2)


# Pyramid levels: l x l bins each. Every level must fit the last map at 64x64 input (1x1 for
# TOWER, ``out_size(TOWER, PATCH)``), or its bins repeat cells; see the module docstring.
SPP_LEVELS = (1,)


def spp_bins(side: int, level: int) -> list[tuple[int, int]]:
    """The [start, end) cell ranges along one side of length ``side`` that adaptive pooling to
    ``level`` bins pools (PyTorch's rule: floor(i * side / level) to ceil((i + 1) * side / level))."""
    return [(i * side // level, -(-(i + 1) * side // level)) for i in range(level)]


def spp(x: torch.Tensor, levels: tuple[int, ...] = SPP_LEVELS) -> torch.Tensor:
    """Spatial pyramid max-pooling: (N, C, H, W) -> (N, C * sum(l*l for l in levels)).

    A level finer than the map (l > H or l > W) would pool some cells into several bins; it is an
    error rather than a silent copy."""
    h, w = x.shape[-2:]
    if max(levels) > min(h, w):
        raise ValueError(f"SPP level {max(levels)} needs a map of at least {max(levels)}x{max(levels)} "
                         f"cells, got {h}x{w}; use larger patches or coarser levels")
    return torch.cat([F.adaptive_max_pool2d(x, lv).flatten(1) for lv in levels], 1)


def mlp(sizes: list[int]) -> nn.Sequential:
    """Linear layers with ReLU between them (none after the last): [d_in, h, ..., 1]."""
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


def out_size(spec: list, size: int) -> int:
    """Spatial side after ``spec`` on a ``size`` x ``size`` input (no forward pass, no padding)."""
    for s in spec:
        k, st = (s[2], s[3]) if s[0] == "C" else (s[1], s[2])
        size = (-(-(size - k) // st) if s[0] == "P" and s[3] else (size - k) // st) + 1
    return size


def flat_size(spec: list, width: float, size: int, levels: tuple[int, ...] | None = None) -> int:
    """Features entering the decision layers: C * h * w, or C * sum(l * l) with SPP ``levels``."""
    c = _c([s for s in spec if s[0] == "C"][-1][1], width)
    return c * (sum(lv * lv for lv in levels) if levels else out_size(spec, size) ** 2)


def he_init(model: nn.Module) -> None:
    """He (fan-in) normal weights, zero biases; see the module docstring for why not MSRinit."""
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
            nn.init.zeros_(m.bias)


class PatchNet(nn.Module):
    """Base: ``forward(x: (N, 2, H, W)) -> (N,)`` similarity scores."""

    example_input_shape = (2, PATCH, PATCH)

    def _finish(self):
        he_init(self)


class TwoChannel(PatchNet):
    """2ch / 2ch-deep / 2ch-spp: the pair as a 2-channel image, one network end to end."""

    def __init__(self, spec=TOWER, hidden: tuple[int, ...] = (256,), width: float = 1.0, use_spp: bool = False):
        super().__init__()
        self.features = conv_stack(spec, 2, width)
        self.pool = spp if use_spp else None
        d = flat_size(spec, width, PATCH, SPP_LEVELS if use_spp else None)
        self.head = mlp([d, *[_c(h, width) for h in hidden], 1])
        self._finish()

    def forward(self, x):
        o = self.features(x)  # (N, C, h, w); 1x1 for the 64x64 tower
        o = self.pool(o) if self.pool else o.flatten(1)
        return self.head(o).squeeze(1)  # (N,)


class TwoChannel2Stream(PatchNet):
    """2ch-2stream: central and surround 2-channel streams, concatenated, then F(768)-F(1)."""

    def __init__(self, width: float = 1.0):
        super().__init__()
        self.centre = conv_stack(STREAM_2CH, 2, width)
        self.surround = conv_stack(STREAM_2CH, 2, width)
        d = flat_size(STREAM_2CH, width, PATCH // 2)  # 192 x 2 x 2 = 768
        self.head = mlp([2 * d, _c(768, width), 1])
        self._finish()

    def forward(self, x):
        c, s = central_surround(x)  # (N, 2, 32, 32) each
        return self.head(torch.cat([self.centre(c).flatten(1), self.surround(s).flatten(1)], 1)).squeeze(1)


class Siamese(PatchNet):
    """siam / pseudo-siam / siam-2stream, with a decision network or (l2=True) -L2 distance.

    ``descriptor(p: (N, 1, H, W)) -> (N, D)`` describes single patches (branch 0 for
    pseudo-siam, whose second branch describes the second patch).
    """

    def __init__(self, shared: bool = True, two_stream: bool = False, l2: bool = False,
                 width: float = 1.0, use_spp: bool = False):
        super().__init__()
        self.two_stream, self.l2 = two_stream, l2
        self.pool = spp if use_spp else None
        n_branches = 1 if shared else 2
        if two_stream:  # each "branch" is a (central, surround) pair of streams
            self.branches = nn.ModuleList(nn.ModuleList([conv_stack(STREAM_SIAM, 1, width, last_relu=False),
                                                         conv_stack(STREAM_SIAM, 1, width, last_relu=False)])
                                          for _ in range(n_branches))
        else:
            self.branches = nn.ModuleList(conv_stack(TOWER, 1, width) for _ in range(n_branches))
        if two_stream:  # central + surround, 32x32 each
            self.dim = 2 * flat_size(STREAM_SIAM, width, PATCH // 2)
        else:
            self.dim = flat_size(TOWER, width, PATCH, SPP_LEVELS if use_spp else None)
        self.head = None if l2 else mlp([2 * self.dim, _c(512, width), 1])
        self._finish()

    def describe(self, p: torch.Tensor, branch: int) -> torch.Tensor:
        """(N, 1, H, W) -> (N, D) through branch ``branch`` (unnormalised)."""
        b = self.branches[branch]
        if self.two_stream:
            c, s = central_surround(p)
            return torch.cat([b[0](c).flatten(1), b[1](s).flatten(1)], 1)  # (N, 256 + 256)
        o = b(p)
        return self.pool(o) if self.pool else o.flatten(1)

    def descriptor(self, p: torch.Tensor) -> torch.Tensor:
        """(N, 1, H, W) -> (N, D) descriptor; L2-normalised for the -l2 networks."""
        d = self.describe(p, 0)
        return F.normalize(d, dim=1) if self.l2 else d

    def forward(self, x):
        d1 = self.describe(x[:, :1], 0)
        d2 = self.describe(x[:, 1:], len(self.branches) - 1)
        if self.l2:
            return -(F.normalize(d1, dim=1) - F.normalize(d2, dim=1)).norm(dim=1)  # (N,)
        return self.head(torch.cat([d1, d2], 1)).squeeze(1)


SMALL = {"width": 0.25}  # keeps the registry-wide test fast

BUILDERS = {
    "2ch": lambda **kw: TwoChannel(TOWER, (256,), **kw),
    "2ch-deep": lambda **kw: TwoChannel(DEEP, (768,), **kw),
    "2ch-2stream": lambda **kw: TwoChannel2Stream(**kw),
    "2ch-spp": lambda **kw: TwoChannel(TOWER, (256,), use_spp=True, **kw),
    "siam": lambda **kw: Siamese(**kw),
    "pseudo-siam": lambda **kw: Siamese(shared=False, **kw),
    "siam-2stream": lambda **kw: Siamese(two_stream=True, **kw),
    "siam-l2": lambda **kw: Siamese(l2=True, **kw),
    "pseudo-siam-l2": lambda **kw: Siamese(shared=False, l2=True, **kw),
    "siam-2stream-l2": lambda **kw: Siamese(two_stream=True, l2=True, **kw),
    "siam-spp": lambda **kw: Siamese(use_spp=True, **kw),
    "siam-spp-l2": lambda **kw: Siamese(use_spp=True, l2=True, **kw),
}
SPP_MODELS = tuple(n for n in BUILDERS if "spp" in n)


@register(r"(2ch|2ch-deep|2ch-2stream|2ch-spp|siam|pseudo-siam|siam-2stream|siam-l2|pseudo-siam-l2"
          r"|siam-2stream-l2|siam-spp|siam-spp-l2)",
          examples={n: dict(SMALL) for n in BUILDERS},
          help="DeepCompare patch-pair nets (thesis ch. 1): input (N, 2, 64, 64) -> score (N,); kw: width")
def deepcompare(name: str, **kw) -> PatchNet:
    """A DeepCompare network by its paper name, e.g. ``create("2ch-2stream")``."""
    unknown = set(kw) - {"width"}
    if unknown:
        raise ValueError(f"this family takes only width=..., got {', '.join(sorted(unknown))}")
    return BUILDERS[name](**kw)
