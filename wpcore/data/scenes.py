"""Composed detection scenes in COCO format: the MultiPath chapter's stand-in for COCO (thesis ch. 2).

``fashion-scenes``: 128x128 crops of scikit-image photographs with 1-4
Fashion-MNIST objects pasted on them, each tinted a random colour, its opacity taken from its
grey level, at side lengths from 16 to 100 pixels (about 2/3 COCO-small and 1/3 medium objects
by area; none is COCO-large, which needs more than 96^2 visible pixels). Later objects occlude
earlier ones; a placement that would leave an earlier object less than half visible is redrawn. Boxes and areas are those of the *visible* mask (as COCO's), and
the masks are stored as RLE. Train scenes use Fashion-MNIST's training images, val scenes its
test images; both use different random crops of the same photographs. They are written as
COCO-format files and read back by ``wpcore.data.coco.CocoScenes``, the reader of real COCO.
"""
from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path

import numpy as np

from .coco import CocoScenes

# The version of the scene composer (``write_scenes``): part of the record key of every run on
# fashion-scenes and of the folder the scenes are cached in. tests/test_multipath.py pins its
# output; bump this when the output changes.
GENERATOR_VERSION = 1

CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
           "Ankle boot"]
PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry", "hubble_deep_field",
          "colorwheel", "camera", "coins", "moon", "grass", "gravel", "brick", "clock", "motorcycle")


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
