"""Detection data in COCO format: a loader for real COCO, and composed Fashion-MNIST scenes.

The MultiPath chapter (thesis ch. 2) trains on COCO trainval35k and tests on val5k, the first
5000 images of ``instances_val2014.json`` in the file's order (DataSetJSON.lua: NarrowLoader(val,
1, 5000); the Lua COCO API keeps the JSON order). :class:`CocoScenes` reads any COCO-format
annotation file with its image folder, so real COCO works unchanged where it is installed.

The embedded stand-in, ``fashion-scenes``: 128x128 crops of scikit-image photographs with 1-4
Fashion-MNIST objects pasted on them, each tinted a random colour, its opacity taken from its
grey level, at side lengths from 16 to 100 pixels (about 2/3 COCO-small and 1/3 medium objects
by area; none is COCO-large, which needs more than 96^2 visible pixels). Later objects occlude
earlier ones; a placement that would leave an earlier object less than half visible is redrawn. Boxes and areas are those of the *visible* mask (as COCO's), and
the masks are stored as RLE. Train scenes use Fashion-MNIST's training images, val scenes its
test images; both use different random crops of the same photographs.
"""
from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import json
from pathlib import Path

import numpy as np
import torch

# The version of the scene composer (``write_scenes``): part of the record key of every run on
# fashion-scenes and of the folder the scenes are cached in. tests/test_data_identity.py pins its
# output; bump this when the output changes.
GENERATOR_VERSION = 1

CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
           "Ankle boot"]
PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry", "hubble_deep_field",
          "colorwheel", "camera", "coins", "moon", "grass", "gravel", "brick", "clock", "motorcycle")


# --- a COCO-format dataset ---------------------------------------------------------------------

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

    def scale(self, h: int, w: int) -> float:
        if self.min_size is None:
            return 1.0
        s = self.min_size / min(h, w)
        return min(s, self.max_size / max(h, w)) if self.max_size else s

    def __getitem__(self, i: int) -> tuple[torch.Tensor, dict]:
        """-> image (3, H, W) float in [0, 1], target {"boxes" (G, 4) xyxy, "labels" (G,), "image_id", "scale"}."""
        from PIL import Image

        info = self.coco.imgs[self.image_ids[i]]
        img = Image.open(self.image_dir / info["file_name"]).convert("RGB")
        s = self.scale(img.height, img.width)
        if s != 1.0:
            img = img.resize((round(img.width * s), round(img.height * s)), Image.BILINEAR)
        x = torch.from_numpy(np.asarray(img).copy()).permute(2, 0, 1).float() / 255
        anns = [a for a in self.coco.imgToAnns[info["id"]] if not a.get("iscrowd", 0) and a["bbox"][2] > 0
                and a["bbox"][3] > 0]
        boxes = torch.tensor([a["bbox"] for a in anns], dtype=torch.float32).view(-1, 4)
        boxes[:, 2:] += boxes[:, :2]  # xywh -> xyxy
        labels = torch.tensor([self.label_of_cat[a["category_id"]] for a in anns], dtype=torch.int64)
        return x, {"boxes": boxes * s, "labels": labels, "image_id": info["id"], "scale": s}

    def identity(self) -> str:
        """sha256 (first 16 hex) of the annotation file, with the selection."""
        h = hashlib.sha256(self.ann_file.read_bytes()).hexdigest()[:16]
        return f"{self.ann_file.name}:{h}:images[{self.skip}:{self.skip + len(self)}]"


def collate(items: list[tuple[torch.Tensor, dict]]) -> tuple[torch.Tensor, list[dict], list[tuple[int, int]]]:
    """Pad images to a common size: -> (N, 3, Hmax, Wmax), targets, true (h, w) per image."""
    sizes = [tuple(x.shape[-2:]) for x, _ in items]
    h, w = max(s[0] for s in sizes), max(s[1] for s in sizes)
    batch = torch.zeros(len(items), 3, h, w)
    for b, (x, _) in enumerate(items):
        batch[b, :, : x.shape[1], : x.shape[2]] = x
    return batch, [t for _, t in items], sizes


