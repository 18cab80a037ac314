"""Image classification datasets behind one contract, and the on-device batch loader.

``load(name, split)`` returns an :class:`ImageSet`: all images as one uint8 tensor (N, C, H, W),
labels (N,), class names and a *data identity* (the checksums of the files it came from) that
run records keep. :class:`DeviceLoader` holds a set on the training device and makes batches
there: random crop from a 4-pixel reflection pad and horizontal flip (the WRN recipe, thesis
§3.3), then mean/std normalisation, with no per-image Python work (airbench's approach).

Datasets: fashion-mnist (28x28x1, the embedded default), digits (scikit-learn's 8x8x1),
cifar-10, cifar-100 (32x32x3, binary version), svhn (32x32x3; ``train`` = train + extra as the
paper). Nothing is unpickled: CIFAR is read from its binary files, SVHN from MATLAB files.
"""
from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from . import store

DATASETS = ("fashion-mnist", "digits", "cifar-10", "cifar-100", "svhn")
SPLITS = ("train", "test")
FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                   "Sneaker", "Bag", "Ankle boot"]


@dataclass
class ImageSet:
    name: str
    split: str
    images: torch.Tensor          # (N, C, H, W) uint8
    labels: torch.Tensor          # (N,) int64
    classes: list[str]
    identity: str                 # checksums of the source files (+ subset), kept in records
    meta: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.images.shape[1:])

    def subset(self, count: int | None = None, mask: torch.Tensor | None = None, seed: int = 0) -> ImageSet:
        """A class-balanced random subset of ``count`` images, or the images where ``mask`` is True."""
        idx = torch.arange(len(self))
        tag = ""
        if mask is not None:
            idx = idx[mask]
            tag += f"|mask:{hashlib.sha256(mask.numpy().tobytes()).hexdigest()[:12]}"
        if count is not None:
            if count <= 0:
                raise ValueError(f"subset count must be positive, got {count}")
            if count < len(idx):
                g = torch.Generator().manual_seed(seed)
                perm = idx[torch.randperm(len(idx), generator=g)]
                # round-robin over classes keeps the subset balanced
                labels = self.labels[perm]
                rank = torch.zeros_like(perm)
                for c in labels.unique():
                    sel = labels == c
                    rank[sel] = torch.arange(int(sel.sum()))
                order = torch.argsort(rank * (len(self.classes) + 1) + labels, stable=True)
                idx = perm[order[:count]].sort().values
            tag += f"|count:{count}|seed:{seed}"
        return ImageSet(self.name, self.split, self.images[idx], self.labels[idx], self.classes,
                        self.identity + tag, dict(self.meta))

    def content_digest(self) -> str:
        """sha256 (first 16 hex) of the images and labels themselves: what a run actually saw."""
        h = hashlib.sha256(self.images.contiguous().numpy().tobytes())
        h.update(self.labels.numpy().tobytes())
        return h.hexdigest()[:16]

    def mean_std(self) -> tuple[list[float], list[float]]:
        """Per-channel mean and std in [0, 255] units (the "meanstd" preprocessing)."""
        x = self.images.float()
        return x.mean((0, 2, 3)).tolist(), x.std((0, 2, 3)).tolist()


def load(name: str, split: str = "train", root: str | Path | None = None) -> ImageSet:
    """Load a whole split as tensors, e.g. ``load("fashion-mnist", "test")``."""
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}")
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; use one of {SPLITS}")
    return _LOADERS[name](split, root)


def _identity(name: str) -> str:
    specs = store.FILES[name]
    return name + ":" + ",".join((s.md5 or s.sha256_gunzip or "?")[:12] for s in specs)


