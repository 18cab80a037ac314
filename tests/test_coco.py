"""COCO on disk (thesis ch. 2, full profile): the real layout, missing files found before training,
worker decoding, per-image flips in batches of mixed sizes, and mid-epoch resume of a detector."""
import json

import pytest
import torch

from wpcore import nets
from wpcore.data import DataError, coco

from .fixtures import write_coco

SMALL = {"min_size": None}  # the fixture's own sizes: these tests are about the loader, not the scale


@pytest.fixture
def root(tmp_path):
    return write_coco(tmp_path / "coco")


def test_the_fixture_reads_as_the_thesis_splits(root):
    val5k, = coco.coco2014(root, "val5k")
    train, val35k = coco.coco2014(root, "trainval35k")
    assert (len(train), len(val5k), len(val35k)) == (5, 3, 0)  # the fixture has fewer than 5000 val images
    assert val5k.num_classes == 4 and val5k.cat_of_label == {1: 1, 2: 3, 3: 18}
    x, t = val5k[1]  # 64 x 48 -> shorter side 800 unless the longer exceeds 1000: scale 1000 / 64
    assert x.shape == (3, 1000, 750) and x.dtype == torch.float32 and 0 <= x.min() and x.max() <= 1
    assert t["scale"] == 1000 / 64 and t["image_id"] == val5k.image_ids[1]
    anns = [a for a in val5k.coco.imgToAnns[t["image_id"]] if not a["iscrowd"]]
    x0, y0, w, h = anns[0]["bbox"]
    assert t["boxes"][0].tolist() == pytest.approx([v * 1000 / 64 for v in (x0, y0, x0 + w, y0 + h)])
    first, = coco.coco2014(root, "val5k")
    assert len(first.target(0)["boxes"]) == len(first.coco.imgToAnns[first.image_ids[0]]) - 1  # crowd left out


def test_missing_files_are_listed_in_one_message_before_training(root):
    assert coco.missing(root) == []
    coco.check(root)
    train_image = sorted((root / "train2014").iterdir())[2]
    train_image.unlink()
    (root / "annotations" / "instances_val2014.json").unlink()
    gone = coco.missing(root)
    assert gone == [str(train_image), str(root / "annotations" / "instances_val2014.json")]
    with pytest.raises(DataError) as e:
        coco.check(root)
    message = str(e.value)
    assert "\n" not in message and train_image.name in message and "instances_val2014.json" in message
    (root / "val2014").rename(root / "elsewhere")
    assert f"{root / 'val2014'}/" in coco.missing(root)


@pytest.mark.parametrize("workers", [0, 2])
def test_a_missing_image_during_training_is_one_line_naming_the_file(root, workers):
    parts = coco.coco2014(root, "trainval35k", **SMALL)
    batches = coco.TrainBatches(parts, 2, "cpu", seed=0, flip=True, cache=False, workers=workers)
    victim = parts[0].path(3)
    victim.unlink()
    with pytest.raises(DataError) as e:
        for _ in batches:
            pass
    assert str(victim) in str(e.value) and "\n" not in str(e.value) and "instances_train2014.json" in str(e.value)


def test_worker_batches_equal_in_process_batches_and_leave_the_global_rng_alone(root):
    parts = coco.coco2014(root, "trainval35k", **SMALL)
    torch.manual_seed(5)
    state = torch.get_rng_state()
    with_workers = list(coco.TrainBatches(parts, 2, "cpu", seed=3, flip=True, cache=False, workers=2))
    assert torch.equal(torch.get_rng_state(), state)  # a resumed run draws what an uninterrupted one draws
    in_process = list(coco.TrainBatches(parts, 2, "cpu", seed=3, flip=True, cache=False, workers=0))
    cached = list(coco.TrainBatches(parts, 2, "cpu", seed=3, flip=True, cache=True))
    for a, b, c in zip(with_workers, in_process, cached, strict=True):
        assert torch.equal(a[0], b[0]) and torch.equal(a[0], c[0]) and a[2] == b[2] == c[2]
        for ta, tb, tc in zip(a[1], b[1], c[1]):
            assert torch.equal(ta["boxes"], tb["boxes"]) and torch.equal(ta["boxes"], tc["boxes"])
            assert torch.equal(ta["labels"], tb["labels"]) and ta["image_id"] == tb["image_id"] == tc["image_id"]


