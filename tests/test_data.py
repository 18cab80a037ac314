"""Loaders on fixtures in each dataset's real on-disk format; checksums; the on-device loader."""
import numpy as np
import pytest
import torch

from wpcore.data import DataError, DeviceLoader, load, store
from wpcore.data.images import augment

from . import fixtures


@pytest.mark.parametrize("name,n_train,n_test,shape,classes", [
    ("fashion-mnist", 40, 20, (1, 28, 28), 10),
    ("cifar-10", 30, 10, (3, 32, 32), 10),
    ("cifar-100", 30, 10, (3, 32, 32), 100),
    ("svhn", 12 + 8, 6, (3, 32, 32), 10),  # train = train + extra, as the paper
])
def test_loader_reads_real_format(tmp_path, monkeypatch, name, n_train, n_test, shape, classes):
    fixtures.install(monkeypatch, tmp_path, name)
    train, test = load(name, "train"), load(name, "test")
    assert (len(train), len(test)) == (n_train, n_test)
    assert train.shape == shape and train.images.dtype == torch.uint8
    assert train.num_classes == classes
    assert int(train.labels.min()) >= 0 and int(train.labels.max()) < classes
    assert train.identity.startswith(name)


def test_cifar_labels_and_pixels_roundtrip(tmp_path, monkeypatch):
    fixtures.install(monkeypatch, tmp_path, "cifar-100")
    train = load("cifar-100", "train")
    assert train.labels.tolist() == list(range(30))  # the fine label, not the coarse one
    raw = np.fromfile(tmp_path / "cifar-100" / "extracted" / "cifar-100-binary" / "train.bin", np.uint8)
    assert np.array_equal(train.images[0].numpy().reshape(-1), raw[2:3074])


def test_svhn_label_10_is_digit_0(tmp_path, monkeypatch):
    fixtures.install(monkeypatch, tmp_path, "svhn")
    test = load("svhn", "test")
    assert test.labels.tolist() == [1, 2, 3, 4, 5, 6]
    train = load("svhn", "train")
    assert 0 in train.labels.tolist()  # label 10 in the file


def test_corrupt_file_is_named_and_refused(tmp_path, monkeypatch):
    folder = fixtures.install(monkeypatch, tmp_path, "fashion-mnist")
    target = folder / "train-images-idx3-ubyte.gz"
    target.write_bytes(target.read_bytes()[:-10])  # truncated
    store._verified.clear()
    with pytest.raises(DataError, match="train-images-idx3-ubyte.gz is corrupt or truncated"):
        load("fashion-mnist", "train")


def test_missing_file_without_url_says_what_to_do(tmp_path, monkeypatch):
    fixtures.install(monkeypatch, tmp_path, "cifar-10")
    (tmp_path / "cifar-10" / "cifar-10-binary.tar.gz").unlink()
    with pytest.raises(DataError, match="cifar-10-binary.tar.gz"):
        load("cifar-10", "train")


def test_unknown_dataset_and_split():
    with pytest.raises(ValueError, match="unknown dataset 'imagenet'"):
        load("imagenet")
    with pytest.raises(ValueError, match="unknown split"):
        load("digits", "val")


def test_digits_are_embedded():
    train, test = load("digits", "train"), load("digits", "test")
    assert len(train) + len(test) == 1797 and train.shape == (1, 8, 8)


def test_balanced_subset_and_mask():
    train = load("digits", "train")
    sub = train.subset(100, seed=1)
    counts = sub.labels.bincount(minlength=10)
    assert len(sub) == 100 and counts.max() - counts.min() <= 1
    assert sub.identity != train.identity and train.subset(100, seed=1).identity == sub.identity
    masked = train.subset(mask=train.labels == 3)
    assert set(masked.labels.tolist()) == {3}


def test_device_loader_normalises_and_covers_epoch():
    train = load("digits", "train")
    mean, std = train.mean_std()
    loader = DeviceLoader(train, 128, train=False, mean=mean, std=std)
    xs = torch.cat([x for x, _ in loader])
    assert xs.shape[0] == len(train)
    assert abs(xs.mean().item()) < 1e-3 and abs(xs.std().item() - 1) < 1e-2
    tl = DeviceLoader(train, 128, train=True, mean=mean, std=std, seed=0)
    assert len(tl) == len(train) // 128 and sum(len(y) for _, y in tl) == 128 * len(tl)


def test_augment_crop_and_flip_are_real_translations():
    g = torch.Generator().manual_seed(0)
    x = torch.arange(2 * 1 * 8 * 8, dtype=torch.float32).view(2, 1, 8, 8)
    y = augment(x, crop=0, flip=True, generator=g)
    for i in range(2):  # each image is itself or its mirror
        assert torch.equal(y[i], x[i]) or torch.equal(y[i], x[i].flip(2))
    z = augment(x, crop=2, flip=False, generator=g)
    padded = torch.nn.functional.pad(x, (2,) * 4, mode="reflect")
    for i in range(2):  # each crop is a window of the reflection-padded image
        assert any(torch.equal(z[i], padded[i, :, a:a + 8, b:b + 8]) for a in range(5) for b in range(5))
