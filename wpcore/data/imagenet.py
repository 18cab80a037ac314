"""ImageNet (ILSVRC-2012) read from the standard ImageFolder layout, decoded with torchvision.io.

Layout (what ``torchvision.datasets.ImageFolder`` and the official ``imagenet.py`` read)::

    <root>/train/<wnid>/*.JPEG      1,281,167 images, 1,000 class folders
    <root>/val/<wnid>/*.JPEG        50,000 images, sorted into the same class folders

``<root>`` is ``$WPCORE_IMAGENET`` or ``<data root>/imagenet``. Classes are the sorted folder names,
as ImageFolder. Nothing is downloaded (ImageNet needs a licence): a missing folder is a one-line
error that says where to put it.

Augmentation, the official recipe (thesis.md §4.2 and §5.3; attention-transfer ``imagenet.py``
lines 73-93, diracnets ``train.py``): training images get a RandomResizedCrop to 224 (area 8-100%,
aspect 3/4-4/3, torchvision's sampling with 10 tries and a centre-crop fallback) and a horizontal
flip with probability 1/2; validation images are resized so the shorter side is 256, then
centre-cropped to 224; both are normalised with the ImageNet mean and std (x255, the same
numbers as the official code). Deviations: the official code decoded and resized with OpenCV
(cvtransforms), we use torchvision.io's JPEG decoder and antialiased bilinear resizing; a crop's
random draws come from a generator seeded by (seed, epoch, image index), so an epoch is the same
whatever the number of workers, and a resumed run sees the images a straight run would.

Decoding: on a CUDA device the workers only read the files and ``torchvision.io.decode_jpeg``
decodes whole batches on the GPU (nvJPEG), where the crops and the resizing happen too; elsewhere
(or ``decode_on="cpu"``) the DataLoader workers decode, crop and resize, and send uint8 crops.
An image nvJPEG cannot take (a handful of ImageNet "JPEG"s are PNG or CMYK) is decoded on the CPU.
Under torchrun each rank reads its shard of every epoch's order (``rank``, ``world_size``).
"""
from __future__ import annotations

import hashlib
import math
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from .store import DataError, data_root

# torchvision 0.29 deprecates its image codecs in favour of TorchCodec; they are what the brief asks
# for (decode_jpeg on the GPU) and work, so the notice is not repeated for every image
warnings.filterwarnings("ignore", message="The image decoding and encoding capabilities of TorchVision",
                        category=DeprecationWarning)

MEAN = (0.485 * 255, 0.456 * 255, 0.406 * 255)   # attention-transfer imagenet.py l. 77, in [0, 255]
STD = (0.229 * 255, 0.224 * 255, 0.225 * 255)
SIZE, RESIZE = 224, 256                           # training crop / validation: resize 256 -> centre 224
SCALE, RATIO = (0.08, 1.0), (3 / 4, 4 / 3)       # RandomResizedCrop's area and aspect ranges
EXTENSIONS = (".jpeg", ".jpg", ".png")
N_TRAIN, N_VAL, N_CLASSES = 1_281_167, 50_000, 1000
SPLITS = ("train", "val")


def imagenet_root(root: str | Path | None = None) -> Path:
    """``root``, else ``$WPCORE_IMAGENET``, else ``<data root>/imagenet``."""
    return Path(root or os.environ.get("WPCORE_IMAGENET") or data_root() / "imagenet")


def how_to_get(root: Path) -> str:
    return (f"put ImageNet in the ImageFolder layout at {root} (train/<wnid>/*.JPEG and val/<wnid>/*.JPEG, the "
            "validation images sorted into class folders), or set $WPCORE_IMAGENET to the folder holding train/ "
            "and val/")


def layout_problems(root: str | Path | None = None) -> list[str]:
    """Cheap check of the folder layout (no file is read): [] when it looks like ImageNet."""
    root = imagenet_root(root)
    problems = []
    classes = {}
    for split in SPLITS:
        d = root / split
        if not d.is_dir():
            problems.append(f"{d} is missing")
            continue
        classes[split] = sorted(p.name for p in os.scandir(d) if p.is_dir())
        if not classes[split]:
            problems.append(f"{d} has no class folders")
        elif not any(f.name.lower().endswith(EXTENSIONS) for f in os.scandir(d / classes[split][0])):
            problems.append(f"{d / classes[split][0]} holds no .JPEG files")
    if len(classes) == 2 and classes["train"] != classes["val"]:
        problems.append(f"train/ has {len(classes['train'])} class folders, val/ {len(classes['val'])}: "
                        "they must be the same")
    return problems


