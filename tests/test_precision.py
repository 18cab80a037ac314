"""Precision: bf16 autocast where native, fp32 elsewhere, and always part of the record key."""
import pytest
import torch

from wpcore import experiment, precision
from wpcore.experiment import Experiment


def tiny(**kw):
    return Experiment("wrn-10-1", **{"dataset": "digits", "epochs": 1, "train_subset": 128, "test_subset": 100, **kw})


def test_auto_follows_the_hardware_and_the_environment(monkeypatch):
    monkeypatch.delenv("WPCORE_PRECISION", raising=False)
    assert precision.resolve("auto", "cpu") == ("bf16" if precision.cpu_has_native_bf16() else "fp32")
    assert precision.resolve("fp32", "cpu") == "fp32" and precision.resolve("bf16", "cpu") == "bf16"
    monkeypatch.setenv("WPCORE_PRECISION", "fp32")
    assert precision.resolve("auto", "cpu") == "fp32"
    assert precision.resolve("bf16", "cpu") == "bf16"  # an explicit choice beats the environment
    monkeypatch.setenv("WPCORE_PRECISION", "fp16")
    with pytest.raises(ValueError, match="WPCORE_PRECISION must be one of auto, bf16, fp32"):
        precision.resolve("auto", "cpu")
    with pytest.raises(ValueError, match="precision must be one of"):
        precision.resolve("half", "cpu")


def test_precision_is_in_the_key_resolved(monkeypatch):
    monkeypatch.delenv("WPCORE_PRECISION", raising=False)
    resolved = precision.resolve("auto", "cpu")
    assert tiny().config("cpu")["precision"] == resolved
    assert tiny().key("cpu") == tiny(precision=resolved).key("cpu")  # "auto" is stored as what it meant
    assert tiny(precision="fp32").key("cpu") != tiny(precision="bf16").key("cpu")
    with pytest.raises(ValueError, match="precision must be one of"):
        tiny(precision="fp16")


def test_a_run_records_its_precision_and_is_not_reused_for_the_other(monkeypatch):
    calls = []
    original = experiment.TASKS["classify"]
    monkeypatch.setitem(experiment.TASKS, "classify", lambda e, c: calls.append(c.amp) or original(e, c))
    a = experiment.run(tiny(precision="fp32"), device="cpu")
    b = experiment.run(tiny(precision="bf16"), device="cpu")
    assert a.config["precision"] == "fp32" and b.config["precision"] == "bf16" and a.key != b.key
    assert calls == [False, True]  # the task was told which arithmetic to use
    assert experiment.run(tiny(precision="fp32"), device="cpu").created == a.created and len(calls) == 2


def test_bf16_autocast_runs_convolutions_in_bf16_and_keeps_weights_fp32():
    conv = torch.nn.Conv2d(3, 4, 3)
    with precision.autocast(torch.device("cpu"), "bf16"):
        y = conv(torch.randn(2, 3, 8, 8))
    assert y.dtype == torch.bfloat16 and conv.weight.dtype == torch.float32
    with precision.autocast(torch.device("cpu"), "fp32"):
        assert conv(torch.randn(2, 3, 8, 8)).dtype == torch.float32
