"""Figures and tables of the MultiPath chapter (thesis ch. 2), drawn from the detector and the records.

The central figure (``idea_figure``) has two halves, both read from a built ``MultiPathNet``: the
foveal regions of one proposal on a real test scene (``foveal_boxes`` at the network's
``regions``), and the paths a proposal takes (which trunk stages each region pools from,
``region_stages``; the heads; the integral classifiers at ``thresholds``).
"""
from __future__ import annotations

import inspect
import itertools

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
import torch
from matplotlib.lines import Line2D
from torchvision.ops import box_iou

from .. import nets
from ..data.coco import collate
from ..experiment import load_model
from ..nets.multipath import MultiPathNet, foveal_boxes
from . import diagrams as D
from .figures import legend_outside
from .tables import fmt

REGION_COLOURS = ["#0173b2", "#de8f05", "#029e73", "#cc78bc"]


def _draw_regions(ax, model, image: torch.Tensor, box: torch.Tensor) -> None:
    h, w = image.shape[-2:]
    ax.imshow(image.permute(1, 2, 0).numpy(), extent=(0, w, h, 0))
    for scale, colour in zip(model.regions, REGION_COLOURS):
        x0, y0, x1, y1 = foveal_boxes(box[None], scale)[0].tolist()
        ax.add_patch(plt.Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, ec=colour, lw=2))
        ax.text(x0 + 1, y0 + 1, f"{scale:g}x", color="white", fontsize=8, va="top",
                bbox={"facecolor": colour, "edgecolor": "none", "pad": 1})
    big = foveal_boxes(box[None], max(model.regions))[0].tolist()
    x0, y0 = min(0, big[0]) - 4, min(0, big[1]) - 4
    x1, y1 = max(w, big[2]) + 4, max(h, big[3]) + 4
    ax.set(xlim=(x0, x1), ylim=(y1, y0))
    ax.set_title(f"one proposal at {len(model.regions)} scale" + "s" * (len(model.regions) > 1), fontsize=9)
    ax.add_patch(plt.Rectangle((0, 0), w, h, fill=False, ec="grey", lw=0.8))
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)


def _draw_paths(ax, model) -> None:
    D.canvas(ax, (0, 13.5), (-0.3, 10.6))
    ax.set_title("the paths of a proposal through the detector", fontsize=9)
    trunk = model.trunk
    stages = [D.box(ax, 1.6, 9.2 - 2.6 * i, f"trunk stage {i + 1}", "conv",
                    f"{trunk.widths[i]} ch, stride {trunk.strides[i]}", w=2.8, h=0.95, fontsize=8)
              for i in range(len(trunk.widths))]
    for a, b in itertools.pairwise(stages):
        D.arrow(ax, a.bottom, b.top)
    heads = []
    n = len(model.regions)
    for r, (scale, st) in enumerate(zip(model.regions, model.region_stages)):
        y = 9.6 - r * (8.6 / max(n - 1, 1)) if n > 1 else 5.6
        colour = REGION_COLOURS[r % len(REGION_COLOURS)]
        pool = "+".join(f"s{k + 1}" for k in st)
        sub = f"RoI-pool {pool}" + (", L2, 1x1 conv" if model.skip else "")
        b = D.box(ax, 6.3, y, f"{scale:g}x region", "pool", sub, w=4.9, h=1.0, fontsize=9)
        for k in st:
            ax.annotate("", b.left, stages[k].right, arrowprops={"arrowstyle": "-|>", "color": colour, "lw": 1.2})
        heads.append(b)
    feat = len(model.regions) * model.region_heads[0][1].out_features
    ax.text(6.3, -0.25, f"each region: its own fc6-fc7 head ({model.region_heads[0][1].out_features} features)",
            ha="center", fontsize=8, color="#444444")
    join = D.box(ax, 10.3, 6.6, "concatenate", "join", str(feat), w=2.3, h=0.95, fontsize=8)
    for b in heads:
        ax.annotate("", join.left, b.right, arrowprops={"arrowstyle": "-|>", "color": "#555555", "lw": 0.8})
    thr = ", ".join(f"{t:.2f}" for t in model.thresholds)
    clf = D.box(ax, 10.3, 4.1, f"{len(model.thresholds)} classifier{'s' * (len(model.thresholds) > 1)}",
                "fc", f"IoU ≥ {thr}" if len(model.thresholds) < 3 else f"IoU ≥ {model.thresholds[0]:.2f} … "
                f"{model.thresholds[-1]:.2f}", w=3.4, h=0.95, fontsize=8)
    D.arrow(ax, join.bottom, clf.top)
    out = D.box(ax, 10.3, 1.8, "mean of softmax\n+ box regression" if len(model.thresholds) > 1 else
                "softmax + box regression", "output", None, w=3.4, h=1.0, fontsize=8)
    D.arrow(ax, clf.bottom, out.top)


