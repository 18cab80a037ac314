"""MultiPath network for object detection (thesis ch. 2; Zagoruyko et al., BMVC 2016).

Fast R-CNN with three switches, each of which can be turned off alone:

- ``foveal``: every proposal is seen through 4 context regions centred on it, scaled 1x, 1.5x,
  2x and 4x (box (x, y, w, h) -> (x - w(s-1)/2, y - h(s-1)/2, s w, s h), modules/Foveal.lua).
  Each region has its own fc6-fc7 head; the region features are concatenated for the classifier.
- ``skip``: RoI features are pooled from three trunk stages (the thesis's conv3/conv4/conv5):
  region 1x uses all three, 1.5x and 2x the last two, 4x the last only. Each pooled map is
  L2-normalised per RoI over all its C*7*7 values, the maps are concatenated, multiplied by
  ``skip_scale`` and a 1x1 conv reduces them to the last stage's width (models/model_utils.lua
  conv345Combine; the repo multiplies by 1000, see the deviations). Without ``skip`` every region pools the last stage only.
- ``integral``: 6 classifiers, head i trained on its own RoI batch with positives at IoU >= u_i and
  background at IoU in [0.1, u_i), u = 0.50, 0.55, ..., 0.75 (donkey.lua:39-41); at
  test their softmax outputs are averaged (model_utils.integral). Without it there is one
  classifier at IoU 0.5 (background [0.1, 0.5), train.lua defaults).

Each head's batch is drawn from the images of the step as the repo's BatchProviderROI.lua draws
it (BatchProviderROI.lua:116-117, BatchProviderBase.lua:95-96): per image ``rois_per_image`` (the
COCO script's batchSize 64) RoIs, a quarter (fg_fraction 0.25) among the candidates at IoU >= u_i
and the rest among those in [0.1, u_i), each draw with replacement and at most as many draws as
the pool has candidates (so a batch can be smaller, and its foreground fraction below 1/4); an
image without candidates in either pool gives that head nothing (permuteIdx,
BatchProviderROI.lua:76-80, draws another image instead). Each region's fc6 and fc7 are followed
by ReLU and dropout 0.5 (``dropout``), as in the ImageNet VGG-16 ``top`` that
models/multipathnet.lua:89 clones into every foveal branch; train.lua keeps those dropouts unless
``train_remove_dropouts`` (default false). The .t7 holding that ``top`` is not in the repo: 0.5 is
VGG-16's and Fast R-CNN's value.

Class-specific box regression from the concatenated features, targets normalised by the
py-faster-rcnn standard deviations (0.1, 0.1, 0.2, 0.2) (BoxCoder weights 10, 10, 5, 5); test
boxes go through per-class NMS. All box operations are torchvision's.

Deviations from the official code, and why:
- Proposals come from a small RPN on the last trunk stage (torchvision's), trained jointly, not
  from DeepMask/SharpMask: like DeepMask it is a learned class-agnostic objectness model slid over
  the image, but it regresses boxes from anchors instead of predicting masks from 224x224 crops,
  and it shares the trunk, so it trains in minutes on a CPU and needs no second network.
- During training the ground-truth boxes and ``jitter_per_gt`` jittered copies of each are added to
  the proposals, so the integral heads see positives at every IoU from the first step (the thesis's
  DeepMask proposals are fixed and already dense around objects).
- Every step trains every head, each on its own batch drawn from the same images, and the loss is
  the mean of the heads' losses (classification and box regression). The repo trains one head per
  step, with a batch from one threshold's loader; averaging weights the heads the same in
  expectation, and the images of a step are shared. A RoI drawn for several heads is pooled once,
  so those heads see it under one dropout mask. The chapter's studies train the repo's way,
  ``multipath-onehead`` (``nets/multipath_onehead.py``): on our CPUs a step of every-head training
  costs 3x as much.
- The released repo pairs heads and thresholds at random: data.lua draws each batch from a random
  loader (``loaders[torch.random(#loaders)]``, data.lua:49) but tags it with the loader thread's
  index (``g_donkey_idx``, data.lua:34, BatchProviderROI.lua:134), which picks the head
  (``v.index = samples[2][3]``, train.lua:291), so every
  head sees all six thresholds. We pair head i with u_i, as the paper describes.
- No 5th box-regression branch (the repo's ``model_het``): boxes use the concatenated features.
- ``skip_scale`` defaults to sqrt(C_last * 7 * 7), the norm of a unit-scale RoI map of the last
  stage, not 1000: the repo's 1000 matches ImageNet VGG-16's conv5 magnitudes, which its pretrained
  fc6 expects; with our from-scratch trunk, 1000 makes the 1x1 conv's effective learning rate
  hundreds of times larger and training diverged (NaN at step 40, lr 0.05). Pass 1000.0 to use it.
- A small VGG-like trunk trained from scratch (no ImageNet VGG-16); ``pool="roi_pool"`` by default
  as the thesis (``"roi_align"`` available).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models.detection._utils import BoxCoder
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.image_list import ImageList
from torchvision.models.detection.rpn import RegionProposalNetwork, RPNHead
from torchvision.ops import batched_nms, box_iou, clip_boxes_to_image, remove_small_boxes, roi_align, roi_pool

from ..losses.detection import box_regression_loss, integral_loss
from .registry import register

FOVEAL_SCALES = (1.0, 1.5, 2.0, 4.0)
SKIP_STAGES = {1.0: (0, 1, 2), 1.5: (1, 2), 2.0: (1, 2), 4.0: (2,)}  # trunk stages per region
INTEGRAL_THRESHOLDS = (0.50, 0.55, 0.60, 0.65, 0.70, 0.75)
BOX_WEIGHTS = (10.0, 10.0, 5.0, 5.0)  # 1 / (0.1, 0.1, 0.2, 0.2): normalised regression targets


def foveal_boxes(boxes: torch.Tensor, scale: float) -> torch.Tensor:
    """(R, 4) xyxy -> (R, 4) boxes scaled by ``scale`` about their centres (Foveal.lua)."""
    centre = (boxes[:, :2] + boxes[:, 2:]) / 2
    half = (boxes[:, 2:] - boxes[:, :2]) * scale / 2
    return torch.cat([centre - half, centre + half], 1)


def conv_bn(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, 1, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True))


class Trunk(nn.Module):
    """VGG-like trunk: stem (stride 2), then 3 stages of two 3x3 convs at strides 2, 4, 8.

    forward(x (N, 3, H, W)) -> [(N, w0, H/2, W/2), (N, w1, H/4, W/4), (N, w2, H/8, W/8)],
    the analogues of VGG's conv3, conv4 and conv5 (strides 4, 8, 16 on COCO-sized images).
    """

    def __init__(self, widths: tuple[int, int, int] = (32, 64, 128)):
        super().__init__()
        w0, w1, w2 = widths
        self.stem = nn.Sequential(nn.Conv2d(3, w0, 3, 2, 1, bias=False), nn.BatchNorm2d(w0), nn.ReLU(inplace=True))
        self.stages = nn.ModuleList([
            nn.Sequential(conv_bn(w0, w0), conv_bn(w0, w0)),
            nn.Sequential(nn.MaxPool2d(2), conv_bn(w0, w1), conv_bn(w1, w1)),
            nn.Sequential(nn.MaxPool2d(2), conv_bn(w1, w2), conv_bn(w2, w2)),
        ])
        self.widths, self.strides = tuple(widths), (2, 4, 8)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        out, o = [], self.stem(x)
        for stage in self.stages:
            o = stage(o)
            out.append(o)
        return out


class MultiPathNet(nn.Module):
    """Detector: images (N, 3, H, W) in [0, 1] -> losses (train) or detections (eval).

    ``num_classes`` counts the background, as the thesis (81 on COCO).
    """

    has_example_loss = True

    def __init__(self, num_classes: int = 11, foveal: bool = True, skip: bool = True, integral: bool = True,
                 widths: tuple[int, int, int] = (32, 64, 128), head_dim: int = 256, roi_size: int = 7,
                 pool: str = "roi_pool", skip_scale: float | None = None, dropout: float = 0.5,
                 rois_per_image: int = 64, fg_fraction: float = 0.25, bg_low: float = 0.1, jitter_per_gt: int = 4,
                 anchor_sizes: tuple[int, ...] = (16, 32, 64, 128), pre_nms: int = 600, proposals_train: int = 150,
                 proposals_test: int = 100, score_thresh: float = 0.01, nms_thresh: float = 0.5,
                 detections_per_image: int = 100):
        super().__init__()
        if num_classes < 2:
            raise ValueError(f"num_classes counts the background and must be >= 2, got {num_classes}")
        if pool not in ("roi_pool", "roi_align"):
            raise ValueError(f"pool must be 'roi_pool' or 'roi_align', got {pool!r}")
        self.num_classes, self.foveal, self.skip, self.integral = num_classes, foveal, skip, integral
        self.regions = FOVEAL_SCALES if foveal else (1.0,)
        self.thresholds = INTEGRAL_THRESHOLDS if integral else (0.5,)
        last = len(widths) - 1
        self.region_stages = [SKIP_STAGES[s] if skip else (last,) for s in self.regions]
        # the thesis's x1000 brings unit-norm RoI maps back to the magnitude of ImageNet VGG-16's conv5;
        # for a trunk trained from scratch (BN-ReLU outputs of unit scale) the analogue is sqrt(C S^2)
        self.skip_scale = skip_scale if skip_scale is not None else float(widths[-1] * roi_size ** 2) ** 0.5
        self.roi_size, self.pool = roi_size, pool
        self.rois_per_image, self.fg_fraction, self.bg_low = rois_per_image, fg_fraction, bg_low
        self.jitter_per_gt, self.score_thresh, self.nms_thresh = jitter_per_gt, score_thresh, nms_thresh
        self.detections_per_image = detections_per_image
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1), persistent=False)

        # --- trunk and proposals ------------------------------------------------------------
        self.trunk = Trunk(widths)
        anchors = AnchorGenerator((tuple(anchor_sizes),), ((0.5, 1.0, 2.0),))
        self.rpn = RegionProposalNetwork(
            anchors, RPNHead(widths[-1], anchors.num_anchors_per_location()[0]),
            fg_iou_thresh=0.7, bg_iou_thresh=0.3, batch_size_per_image=256, positive_fraction=0.5,
            pre_nms_top_n={"training": pre_nms, "testing": pre_nms},  # NMS is O(n^2): the CPU's bottleneck
            post_nms_top_n={"training": proposals_train, "testing": proposals_test}, nms_thresh=0.7)

        # --- one path per foveal region: [normalise + 1x1 reduce], fc6, fc7 --------------------
        c_out = widths[-1]
        self.reduce = nn.ModuleList([nn.Conv2d(sum(widths[s] for s in st), c_out, 1) for st in self.region_stages]) \
            if skip else None
        self.region_heads = nn.ModuleList([
            nn.Sequential(nn.Flatten(), nn.Linear(c_out * roi_size ** 2, head_dim), nn.ReLU(inplace=True),
                          nn.Dropout(dropout), nn.Linear(head_dim, head_dim), nn.ReLU(inplace=True),
                          nn.Dropout(dropout))
            for _ in self.regions])
        feat_dim = head_dim * len(self.regions)
        self.classifiers = nn.ModuleList([nn.Linear(feat_dim, num_classes) for _ in self.thresholds])
        self.box_head = nn.Linear(feat_dim, 4 * num_classes)
        self.box_coder = BoxCoder(BOX_WEIGHTS)
        for clf in self.classifiers:  # model_utils.lua: class N(0, 0.01), box N(0, 0.001), bias 0
            nn.init.normal_(clf.weight, std=0.01)
            nn.init.zeros_(clf.bias)
        nn.init.normal_(self.box_head.weight, std=0.001)
        nn.init.zeros_(self.box_head.bias)

    # --- features -----------------------------------------------------------------------------
    def pool_stage(self, feature: torch.Tensor, rois: torch.Tensor, stride: int) -> torch.Tensor:
        """feature (N, C, h, w), rois (R, 5) [batch index, x1, y1, x2, y2] -> (R, C, S, S)."""
        size = (self.roi_size, self.roi_size)
        # in fp32 under bf16 autocast as torchvision does on CUDA: its CPU kernels want one dtype
        feature, rois = feature.float(), rois.to(torch.float32)
        if self.pool == "roi_pool":
            return roi_pool(feature, rois, size, 1.0 / stride)
        return roi_align(feature, rois, size, 1.0 / stride, sampling_ratio=2, aligned=True)

    def region_features(self, features: list[torch.Tensor], rois: torch.Tensor) -> torch.Tensor:
        """Trunk outputs and rois (R, 5) -> (R, len(regions) * head_dim), regions concatenated."""
        out = []
        for r, scale in enumerate(self.regions):
            boxes = torch.cat([rois[:, :1], foveal_boxes(rois[:, 1:], scale)], 1)
            pooled = [self.pool_stage(features[s], boxes, self.trunk.strides[s]) for s in self.region_stages[r]]
            if self.skip:  # conv345Combine: L2 per RoI over C*S*S, concat, x1000, 1x1 conv
                pooled = [p / p.flatten(1).norm(dim=1).clamp_min(1e-12).view(-1, 1, 1, 1) for p in pooled]
                x = self.reduce[r](torch.cat(pooled, 1) * self.skip_scale)  # (R, C_last, S, S)
            else:
                x = pooled[0]
            out.append(self.region_heads[r](x))  # (R, head_dim)
        return torch.cat(out, 1)

    def heads(self, features: list[torch.Tensor], rois: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        """-> ([(R, num_classes) logits per integral head], (R, 4 * num_classes) box deltas)."""
        h = self.region_features(features, rois)
        return [clf(h) for clf in self.classifiers], self.box_head(h)

    # --- training -----------------------------------------------------------------------------
    def candidates(self, proposals: torch.Tensor, target: dict) -> tuple[torch.Tensor, ...]:
        """One image's candidate RoIs: its proposals, its ground truth and ``jitter_per_gt`` jittered
        copies of each gt box -> boxes (C, 4), best IoU (C,), matched class (C,), matched gt box (C, 4)."""
        gt, gl = target["boxes"], target["labels"]
        wh = (gt[:, 2:] - gt[:, :2]).repeat(1, 2).repeat(self.jitter_per_gt, 1)
        jitter = gt.repeat(self.jitter_per_gt, 1) + 0.15 * wh * torch.randn_like(wh)
        cand = torch.cat([proposals.detach(), gt, jitter])
        if not len(gt):  # no object: every candidate has IoU 0, below any background interval
            return cand, cand.new_zeros(len(cand)), gl.new_zeros(len(cand)), cand
        iou, idx = box_iou(cand, gt).max(1)
        return cand, iou, gl[idx], gt[idx]

    def sample(self, iou: torch.Tensor, u: float) -> torch.Tensor:
        """Indices of one image's RoIs for the head at threshold ``u`` (BatchProviderROI.lua):
        ``fg_fraction * rois_per_image`` draws among IoU >= u and the rest among IoU in
        [bg_low, u), each with replacement and at most as many as the pool holds; none at all
        when either pool is empty (permuteIdx draws another image then)."""
        fg = torch.nonzero(iou >= u).flatten()
        bg = torch.nonzero((iou >= self.bg_low) & (iou < u)).flatten()
        if not len(fg) or not len(bg):
            return fg[:0]
        n_fg = int(self.fg_fraction * self.rois_per_image)
        n_bg = self.rois_per_image - n_fg
        pick = [pool[torch.randint(len(pool), (min(n, len(pool)),), device=pool.device)]
                for pool, n in ((fg, n_fg), (bg, n_bg))]
        return torch.cat(pick)

    def training_rois(self, proposals: list[torch.Tensor], targets: list[dict]) -> tuple:
        """Each head's RoI batch from the same images -> (rois (U, 5) [image, x1, y1, x2, y2], iou (U,),
        matched class (U,), matched gt box (U, 4), [rows of head i's batch in the U RoIs, per head]).

        A RoI drawn for several heads (or twice for one) is stored and pooled once."""
        rois, ious, labels, gts, heads = [], [], [], [], [[] for _ in self.thresholds]
        offset = 0
        for i, (props, t) in enumerate(zip(proposals, targets)):
            cand, iou, matched, gt = self.candidates(props, t)
            picks = [self.sample(iou, u) for u in self.thresholds]
            keep, inverse = torch.unique(torch.cat(picks), return_inverse=True)
            for h, rows in enumerate(inverse.split([len(p) for p in picks])):
                heads[h].append(rows + offset)
            rois.append(torch.cat([cand.new_full((len(keep), 1), float(i)), cand[keep]], 1))
            ious.append(iou[keep])
            labels.append(matched[keep])
            gts.append(gt[keep])
            offset += len(keep)
        return torch.cat(rois), torch.cat(ious), torch.cat(labels), torch.cat(gts), [torch.cat(h) for h in heads]

    def losses(self, features: list[torch.Tensor], proposals: list[torch.Tensor], targets: list[dict]) -> dict:
        """Every head's classification loss and the box loss, each on that head's own batch,
        averaged over the heads (the repo's one head per step, in expectation)."""
        rois, iou, matched, gt, rows = self.training_rois(proposals, targets)
        h = self.region_features(features, rois)  # (U, regions * head_dim)
        deltas = self.box_head(h)
        box_targets = self.box_coder.encode_single(gt, rois[:, 1:])
        labels = [torch.where(iou[r] >= u, matched[r], torch.zeros_like(matched[r]))  # all others are background
                  for r, u in zip(rows, self.thresholds)]
        logits = [clf(h[r]) for clf, r in zip(self.classifiers, rows)]
        box = [box_regression_loss(deltas[r], y, box_targets[r]) for r, y in zip(rows, labels)]
        return {"loss_classifier": integral_loss(logits, labels), "loss_box": torch.stack(box).mean()}

    # --- test ---------------------------------------------------------------------------------
    def scores(self, logits: list[torch.Tensor]) -> torch.Tensor:
        """Average of the heads' softmax outputs (model_utils.integral): -> (R, num_classes)."""
        return torch.stack([F.softmax(x, 1) for x in logits]).mean(0)

    def postprocess(self, rois: torch.Tensor, logits: list[torch.Tensor], deltas: torch.Tensor,
                    image_sizes: list[tuple[int, int]]) -> list[dict]:
        scores = self.scores(logits)
        boxes = self.box_coder.decode_single(deltas, rois[:, 1:])  # (R, 4K)
        boxes = boxes.view(-1, self.num_classes, 4)  # (R, K, 4)
        out = []
        for i, size in enumerate(image_sizes):
            m = rois[:, 0] == i
            b = clip_boxes_to_image(boxes[m][:, 1:], size).reshape(-1, 4)  # drop the background column
            s = scores[m][:, 1:].reshape(-1)
            c = torch.arange(1, self.num_classes, device=s.device).repeat(int(m.sum()))
            keep = torch.nonzero(s > self.score_thresh).flatten()
            b, s, c = b[keep], s[keep], c[keep]
            keep = remove_small_boxes(b, 1.0)
            b, s, c = b[keep], s[keep], c[keep]
            keep = batched_nms(b, s, c, self.nms_thresh)[: self.detections_per_image]
            out.append({"boxes": b[keep], "scores": s[keep], "labels": c[keep]})
        return out

    def forward(self, images: torch.Tensor, targets: list[dict] | None = None,
                image_sizes: list[tuple[int, int]] | None = None):
        """images (N, 3, H, W) in [0, 1] (padded batch; ``image_sizes`` the true (h, w) of each).

        train: ``targets`` [{"boxes": (G, 4) xyxy pixels, "labels": (G,) in 1..K-1}] -> dict of losses.
        eval: -> [{"boxes": (D, 4), "scores": (D,), "labels": (D,)}] per image.
        """
        sizes = image_sizes or [tuple(images.shape[-2:])] * len(images)
        features = self.trunk((images - self.mean) / self.std)
        if self.training and targets is None:
            raise ValueError("MultiPathNet needs targets in train mode (model.eval() to detect)")
        proposals, rpn_losses = self.rpn(ImageList(images, sizes), {"0": features[-1]}, targets)
        if self.training:
            return {**rpn_losses, **self.losses(features, proposals, targets)}
        rois = torch.cat([torch.cat([p.new_full((len(p), 1), float(i)), p], 1) for i, p in enumerate(proposals)])
        logits, deltas = self.heads(features, rois)
        return self.postprocess(rois, logits, deltas, sizes)

    def example_loss(self, batch_size: int = 2, size: int = 64) -> torch.Tensor:
        """A synthetic batch with one box per image -> the summed training loss (registry test)."""
        images = torch.rand(batch_size, 3, size, size)
        targets = [{"boxes": torch.tensor([[8.0, 10.0, 40.0, 44.0]]), "labels": torch.tensor([1 + i % (self.num_classes - 1)])}
                   for i in range(batch_size)]
        return sum(self(images, targets).values())


EXAMPLE = {"num_classes": 3, "widths": (8, 16, 16), "head_dim": 32, "rois_per_image": 16, "proposals_train": 32}


@register(r"multipath", examples={"multipath": EXAMPLE},
          help="MultiPath detector (foveal + skip + integral, switches as kwargs); kw: num_classes (incl. background), widths")
def multipath(**kw) -> MultiPathNet:
    """MultiPath network with all three modifications on, e.g. ``create("multipath", skip=False)``."""
    return MultiPathNet(**kw)


@register(r"fast-rcnn", examples={"fast-rcnn": EXAMPLE},
          help="Fast R-CNN baseline of the MultiPath chapter (all three switches off); kw as multipath")
def fast_rcnn(**kw) -> MultiPathNet:
    """The ablation's baseline: one region, last stage only, one classifier at IoU 0.5."""
    return MultiPathNet(**{"foveal": False, "skip": False, "integral": False, **kw})