@dataclass
class ImageFolderSplit:
    """The files of one split: paths relative to ``root``, labels, class names (wnids)."""

    root: Path
    split: str
    files: list[str]
    labels: torch.Tensor   # (N,) int64
    classes: list[str]

    def __len__(self) -> int:
        return len(self.files)

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def identity(self) -> str:
        """Which files, with which labels (not their bytes: hashing 140 GB is not a check to run often)."""
        h = hashlib.sha256()
        for f, y in zip(self.files, self.labels.tolist()):
            h.update(f"{f}\t{y}\n".encode())
        return f"imagenet:{self.split}:{len(self)}:{h.hexdigest()[:12]}"

    def subset(self, count: int) -> ImageFolderSplit:
        """``count`` images spread evenly over the (class-sorted) list, so every class keeps its share."""
        if count >= len(self):
            return self
        idx = torch.linspace(0, len(self) - 1, count).round().long().tolist()
        return ImageFolderSplit(self.root, self.split, [self.files[i] for i in idx], self.labels[idx], self.classes)


def scan(split: str, root: str | Path | None = None) -> ImageFolderSplit:
    """List ``<root>/<split>/<wnid>/*.JPEG`` (sorted); a missing or empty folder is a DataError."""
    if split not in SPLITS:
        raise ValueError(f"unknown ImageNet split {split!r}; use one of {SPLITS}")
    root = imagenet_root(root)
    d = root / split
    if not d.is_dir():
        raise DataError(f"ImageNet not found: {d} is missing; {how_to_get(root)}")
    classes = sorted(p.name for p in os.scandir(d) if p.is_dir())
    files, labels = [], []
    for c, wnid in enumerate(classes):
        names = sorted(f.name for f in os.scandir(d / wnid) if f.name.lower().endswith(EXTENSIONS))
        files += [f"{split}/{wnid}/{n}" for n in names]
        labels += [c] * len(names)
    if not files:
        raise DataError(f"ImageNet: no images under {d}; {how_to_get(root)}")
    return ImageFolderSplit(root, split, files, torch.tensor(labels, dtype=torch.int64), classes)


# --- geometry: pure functions of (image size, generator) ------------------------------------------

def sample_generator(seed: int, epoch: int, index: int) -> torch.Generator:
    """The random draws of one image in one epoch: independent of workers, batches and ranks."""
    return torch.Generator().manual_seed((seed * 1_000_003 + epoch) * 10_000_019 + index)


def rrc_box(h: int, w: int, g: torch.Generator, scale=SCALE, ratio=RATIO) -> tuple[int, int, int, int]:
    """RandomResizedCrop's box (top, left, height, width), torchvision's sampling: 10 tries of a
    random area and log-uniform aspect, else the centre crop with the aspect clamped to ``ratio``."""
    area = h * w
    log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
    for _ in range(10):
        r = torch.empty(3).uniform_(0, 1, generator=g).tolist()
        target = area * (scale[0] + r[0] * (scale[1] - scale[0]))
        aspect = math.exp(log_ratio[0] + r[1] * (log_ratio[1] - log_ratio[0]))
        cw, ch = round(math.sqrt(target * aspect)), round(math.sqrt(target / aspect))
        if 0 < cw <= w and 0 < ch <= h:
            top = int(torch.randint(0, h - ch + 1, (1,), generator=g))
            left = int(torch.randint(0, w - cw + 1, (1,), generator=g))
            return top, left, ch, cw
    in_ratio = w / h
    if in_ratio < ratio[0]:
        cw, ch = w, round(w / ratio[0])
    elif in_ratio > ratio[1]:
        ch, cw = h, round(h * ratio[1])
    else:
        cw, ch = w, h
    return (h - ch) // 2, (w - cw) // 2, ch, cw


def train_view(img: torch.Tensor, g: torch.Generator, size: int = SIZE) -> torch.Tensor:
    """(3, H, W) uint8 -> (3, size, size) float in [0, 255]: random resized crop, random flip."""
    top, left, ch, cw = rrc_box(img.shape[1], img.shape[2], g)
    crop = img[:, top:top + ch, left:left + cw].float()[None]
    out = F.interpolate(crop, size=(size, size), mode="bilinear", antialias=True, align_corners=False)[0]
    if torch.rand((), generator=g) < 0.5:
        out = out.flip(-1)
    return out


def val_view(img: torch.Tensor, resize: int = RESIZE, size: int = SIZE) -> torch.Tensor:
    """(3, H, W) uint8 -> (3, size, size) float: shorter side to ``resize``, then the centre crop."""
    h, w = img.shape[1:]
    s = resize / min(h, w)
    nh, nw = max(size, round(h * s)), max(size, round(w * s))
    out = F.interpolate(img.float()[None], size=(nh, nw), mode="bilinear", antialias=True, align_corners=False)[0]
    top, left = (nh - size) // 2, (nw - size) // 2
    return out[:, top:top + size, left:left + size]


def decode(data: torch.Tensor, device: str | torch.device = "cpu") -> torch.Tensor:
    """Encoded bytes (1-D uint8) -> (3, H, W) uint8 RGB (grey and CMYK converted)."""
    from torchvision.io import ImageReadMode, decode_image

    return decode_image(data, mode=ImageReadMode.RGB).to(device)