def idea_figure(model, image: torch.Tensor, box: torch.Tensor):
    """Left: the foveal regions of proposal ``box`` (x0, y0, x1, y1) on ``image`` (3, H, W);
    right: the detector's paths (stages pooled per region, heads, integral classifiers)."""
    fig = plt.figure(figsize=(9.0, 4.2))
    gs = fig.add_gridspec(1, 2, width_ratios=[1, 1.55])
    _draw_regions(fig.add_subplot(gs[0, 0]), model, image, box)
    _draw_paths(fig.add_subplot(gs[0, 1]), model)
    fig.tight_layout()
    return fig


# --- the data and the detections -------------------------------------------------------------

def draw_boxes(ax, image, boxes, names, colour, scores=None, ls="-"):
    """Boxes (x0, y0, x1, y1) on an image (3, H, W), each with its class (and score)."""
    ax.imshow(image.permute(1, 2, 0).numpy())
    for k, (b, n) in enumerate(zip(boxes, names)):
        ax.add_patch(plt.Rectangle((b[0], b[1]), b[2] - b[0], b[3] - b[1], fill=False, color=colour, lw=1.8, ls=ls))
        text = n if scores is None else f"{n} {scores[k]:.2f}"
        ax.text(b[0], b[1] - 1, text, color="black", fontsize=7, backgroundcolor=colour)
    ax.set_axis_off()


def scenes_figure(test, n: int = 3):
    """``n`` test scenes with their ground-truth boxes."""
    fig, axes = plt.subplots(1, n, figsize=(3.2 * n, 3.4))
    for i, ax in enumerate(axes):
        image, target = test[i % len(test)]
        draw_boxes(ax, image, target["boxes"].tolist(), [test.classes[k - 1] for k in target["labels"].tolist()],
                   "gold")
    fig.suptitle(f"Test scenes with their ground-truth boxes ({len(test)} test images)", fontsize=10)
    fig.tight_layout()
    return fig


@torch.no_grad()
def top_detections(record, items: list[tuple[torch.Tensor, dict]], k: int = 3) -> list[dict]:
    """Rebuild a run's detector from its record (``experiment.load_model``); its ``k`` best
    detections on each of ``items`` ((3, H, W) images of any sizes, with targets) ->
    [{"boxes", "scores", "labels"}]."""
    net = load_model(record)
    images, _, sizes = collate(items)  # padded to the largest: COCO's images differ in size
    return [{key: v[:k] for key, v in o.items()} for o in net(images, image_sizes=sizes)]


def correct(det: dict, target: dict, iou: float = 0.5) -> list[bool]:
    """Per detection: does it overlap a ground-truth box of its class by at least ``iou``?"""
    if len(det["boxes"]) == 0:
        return []
    if len(target["boxes"]) == 0:
        return [False] * len(det["boxes"])
    overlap = box_iou(det["boxes"], target["boxes"])  # (D, G)
    same = det["labels"][:, None] == target["labels"][None, :]
    return ((overlap >= iou) & same).any(1).tolist()


