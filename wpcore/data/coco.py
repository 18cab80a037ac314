"""COCO-format detection data: the reader, the thesis's splits, a check for missing files and the
batch loaders (thesis ch. 2, the MultiPath chapter).

The MultiPath network trains on COCO trainval35k (train2014 + val2014 without its first 5000
images) and tests on val5k, the first 5000 images of ``instances_val2014.json`` in the file's order
(DataSetJSON.lua: NarrowLoader(val, 1, 5000); the Lua COCO API keeps the JSON order).
:class:`CocoScenes` reads any COCO-format annotation file with its image folder, so the composed
scenes of ``wpcore.data.scenes`` go through the same code as real COCO.

Images are decoded with PIL and resized (bilinear) so the shorter side
is 800 unless the longer would exceed 1000 (BatchProviderBase.lua getImages, scale 800 in
scripts/train_multipathnet_coco.sh). :class:`TrainBatches` shuffles per epoch, flips each image
with probability 1/2 on its own (BatchProviderROI.lua permuteIdx: ``do_flip`` per image) and, for
data read from disk, decodes in worker processes while the model trains. :func:`missing` lists
every absent annotation file, image folder and image before a run starts.
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from .store import DataError

COCO_PARTS = ("train2014", "val2014")
VAL5K = 5000  # val5k: the first 5000 images of instances_val2014.json


def decode(path: str | Path, min_size: int | None = None, max_size: int | None = None) -> tuple[torch.Tensor, float]:
    """Read an image file -> ((3, H, W) uint8 RGB, the scale applied): the shorter side becomes
    ``min_size`` unless the longer would exceed ``max_size`` (bilinear); None keeps the size. A
    missing file raises FileNotFoundError.

    PIL, not ``torchvision.io``, whose decoders are deprecated since torchvision 0.29."""
    import numpy as np
    from PIL import Image

    with Image.open(path) as img:
        img = img.convert("RGB")
    w, h = img.size
    s = 1.0 if min_size is None else min(min_size / min(h, w), max_size / max(h, w) if max_size else float("inf"))
    if s != 1.0:
        img = img.resize((round(w * s), round(h * s)), Image.BILINEAR)
    return torch.from_numpy(np.asarray(img).copy()).permute(2, 0, 1), s


def missing_image_message(path: Path, data: CocoScenes) -> str:
    return (f"image {path} is missing (listed in {data.ann_file.name}); restore it, or list every missing "
            f"file with wpcore.data.coco.missing('{data.image_dir.parent}')")


class CocoScenes:
    """Images and boxes of a COCO-format annotation file.

    ``first``/``skip`` select images in the file's order (val5k: ``first=5000``; the rest of val2014,
    i.e. val35k: ``skip=5000``). Category ids map to contiguous labels 1..K (0 is background).
    ``min_size``/``max_size`` resize each image so its shorter side is ``min_size`` unless the
    longer would exceed ``max_size`` (the thesis: 800 / 1000); None keeps the size.
    """

    def __init__(self, ann_file: str | Path, image_dir: str | Path, first: int | None = None, skip: int = 0,
                 min_size: int | None = None, max_size: int | None = None):
        from pycocotools.coco import COCO

        if not Path(ann_file).exists():
            raise DataError(f"annotation file {ann_file} is missing; put it there (COCO: annotations/ from "
                            "cocodataset.org) or point the dataset at the folder that has it")
        with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints progress
            self.coco = COCO(str(ann_file))
        self.ann_file, self.image_dir = Path(ann_file), Path(image_dir)
        ids = [img["id"] for img in self.coco.dataset["images"]]  # the file's order, not sorted
        self.image_ids = ids[skip: None if first is None else skip + first]
        self.skip = skip
        self.cat_ids = sorted(self.coco.getCatIds())
        self.label_of_cat = {c: i + 1 for i, c in enumerate(self.cat_ids)}
        self.cat_of_label = {i + 1: c for i, c in enumerate(self.cat_ids)}
        self.classes = [self.coco.cats[c]["name"] for c in self.cat_ids]
        self.min_size, self.max_size = min_size, max_size

    @property
    def num_classes(self) -> int:
        """Object classes + background, as the detector counts them (81 on COCO)."""
        return len(self.cat_ids) + 1

    def __len__(self) -> int:
        return len(self.image_ids)

    def path(self, i: int) -> Path:
        return self.image_dir / self.coco.imgs[self.image_ids[i]]["file_name"]

    def target(self, i: int, scale: float = 1.0) -> dict:
        """Image ``i``'s annotations, boxes multiplied by ``scale``: {"boxes" (G, 4) xyxy, "labels" (G,),
        "image_id", "scale"}; crowd regions and empty boxes are left out (as the Lua loader)."""
        info = self.coco.imgs[self.image_ids[i]]
        anns = [a for a in self.coco.imgToAnns[info["id"]] if not a.get("iscrowd", 0) and a["bbox"][2] > 0
                and a["bbox"][3] > 0]
        boxes = torch.tensor([a["bbox"] for a in anns], dtype=torch.float32).view(-1, 4)
        boxes[:, 2:] += boxes[:, :2]  # xywh -> xyxy
        labels = torch.tensor([self.label_of_cat[a["category_id"]] for a in anns], dtype=torch.int64)
        return {"boxes": boxes * scale, "labels": labels, "image_id": info["id"], "scale": scale}

    def read(self, i: int) -> tuple[torch.Tensor, dict]:
        """-> image (3, H, W) uint8, resized, and its :meth:`target`; a missing image raises
        :class:`DataError` naming the file."""
        path = self.path(i)
        try:
            x, s = decode(path, self.min_size, self.max_size)
        except FileNotFoundError:
            raise DataError(missing_image_message(path, self)) from None
        return x, self.target(i, s)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, dict]:
        """-> image (3, H, W) float in [0, 1], target as :meth:`target`."""
        x, t = self.read(i)
        return x.float() / 255, t

    def identity(self) -> str:
        """sha256 (first 16 hex) of the annotation file, with the selection."""
        h = hashlib.sha256(self.ann_file.read_bytes()).hexdigest()[:16]
        return f"{self.ann_file.name}:{h}:images[{self.skip}:{self.skip + len(self)}]"


# --- COCO 2014 as the thesis splits it -------------------------------------------------------------

def coco2014(root: str | Path, split: str, min_size: int = 800, max_size: int = 1000) -> list[CocoScenes]:
    """Real COCO as the thesis splits it: ``val5k`` or ``trainval35k`` (train2014 + val2014[5000:]).

    ``root`` holds ``annotations/instances_{train,val}2014.json`` and ``train2014/``, ``val2014/``.
    """
    root = Path(root)

    def part(name, **kw):
        return CocoScenes(root / "annotations" / f"instances_{name}.json", root / name, min_size=min_size,
                          max_size=max_size, **kw)

    if split == "val5k":
        return [part("val2014", first=VAL5K)]
    if split == "trainval35k":
        return [part("train2014"), part("val2014", skip=VAL5K)]
    raise ValueError(f"unknown COCO split {split!r}; use 'val5k' or 'trainval35k'")


def missing(root: str | Path) -> list[str]:
    """Every file the thesis's COCO splits need that is not under ``root``: annotation files, image
    folders, and each image an annotation file lists (checked by name, not decoded)."""
    root, out = Path(root), []
    for part in COCO_PARTS:
        ann, folder = root / "annotations" / f"instances_{part}.json", root / part
        if not folder.is_dir():
            out.append(f"{folder}/")
        if not ann.exists():
            out.append(str(ann))
            continue
        try:
            images = json.loads(ann.read_bytes())["images"]
        except (ValueError, KeyError, TypeError):
            out.append(f"{ann} (not a COCO annotation file: no 'images' list)")
            continue
        if folder.is_dir():
            present = set(os.listdir(folder))
            out += [str(folder / img["file_name"]) for img in images if img["file_name"] not in present]
    return out


def check(root: str | Path) -> None:
    """Raise one :class:`DataError` listing what :func:`missing` finds (the first 10, and a count)."""
    gone = missing(root)
    if gone:
        more = f" and {len(gone) - 10} more" if len(gone) > 10 else ""
        raise DataError(f"COCO under {root} lacks {len(gone)} file(s): {', '.join(gone[:10])}{more}; it needs "
                        "annotations/instances_{train,val}2014.json with the train2014/ and val2014/ images")


# --- batches -------------------------------------------------------------------------------------

def collate(items: Sequence[tuple[torch.Tensor, dict]]) -> tuple[torch.Tensor, list[dict], list[tuple[int, int]]]:
    """Pad images to a common size: -> (N, 3, Hmax, Wmax) of the items' dtype, targets, true (h, w) each."""
    sizes = [tuple(x.shape[-2:]) for x, _ in items]
    h, w = max(s[0] for s in sizes), max(s[1] for s in sizes)
    batch = torch.zeros(len(items), 3, h, w, dtype=items[0][0].dtype)
    for b, (x, _) in enumerate(items):
        batch[b, :, : x.shape[1], : x.shape[2]] = x
    return batch, [t for _, t in items], sizes