def hflip(images: torch.Tensor, targets: list[dict], sizes: list[tuple[int, int]]) -> tuple[torch.Tensor, list[dict]]:
    """Mirror every image of a batch of equal sizes and its boxes (the thesis's only augmentation)."""
    out = []
    for t, (_, w) in zip(targets, sizes):
        b = t["boxes"].clone()
        b[:, [0, 2]] = w - t["boxes"][:, [2, 0]]
        out.append({**t, "boxes": b})
    return images.flip(-1), out


def batches(data: CocoScenes, batch_size: int, cache: list | None = None):
    """Yield (images, targets, sizes) batches in order (evaluation); ``cache`` holds loaded items."""
    for start in range(0, len(data), batch_size):
        idx = range(start, min(start + batch_size, len(data)))
        yield collate([cache[i] if cache is not None else data[i] for i in idx])


# --- composed scenes ---------------------------------------------------------------------------

@functools.lru_cache(maxsize=1)
def photographs() -> tuple[np.ndarray, ...]:
    """scikit-image's bundled photographs as (H, W, 3) float in [0, 1] (no download)."""
    import skimage.data as sd
    from skimage.color import gray2rgb

    out = []
    for name in PHOTOS:
        img = sd.stereo_motorcycle()[0] if name == "motorcycle" else getattr(sd, name)()
        img = img.astype(np.float32) / 255
        out.append(gray2rgb(img) if img.ndim == 2 else img[..., :3])
    return tuple(out)


def paste(canvas: np.ndarray, owner: np.ndarray, obj: np.ndarray, colour: np.ndarray, x: int, y: int,
          index: int) -> None:
    """Alpha-blend grey object (s, s) in [0, 1], tinted ``colour``, at (x, y); mark its pixels in ``owner``."""
    s = obj.shape[0]
    alpha = np.clip(obj * 6, 0, 1)[..., None]
    region = canvas[y: y + s, x: x + s]
    region[:] = (1 - alpha) * region + alpha * np.clip(obj[..., None] * colour * 1.3, 0, 1)
    owner[y: y + s, x: x + s][alpha[..., 0] > 0.5] = index


def compose_scene(rng: np.random.Generator, photos: tuple[np.ndarray, ...], objects: np.ndarray, labels: np.ndarray,
                  size: int = 128, max_objects: int = 4, sides: tuple[int, int] = (16, 100),
                  min_visible: float = 0.5) -> tuple[np.ndarray, list[dict]]:
    """One scene: -> image (size, size, 3) uint8, [{"label", "mask" (size, size) bool}] of visible objects."""
    from skimage.transform import resize

    photo = photos[rng.integers(len(photos))]
    crop = int(rng.integers(size, min(photo.shape[:2]) + 1))
    y0, x0 = rng.integers(photo.shape[0] - crop + 1), rng.integers(photo.shape[1] - crop + 1)
    canvas = resize(photo[y0: y0 + crop, x0: x0 + crop], (size, size), anti_aliasing=True).astype(np.float32)
    owner = np.full((size, size), -1, np.int32)
    placed: list[int] = []  # indices into objects
    full: list[int] = []    # pixel count of each placed object when unoccluded
    for _ in range(int(rng.integers(1, max_objects + 1))):
        for _attempt in range(10):
            k = int(rng.integers(len(objects)))
            s = min(int(np.exp(rng.uniform(np.log(sides[0]), np.log(sides[1])))), size - 8)
            obj = resize(objects[k].astype(np.float32) / 255, (s, s), anti_aliasing=True)
            if (obj * 6 > 0.5).sum() < 16:
                continue
            x, y = int(rng.integers(size - s + 1)), int(rng.integers(size - s + 1))
            new_owner = owner.copy()
            new_owner[y: y + s, x: x + s][np.clip(obj * 6, 0, 1) > 0.5] = len(placed)
            if all((new_owner == j).sum() >= min_visible * full[j] for j in range(len(placed))):
                paste(canvas, owner, obj, rng.uniform(0.3, 1.0, 3).astype(np.float32), x, y, len(placed))
                placed.append(k)
                full.append(int((owner == len(placed) - 1).sum()))
                break
    instances = [{"label": int(labels[k]), "mask": owner == j} for j, k in enumerate(placed)]
    return (np.clip(canvas, 0, 1) * 255).round().astype(np.uint8), instances


