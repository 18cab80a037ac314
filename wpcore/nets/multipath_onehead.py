"""MultiPath trained as the official repository trains its integral loss: one head per step.

``MultiPathNet`` (``nets/multipath.py``) trains all six integral heads at every step, each on its
own RoI batch drawn from the step's images, and averages their losses. The repo instead draws each
step's batch from one threshold's loader and updates that head alone (data.lua:49 picks a random
loader per batch; train.lua:291 trains the head the batch is tagged with). Both have the same
expected gradient for every head, but every-head training pools and runs the region heads on up
to six RoI batches a step: 3x the time of a step on our CPUs (the integral variant 43 s an epoch
against 14 s, standard's 64x64 scenes, one thread).

Here each training step draws one head i uniformly at random (from torch's seeded generator), the
RoI batch of its threshold u_i (``MultiPathNet.sample``, positives at IoU >= u_i), and trains head
i's classifier, the shared region heads, the box regression, the trunk and the RPN on it. Head i
is paired with u_i as the paper describes (the released repo pairs them at random, see
``nets/multipath.py``). The other heads' classifiers get a zero gradient, so momentum and weight
decay still move them, as the repo's optim.sgd over one flat parameter vector does. At test the
heads' softmax outputs are averaged, as in ``MultiPathNet``.

A step whose images give head i no batch (no candidate in either pool) trains the RPN alone.
"""
from __future__ import annotations

import torch

from ..losses.detection import box_regression_loss, integral_loss
from .multipath import EXAMPLE, MultiPathNet
from .registry import register


class OneHeadMultiPathNet(MultiPathNet):
    """``MultiPathNet`` whose training step updates one integral head, drawn at random."""

    def head_rois(self, proposals: list[torch.Tensor], targets: list[dict], u: float) -> tuple:
        """One threshold's RoI batch from the step's images -> (rois (R, 5) [image, x1, y1, x2, y2],
        iou (R,), matched class (R,), matched gt box (R, 4))."""
        rois, ious, labels, gts = [], [], [], []
        for i, (props, t) in enumerate(zip(proposals, targets)):
            cand, iou, matched, gt = self.candidates(props, t)
            pick = self.sample(iou, u)
            rois.append(torch.cat([cand.new_full((len(pick), 1), float(i)), cand[pick]], 1))
            ious.append(iou[pick])
            labels.append(matched[pick])
            gts.append(gt[pick])
        return torch.cat(rois), torch.cat(ious), torch.cat(labels), torch.cat(gts)

    def losses(self, features: list[torch.Tensor], proposals: list[torch.Tensor], targets: list[dict]) -> dict:
        """One head's classification loss and the box loss on that head's batch (module docstring)."""
        head = int(torch.randint(len(self.thresholds), ())) if len(self.thresholds) > 1 else 0
        u = self.thresholds[head]
        rois, iou, matched, gt = self.head_rois(proposals, targets, u)
        h = self.region_features(features, rois)
        labels = torch.where(iou >= u, matched, torch.zeros_like(matched))
        logits = self.classifiers[head](h)
        box = box_regression_loss(self.box_head(h), labels, self.box_coder.encode_single(gt, rois[:, 1:]))
        idle = sum(p.sum() for i, c in enumerate(self.classifiers) if i != head for p in c.parameters())
        return {"loss_classifier": integral_loss([logits], [labels]) + 0.0 * idle, "loss_box": box}


@register(r"multipath-onehead", examples={"multipath-onehead": EXAMPLE},
          help="MultiPath detector trained one integral head per step, as the official repo; kw as multipath")
def multipath_onehead(**kw) -> OneHeadMultiPathNet:
    """MultiPath (all three switches on by default) whose integral heads train one per step."""
    return OneHeadMultiPathNet(**kw)