def hflip(image: torch.Tensor, target: dict) -> tuple[torch.Tensor, dict]:
    """Mirror one image (3, H, W) and its boxes about its own width (the thesis's only augmentation)."""
    return image.flip(-1), flip_boxes(target, image.shape[-1])


def flip_boxes(target: dict, width: int) -> dict:
    """The target of the mirrored image: x -> width - x (BatchProviderBase.lua selectBBoxesOne)."""
    b = target["boxes"].clone()
    b[:, [0, 2]] = width - target["boxes"][:, [2, 0]]
    return {**target, "boxes": b}


@dataclass(frozen=True)
class BatchPlan:
    """What one batch holds: (part, index within the part, flipped) per image."""
    images: tuple[tuple[int, int, bool], ...]


@dataclass(frozen=True)
class _Missing:
    part: int
    path: str


class _ImageFiles(torch.utils.data.Dataset):
    """Batch ``b`` of a plan as (padded uint8 images, scales), decoded and flipped by a worker.

    It holds only file names and sizes, not the annotations: a worker needs no more, and forked
    workers then do not copy the annotation index page by page."""

    def __init__(self, parts: Sequence[CocoScenes], plans: Sequence[BatchPlan]):
        self.files = [[str(part.path(i)) for i in range(len(part))] for part in parts]
        self.sizes = [(part.min_size, part.max_size) for part in parts]
        self.plans = plans

    def __len__(self) -> int:
        return len(self.plans)

    def __getitem__(self, b: int):
        images, scales = [], []
        for part, i, flip in self.plans[b].images:
            try:
                x, s = decode(self.files[part][i], *self.sizes[part])
            except FileNotFoundError:
                return _Missing(part, self.files[part][i])  # raised by the main process, in one line
            images.append(x.flip(-1) if flip else x)
            scales.append(s)
        batch, _, sizes = collate([(x, None) for x in images])
        return batch, scales, sizes


