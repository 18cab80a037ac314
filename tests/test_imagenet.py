"""ImageNet: the ImageFolder layout, the official augmentation, multi-worker loading, and the
`full` ImageNet runs of three chapters trained end to end (two steps) on a fixture of tiny JPEGs."""
import dataclasses

import pytest
import torch

from wpcore import experiment, records
from wpcore.data import DataError, imagenet

from . import fixtures


@pytest.fixture
def tiny_imagenet(tmp_path, monkeypatch):
    root = fixtures.write_imagenet(tmp_path / "imagenet")
    monkeypatch.setenv("WPCORE_IMAGENET", str(root))
    return root


def test_scan_reads_the_imagefolder_layout(tiny_imagenet):
    train, val = imagenet.scan("train"), imagenet.scan("val")
    assert (len(train), len(val), train.num_classes) == (12, 6, 3)
    assert train.classes == sorted(train.classes) == val.classes
    assert train.labels.tolist() == [0] * 4 + [1] * 4 + [2] * 4
    assert all(f.startswith("train/" + train.classes[y]) for f, y in zip(train.files, train.labels.tolist()))
    assert imagenet.layout_problems() == []
    assert train.identity != val.identity and train.identity == imagenet.scan("train").identity


def test_missing_imagenet_says_where_to_put_it(tmp_path, monkeypatch):
    monkeypatch.setenv("WPCORE_IMAGENET", str(tmp_path / "nowhere"))
    with pytest.raises(DataError, match="train/<wnid>/\\*.JPEG"):
        imagenet.scan("train")
    assert any("missing" in p for p in imagenet.layout_problems())


def test_random_resized_crop_box_stays_inside_and_is_seeded():
    for h, w in ((375, 500), (64, 48), (30, 300)):
        for s in range(50):
            top, left, ch, cw = imagenet.rrc_box(h, w, imagenet.sample_generator(0, 0, s))
            assert 0 <= top and top + ch <= h and 0 <= left and left + cw <= w and ch > 0 and cw > 0
    a = imagenet.rrc_box(375, 500, imagenet.sample_generator(1, 2, 3))
    assert a == imagenet.rrc_box(375, 500, imagenet.sample_generator(1, 2, 3))
    assert a != imagenet.rrc_box(375, 500, imagenet.sample_generator(1, 3, 3))  # a new epoch, new crops


def test_val_view_resizes_the_shorter_side_then_takes_the_centre():
    img = torch.zeros(3, 300, 600, dtype=torch.uint8)
    img[:, 100:200, 250:350] = 255  # a bright square at the centre
    out = imagenet.val_view(img)     # 300x600 -> 256x512 -> centre 224x224
    assert out.shape == (3, 224, 224)
    assert out[:, 112, 112].min() > 250 and out[:, 2, 2].max() < 5


def test_batches_are_the_same_with_and_without_workers(tiny_imagenet):
    train = imagenet.scan("train")
    one = list(imagenet.ImageNetBatches(train, 4, True, seed=3, workers=0))
    two = list(imagenet.ImageNetBatches(train, 4, True, seed=3, workers=2))
    assert len(one) == len(two) == 3
    for (x1, y1), (x2, y2) in zip(one, two):
        assert x1.shape == (4, 3, 224, 224) and torch.equal(y1, y2) and torch.allclose(x1, x2)
    val = list(imagenet.ImageNetBatches(imagenet.scan("val"), 4, False, workers=0))
    assert [len(y) for _, y in val] == [4, 2]


def test_shards_of_two_ranks_split_an_epoch():
    data = imagenet.ImageFolderSplit(None, "train", [f"f{i}" for i in range(10)], torch.zeros(10, dtype=torch.long),
                                     ["a"])
    r0 = imagenet.ImageNetBatches(data, 4, True, rank=0, world_size=2)
    r1 = imagenet.ImageNetBatches(data, 4, True, rank=1, world_size=2)
    a, b = r0._indices(), r1._indices()
    assert len(a) == len(b) == 5 and not set(a) & set(b) and len(r0) == 2


def _tiny(e, **kw):
    return dataclasses.replace(e, batch_size=2, epochs=1, max_steps=1, test_subset=2, **kw)


def test_full_imagenet_resnet18_trains_end_to_end_at_224(tiny_imagenet):
    """The full ResNet-18 run at its real input size (224x224), the batch, the steps and the
    validation set cut down: training, evaluation, the record."""
    from wpcore.studies import diracnets

    e = next(e for e in diracnets.experiments("full") if e.model == "resnet-18")
    rec = experiment.run(_tiny(e), device="cpu")
    assert set(rec.final) >= {"test_error", "test_error_top5", "test_loss", "params"}
    assert rec.data["n_train"] == 12 and rec.data["n_test"] == 2 and records.find(rec.key) is not None


def test_full_imagenet_runs_of_three_chapters_train_end_to_end(tiny_imagenet, monkeypatch):
    """WRN-50-2, DiracNet-18 (with its fold check) and ResNet-18 <- ResNet-34 AT: the studies' full
    experiments, on 64x64 crops (the same code path as 224, 12x cheaper on 2 CPU cores; at 32x32 the
    last group is 1x1 and two images give batch statistics too few to train on)."""
    from wpcore.studies import attention, diracnets, wide_resnets

    monkeypatch.setattr(imagenet, "SIZE", 64)
    wrn = next(e for e in wide_resnets.experiments("full") if e.dataset == "imagenet")
    dirac = next(e for e in diracnets.experiments("full") if e.model == "diracnet-18")
    teacher, _, at = attention.imagenet_experiments()
    teacher = _tiny(teacher)
    at = _tiny(at, options={**at.options, "teacher": teacher.config()})
    for e in (wrn, dirac):
        rec = experiment.run(_tiny(e), device="cpu")
        assert "test_error_top5" in rec.final and records.find(rec.key) is not None
    assert "fold" in rec.extra and rec.extra["fold"]["fold_max_rel_diff"] < 1e-3
    rec = experiment.run(at, device="cpu")
    assert rec.extra["teacher_key"] == teacher.key() and records.find(teacher.key()) is not None
    assert rec.extra["method"] == "at" and rec.final["teacher_error"] is not None
