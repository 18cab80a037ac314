"""Two first users of a dataset at once (a fan-out of runs on one machine): each download and
each unpack is private until an atomic rename, so neither sees nor breaks the other's file."""
import os
import tarfile
import threading

import pytest

from wpcore.data import store

from . import fixtures


def test_concurrent_downloads_of_one_file_both_succeed(tmp_path, monkeypatch):
    import torchvision.datasets.utils as tvu

    src = tmp_path / "src"
    spec = fixtures.write_cifar10(src)[0]
    payload = (src / spec.path).read_bytes()
    both_writing = threading.Barrier(2, timeout=10)

    def slow_download(url, root, filename=None, md5=None):  # the two downloads overlap in time
        with open(os.path.join(root, filename), "wb") as f:
            f.write(payload[: len(payload) // 2])
            f.flush()
            both_writing.wait()
            f.write(payload[len(payload) // 2:])

    monkeypatch.setattr(tvu, "download_url", slow_download)
    spec = store.FileSpec(spec.path, "http://example.invalid/c10.tgz", spec.md5)
    dest = tmp_path / "data" / "cifar-10" / spec.path
    errors = []

    def fetch():
        try:
            store.download(spec.url, dest, spec)
        except Exception as e:  # noqa: BLE001  (collected, asserted below)
            errors.append(e)

    threads = [threading.Thread(target=fetch) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert dest.read_bytes() == payload
    assert sorted(p.name for p in dest.parent.iterdir()) == [spec.path]  # no temporary file left


def test_concurrent_unpacks_give_one_complete_folder(tmp_path):
    archive = fixtures.write_cifar10(tmp_path / "src")[0].path
    archive = tmp_path / "src" / archive
    dest = tmp_path / "extracted"
    errors = []

    def unpack():
        try:
            store.extract(archive, dest)
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=unpack) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    with tarfile.open(archive) as tar:
        names = {m.name for m in tar.getmembers() if m.isfile()}
    assert {str(p.relative_to(dest)) for p in dest.rglob("*") if p.is_file()} == names | {".extracted"}
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".extracted")] == []


def test_find_dir_does_not_verify_or_download(tmp_path, monkeypatch):
    monkeypatch.setenv("WPCORE_DATA", str(tmp_path))
    assert store.find_dir("cifar-10") is None
    fixtures.write_cifar10(tmp_path / "cifar-10")
    assert store.find_dir("cifar-10") == tmp_path / "cifar-10"
    with pytest.raises(ValueError, match="unknown dataset"):
        store.find_dir("mnist")