def coco_annotation(mask: np.ndarray, category_id: int, image_id: int, ann_id: int) -> dict:
    """A COCO instance annotation (bbox of the visible mask, xywh; RLE segmentation)."""
    from pycocotools import mask as mask_utils

    ys, xs = np.nonzero(mask)
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    rle["counts"] = rle["counts"].decode("ascii")
    x0, y0 = int(xs.min()), int(ys.min())
    return {"id": ann_id, "image_id": image_id, "category_id": category_id, "iscrowd": 0,
            "bbox": [x0, y0, int(xs.max()) + 1 - x0, int(ys.max()) + 1 - y0], "area": int(mask.sum()),
            "segmentation": rle}


def write_scenes(root: str | Path, split: str, count: int, seed: int = 0, size: int = 128,
                 objects: np.ndarray | None = None, labels: np.ndarray | None = None) -> Path:
    """Compose ``count`` scenes and write ``root/images/<split>/*.png`` and
    ``root/annotations/instances_<split>.json``; -> the annotation file.

    ``objects`` (N, 28, 28) uint8 and ``labels`` (N,) default to Fashion-MNIST's train (split
    ``train``) or test images (any other split).
    """
    from PIL import Image

    if objects is None:
        from .images import load

        fm = load("fashion-mnist", "train" if split == "train" else "test")
        objects, labels = fm.images[:, 0].numpy(), fm.labels.numpy()
    root = Path(root)
    (root / "images" / split).mkdir(parents=True, exist_ok=True)
    (root / "annotations").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng([seed, hash_split(split)])
    photos = photographs()
    images, annotations = [], []
    for i in range(count):
        img, instances = compose_scene(rng, photos, objects, labels, size)
        name = f"{i + 1:06d}.png"
        Image.fromarray(img).save(root / "images" / split / name)
        images.append({"id": i + 1, "file_name": name, "height": size, "width": size})
        for inst in instances:
            annotations.append(coco_annotation(inst["mask"], inst["label"] + 1, i + 1, len(annotations) + 1))
    dataset = {"info": {"description": f"fashion-scenes {split}: Fashion-MNIST objects on scikit-image photographs",
                        "seed": seed, "size": size},
               "images": images, "annotations": annotations,
               "categories": [{"id": c + 1, "name": n, "supercategory": "fashion"} for c, n in enumerate(CLASSES)]}
    ann = root / "annotations" / f"instances_{split}.json"
    tmp = ann.with_suffix(".part")
    tmp.write_text(json.dumps(dataset))
    tmp.replace(ann)  # the annotation file appears last: its presence means the split is complete
    return ann


def hash_split(split: str) -> int:
    return int(hashlib.sha256(split.encode()).hexdigest()[:8], 16)


def fashion_scenes(split: str, count: int, seed: int = 0, size: int = 128, root: str | Path | None = None) -> CocoScenes:
    """The embedded detection set: write it once under the data root, then read it as COCO."""
    from .store import data_root

    base = Path(root) if root else data_root() / f"fashion-scenes-v{GENERATOR_VERSION}-{size}-s{seed}"
    base = base / f"{split}-{count}"
    ann = base / "annotations" / f"instances_{split}.json"
    if not ann.exists():
        write_scenes(base, split, count, seed, size)
    return CocoScenes(ann, base / "images" / split)


def coco2014(root: str | Path, split: str, min_size: int = 800, max_size: int = 1000) -> list[CocoScenes]:
    """Real COCO as the thesis splits it: ``val5k`` or ``trainval35k`` (train2014 + val2014[5000:]).

    ``root`` holds ``annotations/instances_{train,val}2014.json`` and ``train2014/``, ``val2014/``.
    """
    root = Path(root)

    def part(name, **kw):
        return CocoScenes(root / "annotations" / f"instances_{name}.json", root / name, min_size=min_size,
                          max_size=max_size, **kw)

    if split == "val5k":
        return [part("val2014", first=5000)]
    if split == "trainval35k":
        return [part("train2014"), part("val2014", skip=5000)]
    raise ValueError(f"unknown COCO split {split!r}; use 'val5k' or 'trainval35k'")