def detections_figure(runs: dict, test, labels: list[str], n_images: int = 3, k: int = 3):
    """The ``k`` best detections of each variant in ``labels`` (one row each) on the first
    ``n_images`` test scenes: right detections (IoU >= 0.5 with an object of their class) solid
    green, wrong ones dashed red, ground truth thin white."""
    shown = [test[i] for i in range(min(n_images, len(test)))]
    fig, axes = plt.subplots(len(labels), len(shown), figsize=(2.4 * len(shown) + 0.3, (2.6 + 0.2 * k) * len(labels)),
                             squeeze=False)
    for row, lab in zip(axes, labels):
        dets = top_detections(runs[lab], shown, k)
        for ax, (image, target), det in zip(row, shown, dets):
            ax.imshow(image.permute(1, 2, 0).numpy())
            for b in target["boxes"].tolist():
                ax.add_patch(plt.Rectangle((b[0], b[1]), b[2] - b[0], b[3] - b[1], fill=False, ec="white", lw=1,
                                           ls=":"))
            # each box carries its rank; class and score are listed under the scene, where boxes
            # on the same object cannot make their labels overlap
            for i, (ok, b, c, s) in enumerate(zip(correct(det, target), det["boxes"].tolist(),
                                                  det["labels"].tolist(), det["scores"].tolist())):
                colour = "#009e73" if ok else "#d55e00"
                ax.add_patch(plt.Rectangle((b[0], b[1]), b[2] - b[0], b[3] - b[1], fill=False, ec=colour, lw=2,
                                           ls="-" if ok else "--"))
                ax.text(b[0] + 0.5, b[1] + 0.5, str(i + 1), fontsize=7, color="white", va="top",
                        bbox={"facecolor": colour, "edgecolor": "none", "pad": 0.6})
                ax.text(0.0, -0.03 - 0.09 * i, f"{i + 1}  {test.classes[c - 1]} {s:.2f}: {'right' if ok else 'wrong'}",
                        transform=ax.transAxes, fontsize=8.5, va="top", color=colour)
            ax.set_axis_off()
        row[0].set_title(lab, loc="left", fontsize=9)
    handles = [Line2D([], [], color="#009e73", lw=2, label="right (IoU ≥ 0.5, right class)"),
               Line2D([], [], color="#d55e00", lw=2, ls="--", label="wrong"),
               Line2D([], [], color="grey", lw=1, ls=":", label="ground truth")]
    fig.legend(handles=handles, loc="lower center", ncol=3, fontsize=8.5, bbox_to_anchor=(0.5, 0.0))
    fig.suptitle(f"The {k} highest-scoring detections per test scene", fontsize=10)
    # room under each row for its list of detections (tight_layout does not count those texts)
    height = fig.get_figheight()
    lines = 0.3 + 0.21 * k  # inches under a row: the list, then the next row's title
    fig.subplots_adjust(left=0.02, right=0.98, top=1 - 0.45 / height, bottom=(lines + 0.25) / height,
                        wspace=0.08, hspace=lines / (height / len(labels) - lines))
    return fig


# --- tables and curves -----------------------------------------------------------------------

KEYS = ["AP", "AP50", "AP75", "APs", "APm", "AR100"]


def ablation_table(runs: dict, labels: list[str]) -> pd.DataFrame:
    """COCO metrics, parameters and training time (the record's ``wall_time_s``) per variant."""
    return pd.DataFrame([{"variant": lab, **{k: fmt(runs[lab].final.get(k), 1) for k in KEYS},
                          "parameters": fmt(runs[lab].final["params"]),
                          "training time (s)": fmt(runs[lab].wall_time_s, 0)} for lab in labels])