def test_images_of_a_mixed_size_batch_are_flipped_each_with_its_own_width(root):
    """BatchProviderROI.lua draws do_flip per image; before, a batch of mixed sizes was never flipped."""
    parts = coco.coco2014(root, "trainval35k", **SMALL)
    batches = coco.TrainBatches(parts, 3, "cpu", seed=0, flip=True, cache=False)
    flipped, kept, mixed = 0, 0, 0
    by_id = {parts[0].image_ids[i]: i for i in range(len(parts[0]))}
    for _ in range(4):  # epochs
        for images, targets, sizes in batches:
            mixed += len(set(sizes)) > 1
            for x, t, (h, w) in zip(images, targets, sizes):
                ref, rt = parts[0][by_id[t["image_id"]]]
                assert x.shape[1:] >= ref.shape[1:] and (h, w) == tuple(ref.shape[1:])
                assert (x[:, h:] == 0).all() and (x[:, :, w:] == 0).all()  # padding below and right
                if torch.equal(x[:, :h, :w], ref.flip(-1)):
                    flipped += 1
                    expected = torch.stack([w - rt["boxes"][:, 2], rt["boxes"][:, 1], w - rt["boxes"][:, 0],
                                            rt["boxes"][:, 3]], 1)
                    assert torch.equal(t["boxes"], expected)
                else:
                    assert torch.equal(x[:, :h, :w], ref) and torch.equal(t["boxes"], rt["boxes"])
                    kept += 1
    assert mixed >= 4 and flipped >= 4 and kept >= 4


def test_skip_next_starts_an_epoch_mid_way_without_reading_the_skipped_images(root, monkeypatch):
    parts = coco.coco2014(root, "trainval35k", **SMALL)
    full = list(coco.TrainBatches(parts, 2, "cpu", seed=1, flip=True, cache=False))
    reads = []
    decode = coco.decode
    monkeypatch.setattr(coco, "decode", lambda path, *a: reads.append(path) or decode(path, *a))
    batches = coco.TrainBatches(parts, 2, "cpu", seed=1, flip=True, cache=False)
    batches.skip_next(2)
    rest = list(batches)
    assert len(reads) == 1 and len(rest) == 1 and torch.equal(rest[0][0], full[2][0])
    assert batches.epoch == 1 and len(list(batches)) == 3  # the skip applies to one epoch only


@pytest.mark.slow  # trains a detector three times: ~10 s alone
def test_mid_epoch_checkpoint_of_a_detector_resumes_to_the_uninterrupted_result(root, tmp_path):
    """fit's time-based checkpoint inside an epoch, a crash, a resume: the very same weights."""
    from wpcore.tasks.multipath import detection_objective
    from wpcore.train import FitConfig, fit

    parts = coco.coco2014(root, "trainval35k", **SMALL)
    kw = {"num_classes": 4, "widths": (8, 16, 16), "head_dim": 16, "rois_per_image": 16, "proposals_train": 32}

    def make():
        torch.manual_seed(0)
        return nets.create("multipath", **kw), coco.TrainBatches(parts, 3, "cpu", 0, True, cache=False, workers=1)

    cfg = FitConfig(epochs=2, lr=0.01, amp=False, channels_last=False)
    ref, batches = make()
    fit(ref, batches, cfg, objective=detection_objective)

    calls = {"n": 0}

    def crashing(model, batch):
        calls["n"] += 1
        if calls["n"] == 4:  # the second step of epoch 2 (2 steps per epoch)
            raise RuntimeError("power cut")
        return detection_objective(model, batch)

    a, batches = make()
    timed = FitConfig(epochs=2, lr=0.01, amp=False, channels_last=False, checkpoint_every_s=1e-9)
    with pytest.raises(RuntimeError, match="power cut"):
        fit(a, batches, timed, objective=crashing, checkpoint=tmp_path / "ck")
    state = json.loads((tmp_path / "ck" / "state.json").read_text())
    assert state["epoch"] == 1 and state["partial"]["batches_done"] == 1  # written after step 3, mid-epoch
    b, batches = make()
    steps = {"n": 0}

    def counting(model, batch):
        steps["n"] += 1
        return detection_objective(model, batch)

    fit(b, batches, timed, objective=counting, checkpoint=tmp_path / "ck")
    assert steps["n"] == 1  # only the rest of epoch 2
    for (k, v), (_, w) in zip(ref.state_dict().items(), b.state_dict().items(), strict=True):
        assert torch.equal(v, w), k


@pytest.mark.slow  # one training step and an evaluation at COCO's 800-1000 pixel scale
def test_detect_task_trains_on_coco_and_refuses_missing_files_first(root, tmp_path, monkeypatch):
    from wpcore import experiment

    monkeypatch.setenv("WPCORE_RUNS", str(tmp_path / "runs"))
    kw = {"widths": (8, 8, 8), "head_dim": 16, "rois_per_image": 8, "proposals_train": 16, "proposals_test": 10,
          "pre_nms": 50}
    exp = experiment.Experiment("multipath", dataset="coco", task="detect", epochs=1, batch_size=2, lr=0.01,
                                max_steps=1, precision="fp32", model_kw=kw, options={"coco_root": str(root)})
    record = experiment.run(exp)
    assert record.data["n_train"] == 5 and record.data["n_test"] == 3 and record.data["classes"][1] == "car"
    assert 0 <= record.final["AP"] <= 100
    (root / "val2014" / json.loads((root / "annotations" / "instances_val2014.json").read_text())
     ["images"][0]["file_name"]).unlink()
    with pytest.raises(DataError, match="lacks 1 file"):
        experiment.run(experiment.Experiment(**{**exp.__dict__, "seed": 1}))
