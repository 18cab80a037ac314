"""PhotoTour / Brown patches (Liberty, Notre Dame, Yosemite), the thesis's data for ch. 1.

Read in its on-disk
format: ``patches0000.bmp, patches0001.bmp, ...`` are 1024x1024 grayscale sheets of 16x16
patches of 64x64, row-major (patch ``i`` is sheet ``i // 256``, row ``(i % 256) // 16``, column
``i % 16``); ``info.txt`` line ``i`` starts with the 3D point id of patch ``i``;
``m50_<n>_<n>_0.txt`` lists pairs as ``patchID1 pointID1 unused1 patchID2 pointID2 unused2``, a
match when the point ids are equal. The archive is checked against an md5 table (injectable, so
tests run on fixtures) before it is unpacked.
"""
from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import torch

from .pairs import PATCH, PairSet
from .store import DataError, file_hash

SHEET = 1024
PER_ROW = SHEET // PATCH  # 16 patches per sheet row, 256 per sheet

# archive name -> (url, md5 of the zip as published; same table as torchvision's PhotoTour)
PHOTOTOUR_ARCHIVES: dict[str, tuple[str, str]] = {
    "liberty": ("http://icvl.ee.ic.ac.uk/vbalnt/liberty.zip", "fdd9152f138ea5ef2091746689176414"),
    "notredame": ("http://icvl.ee.ic.ac.uk/vbalnt/notredame.zip", "509eda8535847b8c0a90bbb210c83484"),
    "yosemite": ("http://icvl.ee.ic.ac.uk/vbalnt/yosemite.zip", "533b2e8eb7ede31be40abc317b2fd4f0"),
}
PHOTOTOUR_COUNTS = {"liberty": 450092, "notredame": 468159, "yosemite": 633587}  # patches per scene
TEST_PAIRS = "m50_100000_100000_0.txt"    # the standard 100k test pairs
TRAIN_PAIRS = "m50_500000_500000_0.txt"   # training list of training/train.lua
# the six train -> test splits of the thesis's table (thesis.md §1.4)
BROWN_SPLITS = [("yosemite", "notredame"), ("yosemite", "liberty"), ("notredame", "yosemite"),
                ("notredame", "liberty"), ("liberty", "yosemite"), ("liberty", "notredame")]


def phototour_dir(name: str, root: str | Path, archives: dict[str, tuple[str, str]] | None = None) -> Path:
    """``<root>/<name>/`` with the scene's files, unpacked from ``<root>/<name>.zip`` after its md5
    matched ``archives[name]`` (default: the published table)."""
    archives = PHOTOTOUR_ARCHIVES if archives is None else archives
    if name not in archives:
        raise ValueError(f"unknown PhotoTour scene {name!r}; known: {', '.join(archives)}")
    root, folder = Path(root), Path(root) / name
    if (folder / "info.txt").exists():
        return folder
    url, md5 = archives[name]
    zpath = root / f"{name}.zip"
    if not zpath.exists():
        raise DataError(f"{zpath} is missing: download {url} (md5 {md5}) into {root}")
    got = file_hash(zpath, "md5")
    if got != md5:
        raise DataError(f"{zpath} is corrupt or truncated (md5 {got}, expected {md5}); delete it and "
                        f"download {url} again")
    folder.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(zpath) as z:
        for m in z.infolist():  # flatten: the files sit at the top of the scene folder
            fname = Path(m.filename).name
            if not m.is_dir() and fname:
                (folder / fname).write_bytes(z.read(m))
    return folder


def read_sheets(folder: Path, count: int) -> torch.Tensor:
    """The first ``count`` patches of ``patches*.bmp`` sheets -> (count, 64, 64) uint8."""
    from PIL import Image

    sheets = sorted(folder.glob("patches*.bmp"))
    need = -(-count // PER_ROW ** 2)
    if len(sheets) < need:
        raise DataError(f"{folder} has {len(sheets)} patch sheets, {need} are needed for {count} patches")
    out = []
    for s in sheets[:need]:
        a = np.asarray(Image.open(s).convert("L"))
        if a.shape != (SHEET, SHEET):
            raise DataError(f"{s} is {a.shape}, expected a {SHEET}x{SHEET} sheet")
        out.append(a.reshape(PER_ROW, PATCH, PER_ROW, PATCH).transpose(0, 2, 1, 3).reshape(-1, PATCH, PATCH))
    return torch.from_numpy(np.concatenate(out)[:count].copy())


def read_info(path: Path) -> np.ndarray:
    """info.txt -> (P,) int64 3D point id of each patch."""
    return np.loadtxt(path, dtype=np.int64, usecols=0, ndmin=1)


def read_pairs(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """m50_* list -> (M, 2) patch ids, (M,) int8 labels (+1 same 3D point, else -1)."""
    a = np.loadtxt(path, dtype=np.int64, ndmin=2)
    return a[:, [0, 3]], np.where(a[:, 1] == a[:, 4], 1, -1).astype(np.int8)


def load_phototour(name: str, root: str | Path, pairs: str = TEST_PAIRS,
                   archives: dict[str, tuple[str, str]] | None = None,
                   counts: dict[str, int] | None = None) -> PairSet:
    """A Brown scene's pair list as a PairSet (``pairs``: TEST_PAIRS or TRAIN_PAIRS)."""
    folder = phototour_dir(name, root, archives)
    info = read_info(folder / "info.txt")
    expected = (PHOTOTOUR_COUNTS if counts is None else counts).get(name)
    if expected is not None and len(info) != expected:
        raise DataError(f"{folder}/info.txt lists {len(info)} patches, the scene has {expected}; "
                        "the folder is incomplete: delete it to unpack the archive again")
    patches = read_sheets(folder, len(info))
    ids, labels = read_pairs(folder / pairs)
    if ids.max() >= len(patches):
        raise DataError(f"{folder / pairs} names patch {ids.max()}, the scene has {len(patches)}")
    if not np.array_equal(labels > 0, info[ids[:, 0]] == info[ids[:, 1]]):
        raise DataError(f"{folder / pairs} disagrees with info.txt on which pairs match")
    ids_t = torch.from_numpy(ids)
    return PairSet(torch.stack([patches[ids_t[:, 0]], patches[ids_t[:, 1]]], 1),
                   torch.from_numpy(labels), f"phototour:{name}:{pairs}")