def seeds_table(records, labels: list[str]) -> pd.DataFrame:
    """Per variant: mean ± s.d. over its seeds (the records the claims use) of the COCO metrics."""
    from ..studies.multipath import by_label
    from ..studies.verdict import mean_spread

    groups = by_label(records)
    return pd.DataFrame([{"variant": lab, "seeds": len(groups.get(lab, [])),
                          **{k: mean_spread([r.final[k] for r in groups.get(lab, []) if k in r.final], 1)
                             for k in ("AP", "AP50", "AP@0.75", "APs", "APm")}} for lab in labels])


def ap_curve_figure(groups: dict, labels: list[str]):
    """AP at each IoU threshold per variant, the mean over its seeds (``groups``: label -> records)
    with a band of one s.d., the integral loss's thresholds shaded."""
    curve = pd.DataFrame([{"variant": lab, "IoU threshold": float(k[3:]), "AP": v}
                          for lab in labels for r in groups[lab] for k, v in r.final.items() if k.startswith("AP@")])
    seeds = sorted({len(groups[lab]) for lab in labels})
    fig, ax = plt.subplots(figsize=(7.5, 4.4))
    sns.lineplot(curve, x="IoU threshold", y="AP", hue="variant", marker="o", errorbar="sd", ax=ax)
    ax.set_title(f"AP at each IoU threshold: mean over {' or '.join(map(str, seeds))} seed"
                 f"{'s' * (seeds != [1])} per variant" + (", band ±1 s.d." if seeds != [1] else ""), fontsize=10, pad=16)
    ax.axvspan(0.5, 0.75, color="grey", alpha=0.1, lw=0)
    ax.text(0.625, 1.0, "integral loss thresholds", transform=ax.get_xaxis_transform(), fontsize=8, ha="center",
            va="bottom")
    ax.set(ylabel="AP (%)", xlabel="IoU threshold for a detection to count as right")
    legend_outside(fig, [ax], ncol=2)
    return fig


def variants_table(exps, num_classes: int) -> pd.DataFrame:
    """Per variant of the ablation: regions, stages per region, classifiers, feature size, parameters."""
    rows = []
    for e in exps:
        m = nets.create(e.model, num_classes=num_classes, **e.model_kw)
        rows.append({"variant": e.label, "regions": ", ".join(f"{s:g}x" for s in m.regions),
                     "stages per region": " | ".join("+".join(f"s{k + 1}" for k in st) for st in m.region_stages),
                     "classifiers (IoU)": ", ".join(f"{u:.2f}" for u in m.thresholds),
                     "RoI feature size": len(m.regions) * m.region_heads[0][1].out_features,
                     "parameters": fmt(sum(p.numel() for p in m.parameters()))})
    return pd.DataFrame(rows)


@torch.no_grad()
def shapes_table(m, image: torch.Tensor) -> pd.DataFrame:
    """The shapes for one image through the network, with three fixed proposals."""
    m.eval()
    feats = m.trunk((image[None] - m.mean) / m.std)
    rois = torch.tensor([[0, 10.0, 10.0, 60.0, 70.0], [0, 40.0, 30.0, 90.0, 100.0], [0, 5.0, 50.0, 40.0, 90.0]])
    logits, deltas = m.heads(feats, rois)
    rows = [{"tensor": f"trunk stage {i + 1} (stride {s})", "shape": tuple(f.shape)}
            for i, (f, s) in enumerate(zip(feats, m.trunk.strides))]
    if m.skip:
        rows += [{"tensor": f"region {sc:g}x after 1x1 reduce", "shape": (3, m.reduce[r].out_channels, m.roi_size,
                                                                          m.roi_size)}
                 for r, sc in enumerate(m.regions)]
    rows += [{"tensor": "concatenated region features", "shape": (3, m.region_features(feats, rois).shape[1])},
             {"tensor": f"class scores, each of {len(logits)} heads", "shape": tuple(logits[0].shape)},
             {"tensor": "class-specific box deltas", "shape": tuple(deltas.shape)}]
    return pd.DataFrame(rows)