def read_idx(path: Path) -> np.ndarray:
    """Read an IDX file (optionally gzipped) as in LeCun's MNIST format."""
    with (gzip.open if path.suffix == ".gz" else open)(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 8:
        raise store.DataError(f"{path} is not an unsigned-byte IDX file; delete it and fetch it again")
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    body = np.frombuffer(data, np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(dims)):
        raise store.DataError(f"{path} is truncated ({body.size} of {int(np.prod(dims))} bytes)")
    return body.reshape(dims)


def _fashion(split, root):
    d = store.dataset_dir("fashion-mnist", root)
    prefix = "train" if split == "train" else "t10k"
    x = read_idx(d / f"{prefix}-images-idx3-ubyte.gz")
    y = read_idx(d / f"{prefix}-labels-idx1-ubyte.gz")
    return ImageSet("fashion-mnist", split, torch.from_numpy(x.copy()).unsqueeze(1),
                    torch.from_numpy(y.astype(np.int64)), FASHION_CLASSES, _identity("fashion-mnist"))


def _digits(split, root):
    import sklearn
    from sklearn.datasets import load_digits

    d = load_digits()
    x = np.round(d.images * (255.0 / 16.0)).astype(np.uint8)  # 0..16 -> 0..255
    perm = np.random.RandomState(0).permutation(len(x))  # fixed split: 1297 train, 500 test
    idx = perm[:1297] if split == "train" else perm[1297:]
    ident = f"digits:sklearn-{sklearn.__version__}:{hashlib.sha256(x.tobytes()).hexdigest()[:12]}"
    return ImageSet("digits", split, torch.from_numpy(x[idx]).unsqueeze(1),
                    torch.from_numpy(d.target[idx].astype(np.int64)), [str(i) for i in range(10)], ident)


def _cifar(name, split, root):
    d = store.dataset_dir(name, root)
    top = store.extract(d / store.FILES[name][0].path, d / "extracted")
    if name == "cifar-10":
        folder, label_bytes = top / "cifar-10-batches-bin", 1
        files = [f"data_batch_{i}.bin" for i in range(1, 6)] if split == "train" else ["test_batch.bin"]
        classes = (folder / "batches.meta.txt").read_text().split()
    else:
        folder, label_bytes = top / "cifar-100-binary", 2
        files = ["train.bin" if split == "train" else "test.bin"]
        classes = (folder / "fine_label_names.txt").read_text().split()
    recs = []
    for f in files:
        raw = np.fromfile(folder / f, np.uint8)
        if raw.size % (3072 + label_bytes):
            raise store.DataError(f"{folder / f} has a partial record; delete {d} and fetch it again")
        recs.append(raw.reshape(-1, 3072 + label_bytes))
    r = np.concatenate(recs)
    y = r[:, label_bytes - 1].astype(np.int64)  # CIFAR-100: byte 0 coarse, byte 1 fine
    x = r[:, label_bytes:].reshape(-1, 3, 32, 32)
    return ImageSet(name, split, torch.from_numpy(x.copy()), torch.from_numpy(y), classes, _identity(name))


def _svhn(split, root):
    from scipy.io import loadmat

    d = store.dataset_dir("svhn", root)
    parts = ["train", "extra"] if split == "train" else ["test"]
    xs, ys = [], []
    for p in parts:
        m = loadmat(d / f"{p}_32x32.mat")
        xs.append(np.transpose(m["X"], (3, 2, 0, 1)))  # (32, 32, 3, N) -> (N, 3, 32, 32)
        ys.append(m["y"].reshape(-1).astype(np.int64) % 10)  # label 10 means digit 0
    return ImageSet("svhn", split, torch.from_numpy(np.ascontiguousarray(np.concatenate(xs))),
                    torch.from_numpy(np.concatenate(ys)), [str(i) for i in range(10)], _identity("svhn"))


_LOADERS = {
    "fashion-mnist": _fashion,
    "digits": _digits,
    "cifar-10": lambda s, r: _cifar("cifar-10", s, r),
    "cifar-100": lambda s, r: _cifar("cifar-100", s, r),
    "svhn": _svhn,
}


class DeviceLoader:
    """Batches of a whole dataset held on ``device``, augmented there.

    ``DeviceLoader(train_set, 128, train=True, device="cuda", mean=..., std=...)`` yields
    ``(x, y)`` with x float32 (B, C, H, W) normalised by mean/std (in [0, 255] units).
    Training batches are reshuffled every epoch (seeded) and augmented with ``crop`` pixels of
    reflection padding + random crop and random horizontal ``flip``.
    """

    def __init__(self, data: ImageSet, batch_size: int, train: bool, device: str | torch.device = "cpu",
                 mean=None, std=None, crop: int = 4, flip: bool = True, seed: int = 0,
                 drop_last: bool | None = None, rank: int = 0, world_size: int = 1):
        if batch_size <= 0:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        self.device = torch.device(device)
        if mean is None:
            mean, std = data.mean_std()
        # --- data-parallel sharding (wpcore.distributed) -----------------------------------------
        # rank r of N keeps its shard of the set and makes batch_size / N of every global batch;
        # training shards are trimmed to equal size so every rank takes the same number of steps.
        self.rank, self.world_size, self.seed = rank, world_size, seed
        if world_size > 1:
            from ..distributed import shard_indices

            if train and batch_size % world_size:
                raise ValueError(f"batch_size {batch_size} must be divisible by the {world_size} processes")
            keep = shard_indices(len(data), rank, world_size, seed, equal=train)
            data = ImageSet(data.name, data.split, data.images[keep], data.labels[keep], data.classes,
                            data.identity, data.meta)
            batch_size = batch_size // world_size if train else batch_size
        # ------------------------------------------------------------------------------------------
        self.images = data.images.to(self.device)  # uint8 stays uint8 on the device (4x less memory)
        self.labels = data.labels.to(self.device)
        c = self.images.shape[1]
        self.mean = torch.tensor(mean, device=self.device, dtype=torch.float32).view(1, c, 1, 1)
        self.std = torch.tensor(std, device=self.device, dtype=torch.float32).view(1, c, 1, 1)
        self.batch_size, self.train, self.crop, self.flip = batch_size, train, crop, flip
        self.drop_last = train if drop_last is None else drop_last
        self.generator = torch.Generator().manual_seed(seed)
        self.epoch = 0

    def __len__(self) -> int:
        n = len(self.labels)
        return n // self.batch_size if self.drop_last and n >= self.batch_size else -(-n // self.batch_size)

    def state(self) -> dict:
        return {"epoch": self.epoch, "generator": self.generator.get_state().tolist()}

    def set_state(self, state: dict) -> None:
        self.epoch = state["epoch"]
        self.generator.set_state(torch.tensor(state["generator"], dtype=torch.uint8))

    def __iter__(self):
        n = len(self.labels)
        if self.world_size > 1:  # a shard's draws depend on (seed, rank, epoch) only: resumable on every rank
            self.generator.manual_seed(self.seed * 1_000_003 + self.epoch * 1009 + self.rank)
        order = torch.randperm(n, generator=self.generator) if self.train else torch.arange(n)
        order = _to(order, self.device)
        self.epoch += 1
        for i in range(len(self)):
            idx = order[i * self.batch_size:(i + 1) * self.batch_size]
            x = self.images[idx].float()
            if self.train:
                x = augment(x, self.crop, self.flip, self.generator)
            yield (x - self.mean) / self.std, self.labels[idx]


def augment(x: torch.Tensor, crop: int, flip: bool, generator: torch.Generator) -> torch.Tensor:
    """Random crop from a ``crop``-pixel reflection pad, and random horizontal flip, batched.

    x: (B, C, H, W) float on any device; the random draws come from ``generator`` (CPU) so runs
    are reproducible on every device.
    """
    b, _, h, w = x.shape
    if crop > 0:
        padded = torch.nn.functional.pad(x, (crop,) * 4, mode="reflect")  # (B, C, H+2p, W+2p)
        dy = _to(torch.randint(0, 2 * crop + 1, (b,), generator=generator), x.device)
        dx = _to(torch.randint(0, 2 * crop + 1, (b,), generator=generator), x.device)
        # every crop position as a view, then one (C, H, W) block per image: the same pixels as
        # indexing rows dy..dy+H and columns dx..dx+W, 4x faster on CPU (benchmarks/)
        windows = padded.unfold(2, h, 1).unfold(3, w, 1)  # (B, C, 2p+1, 2p+1, H, W), no copy
        x = windows[torch.arange(b, device=x.device), :, dy, dx]  # (B, C, H, W)
    if flip:
        m = _to(torch.rand(b, generator=generator) < 0.5, x.device)[:, None, None, None]
        x = torch.where(m, x.flip(3), x)
    return x


def _to(t: torch.Tensor, device: torch.device) -> torch.Tensor:
    """CPU tensor -> ``device``; to CUDA through pinned memory without blocking, so the host never
    waits for the GPU to drain its queue before the next batch (a pageable copy synchronises)."""
    if device.type != "cuda":
        return t.to(device)
    return t.pin_memory().to(device, non_blocking=True)
