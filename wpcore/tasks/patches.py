"""Tasks of thesis ch. 1 (DeepCompare): train a patch-pair network, score a SIFT baseline, and the
stereo application (a disparity map by matching along scanlines).

``patches`` trains ``exp.model`` with the hinge loss (±1 labels) on balanced batches of pairs
(per-patch mean subtraction, /256; flips, 90° rotations and order swaps), evaluates FPR95 on the
test pairs after every epoch, and stores the final FPR95 (both protocols) and a ROC curve.
Scoring always runs in fp32 (``scores_of``), also when training used bf16 autocast.
Deviation from training/train.lua: SGD with Nesterov momentum and the book's step schedule
(the one ``fit`` loop) instead of ASGD with averaged weights.

``patch-sift`` needs no training: SIFT descriptors (scikit-image) at each patch's centre, with a
fixed scale and orientation as Brown's patches are already normalised, and score = -L2 distance.
``exp.model`` is not used by it (the record's options say ``descriptor: sift``).

Datasets (``exp.dataset``): ``stereo`` / ``warped`` / ``photos`` / ``mixed`` (embedded, see
``wpcore.data.patches``; on ``mixed`` the record also keeps the FPR95 of each part of the test set,
``fpr95_stereo`` and ``fpr95_photos``), or
``brown:<train scene>`` with ``options["test_scene"]`` (PhotoTour under ``$WPCORE_DATA/phototour``).
Options: ``n_train``, ``n_test`` (embedded pair counts), ``stereo_map`` (bool), ``stereo_stride``
(grid step of the map, px), ``test_scene``, ``descriptor`` (``sift``, a label for the baseline),
``transfer`` (a second embedded test set, e.g. ``warped``: the model trained on stereo pairs is also
scored there, as the thesis trains on one Brown scene and tests on another; ``fpr95_transfer``).
"""
from __future__ import annotations  # noqa: I001 (sorting would re-key the published patches records)

import functools
import math

import numpy as np
import torch
from torch import nn

from ..data import patches as P
from ..data import pairs as PS
from ..data import stereo as ST
from ..data import phototour
from ..experiment import Context, Experiment, TaskResult, register_task
from ..losses.hinge import hinge
from ..metrics.matching import fpr95, fpr95_interpolated, roc_curve
from .setup import build, fit_config

OPTIONS = {"n_train", "n_test", "stereo_map", "stereo_stride", "test_scene", "descriptor", "transfer"}


def _check_options(exp: Experiment) -> dict:
    unknown = set(exp.options) - OPTIONS
    if unknown:
        raise ValueError(f"unknown options {sorted(unknown)} for task {exp.task!r}; known: {sorted(OPTIONS)}")
    return exp.options


@functools.lru_cache(maxsize=4)
def _pairs(dataset: str, part: str, n: int, seed: int, test_scene: str | None) -> PS.PairSet:
    if dataset.startswith("brown:"):
        from ..data.store import data_root

        scene = dataset.split(":", 1)[1] if part == "train" else test_scene
        if scene is None:
            raise ValueError("brown datasets need options['test_scene'] (e.g. 'notredame')")
        return phototour.load_phototour(scene, data_root() / "phototour",
                                        phototour.TRAIN_PAIRS if part == "train" else phototour.TEST_PAIRS)
    return P.load_pairs(dataset, part, n, seed)


def load_split(exp: Experiment) -> tuple[PS.PairSet, PS.PairSet]:
    o = _check_options(exp)
    ts = o.get("test_scene")
    return (_pairs(exp.dataset, "train", o.get("n_train", 20000), exp.seed, ts),
            _pairs(exp.dataset, "test", o.get("n_test", 4000), 0, ts))


def fp32(device):
    """A context that turns autocast off on ``device``: scoring runs in fp32 even inside the bf16
    autocast of ``fit``'s evaluation (bf16 keeps 8 mantissa bits, so nearby scores collapse into
    ties that the FPR95 protocol must then average over)."""
    return torch.autocast(torch.device(device).type, enabled=False)


@torch.no_grad()
def scores_of(model: nn.Module, data: PS.PairSet, device, batch: int = 500) -> np.ndarray:
    """Scores (N,) of the pairs of ``data``, in eval mode and fp32 whatever the training arithmetic."""
    model.eval()
    with fp32(device):
        return torch.cat([model(x).float().cpu()
                          for x, _ in PS.PairLoader(data, batch, False, device)]).numpy()


