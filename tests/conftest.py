import os

import pytest
import torch

torch.set_num_threads(min(2, os.cpu_count() or 1))


@pytest.fixture(autouse=True)
def _isolated_runs(tmp_path, monkeypatch):
    """Every test writes its records into its own folder."""
    monkeypatch.setenv("WPCORE_RUNS", str(tmp_path / "runs"))
    yield


def fmnist_available() -> bool:
    from wpcore.data import store

    try:
        store.dataset_dir("fashion-mnist", download_missing=False)
        return True
    except Exception:
        return False


needs_fmnist = pytest.mark.skipif(not fmnist_available(), reason="Fashion-MNIST not installed (make data)")


@pytest.fixture(scope="session")
def built_book(tmp_path_factory):
    """The whole book at the smoke profile with fresh records, built once per test session."""
    from wpcore import book

    out = tmp_path_factory.mktemp("book")
    old = os.environ.get("WPCORE_RUNS")
    os.environ["WPCORE_RUNS"] = str(out / "runs")
    try:
        html = book.build("smoke", build_dir=out / "_build")
    finally:
        if old is None:
            os.environ.pop("WPCORE_RUNS", None)
        else:
            os.environ["WPCORE_RUNS"] = old
    return html