def planned_batches(parts: Sequence[CocoScenes], plans: Sequence[BatchPlan], device: torch.device | str,
                    workers: int = 0, cache: dict | None = None) -> Iterator:
    """Yield (images (N, 3, H, W) float in [0, 1] on ``device``, targets on ``device``, sizes) per plan.

    ``cache`` ({(part, index): (uint8 image, target)}) serves a small set from memory; otherwise
    ``workers`` processes (0: this one) decode the images a few batches ahead of the training step
    while this process adds the annotations. The global RNG is not touched, so a resumed run draws
    what an uninterrupted one draws. A missing image stops with a one-line :class:`DataError`.
    """
    device = torch.device(device)
    if cache is not None:
        def from_memory():
            for plan in plans:
                items = [cache[p, i] for p, i, _ in plan.images]
                items = [hflip(*item) if f else item for item, (_, _, f) in zip(items, plan.images)]
                yield collate(items)
        batches = from_memory()
    else:
        loader = torch.utils.data.DataLoader(
            _ImageFiles(parts, plans), batch_size=None, num_workers=workers, pin_memory=device.type == "cuda",
            prefetch_factor=4 if workers else None, generator=torch.Generator().manual_seed(0))

        def from_disk():
            for plan, out in zip(plans, loader):
                if isinstance(out, _Missing):
                    raise DataError(missing_image_message(Path(out.path), parts[out.part]))
                images, scales, sizes = out[0], out[1], [tuple(s) for s in out[2]]
                targets = [parts[p].target(i, s) for (p, i, _), s in zip(plan.images, scales)]
                targets = [flip_boxes(t, w) if f else t for t, (_, _, f), (_, w) in zip(targets, plan.images, sizes)]
                yield images, targets, sizes
        batches = from_disk()
    for images, targets, sizes in batches:
        images = images.to(device, non_blocking=True).float().div_(255)
        targets = [{**t, "boxes": t["boxes"].to(device, non_blocking=True),
                    "labels": t["labels"].to(device, non_blocking=True)} for t in targets]
        yield images, targets, sizes