def matching_metrics(scores: np.ndarray, labels: np.ndarray) -> dict:
    """FPR95 in % under both protocols (official Lua, interpolated sklearn)."""
    return {"fpr95": 100 * fpr95(scores, labels), "fpr95_interp": 100 * fpr95_interpolated(scores, labels)}


def part_metrics(scores: np.ndarray, data: PS.PairSet) -> dict:
    """FPR95 (%) of each named part of a mixed test set (``fpr95_stereo``, ``fpr95_photos``)."""
    labels = data.labels.numpy()
    return {f"fpr95_{name}": 100 * fpr95(scores[a:b], labels[a:b]) for name, (a, b) in data.parts.items()}


def roc_points(scores: np.ndarray, labels: np.ndarray, n: int = 200) -> dict:
    f, t, _ = roc_curve(scores, labels)
    keep = np.unique(np.linspace(0, len(f) - 1, min(n, len(f))).round().astype(int))
    return {"fpr": f[keep].round(5).tolist(), "tpr": t[keep].round(5).tolist()}


# --- SIFT baseline ---------------------------------------------------------------------------------

SIFT_SCALE = 4  # octave 0, scale index 4: sigma = 1.6 * 2^(4/3) ~ 4.0, a 2 x 7.5 sigma ~ 60 px window


