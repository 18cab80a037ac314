"""MultiPath (thesis ch. 2): the three switches, the integral loss, box regression, COCO evaluation
and the composed scenes."""
import hashlib
import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn
from torchvision.ops import box_iou

from wpcore import nets
from wpcore.data import coco, scenes
from wpcore.losses.detection import box_regression_loss, integral_loss
from wpcore.metrics.detection import coco_evaluate, coco_from_dict, to_coco_results
from wpcore.nets.multipath import FOVEAL_SCALES, INTEGRAL_THRESHOLDS, foveal_boxes

from .conftest import needs_fmnist

WIDTHS, HEAD = (8, 12, 16), 24


def build(**kw):
    torch.manual_seed(0)
    return nets.create("multipath", num_classes=4, widths=WIDTHS, head_dim=HEAD, roi_size=5, **kw)


def trunk_features(n=2, size=64):
    return [torch.randn(n, w, size // s, size // s) for w, s in zip(WIDTHS, (2, 4, 8))]


ROIS = torch.tensor([[0, 4.0, 4.0, 30.0, 40.0], [1, 10.0, 20.0, 50.0, 44.0], [0, 30.0, 8.0, 60.0, 60.0]])


# --- the switches ------------------------------------------------------------------------------

def test_foveal_boxes_keep_the_centre_and_scale_the_sides():
    box = torch.tensor([[10.0, 10.0, 20.0, 30.0]])
    assert torch.equal(foveal_boxes(box, 2.0), torch.tensor([[5.0, 0.0, 25.0, 40.0]]))
    assert torch.equal(foveal_boxes(box, 1.0), box)
    # Foveal.lua: the 4x region starts 1.5 widths left of the box
    assert torch.allclose(foveal_boxes(box, 4.0)[0, :2], torch.tensor([10 - 1.5 * 10, 10 - 1.5 * 20]))


@pytest.mark.parametrize("foveal,skip,integral", [(f, s, i) for f in (0, 1) for s in (0, 1) for i in (0, 1)])
def test_each_switch_changes_the_network_as_described(foveal, skip, integral):
    m = build(foveal=bool(foveal), skip=bool(skip), integral=bool(integral))
    n_regions = 4 if foveal else 1
    assert m.regions == (FOVEAL_SCALES if foveal else (1.0,))
    assert len(m.region_heads) == n_regions  # every region has its own fc6-fc7
    assert len(m.classifiers) == (6 if integral else 1)
    assert m.thresholds == (INTEGRAL_THRESHOLDS if integral else (0.5,))
    if skip:  # conv3+4+5 for 1x, conv4+5 for 1.5x and 2x, conv5 for 4x, each reduced by a 1x1 conv
        assert m.region_stages == [(0, 1, 2), (1, 2), (1, 2), (2,)][:n_regions]
        assert [r.in_channels for r in m.reduce] == [sum(WIDTHS), 28, 28, 16][:n_regions]
        assert all(r.out_channels == WIDTHS[-1] and r.kernel_size == (1, 1) for r in m.reduce)
    else:
        assert m.reduce is None and m.region_stages == [(2,)] * n_regions
    logits, deltas = m.heads(trunk_features(), ROIS)
    assert m.region_features(trunk_features(), ROIS).shape == (3, n_regions * HEAD)  # regions concatenated
    assert len(logits) == len(m.classifiers) and all(x.shape == (3, 4) for x in logits)
    assert deltas.shape == (3, 4 * 4)  # class-specific boxes


def test_foveal_regions_see_context():
    """Changing the image outside the box changes the foveal features, not the 1x-only ones."""
    m = build(skip=False, integral=False).eval()
    base = build(foveal=False, skip=False, integral=False).eval()
    f = trunk_features(1)
    g = [x.clone() for x in f]
    g[2][..., :, 6:] += 5.0  # beyond x = 48 px on the stride-8 map; the box ends at x = 30
    rois = ROIS[:1]
    with torch.no_grad():
        assert torch.allclose(base.region_features(f, rois), base.region_features(g, rois))
        assert not torch.allclose(m.region_features(f, rois), m.region_features(g, rois))


def test_skip_features_are_l2_normalised_per_roi():
    """With skip connections the RoI features do not depend on each stage's scale."""
    with_skip, without = build(skip=True).eval(), build(skip=False).eval()
    f = trunk_features()
    scaled = [x * c for x, c in zip(f, (3.0, 0.1, 20.0))]
    with torch.no_grad():
        assert torch.allclose(with_skip.region_features(f, ROIS), with_skip.region_features(scaled, ROIS), atol=1e-4)
        assert not torch.allclose(without.region_features(f, ROIS), without.region_features(scaled, ROIS))


def test_test_time_scores_average_the_integral_heads():
    m = build()
    logits = [torch.randn(5, 4) for _ in m.thresholds]
    expected = sum(torch.softmax(x, 1) for x in logits) / len(logits)
    assert torch.allclose(m.scores(logits), expected)
    assert torch.allclose(m.scores(logits).sum(1), torch.ones(5))


# --- integral loss: each head its own batch; dropout ---------------------------------------------

def crowd_of_candidates(n=400, seed=0):
    """Proposals around one gt box at every IoU from 0 to 1, the gt box (IoU 1) and the target."""
    g = torch.Generator().manual_seed(seed)
    gt = torch.tensor([[20.0, 20.0, 60.0, 60.0]])
    shift = torch.cat([torch.rand(n // 2, 2, generator=g) * 50 - 25,  # up to 25 px off a 40 px box
                       torch.randn(n - n // 2, 2, generator=g) * 3])  # and many close to it: IoU 0 .. 1
    props = gt + shift.repeat(1, 2)
    return props, {"boxes": gt, "labels": torch.tensor([2])}


def test_each_head_gets_its_own_batch_a_quarter_foreground():
    """BatchProviderROI.lua: per image and head, 1/4 of batchSize drawn among IoU >= u_i, the rest
    among IoU in [0.1, u_i) (donkey.lua: bg_threshold {0.1, u_i}), u_i = 0.50, 0.55, ..., 0.75."""
    torch.manual_seed(0)
    m = build(rois_per_image=64, jitter_per_gt=0).train()
    props, target = crowd_of_candidates()
    rois, iou, matched, gt, rows = m.training_rois([props, props + 100], [target, {  # image 1: no object
        "boxes": torch.zeros(0, 4), "labels": torch.zeros(0, dtype=torch.int64)}])
    assert len(rows) == 6 and m.thresholds == INTEGRAL_THRESHOLDS == (0.5, 0.55, 0.6, 0.65, 0.7, 0.75)
    assert (rois[:, 0] == 0).all()  # an image without a foreground candidate gives no head anything
    for u, r in zip(m.thresholds, rows):
        fg, bg = iou[r] >= u, iou[r] < u
        assert len(r) == 64 and fg.sum() == 16  # rois_per_image, fg_fraction 0.25
        assert (iou[r][bg] >= 0.1).all() and (iou[r][bg] < u).all()  # background in [0.1, u)
        assert (matched[r][fg] == 2).all() and torch.equal(gt[r], target["boxes"].expand(64, 4))
    # the heads' batches differ: the IoU-0.5 head's positives include RoIs the 0.75 head calls background
    assert ((iou[rows[0]] >= 0.5) & (iou[rows[0]] < 0.75)).any()
    assert not torch.equal(rows[0], rows[5])


def test_small_pools_are_drawn_with_replacement_and_not_topped_up():
    """selectBBoxesOne draws min(num_max, n) times with replacement: 3 foreground candidates give 3
    foreground draws and the background stays at 48, so the batch is 51 and the fraction below 1/4."""
    torch.manual_seed(0)
    m = build(rois_per_image=64, jitter_per_gt=0, integral=False).train()
    iou = torch.cat([torch.tensor([0.9, 0.6, 0.55]), torch.linspace(0.0, 0.45, 200)])
    picked = m.sample(iou, 0.5)
    assert len(picked) == 51 and (iou[picked] >= 0.5).sum() == 3
    assert ((iou[picked] < 0.5) & (iou[picked] >= 0.1)).sum() == 48
    assert len(m.sample(iou[3:], 0.5)) == 0  # no foreground: the image gives this head nothing
    assert len(m.sample(torch.tensor([0.8, 0.05]), 0.5)) == 0  # no background in [0.1, 0.5) either


def test_every_head_is_trained_on_its_own_batch():
    """The classifier of head i sees exactly head i's RoIs and its loss is the cross-entropy with
    labels at u_i; the loss is the mean over heads."""
    torch.manual_seed(0)
    m = build(rois_per_image=32, jitter_per_gt=8).train()
    props, target = crowd_of_candidates(200)
    seen = []
    hooks = [clf.register_forward_hook(lambda mod, inp, out: seen.append((inp[0].shape[0], out))) for clf in m.classifiers]
    state = torch.get_rng_state()
    losses = m.losses(trunk_features(1), [props], [target])
    torch.set_rng_state(state)
    _, iou, matched, _, rows = m.training_rois([props], [target])
    for h in hooks:
        h.remove()
    assert [n for n, _ in seen] == [len(r) for r in rows]
    expected = [F.cross_entropy(out, torch.where(iou[r] >= u, matched[r], 0))
                for (_, out), r, u in zip(seen, rows, m.thresholds)]
    assert torch.isclose(losses["loss_classifier"], torch.stack(expected).mean())
    positives = [int((iou[r] >= u).sum()) for r, u in zip(rows, m.thresholds)]
    assert positives == [8] * 6  # every head a quarter of 32, each at its own threshold


def test_one_head_training_updates_one_classifier_a_step_on_its_own_thresholds_batch():
    """multipath-onehead (the repo's way): a step draws head i, samples the RoIs of u_i, and only
    classifier i gets a non-zero gradient; the others get zeros (not None), so momentum moves them.
    Over many steps every head is drawn."""
    torch.manual_seed(0)
    m = nets.create("multipath-onehead", num_classes=4, widths=WIDTHS, head_dim=HEAD, roi_size=5,
                    rois_per_image=32, jitter_per_gt=8).train()
    props, target = crowd_of_candidates(200)
    drawn = set()
    for _ in range(30):
        seen = []
        hooks = [clf.register_forward_hook(lambda mod, inp, out, i=i, seen=seen: seen.append((i, inp[0].shape[0])))
                 for i, clf in enumerate(m.classifiers)]
        m.zero_grad(set_to_none=True)
        features = trunk_features(1)
        state = torch.get_rng_state()
        loss = m.losses(features, [props], [target])
        for h in hooks:
            h.remove()
        (head, n), = seen  # one classifier ran
        torch.set_rng_state(state)
        assert int(torch.randint(6, ())) == head  # the head is the generator's draw
        rois, iou, _, _ = m.head_rois([props], [target], m.thresholds[head])
        assert n == len(rois) == 32 and int((iou >= m.thresholds[head]).sum()) == 8  # a quarter at u_i
        sum(loss.values()).backward()
        grads = [float(c.weight.grad.abs().sum()) for c in m.classifiers]
        assert grads[head] > 0 and [g for i, g in enumerate(grads) if i != head] == [0.0] * 5
        drawn.add(head)
    assert drawn == set(range(6))


def test_one_head_net_without_the_integral_loss_is_multipath_step_for_step():
    """With one classifier nothing is drawn: the one-head net's losses equal MultiPathNet's (without
    dropout: MultiPathNet pools a RoI drawn twice once, so its dropout masks fall on other rows)."""
    out = []
    for name in ("multipath", "multipath-onehead"):
        torch.manual_seed(0)
        m = nets.create(name, num_classes=4, widths=WIDTHS, head_dim=HEAD, roi_size=5, integral=False,
                        dropout=0.0).train()
        props, target = crowd_of_candidates(200)
        torch.manual_seed(1)
        out.append({k: float(v) for k, v in m.losses(trunk_features(1), [props], [target]).items()})
    assert out[0].keys() == out[1].keys()
    assert all(abs(out[0][k] - out[1][k]) < 1e-5 * abs(out[0][k]) for k in out[0])


def test_integral_loss_is_the_mean_of_the_heads_losses():
    logits = [torch.zeros(5, 4), torch.zeros(3, 4), torch.zeros(0, 4)]
    labels = [torch.tensor([0, 1, 2, 3, 0]), torch.tensor([1, 1, 0]), torch.zeros(0, dtype=torch.int64)]
    assert torch.isclose(integral_loss(logits, labels), 2 * torch.log(torch.tensor(4.0)) / 3)  # empty head: 0
    with pytest.raises(ValueError, match="heads"):
        integral_loss(logits, labels[:2])


def test_fc6_and_fc7_dropout_is_on_in_training_and_off_in_eval():
    """The VGG-16 top cloned into every foveal branch: fc6-ReLU-Dropout(0.5)-fc7-ReLU-Dropout(0.5)."""
    m = build()
    for head in m.region_heads:
        kinds = [type(x) for x in head]
        assert kinds == [nn.Flatten, nn.Linear, nn.ReLU, nn.Dropout, nn.Linear, nn.ReLU, nn.Dropout]
        assert [x.p for x in head if isinstance(x, nn.Dropout)] == [0.5, 0.5]
    f = trunk_features()
    m.train()
    a, b = m.region_features(f, ROIS), m.region_features(f, ROIS)
    assert not torch.equal(a, b)
    assert 0.35 < (a == 0).float().mean() < 0.85  # about half the units dropped (and some ReLU zeros)
    m.eval()
    assert torch.equal(m.region_features(f, ROIS), m.region_features(f, ROIS))


def test_box_regression_loss_uses_only_the_true_class_of_foreground_rois():
    targets = torch.tensor([[0.5, -0.2, 0.1, 0.3], [1.0, 1.0, 1.0, 1.0]])
    labels = torch.tensor([2, 0])
    deltas = torch.zeros(2, 4 * 3)
    deltas[0, 8:12] = targets[0]
    assert box_regression_loss(deltas, labels, targets) == 0
    deltas[0, :8] = 7.0   # other classes' outputs
    deltas[1] = 9.0       # a background RoI
    assert box_regression_loss(deltas, labels, targets) == 0
    deltas[0, 8] += 0.5   # |d| < 1: 0.5 d^2, divided by the 2 RoIs
    assert torch.isclose(box_regression_loss(deltas, labels, targets), torch.tensor(0.5 * 0.25 / 2))


def test_box_targets_are_normalised_and_invertible():
    m = build()
    props, gt = torch.tensor([[10.0, 10.0, 30.0, 40.0]]), torch.tensor([[12.0, 8.0, 33.0, 44.0]])
    t = m.box_coder.encode_single(gt, props)
    raw = torch.tensor([2 / 20 + 1 / 40, (-2 + 4) / 30 / 2, torch.log(torch.tensor(21 / 20)), torch.log(torch.tensor(36 / 30))])
    assert torch.allclose(t[0], raw * torch.tensor([10.0, 10.0, 5.0, 5.0]), atol=1e-5)  # / (0.1, 0.1, 0.2, 0.2)
    deltas = t.repeat(1, 4)  # the same deltas for each of the 4 classes
    assert torch.allclose(m.box_coder.decode_single(deltas, props).view(4, 4), gt.repeat(4, 1), atol=1e-4)


def test_training_returns_losses_and_eval_returns_detections():
    m = build()
    images = torch.rand(2, 3, 64, 64)
    targets = [{"boxes": torch.tensor([[8.0, 8.0, 40.0, 40.0]]), "labels": torch.tensor([1])},
               {"boxes": torch.tensor([[20.0, 4.0, 60.0, 30.0], [2.0, 30.0, 20.0, 62.0]]), "labels": torch.tensor([3, 2])}]
    losses = m.train()(images, targets)
    assert set(losses) == {"loss_objectness", "loss_rpn_box_reg", "loss_classifier", "loss_box"}
    assert all(torch.isfinite(v) for v in losses.values())
    with pytest.raises(ValueError, match="needs targets"):
        m(images)
    out = m.eval()(images)
    assert len(out) == 2
    for o in out:
        assert o["boxes"].shape[1] == 4 and len(o["boxes"]) == len(o["scores"]) == len(o["labels"])
        assert ((o["labels"] >= 1) & (o["labels"] <= 3)).all()
        assert (o["boxes"] >= 0).all() and (o["boxes"] <= 64).all()


# --- COCO evaluation ---------------------------------------------------------------------------

def tiny_coco() -> dict:
    """2 images, 3 boxes of 40x40 (COCO "medium"), non-contiguous category ids 3 and 7."""
    boxes = [(1, 3, [10, 10, 40, 40]), (1, 7, [60, 50, 40, 40]), (2, 3, [20, 30, 40, 40])]
    return {"images": [{"id": 1, "width": 128, "height": 128, "file_name": "a.png"},
                       {"id": 2, "width": 128, "height": 128, "file_name": "b.png"}],
            "annotations": [{"id": i + 1, "image_id": im, "category_id": c, "bbox": b, "area": 1600, "iscrowd": 0}
                            for i, (im, c, b) in enumerate(boxes)],
            "categories": [{"id": 3, "name": "three"}, {"id": 7, "name": "seven"}]}


def detections(shift: float):
    """Detector-style outputs for tiny_coco, every box moved right by ``shift`` pixels."""
    d = tiny_coco()
    outs = []
    for image_id in (1, 2):
        anns = [a for a in d["annotations"] if a["image_id"] == image_id]
        xyxy = torch.tensor([[a["bbox"][0] + shift, a["bbox"][1], a["bbox"][0] + 40 + shift, a["bbox"][1] + 40]
                             for a in anns], dtype=torch.float32)
        outs.append({"boxes": xyxy, "scores": torch.full((len(anns),), 0.9),
                     "labels": torch.tensor([1 if a["category_id"] == 3 else 2 for a in anns])})
    return to_coco_results(outs, [1, 2], {1: 3, 2: 7})


def pycocotools_stats(gt: dict, results: list) -> np.ndarray:
    import contextlib
    import io

    from pycocotools.cocoeval import COCOeval
    gt_coco = coco_from_dict(gt)
    with contextlib.redirect_stdout(io.StringIO()):
        ev = COCOeval(gt_coco, gt_coco.loadRes(results), "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev.stats


def test_perfect_detections_score_100():
    results = detections(0.0)
    assert results[0]["bbox"] == [10.0, 10.0, 40.0, 40.0] and results[0]["category_id"] == 3
    m = coco_evaluate(coco_from_dict(tiny_coco()), results)
    assert m["AP"] == m["AP50"] == m["AP75"] == m["APm"] == m["AR100"] == 100.0
    assert all(m[f"AP@{t:.2f}"] == 100.0 for t in np.arange(0.5, 0.96, 0.05))
    assert np.isnan(m["APs"]) and np.isnan(m["APl"])  # no small or large boxes: NaN, not -1
    assert np.allclose([m["AP"], m["AP50"]], 100 * pycocotools_stats(tiny_coco(), results)[:2])


def test_shifted_detections_score_what_pycocotools_gives():
    # a shift of 8 px on 40 px boxes: IoU = 32*40 / (2*1600 - 32*40) = 2/3, so thresholds .50-.65 match
    results = detections(8.0)
    iou = box_iou(torch.tensor([[10.0, 10, 50, 50]]), torch.tensor([[18.0, 10, 58, 50]])).item()
    assert abs(iou - 2 / 3) < 1e-6
    m = coco_evaluate(coco_from_dict(tiny_coco()), results)
    assert m["AP50"] == 100.0 and m["AP75"] == 0.0 and m["AP"] == 40.0
    assert m["AP@0.65"] == 100.0 and m["AP@0.70"] == 0.0
    stats = pycocotools_stats(tiny_coco(), results)
    assert np.allclose([m[k] for k in ("AP", "AP50", "AP75", "APm", "AR1", "AR100")],
                       100 * stats[[0, 1, 2, 4, 6, 8]])


def test_no_detections_is_zero_ap():
    assert coco_evaluate(coco_from_dict(tiny_coco()), [])["AP"] == 0.0


# --- data -----------------------------------------------------------------------------------------

def blob_objects(n=20, seed=0):
    """Stand-ins for Fashion-MNIST: bright discs on black, (n, 28, 28) uint8, labels 0..9."""
    yy, xx = np.mgrid[:28, :28]
    disc = ((yy - 14) ** 2 + (xx - 14) ** 2 < 100).astype(np.uint8) * 200
    return np.stack([disc] * n), np.arange(n) % 10


def test_written_scenes_are_valid_coco(tmp_path):
    objects, labels = blob_objects()
    ann = scenes.write_scenes(tmp_path, "val", 6, seed=1, size=64, objects=objects, labels=labels)
    data = coco.CocoScenes(ann, tmp_path / "images" / "val")
    assert len(data) == 6 and data.num_classes == 11 and data.classes[0] == "T-shirt/top"
    from pycocotools import mask as mask_utils
    n = 0
    for i in range(len(data)):
        x, t = data[i]
        assert x.shape == (3, 64, 64) and 0 <= x.min() and x.max() <= 1
        anns = data.coco.imgToAnns[t["image_id"]]
        assert len(anns) == len(t["boxes"]) >= 1
        for a, box in zip(anns, t["boxes"]):
            rle = a["segmentation"]
            assert mask_utils.area(rle) == a["area"]
            assert mask_utils.toBbox(rle).tolist() == a["bbox"]  # boxes bound the visible mask
            assert box.tolist() == [a["bbox"][0], a["bbox"][1], a["bbox"][0] + a["bbox"][2], a["bbox"][1] + a["bbox"][3]]
            n += 1
    assert n >= 6
    again = scenes.write_scenes(tmp_path / "again", "val", 6, seed=1, size=64, objects=objects, labels=labels)
    assert json.loads(ann.read_text())["annotations"] == json.loads(again.read_text())["annotations"]
    # the composer's output, pinned: if this changes, bump scenes.GENERATOR_VERSION (record keys)
    h = hashlib.sha256()
    for p in sorted((tmp_path / "images" / "val").glob("*.png")):
        h.update(np.asarray(Image.open(p)).tobytes())
    h.update(json.dumps(json.loads(ann.read_text())["annotations"], sort_keys=True).encode())
    assert scenes.GENERATOR_VERSION == 1 and h.hexdigest()[:16] == "e2fceb7b0db1f08a"


def test_coco_selection_keeps_the_file_order(tmp_path):
    """val5k = the first 5000 images of the annotation file, in the file's order (not sorted by id)."""
    d = tiny_coco()
    d["images"] = [{**d["images"][0], "id": i} for i in (9, 2, 7, 1, 5)]
    (tmp_path / "ann.json").write_text(json.dumps({**d, "annotations": []}))
    assert coco.CocoScenes(tmp_path / "ann.json", tmp_path, first=3).image_ids == [9, 2, 7]
    assert coco.CocoScenes(tmp_path / "ann.json", tmp_path, skip=3).image_ids == [1, 5]
    with pytest.raises(ValueError, match="val5k"):
        coco.coco2014(tmp_path, "test")


def test_hflip_mirrors_one_image_and_its_boxes_about_its_own_width():
    image = torch.arange(3 * 4 * 10, dtype=torch.float32).view(3, 4, 10)
    flipped, t = coco.hflip(image, {"boxes": torch.tensor([[1.0, 0.0, 4.0, 2.0]]), "labels": torch.tensor([1])})
    assert t["boxes"].tolist() == [[6.0, 0.0, 9.0, 2.0]] and t["labels"].tolist() == [1]
    assert torch.equal(flipped[..., 0], image[..., -1])


# --- the chapter's study and task ---------------------------------------------------------------

def test_quick_and_full_profiles_are_the_cumulative_ablation():
    from wpcore.studies import multipath as study

    for profile in ("quick", "full"):
        exps = study.experiments(profile)
        assert [e.label for e in exps] == [v[0] for v in study.VARIANTS]
        models = [nets.create(e.model, num_classes=11, **e.model_kw) for e in exps[:4]]
        switches = [(m.foveal, m.skip, m.integral) for m in models]
        assert switches == [(False, False, False), (True, False, False), (True, True, False), (True, True, True)]
        assert models[0].regions == (1.0,) and len(models[0].classifiers) == 1
        assert exps[3].model == "multipath-onehead"  # the integral heads train one per step, as the repo
    quick, standard = study.experiments("quick"), study.study("standard")
    for field in ("scene_size", "train_images", "test_images"):  # quick trains standard's scenes, shorter
        assert {e.options[field] for e in quick} == {e.options[field] for e in standard}
    assert {(e.model_kw["rois_per_image"], e.model_kw["dropout"]) for e in quick + standard} == {(16, 0.0)}
    full = study.experiments("full")[0]
    assert full.dataset == "coco" and full.batch_size == 4 and full.lr == 1e-3 and full.weight_decay == 0.0


def test_detect_task_options_are_checked():
    from wpcore.tasks.multipath import check_options

    with pytest.raises(ValueError, match="unknown detect options"):
        check_options({"train_imgs": 3})
    assert check_options({"train_images": 5})["train_images"] == 5


@pytest.mark.slow  # composes scenes from Fashion-MNIST and trains twice: ~20 s alone, a minute when loaded
@needs_fmnist
def test_smoke_ablation_runs_and_gives_verdicts(tmp_path, monkeypatch):
    from wpcore import experiment
    from wpcore.studies import multipath as study

    monkeypatch.setenv("WPCORE_DATA", str(tmp_path / "data"))
    exps = study.experiments("smoke")[::3]  # the baseline and the full MultiPath
    records = [experiment.run(e) for e in exps]
    for r in records:
        assert 0 <= r.final["AP"] <= 100 and "AP@0.95" in r.final and r.final["params"] > 0
        assert r.data["n_train"] == 16 and r.data["n_test"] == 8
    assert records[1].final["params"] > records[0].final["params"]
    claims = study.claims(records, "smoke")
    from wpcore.studies.claim import Verdict

    assert len(claims) == 4 and claims[-1].verdict is Verdict.INDICATIVE  # one seed: a direction, no statistics
    assert claims[-1].evidence.agrees is not None or claims[-1].evidence.diff == 0
    assert claims[0].verdict is Verdict.NOT_MEASURED  # +foveal alone was not run here
    stamps = [(f.stat().st_ino, f.stat().st_mtime_ns) for f in (records[0].path, records[0].weights_path)]
    assert experiment.run(exps[0]).created == records[0].created
    # reused, not retrained: a rewrite (atomic rename) would change the inode and the mtime (ns)
    assert [(f.stat().st_ino, f.stat().st_mtime_ns) for f in (records[0].path, records[0].weights_path)] == stamps



def test_the_page_draws_detections_on_images_of_different_sizes(monkeypatch):
    """COCO's val images differ in size: the chapter's detections figure pads them into one batch
    (it stacked them, which fails on COCO) and each image's boxes stay inside that image."""
    from types import SimpleNamespace

    from wpcore.present import multipath as page

    kw = {"widths": WIDTHS, "head_dim": HEAD, "roi_size": 5}
    torch.manual_seed(0)
    net = nets.create("multipath", num_classes=4, **kw)
    monkeypatch.setattr(page, "load_model", lambda record: net.eval())
    items = [(torch.rand(3, 40, 72), {}), (torch.rand(3, 64, 48), {}), (torch.rand(3, 56, 56), {})]
    dets = page.top_detections(SimpleNamespace(config={"model": "multipath", "model_kw": kw}), items, k=3)
    assert len(dets) == 3
    for d, (x, _) in zip(dets, items):
        assert 0 < len(d["boxes"]) <= 3 and (d["scores"][:-1] >= d["scores"][1:]).all()
        assert (d["boxes"][:, 2] <= x.shape[2]).all() and (d["boxes"][:, 3] <= x.shape[1]).all()


# --- the standard design -------------------------------------------------------------------------

def fake_record(e, ap: float):
    """A record-like object of experiment ``e`` with AP ``ap`` (what ``claims`` reads)."""
    from types import SimpleNamespace

    final = {"AP": ap, "AP50": 2 * ap, "APs": ap / 2, "AP@0.75": ap / 3}
    return SimpleNamespace(key=e.key(), config=e.config(), extra={"label": e.label}, final=final)


def test_standard_is_the_ablation_at_three_seeds_plus_the_baselines_convergence_check():
    from wpcore.studies import multipath as study

    assert study.STANDARD_DESIGNED
    exps, runs = study.study("standard"), study.convergence("standard")
    first = [(v[0], s) for s in (0, 1, 2) for v in study.VARIANTS]  # seed-major, then the two-stage seeds
    assert [(e.label, e.seed) for e in exps] == first + [(v[0], s) for v in study.VARIANTS[2:] for s in (3, 4, 5)]
    assert len({e.key() for e in exps}) == 18
    # the check's 1x runs are the ablation's own baselines; its 2x runs train twice the epochs and nothing else
    assert [e.key() for e in runs[1]] == [e.key() for e in exps if e.label == study.VARIANTS[0][0]]  # all 3 seeds
    assert sorted(runs) == [1, 2, 4]  # 4x shows the trend; the check compares 1x with 2x
    for m in (2, 4):
        for short, long in zip(runs[1], runs[m]):
            assert long.epochs == m * short.epochs and long.model == "fast-rcnn"
            assert {**long.config(), "epochs": short.epochs} == short.config()
    keys = [e.key() for e in study.experiments("standard")]
    assert len(keys) == len(set(keys)) == 24 and set(keys) >= {e.key() for e in exps}
    assert {e.key() for m, es in runs.items() if m != 1 for e in es}.isdisjoint({e.key() for e in exps})
    assert {e.key() for e in study.page_weights("standard")} == {e.key() for e in exps if e.seed == 0}
    assert study.convergence("quick") == {} and study.convergence("smoke") == {}


def test_standard_claims_have_mdes_and_the_longer_runs_stay_out():
    """Every step of the ablation gets a statistical verdict with its MDE at three seeds; the
    convergence check's 2x runs (here with an absurd AP) change none of them, and the check is listed."""
    from wpcore.studies import multipath as study
    from wpcore.studies.claim import Kind, Verdict

    exps, runs = study.study("standard"), study.convergence("standard")
    ap = {v[0]: 5.0 * (i + 1) for i, v in enumerate(study.VARIANTS)}
    records = [fake_record(e, ap[e.label] + 0.1 * e.seed) for e in exps]
    base = study.claims(records, "standard")
    longer = [fake_record(e, 90.0) for e in runs[2]]
    claims = study.claims(records + longer, "standard")
    ablation = [c for c in claims if c.kind is not Kind.CHECK]
    assert [(c.verdict, c.ours) for c in ablation] == [(c.verdict, c.ours) for c in base[:len(ablation)]]
    assert len(ablation) == 4 and all(c.verdict is Verdict.HOLDS for c in ablation)
    assert all(c.evidence.mde is not None and c.evidence.mde > 0 for c in ablation)
    check = [c for c in claims if c.kind is Kind.CHECK]
    assert len(check) == 1 and check[0].verdict is Verdict.FAILS  # 90 AP at 2x: far more than one s.d.
    assert "AP" in check[0].claim


def test_only_the_integral_step_is_judged_on_its_six_two_stage_seeds():
    """The integral step compares + skip with + integral over seeds 0-5 and says its seeds were
    added; every other claim (and the whole-system claim, which also uses + integral) keeps 0-2."""
    from wpcore.studies import multipath as study

    exps = study.study("standard")
    ap = {v[0]: 5.0 * (i + 1) for i, v in enumerate(study.VARIANTS)}
    extra = {study.VARIANTS[2][0]: 20.0, study.VARIANTS[3][0]: 50.0}  # what seeds 3-5 add
    records = [fake_record(e, ap[e.label] + (extra[e.label] if e.seed >= 3 else 0.1 * e.seed)) for e in exps]
    foveal, skip, integral, system = study.claims(records, "standard")[:4]
    assert integral.evidence.n == (6, 6) and integral.evidence.looks == 2 and "seeds 3-5" in integral.ours
    assert "6 seeds" in integral.ours
    for c in (foveal, skip, system):
        assert c.evidence.n == (3, 3) and c.evidence.looks == 1 and "3 seeds" in c.ours
    # seeds 3-5 would move these differences; seeds 0-2 give the designed steps exactly
    assert [round(c.evidence.diff, 6) for c in (foveal, skip, system)] == [5.0, 5.0, 15.0]
    assert round(integral.evidence.diff, 6) == 5.0 + (50.0 - 20.0) / 2


def test_the_pages_convergence_check_is_the_studys_on_ap():
    """The page's convergence section judges AP (it used to judge ``test_error`` whatever the metric,
    which detection records do not have) and agrees with the check the verdicts list."""
    import matplotlib

    matplotlib.use("Agg")
    from wpcore import present
    from wpcore.studies import multipath as study
    from wpcore.studies.claim import Kind

    runs = study.convergence("standard")
    records = [fake_record(e, 3.0 + 0.2 * e.seed) for e in study.study("standard")]
    records += [fake_record(e, 3.1 + 0.2 * e.seed) for e in runs[2]]
    shown = present.show_convergence_check(records, study, "standard", metric="AP", label="AP (%)", unit=study.UNIT)
    listed = next(c for c in study.claims(records, "standard") if c.kind is Kind.CHECK)
    assert (shown.claim, shown.ours, shown.verdict) == (listed.claim, listed.ours, listed.verdict)
    assert shown.evidence.unit == study.UNIT and "AP" in shown.claim and "3.30" in shown.ours  # 3 seeds at 2x


def test_a_convergence_check_at_its_tolerance_is_called_narrow():
    """A pass by a hair (MultiPath's 0.39 against 0.40) must not read as a clean pass."""
    from wpcore.present import convergence as show
    from wpcore.studies import verdict as v
    from wpcore.studies.claim import Claim, Kind

    def check(change, sd):
        verdict, ev = v.check(change, sd, "AP points")
        return Claim("multipath", "converged", "—", "—", verdict, ev, kind=Kind.CHECK)

    assert show.narrow(check(0.39, 0.40)) and show.narrow(check(0.45, 0.40))
    assert not show.narrow(check(0.10, 0.40)) and not show.narrow(check(1.78, 0.39))
    assert "passes narrowly" in show.training_state(check(0.39, 0.40), "standard")
    assert "no longer moves" in show.training_state(check(0.10, 0.40), "standard")


def test_a_profile_without_a_convergence_check_is_described_as_what_it_is():
    """quick is a pipeline check, far from convergence; full runs the thesis's recipes (it used to be
    called a pipeline check too)."""
    from wpcore.present import training_state

    assert "far from convergence" in training_state(None, "quick") and "pipeline" in training_state(None, "quick")
    full = training_state(None, "full")
    assert "thesis's own recipes" in full and "pipeline" not in full and "far from" not in full


def test_lengths_past_the_check_are_reported_apart_from_it():
    """MultiPath trains its baseline at 4x too: the page reports it next to the check, which still
    compares 1x with 2x (a 4x AP far off changes the check's verdict not at all)."""
    from wpcore.present.convergence import beyond_sentence
    from wpcore.studies import multipath as study
    from wpcore.studies.claim import Kind

    runs = study.convergence("standard")
    records = [fake_record(e, 18.0 + 0.2 * e.seed) for e in runs[1]] + [fake_record(e, 18.3 + 0.2 * e.seed) for e in runs[2]]
    assert beyond_sentence(records, runs, "AP") == ""  # no 4x records yet: nothing to say
    before = next(c for c in study.claims(records, "standard") if c.kind is Kind.CHECK)
    records += [fake_record(e, 20.0 + 0.2 * e.seed) for e in runs[4]]
    after = next(c for c in study.claims(records, "standard") if c.kind is Kind.CHECK)
    assert (before.verdict, before.ours) == (after.verdict, after.ours)
    text = beyond_sentence(records, runs, "AP")
    assert "at 4x (192 epochs) AP 20.20 ± 0.20 (3 seeds, +1.70 from twice the training)" in text
    assert "one seed s.d. of 0.20" in text and "not part of the check" in text and "still learns" in text
    flat = records[:-3] + [fake_record(e, 18.4 + 0.2 * e.seed) for e in runs[4]]
    assert "within that s.d." in beyond_sentence(flat, runs, "AP")


def test_the_claims_are_judged_again_with_the_baseline_trained_longer():
    """The check says whether the baseline still learns; this says whether a verdict rests on it: with
    Fast R-CNN's seeds at 2x (and 4x) in place of its 1x runs, the foveal step's gain vanishes (the
    longer baseline works against that claim), while the page's verdicts stay those of the runs as trained."""
    from wpcore.present.convergence import longer_baseline
    from wpcore.studies import multipath as study
    from wpcore.studies.claim import Verdict
    from wpcore.studies.convergence import longer_baseline as swapped

    runs = study.convergence("standard")
    ap = {"Fast R-CNN": 10.0, "+ foveal": 15.0, "+ foveal + skip": 20.0, "+ foveal + skip + integral (MultiPath)": 25.0}
    records = [fake_record(e, ap[e.label] + 0.2 * (e.seed % 3)) for e in study.study("standard")]
    records += [fake_record(e, 16.0 + 0.2 * e.seed) for e in runs[2]]
    table, text = longer_baseline(records, study, "standard")
    assert "seeds 0, 1, 2 trained for 96 epochs (2x) instead of 48" in text and "4x" not in text
    assert "2 of the 4 claims use them, and 1 verdict changes" in text
    foveal = table[table["claim"].str.startswith("Foveal")].iloc[0]
    assert foveal["as trained"] == "holds (+5.00)" and foveal["baseline trained 2x"].endswith("(-1.00)")
    assert foveal["the longer baseline"] == "works against the claim: a stress test"
    assert not table["claim"].str.contains("skip").any()  # a claim without the baseline is not listed
    verdicts = {c.claim: c.verdict for c in study.claims(records, "standard")}
    assert verdicts[foveal["claim"]] is Verdict.HOLDS  # the verdicts are still the runs' as trained
    # the swap keeps the baseline's key, config and history: only its results are the longer run's
    longer, seeds = swapped(records, runs)
    assert seeds == [0, 1, 2] and len(longer) == len(records) - 3
    first = next(r for r in longer if r.key == runs[1][0].key())
    assert first.final["AP"] == 16.0 and first.config == runs[1][0].config()
    records += [fake_record(e, 17.0) for e in runs[4]]
    table, text = longer_baseline(records, study, "standard")
    assert "96 epochs (2x) and 192 epochs (4x)" in text and "baseline trained 4x" in table.columns
    # without longer records there is nothing to say
    assert longer_baseline([r for r in records if r.key not in {e.key() for e in runs[2]}], study, "standard") == (None, "")


def test_the_scorecard_counts_each_chapters_claims_judged_with_a_longer_baseline(monkeypatch):
    from wpcore import experiment, scorecard
    from wpcore.present.scorecard import longer_rows
    from wpcore.studies import multipath as study

    runs = study.convergence("standard")
    ap = {"Fast R-CNN": 10.0, "+ foveal": 15.0, "+ foveal + skip": 20.0, "+ foveal + skip + integral (MultiPath)": 25.0}
    records = [fake_record(e, ap[e.label] + 0.2 * (e.seed % 3)) for e in study.study("standard")]
    records += [fake_record(e, 16.0 + 0.2 * e.seed) for e in runs[2]]
    by_key = {r.key: r for r in records}
    monkeypatch.setattr(scorecard, "study_modules", lambda: [study])
    monkeypatch.setattr(experiment, "find", lambda e: by_key.get(e.key()))
    assert longer_rows("standard") == []  # the 4x runs are missing: the chapter is not complete
    for e in runs[4]:
        by_key[e.key()] = fake_record(e, 17.0)
    (row,) = longer_rows("standard")
    assert row["baseline trained longer"] == "Fast R-CNN, 2x and 4x" and row["claims"] == 4
    assert row["use its runs"] == 2 and row["tested (longer training works against them)"] == 2
    assert row["verdicts that change"] == 1  # the foveal step's gain is gone against a 16-17 AP baseline
