"""Tiny datasets written in each dataset's real on-disk format, and a way to point wpcore at them."""
from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from pathlib import Path

import numpy as np

from wpcore.data import store


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def _idx(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_fashion(folder: Path, n_train=40, n_test=20, seed=0) -> list[store.FileSpec]:
    rng = np.random.RandomState(seed)
    folder.mkdir(parents=True, exist_ok=True)
    specs = []
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        y = np.arange(n) % 10
        x = rng.randint(0, 50, (n, 28, 28)) + (y * 20)[:, None, None]  # class-dependent brightness
        for kind, arr in (("images-idx3", x), ("labels-idx1", y)):
            p = folder / f"{prefix}-{kind}-ubyte.gz"
            p.write_bytes(gzip.compress(_idx(arr)))
            specs.append(store.FileSpec(p.name, None, md5(p)))
    return specs


def _cifar_records(n, label_bytes, seed):
    rng = np.random.RandomState(seed)
    labels = np.arange(n) % (10 if label_bytes == 1 else 100)
    recs = np.zeros((n, label_bytes + 3072), np.uint8)
    if label_bytes == 2:
        recs[:, 0] = labels // 5  # coarse label
    recs[:, label_bytes - 1] = labels
    recs[:, label_bytes:] = rng.randint(0, 256, (n, 3072))
    return recs.tobytes()


def _add(tar: tarfile.TarFile, name: str, data: bytes):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def write_cifar10(folder: Path, per_batch=6, n_test=10) -> list[store.FileSpec]:
    folder.mkdir(parents=True, exist_ok=True)
    p = folder / "cifar-10-binary.tar.gz"
    with tarfile.open(p, "w:gz") as tar:
        for i in range(1, 6):
            _add(tar, f"cifar-10-batches-bin/data_batch_{i}.bin", _cifar_records(per_batch, 1, i))
        _add(tar, "cifar-10-batches-bin/test_batch.bin", _cifar_records(n_test, 1, 9))
        names = "airplane automobile bird cat deer dog frog horse ship truck"
        _add(tar, "cifar-10-batches-bin/batches.meta.txt", ("\n".join(names.split()) + "\n").encode())
    return [store.FileSpec(p.name, None, md5(p))]


def write_cifar100(folder: Path, n_train=30, n_test=10) -> list[store.FileSpec]:
    folder.mkdir(parents=True, exist_ok=True)
    p = folder / "cifar-100-binary.tar.gz"
    with tarfile.open(p, "w:gz") as tar:
        _add(tar, "cifar-100-binary/train.bin", _cifar_records(n_train, 2, 1))
        _add(tar, "cifar-100-binary/test.bin", _cifar_records(n_test, 2, 2))
        _add(tar, "cifar-100-binary/fine_label_names.txt", "\n".join(f"class{i}" for i in range(100)).encode())
        _add(tar, "cifar-100-binary/coarse_label_names.txt", "\n".join(f"super{i}" for i in range(20)).encode())
    return [store.FileSpec(p.name, None, md5(p))]


def write_svhn(folder: Path) -> list[store.FileSpec]:
    from scipy.io import savemat

    folder.mkdir(parents=True, exist_ok=True)
    specs = []
    for split, n in (("train", 12), ("test", 6), ("extra", 8)):
        rng = np.random.RandomState(len(split))
        y = (np.arange(n) % 10) + 1  # SVHN labels are 1..10, 10 meaning the digit 0
        x = rng.randint(0, 256, (32, 32, 3, n)).astype(np.uint8)
        p = folder / f"{split}_32x32.mat"
        savemat(p, {"X": x, "y": y.reshape(-1, 1).astype(np.uint8)})
        specs.append(store.FileSpec(p.name, None, md5(p)))
    return specs


WRITERS = {"fashion-mnist": write_fashion, "cifar-10": write_cifar10, "cifar-100": write_cifar100,
           "svhn": write_svhn}


def install(monkeypatch, root: Path, name: str) -> Path:
    """Write the fixture for ``name`` under ``root/name`` and make wpcore find only it."""
    specs = WRITERS[name](root / name)
    monkeypatch.setitem(store.FILES, name, specs)
    monkeypatch.setitem(store.SYSTEM_DIRS, name, [])
    monkeypatch.setenv("WPCORE_DATA", str(root))
    return root / name


# --- COCO: annotations/instances_{train,val}2014.json with train2014/ and val2014/ JPEGs ---------

COCO_CATEGORIES = [{"id": 1, "name": "person", "supercategory": "person"},
                   {"id": 3, "name": "car", "supercategory": "vehicle"},
                   {"id": 18, "name": "dog", "supercategory": "animal"}]


def write_coco(root: Path, sizes: dict[str, list[tuple[int, int]]] | None = None, seed: int = 0) -> Path:
    """A tiny COCO in the real layout: per part (train2014, val2014) one JPEG per (h, w) in ``sizes``
    with 1-3 coloured rectangles on noise, each an annotation (xywh, non-contiguous category ids
    1, 3, 18), plus one crowd annotation; the last train image has no annotation. -> ``root``."""
    from PIL import Image

    sizes = sizes or {"train2014": [(48, 64), (64, 40), (40, 40), (56, 72), (48, 64)],
                      "val2014": [(40, 56), (64, 48), (48, 48)]}
    rng = np.random.RandomState(seed)
    (root / "annotations").mkdir(parents=True, exist_ok=True)
    image_id, ann_id = 100, 1
    for part, part_sizes in sizes.items():
        (root / part).mkdir(exist_ok=True)
        images, annotations = [], []
        for k, (h, w) in enumerate(part_sizes):
            image_id += 7  # ids neither contiguous nor sorted by file order
            pixels = rng.randint(0, 60, (h, w, 3)).astype(np.uint8)
            n = 0 if (part == "train2014" and k == len(part_sizes) - 1) else rng.randint(1, 4)
            for _ in range(n):
                bw, bh = rng.randint(10, w // 2 + 1), rng.randint(10, h // 2 + 1)
                x, y = rng.randint(0, w - bw + 1), rng.randint(0, h - bh + 1)
                pixels[y: y + bh, x: x + bw] = rng.randint(120, 256, 3)
                cat = COCO_CATEGORIES[rng.randint(len(COCO_CATEGORIES))]["id"]
                annotations.append({"id": ann_id, "image_id": image_id, "category_id": cat, "iscrowd": 0,
                                    "bbox": [x, y, bw, bh], "area": bw * bh, "segmentation": []})
                ann_id += 1
            if k == 0:
                annotations.append({"id": ann_id, "image_id": image_id, "category_id": 1, "iscrowd": 1,
                                    "bbox": [0, 0, 8, 8], "area": 64, "segmentation": []})
                ann_id += 1
            name = f"COCO_{part}_{image_id:012d}.jpg"
            Image.fromarray(pixels).save(root / part / name, quality=95)
            images.append({"id": image_id, "file_name": name, "height": h, "width": w})
        dataset = {"info": {"description": f"wpcore test fixture, {part}"}, "images": images,
                   "annotations": annotations, "categories": COCO_CATEGORIES}
        (root / "annotations" / f"instances_{part}.json").write_text(json.dumps(dataset))
    return root


def write_imagenet(root: Path, classes=("n01440764", "n01443537", "n01484850"), n_train=4, n_val=2,
                   seed=0) -> Path:
    """A tiny ImageNet in the ImageFolder layout: real JPEG files of assorted sizes (one greyscale,
    one PNG named .JPEG, as ImageNet has both) under train/<wnid>/ and val/<wnid>/."""
    import torch
    from torchvision.io import encode_jpeg, encode_png

    rng = np.random.RandomState(seed)
    for split, n in (("train", n_train), ("val", n_val)):
        for c, wnid in enumerate(classes):
            d = root / split / wnid
            d.mkdir(parents=True, exist_ok=True)
            for i in range(n):
                h, w = int(rng.randint(40, 90)), int(rng.randint(40, 90))
                img = torch.from_numpy(rng.randint(0, 60, (3, h, w)).astype(np.uint8)) + 60 * c
                name = f"{d / wnid}_{split}_{i}.JPEG"
                if (c, i) == (0, 1):
                    data = encode_jpeg(img[:1], quality=90)  # greyscale JPEG
                elif (c, i) == (1, 1):
                    data = encode_png(img)                   # a PNG with a .JPEG name
                else:
                    data = encode_jpeg(img, quality=90)
                Path(name).write_bytes(bytes(data.numpy()))
    return root