def sift_descriptors(patches: torch.Tensor, per_sheet: int = 16, pad: int = 16) -> np.ndarray:
    """(K, 64, 64) uint8 -> (K, 128) float SIFT descriptors at the centres, orientation 0.

    Patches are tiled into sheets so one scale space serves ``per_sheet**2`` of them; each tile is
    the patch with a ``pad``-pixel mirror border, so the blur (4 sigma ~ 16 px) and the window
    (half-size 7.5 sigma ~ 30 px) never see a neighbouring patch.
    """
    from skimage.feature import SIFT

    k, s = len(patches), patches.shape[-1]
    per_sheet = min(per_sheet, max(1, math.ceil(math.sqrt(k))))
    t = s + 2 * pad  # tile size
    out = np.empty((k, 128), np.float32)
    per = per_sheet * per_sheet
    for start in range(0, k, per):
        chunk = np.pad(patches[start:start + per].numpy(), ((0, 0), (pad, pad), (pad, pad)), mode="reflect")
        n = len(chunk)
        sheet = np.zeros((per_sheet * t, per_sheet * t), np.uint8)
        rows, cols = np.divmod(np.arange(n), per_sheet)
        for i in range(n):
            sheet[rows[i] * t:(rows[i] + 1) * t, cols[i] * t:(cols[i] + 1) * t] = chunk[i]
        sift = SIFT(upsampling=1, n_octaves=1)
        img = sift._preprocess(sheet)
        space = sift._create_scalespace(img)
        sift.positions = np.stack([rows * t + t // 2, cols * t + t // 2], 1).astype(np.float64)
        sift.octaves = np.zeros(n, int)
        sift.scales = np.full(n, SIFT_SCALE)
        sift.sigmas = np.full(n, sift.scalespace_sigmas[0][SIFT_SCALE])
        sift.orientations = np.zeros(n)
        sift._compute_descriptor([np.gradient(octave) for octave in space])
        out[start:start + n] = sift.descriptors
    return out


def unit_rows(d: np.ndarray) -> np.ndarray:
    """(K, D) -> (K, D) with unit L2 norm per row (zero rows stay zero)."""
    return d / np.maximum(np.linalg.norm(d, axis=1, keepdims=True), 1e-12)


@register_task("patch-sift", trains=False)
def sift_baseline(exp: Experiment, ctx: Context) -> TaskResult:
    _, test = load_split(exp)
    d1, d2 = sift_descriptors(test.pairs[:, 0]), sift_descriptors(test.pairs[:, 1])
    scores = -np.linalg.norm(unit_rows(d1) - unit_rows(d2), axis=1)
    labels = test.labels.numpy()
    final = {**matching_metrics(scores, labels), **part_metrics(scores, test)}
    if exp.options.get("transfer"):
        other = _pairs(exp.options["transfer"], "test", exp.options.get("n_test", 4000) // 2, 0, None)
        e1, e2 = sift_descriptors(other.pairs[:, 0]), sift_descriptors(other.pairs[:, 1])
        final["fpr95_transfer"] = 100 * fpr95(-np.linalg.norm(unit_rows(e1) - unit_rows(e2), axis=1),
                                              other.labels.numpy())
    return TaskResult([], {**final, "params": 0}, None,
                      {"test": test.identity, "n_test": len(test), "content": {"test": test.content_digest()}},
                      {"roc": roc_points(scores, labels)})


# --- training ------------------------------------------------------------------------------------

@register_task("patches")
def train_patches(exp: Experiment, ctx: Context) -> TaskResult:
    from ..train import fit

    train, test = load_split(exp)
    model, args = build(exp)
    batches = PS.PairLoader(train, exp.batch_size, True, ctx.device, augment=exp.augment, balanced=True,
                           seed=exp.seed)
    labels = test.labels.numpy()

    def evaluate(m: nn.Module) -> dict:
        return matching_metrics(scores_of(m, test, ctx.device), labels)

    cfg = fit_config(exp, ctx)
    history = fit(model, batches, cfg, objective=lambda m, b: hinge(m(b[0]), b[1]), evaluate=evaluate,
                  log=ctx.log, checkpoint=ctx.checkpoint, device=ctx.device)
    scores = scores_of(model, test, ctx.device)
    final = {**(dict(history[-1]) if history else {}), **matching_metrics(scores, labels),
             **part_metrics(scores, test), "params": sum(p.numel() for p in model.parameters())}
    extra = {"roc": roc_points(scores, labels)}
    if exp.options.get("transfer"):
        other = _pairs(exp.options["transfer"], "test", exp.options.get("n_test", 4000) // 2, 0, None)
        final["fpr95_transfer"] = 100 * fpr95(scores_of(model, other, ctx.device), other.labels.numpy())
    if exp.options.get("stereo_map"):
        extra["stereo"] = stereo_map(model, ctx.device, stride=exp.options.get("stereo_stride", 12))
    return TaskResult(history, final, model,
                      {"train": train.identity, "test": test.identity, "n_train": len(train), "n_test": len(test),
                       "content": {"train": train.content_digest(), "test": test.content_digest()}},
                      extra, model_args=args)


# --- the stereo application ------------------------------------------------------------------------

@torch.no_grad()
def stereo_map(model: nn.Module, device, stride: int = 12, max_disp: int = 64, disp_step: int = 2) -> dict:
    """Winner-take-all disparity on a grid of the *test* rows of the motorcycle pair.

    For each grid pixel (r, c) of the left image, score the pairs (left patch at (r, c), right
    patch at (r, c - d)) for d = 0, disp_step, ..., max_disp and keep the best d. Returns the map,
    the ground truth at the same pixels (NaN unknown), and the mean absolute error and the share
    of pixels more than 3 px off (the Middlebury "bad 3.0" rate), both over pixels with ground truth.
    """
    left, right, disp = ST.stereo_images()
    h = PS.PATCH // 2
    rows = np.arange(ST.STEREO_SPLIT_ROW + h, left.shape[0] - h + 1, stride)
    cols = np.arange(h + max_disp, left.shape[1] - h + 1, stride)
    ds = np.arange(0, max_disp + 1, disp_step)
    rr, cc = [a.ravel() for a in np.meshgrid(rows, cols, indexing="ij")]
    model.eval()
    best = np.empty(len(rr))
    chunk = max(1, 2000 // len(ds))
    for i in range(0, len(rr), chunk):
        r, c = rr[i:i + chunk], cc[i:i + chunk]
        lp = ST.crop(left, r, c)                                                     # (k, 64, 64)
        rp = np.stack([ST.crop(right, r, c - d) for d in ds], 1)                     # (k, D, 64, 64)
        pairs = torch.from_numpy(np.stack([np.repeat(lp[:, None], len(ds), 1), rp], 2))  # (k, D, 2, 64, 64)
        x = PS.normalize(pairs.flatten(0, 1)).to(device)
        with fp32(device):
            s = model(x).float().cpu().view(len(r), len(ds))
        best[i:i + chunk] = ds[s.argmax(1).numpy()]
    gt = disp[rr, cc]
    ok = np.isfinite(gt)
    err = np.abs(best - gt)[ok]
    return {"rows": rows.tolist(), "cols": cols.tolist(), "disparity": best.reshape(len(rows), len(cols)).tolist(),
            "ground_truth": [[None if not np.isfinite(v) else float(v) for v in row]  # JSON: null = unknown
                             for row in gt.reshape(len(rows), len(cols))],
            "mae_px": float(err.mean()), "bad3_pct": float(100 * (err > 3).mean()),
            "max_disp": max_disp, "disp_step": disp_step, "stride": stride}