def decode_batch(datas: list[torch.Tensor], device: torch.device) -> list[torch.Tensor]:
    """A batch of JPEGs decoded on the GPU in one call; what nvJPEG refuses, on the CPU."""
    from torchvision.io import ImageReadMode, decode_jpeg

    try:
        return decode_jpeg(datas, mode=ImageReadMode.RGB, device=device)
    except RuntimeError:
        out = []
        for d in datas:
            try:
                out.append(decode_jpeg(d, mode=ImageReadMode.RGB, device=device))
            except RuntimeError:
                out.append(decode(d, device))
        return out


# --- what the DataLoader workers do --------------------------------------------------------------

class _Files(torch.utils.data.Dataset):
    """Worker side. Key (index, epoch) -> (encoded bytes, label) when the GPU decodes, else
    (the decoded, cropped image as uint8, label)."""

    def __init__(self, data: ImageFolderSplit, train: bool, decode_here: bool, seed: int, size: int, resize: int):
        self.data, self.train, self.decode_here, self.seed = data, train, decode_here, seed
        self.size, self.resize = size, resize

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, key):
        from torchvision.io import read_file

        index, epoch = key
        raw = read_file(str(self.data.root / self.data.files[index]))
        label = int(self.data.labels[index])
        if not self.decode_here:
            return raw, label
        img = decode(raw)
        view = (train_view(img, sample_generator(self.seed, epoch, index), self.size) if self.train
                else val_view(img, self.resize, self.size))
        return view.round().clamp_(0, 255).to(torch.uint8), label  # uint8: a quarter of the bytes between processes


def _collate(items):
    first, labels = zip(*items)
    return list(first), torch.tensor(labels, dtype=torch.int64)


class ImageNetBatches:
    """Batches ``(x, y)`` on ``device``: x (B, 3, 224, 224) float normalised, y (B,) int64.

    Training batches are a fresh seeded permutation every epoch (full batches only); validation
    goes through the split in order. ``state``/``set_state`` (the epoch) let ``fit`` resume.
    """

    def __init__(self, data: ImageFolderSplit, batch_size: int, train: bool, device: str | torch.device = "cpu",
                 seed: int = 0, workers: int | None = None, decode_on: str | None = None, rank: int = 0,
                 world_size: int = 1, size: int = SIZE):
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        if train and batch_size % world_size:
            raise ValueError(f"batch_size {batch_size} must be divisible by the {world_size} processes")
        self.data, self.train, self.device, self.seed = data, train, torch.device(device), seed
        self.batch_size = batch_size // world_size if train else batch_size
        self.rank, self.world_size, self.size, self.epoch = rank, world_size, size, 0
        self.resize = round(size * RESIZE / SIZE)  # 256 for 224: the validation resize keeps its ratio
        self.decode_on = decode_on or ("cuda" if self.device.type == "cuda" else "cpu")
        if self.decode_on not in ("cpu", "cuda"):
            raise ValueError(f"decode_on must be 'cpu' or 'cuda', got {decode_on!r}")
        self.workers = default_workers() if workers is None else workers
        self.mean = torch.tensor(MEAN, device=self.device).view(1, 3, 1, 1)
        self.std = torch.tensor(STD, device=self.device).view(1, 3, 1, 1)

    def _indices(self) -> list[int]:
        n = len(self.data)
        if self.train:
            g = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
            order = torch.randperm(n, generator=g)
            per_rank = n // self.world_size  # equal shards: every rank takes the same number of steps
            return order[self.rank * per_rank:(self.rank + 1) * per_rank].tolist()
        return list(range(self.rank, n, self.world_size))

    def __len__(self) -> int:
        n = len(self.data) // self.world_size if self.train else len(range(self.rank, len(self.data), self.world_size))
        return n // self.batch_size if self.train else -(-n // self.batch_size)

    def state(self) -> dict:
        return {"epoch": self.epoch}

    def set_state(self, state: dict) -> None:
        self.epoch = state["epoch"]

    def __iter__(self):
        epoch, idx = self.epoch, self._indices()
        self.epoch += 1
        batches = [[(i, epoch) for i in idx[b * self.batch_size:(b + 1) * self.batch_size]] for b in range(len(self))]
        gpu = self.decode_on == "cuda"
        loader = torch.utils.data.DataLoader(
            _Files(self.data, self.train, not gpu, self.seed, self.size, self.resize), batch_sampler=batches,
            num_workers=self.workers, collate_fn=_collate, pin_memory=self.device.type == "cuda",
            prefetch_factor=4 if self.workers else None, persistent_workers=False)
        for b, (items, y) in zip(batches, loader):
            if gpu:
                imgs = decode_batch(items, self.device)
                views = [train_view(im, sample_generator(self.seed, epoch, i), self.size) if self.train
                         else val_view(im, self.resize, self.size) for im, (i, _) in zip(imgs, b)]
                x = torch.stack(views)
            else:
                x = torch.stack(items).to(self.device, non_blocking=True).float()
            yield (x - self.mean) / self.std, y.to(self.device, non_blocking=True)


def default_workers() -> int:
    """DataLoader workers: the CPUs this process may use, at most 16, leaving one to the training loop."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:
        cpus = os.cpu_count() or 1
    return max(0, min(16, cpus - 1))
