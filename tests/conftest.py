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
