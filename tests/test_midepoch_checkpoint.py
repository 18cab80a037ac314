"""fit's time-based checkpoint inside an epoch (``FitConfig.checkpoint_every_s``): a run that dies
mid-epoch resumes from it, not from the epoch's start, and ends bitwise where an uninterrupted
run ends. (The detector's loader, which skips ahead instead of replaying, is tested in test_coco.)"""
import json

import pytest
import torch

from wpcore import nets
from wpcore.train import FitConfig, fit

from .test_train import _digits_loaders, _reference_two_epochs


def test_time_based_checkpoint_mid_epoch_resumes_bitwise(tmp_path):
    _, ref = _reference_two_epochs()
    calls = {"n": 0}

    def crashing(model, batch):
        calls["n"] += 1
        if calls["n"] == 7:  # epoch 2 (4 steps per epoch), third step: the process dies
            raise RuntimeError("killed")
        return torch.nn.functional.cross_entropy(model(batch[0]), batch[1])

    timed = FitConfig(epochs=2, lr=0.05, checkpoint_every_s=1e-9)  # due after every step
    torch.manual_seed(0)
    a = nets.create("wrn-10-1", in_channels=1)
    train, _ = _digits_loaders()
    with pytest.raises(RuntimeError, match="killed"):
        fit(a, train, timed, objective=crashing, checkpoint=tmp_path / "ck")
    state = json.loads((tmp_path / "ck" / "state.json").read_text())
    assert (state["epoch"], state["step"], state["partial"]["batches_done"]) == (1, 6, 2)

    steps = {"n": 0}

    def counting(model, batch):
        steps["n"] += 1
        return torch.nn.functional.cross_entropy(model(batch[0]), batch[1])

    b = nets.create("wrn-10-1", in_channels=1)
    train, _ = _digits_loaders()
    hist = fit(b, train, timed, objective=counting, checkpoint=tmp_path / "ck")
    assert steps["n"] == 2 and hist[-1]["epoch"] == 2 and hist[-1]["steps"] == 8
    for (k, v), (_, w) in zip(ref.state_dict().items(), b.state_dict().items(), strict=True):
        assert torch.equal(v, w), k


def test_no_checkpoint_inside_an_epoch_by_default(tmp_path):
    calls = {"n": 0}

    def crashing(model, batch):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("killed")
        return torch.nn.functional.cross_entropy(model(batch[0]), batch[1])

    train, _ = _digits_loaders()
    with pytest.raises(RuntimeError, match="killed"):
        fit(nets.create("wrn-10-1", in_channels=1), train, FitConfig(epochs=1), objective=crashing,
            checkpoint=tmp_path / "ck")
    assert not (tmp_path / "ck").exists()
    with pytest.raises(ValueError, match="checkpoint_every_s"):
        FitConfig(epochs=1, checkpoint_every_s=0)
