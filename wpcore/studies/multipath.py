"""MultiPath network (thesis ch. 2): do foveal regions, skip connections and the integral loss
each improve a Fast R-CNN detector?

The ablation adds the modifications one at a time, as the paper's table does: Fast R-CNN
baseline, + foveal regions, + skip connections, + integral loss (= MultiPath). Quick profile:
composed Fashion-MNIST scenes (``wpcore.data.scenes``), a small trunk trained from scratch, a
few epochs on 2 CPU cores. Full profile: COCO trainval35k -> val5k with the repo's recipe
(scripts/train_multipathnet_coco.sh: 4 images per batch, SGD momentum 0.9, lr 1e-3 x0.1 at
280k of 320k iterations, no weight decay, flips); it needs ``$WPCORE_COCO`` (the folder with
annotations/, train2014/, val2014/) and a GPU, and
our trunk is not the thesis's ImageNet VGG-16.
"""
from __future__ import annotations

from statistics import mean

from ..experiment import Experiment
from ..profiles import check_profile
from . import verdict as v
from .claim import Better, Claim
from .verdict import mean_spread

CHAPTER = "multipath"
STANDARD_DESIGNED = False  # `standard` runs quick's experiments until this chapter gets its design

# (label, registry name, switches): the cumulative ablation of the paper
VARIANTS = [
    ("Fast R-CNN", "fast-rcnn", {}),
    ("+ foveal", "multipath", {"skip": False, "integral": False}),
    ("+ foveal + skip", "multipath", {"integral": False}),
    ("+ foveal + skip + integral (MultiPath)", "multipath", {}),
]

# Thesis numbers on COCO (AP in %, val5k unless said). Tags as in the reference sheet §2.3:
# R = official repository, T = third-party quote of the paper, U = unverified.
THESIS = {
    "resnet18-integral": {"what": "released ResNet-18 + integral loss, 400 SharpMask proposals, val5k",
                          "AP": 24.4, "AP50": 40.2, "AP75": 26.8, "APs": 7.8, "APm": 26.6, "APl": 39.4,
                          "AR100": 37.7, "source": "multipathnet README [R]"},
    "system-vs-baseline": {"what": "whole system vs Fast R-CNN + Selective Search",
                           "relative AP gain": 66.0, "small-object AP factor": 4.0,
                           "source": "paper abstract [T]"},
    "final": {"what": "final single number (test-dev vs val, ensemble: unknown)", "AP": 33.5,
              "source": "third-party summary [T], paper value [U]"},
    "ablation": {"what": "per-step AP of foveal / skip / integral", "source": "paper table, not verified [U]"},
}

QUICK_MODEL = {"widths": (16, 32, 64), "head_dim": 128, "rois_per_image": 32}


def experiments(profile: str) -> list[Experiment]:
    check_profile(profile)
    if profile == "smoke":
        common = {"dataset": "fashion-scenes", "epochs": 1, "batch_size": 4, "lr": 0.02, "max_steps": 3,
                  "options": {"train_images": 16, "test_images": 8, "scene_size": 64}}
        model_kw = {"widths": (8, 16, 16), "head_dim": 32, "rois_per_image": 16, "proposals_train": 32}
    elif profile in ("quick", "standard"):
        common = {"dataset": "fashion-scenes", "epochs": 3, "batch_size": 8, "lr": 0.02,
                  "options": {"train_images": 1000, "test_images": 200}}
        model_kw = QUICK_MODEL
    else:  # the repo's COCO recipe; 320k iterations of 4 images = 1280k images ~ 10.4 epochs of trainval35k
        common = {"dataset": "coco", "epochs": 11, "batch_size": 4, "lr": 1e-3, "weight_decay": 0.0,
                  "milestones": (280 / 320,), "gamma": 0.1,  # COCO's folder: $WPCORE_COCO
                  "options": {"checkpoint_every_s": 1800}}  # an epoch is about an hour: resume within it
        model_kw = {"widths": (128, 256, 512), "head_dim": 1024, "proposals_test": 400, "pre_nms": 4000,
                    "proposals_train": 2000, "anchor_sizes": (32, 64, 128, 256, 512)}
    base = {"task": "detect", "nesterov": False, "weight_decay": 1e-4, "milestones": (0.75,), "gamma": 0.1, "seed": 0}
    return [Experiment(name, label=label, model_kw={**model_kw, **switches}, **{**base, **common})
            for label, name, switches in VARIANTS]


def by_label(records) -> dict[str, list]:
    """Records grouped by their variant's label (one per seed)."""
    out: dict[str, list] = {}
    for r in records:
        out.setdefault(r.extra.get("label"), []).append(r)
    return out


def _ap(recs, key: str = "AP") -> list[float]:
    return [r.final[key] for r in recs or [] if key in r.final]


UNIT = "AP points"


def claims(records, profile: str) -> list[Claim]:
    runs = by_label(records)
    labels = [x[0] for x in VARIANTS]
    seeds = len({r.config["seed"] for r in records})
    data = f"{records[0].config['dataset']}, {profile}, {seeds} seed{'s' * (seeds != 1)}" if records else "—"
    out = []
    steps = [
        ("Foveal context regions (1x, 1.5x, 2x, 4x, each with its own head) improve AP over Fast R-CNN.",
         labels[0], labels[1], "AP50"),
        ("Skip connections from three trunk stages improve AP, most for small objects.", labels[1], labels[2], "APs"),
        ("The integral loss (heads at IoU 0.50-0.75, averaged) improves AP, most at high IoU thresholds.",
         labels[2], labels[3], "AP@0.75"),
    ]
    for text, old, new, focus in steps:
        a, b = runs.get(new), runs.get(old)
        verdict, ev = v.difference(_ap(a), _ap(b), UNIT, Better.HIGHER)
        ours = (f"AP {mean_spread(_ap(b))} -> {mean_spread(_ap(a))}; {focus} {mean_spread(_ap(b, focus))} -> "
                f"{mean_spread(_ap(a, focus))} ({data})") if a and b else "—"
        out.append(Claim(CHAPTER, text, f"{THESIS['ablation']['what']}: {THESIS['ablation']['source']}",
                         ours, verdict, ev))
    a, b = runs.get(labels[3]), runs.get(labels[0])
    verdict, ev = v.difference(_ap(a), _ap(b), UNIT, Better.HIGHER,
                               note="our baseline shares the RPN proposals; the thesis's used Selective Search")
    ours = "—"
    if a and b and mean(_ap(b)) > 0:
        gain = 100 * (mean(_ap(a)) / mean(_ap(b)) - 1)
        ours = f"AP {mean_spread(_ap(b))} -> {mean_spread(_ap(a))}, {gain:+.0f}% relative ({data})"
    s = THESIS["system-vs-baseline"]
    out.append(Claim(CHAPTER, "The whole MultiPath system beats the Fast R-CNN baseline by a large margin.",
                     f"+{s['relative AP gain']:.0f}% AP, {s['small-object AP factor']:.0f}x on small objects "
                     f"({s['what']}; {s['source']})", ours, verdict, ev))
    return out