def eval_batches(data: CocoScenes, batch_size: int, device: torch.device | str = "cpu", workers: int = 0,
                 cache: dict | None = None) -> Iterator:
    """The test set in order, unflipped, in batches (evaluation)."""
    plans = [BatchPlan(tuple((0, i, False) for i in range(s, min(s + batch_size, len(data)))))
             for s in range(0, len(data), batch_size)]
    return planned_batches([data], plans, device, workers, cache)


def read_all(parts: Sequence[CocoScenes]) -> dict:
    """{(part, index): (uint8 image, target)} of every image: the in-memory cache of a small set."""
    return {(p, i): part.read(i) for p, part in enumerate(parts) for i in range(len(part))}


class TrainBatches:
    """Training batches of COCO-format sets on ``device``, reshuffled and reflipped each epoch.

    The order and the flips come from a generator seeded by (seed, epoch), so an epoch is the same
    whatever the number of workers and after a resume; ``state``/``set_state`` let ``fit`` resume
    and ``skip_next(n)`` starts the next epoch at its n-th batch without reading the first n.
    ``cache`` holds a small set in memory (read once); without it images are read per batch by
    ``workers`` processes.
    """

    def __init__(self, parts: Sequence[CocoScenes], batch_size: int, device: torch.device | str, seed: int,
                 flip: bool, cache: bool, workers: int = 0):
        self.parts = list(parts)
        self.items = [(p, i) for p, part in enumerate(self.parts) for i in range(len(part))]
        self.cache = read_all(self.parts) if cache else None
        self.batch_size, self.device, self.seed, self.flip = batch_size, torch.device(device), seed, flip
        self.workers, self.epoch, self._skip = workers, 0, 0

    def __len__(self) -> int:
        return (len(self.items) + self.batch_size - 1) // self.batch_size

    def state(self) -> dict:
        return {"epoch": self.epoch}

    def set_state(self, state: dict) -> None:
        self.epoch = state["epoch"]

    def skip_next(self, n: int) -> None:
        """The next epoch starts at its batch ``n`` (a resume inside an epoch)."""
        self._skip = n

    def plan(self, epoch: int) -> list[BatchPlan]:
        """Epoch ``epoch``'s batches: a permutation of the images and one coin per image for the flip."""
        g = torch.Generator().manual_seed(self.seed * 1000 + epoch)
        order = torch.randperm(len(self.items), generator=g).tolist()
        flips = (torch.rand(len(order), generator=g) < 0.5).tolist() if self.flip else [False] * len(order)
        return [BatchPlan(tuple((*self.items[k], f) for k, f in zip(order[s: s + self.batch_size],
                                                                    flips[s: s + self.batch_size])))
                for s in range(0, len(order), self.batch_size)]

    def __iter__(self):
        plans = self.plan(self.epoch)[self._skip:]
        self.epoch, self._skip = self.epoch + 1, 0
        yield from planned_batches(self.parts, plans, self.device, self.workers, self.cache)