# --- tables of the thesis and the recipe -----------------------------------------------------

def thesis_table() -> pd.DataFrame:
    """The thesis's COCO numbers, each result with its source tag."""
    from ..studies import multipath as study

    rows = []
    for v in study.THESIS.values():
        nums = ", ".join(f"{k} {fmt(x, 1)}" for k, x in v.items() if k not in ("what", "source"))
        rows.append({"result": v["what"], "numbers": nums or "—", "source": v["source"]})
    return pd.DataFrame(rows)


def recipe_sentence(e, profile: str, seeds: list[int] | None = None) -> str:
    """The training recipe of the ablation's runs under ``profile`` (``seeds``: those it runs; default e's)."""
    from ..studies import multipath as study

    seeds = seeds or [e.seed]
    more = {lab: [s for s in study.seeds(profile, lab) if s not in seeds] for lab, *_ in study.VARIANTS}
    more = "".join(f"; {lab} also seeds {', '.join(map(str, s))}" for lab, s in more.items() if s)
    size = e.options.get("scene_size")
    thesis = inspect.signature(MultiPathNet).parameters["dropout"].default  # the builder's default is the thesis's
    dropout = e.model_kw.get("dropout", thesis)
    note = f". Dropout {dropout:g} where the thesis has {thesis:g}: {study.DROPOUT_REASON}" if dropout != thesis else ""
    warm = f", linear warm-up over the first {e.warmup:.0%}" if e.warmup else ""
    return (f"Recipe under `{profile}`: {e.epochs} epoch{'s' * (e.epochs != 1)} of "
            f"{e.options.get('train_images') or 'all'} training images ({e.dataset}"
            f"{f', {size}x{size} pixels' if size else ''}), batch {e.batch_size}, learning "
            f"rate {e.lr:g}{warm}, x{e.gamma:g} at {', '.join(f'{m:.0%}' for m in e.milestones)} of training, "
            f"weight decay {e.weight_decay:g}, {e.model_kw.get('rois_per_image', 64)} RoIs per image and head, "
            f"dropout {dropout:g} after fc6 and fc7, seed{'s' * (len(seeds) != 1)} {', '.join(map(str, seeds))}{more}{note}.")


def data_sentence(e, test, profile: str) -> str:
    """The scenes a profile trains and tests on, read from its experiment and the test split."""
    if e.dataset != "fashion-scenes":
        return f"Under `{profile}`: {e.dataset}, {len(test)} test images."
    size = e.options.get("scene_size") or test.coco.dataset["images"][0]["width"]
    return (f"Under `{profile}`: {e.options.get('train_images')} training and {len(test)} test scenes of "
            f"{size}x{size} pixels; objects from {min(16, size - 8)} to {min(100, size - 8)} pixels a side.")


def standard_changes(profile: str) -> str:
    """How `standard` is designed, and why (the study's ``STANDARD_CHANGES``); '' elsewhere."""
    from ..studies import multipath as study

    if profile != "standard" or not study.STANDARD_DESIGNED:
        return ""
    return "**How `standard` is designed, and why.**\n\n" + "\n".join(
        f"- **{what}**: {why}" for what, why in study.STANDARD_CHANGES)


def thesis_vs_ours(runs: dict, labels: list[str], profile: str) -> pd.DataFrame:
    """The thesis's released model next to each of our variants (different data: read the gains)."""
    from ..studies import multipath as study

    ref = study.THESIS["resnet18-integral"]
    rows = [{"run": f"thesis: {ref['what']}", **{k: fmt(ref.get(k), 1) for k in KEYS}, "source": ref["source"]}]
    rows += [{"run": f"ours: {lab}", **{k: fmt(runs[lab].final.get(k), 1) for k in KEYS},
              "source": f"record {runs[lab].key[:10]} ({profile}, {runs[lab].config['dataset']})"} for lab in labels]
    return pd.DataFrame(rows)
