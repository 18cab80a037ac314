"""The plain reference: WRN written the way the official PyTorch port does it, and its data path.

Functional network (a flat dict of tensors, ``F.conv2d`` / ``F.batch_norm``), NCHW, fp32, SGD
with momentum 0.9 (no Nesterov, as the port), and a ``torch.utils.data.DataLoader`` whose dataset
applies per-image PIL transforms: RandomCrop(32, padding=4, padding_mode="reflect"),
RandomHorizontalFlip, ToTensor, Normalize. Written here from the description of
``pytorch/resnet.py`` / ``main.py`` of szagoruyko/wide-residual-networks (not copied).

Same network as ``wpcore.nets.wrn`` (same layers, same shapes, same FLOPs; BN gamma from
U(0, 1) in both).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def _conv(c_in: int, c_out: int, k: int) -> torch.Tensor:
    w = torch.empty(c_out, c_in, k, k)
    torch.nn.init.kaiming_normal_(w, mode="fan_in", nonlinearity="relu")
    return w


def _bn(prefix: str, c: int) -> dict[str, torch.Tensor]:
    return {f"{prefix}.weight": torch.rand(c), f"{prefix}.bias": torch.zeros(c),
            f"{prefix}.running_mean": torch.zeros(c), f"{prefix}.running_var": torch.ones(c)}


def wrn_params(depth: int, width: int, num_classes: int = 10, in_channels: int = 3) -> dict[str, torch.Tensor]:
    """Flat dict of every tensor of WRN-depth-width (running BN statistics included)."""
    n = (depth - 4) // 6
    if depth < 10 or (depth - 4) % 6:
        raise ValueError(f"WRN depth must be 6n+4, got {depth}")
    widths = [16 * width, 32 * width, 64 * width]
    p = {"conv0": _conv(in_channels, 16, 3)}
    c = 16
    for g, w in enumerate(widths):
        for i in range(n):
            base, c_in = f"group{g}.block{i}", (c if i == 0 else w)
            p |= _bn(f"{base}.bn0", c_in) | _bn(f"{base}.bn1", w)
            p[f"{base}.conv0"] = _conv(c_in, w, 3)
            p[f"{base}.conv1"] = _conv(w, w, 3)
            if c_in != w:  # the port adds a 1x1 projection only where the width changes
                p[f"{base}.convdim"] = _conv(c_in, w, 1)
        c = w
    p |= _bn("bn", c)
    p["fc.weight"] = torch.randn(num_classes, c) / c ** 0.5
    p["fc.bias"] = torch.zeros(num_classes)
    for k, v in p.items():
        v.requires_grad_("running" not in k)
    return p


def _batch_norm(x: torch.Tensor, p: dict, base: str, training: bool) -> torch.Tensor:
    return F.batch_norm(x, p[f"{base}.running_mean"], p[f"{base}.running_var"], p[f"{base}.weight"],
                        p[f"{base}.bias"], training)


def wrn_forward(x: torch.Tensor, p: dict, depth: int, training: bool = True) -> torch.Tensor:
    """x (N, C, H, W) -> logits (N, num_classes), the functional way."""
    n = (depth - 4) // 6
    o = F.conv2d(x, p["conv0"], padding=1)
    for g in range(3):
        for i in range(n):
            base, stride = f"group{g}.block{i}", (2 if g > 0 and i == 0 else 1)
            o1 = F.relu(_batch_norm(o, p, f"{base}.bn0", training), inplace=True)
            y = F.conv2d(o1, p[f"{base}.conv0"], stride=stride, padding=1)
            o2 = F.relu(_batch_norm(y, p, f"{base}.bn1", training), inplace=True)
            z = F.conv2d(o2, p[f"{base}.conv1"], padding=1)
            short = F.conv2d(o1, p[f"{base}.convdim"], stride=stride) if f"{base}.convdim" in p else o
            o = z + short
    o = F.relu(_batch_norm(o, p, "bn", training))
    o = F.adaptive_avg_pool2d(o, 1).flatten(1)
    return F.linear(o, p["fc.weight"], p["fc.bias"])


class PlainWRN:
    """The flat dict and the forward function behind a module-like face (the harness's needs)."""

    def __init__(self, depth: int, width: int, num_classes: int = 10, in_channels: int = 3):
        self.depth, self.training = depth, True
        self.flat = wrn_params(depth, width, num_classes, in_channels)

    def parameters(self) -> list[torch.Tensor]:
        return [v for v in self.flat.values() if v.requires_grad]

    def to(self, device) -> PlainWRN:
        self.flat = {k: v.detach().to(device).requires_grad_(v.requires_grad) for k, v in self.flat.items()}
        return self

    def train(self, mode: bool = True) -> PlainWRN:
        self.training = mode
        return self

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return wrn_forward(x, self.flat, self.depth, self.training)


def plain_optimizer(model, lr: float = 0.1) -> torch.optim.Optimizer:
    """SGD as the port: momentum 0.9, weight decay 5e-4 on every parameter, no Nesterov."""
    return torch.optim.SGD(list(model.parameters()), lr=lr, momentum=0.9, weight_decay=5e-4)


def plain_step(model, opt: torch.optim.Optimizer, batch, objective=None) -> float:
    """One step the port's way: forward, loss, zero_grad, backward, step, ``loss.item()``.

    ``objective(model, batch) -> loss``; default cross-entropy on ``batch = (x, y)``.
    """
    loss = objective(model, batch) if objective else F.cross_entropy(model(batch[0]), batch[1])
    opt.zero_grad()
    loss.backward()
    opt.step()
    return loss.item()  # the port reads the loss every step (a host sync on GPUs)


class PILImages(torch.utils.data.Dataset):
    """uint8 (N, C, H, W) images served one by one through PIL transforms, as torchvision's CIFAR."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, mean, std, train: bool = True):
        import torchvision.transforms as T

        self.images = images.permute(0, 2, 3, 1).contiguous().numpy()  # (N, H, W, C) as CIFAR10.data
        self.labels = labels.tolist()
        size = images.shape[-1]
        steps = [T.RandomCrop(size, padding=4, padding_mode="reflect"), T.RandomHorizontalFlip()] if train else []
        self.transform = T.Compose(steps + [T.ToTensor(), T.Normalize([m / 255 for m in mean],
                                                                      [s / 255 for s in std])])

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int):
        from PIL import Image

        a = self.images[i]
        img = Image.fromarray(a[..., 0] if a.shape[-1] == 1 else a)
        return self.transform(img), self.labels[i]


def plain_loader(images: torch.Tensor, labels: torch.Tensor, batch_size: int, mean, std,
                 num_workers: int = 0) -> torch.utils.data.DataLoader:
    """The port's training DataLoader (shuffle, drop nothing, pin memory only with CUDA)."""
    return torch.utils.data.DataLoader(PILImages(images, labels, mean, std), batch_size, shuffle=True,
                                       num_workers=num_workers, pin_memory=torch.cuda.is_available(),
                                       persistent_workers=num_workers > 0)
