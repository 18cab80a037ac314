"""Precision: bf16 autocast where native, fp32 elsewhere; the policy is part of the record key."""
import dataclasses

import pytest
import torch

from wpcore import experiment, precision
from wpcore.experiment import Experiment


def tiny(**kw):
    return Experiment("wrn-10-1", **{"dataset": "digits", "epochs": 1, "train_subset": 128, "test_subset": 100, **kw})


def test_auto_follows_the_hardware_and_the_environment_sets_the_policy(monkeypatch):
    monkeypatch.delenv("WPCORE_PRECISION", raising=False)
    assert precision.resolve("auto", "cpu") == ("bf16" if precision.cpu_has_native_bf16() else "fp32")
    assert precision.resolve("fp32", "cpu") == "fp32" and precision.resolve("bf16", "cpu") == "bf16"
    assert precision.policy() == "auto"
    monkeypatch.setenv("WPCORE_PRECISION", "fp32")
    assert precision.policy() == "fp32" and tiny().precision == "fp32"
    assert tiny(precision="bf16").precision == "bf16"  # an explicit choice beats the environment
    monkeypatch.setenv("WPCORE_PRECISION", "fp16")
    with pytest.raises(ValueError, match="WPCORE_PRECISION must be one of auto, bf16, fp32"):
        precision.policy()
    with pytest.raises(ValueError, match="precision must be one of"):
        precision.resolve("half", "cpu")


def test_the_key_holds_the_policy_not_what_this_machine_resolves(monkeypatch):
    """A record made in bf16 on a GPU ("auto") is reused by a CPU-only machine's book ("auto")."""
    monkeypatch.delenv("WPCORE_PRECISION", raising=False)
    assert tiny().config()["precision"] == "auto"
    assert tiny().key() != tiny(precision="fp32").key() != tiny(precision="bf16").key()
    with pytest.raises(ValueError, match="precision must be one of"):
        tiny(precision="fp16")
    monkeypatch.setenv("WPCORE_PRECISION", "fp32")  # the user's override is a different experiment
    assert tiny().key() == tiny(precision="fp32").key()


def test_a_record_made_on_a_gpu_is_reused_on_this_cpu(monkeypatch):
    from wpcore import records

    monkeypatch.delenv("WPCORE_PRECISION", raising=False)
    calls = []
    original = experiment.TASKS["classify"]
    monkeypatch.setitem(experiment.TASKS, "classify",
                        dataclasses.replace(original, fn=lambda e, c: calls.append(1) or original.fn(e, c)))
    rec = experiment.run(tiny(), device="cpu")
    gpu = dataclasses.replace(rec, precision="bf16", device={**rec.device, "type": "cuda", "name": "H200"})
    records.write(gpu)
    again = experiment.run(tiny(), device="cpu")
    assert len(calls) == 1 and again.precision == "bf16" and again.device["name"] == "H200"


def test_a_run_records_its_precision_and_is_not_reused_for_the_other(monkeypatch):
    calls = []
    original = experiment.TASKS["classify"]
    monkeypatch.setitem(experiment.TASKS, "classify",
                        dataclasses.replace(original, fn=lambda e, c: calls.append(c.amp) or original.fn(e, c)))
    a = experiment.run(tiny(precision="fp32"), device="cpu")
    b = experiment.run(tiny(precision="bf16"), device="cpu")
    assert a.config["precision"] == "fp32" and b.config["precision"] == "bf16" and a.key != b.key
    assert (a.precision, b.precision) == ("fp32", "bf16")
    assert calls == [False, True]  # the task was told which arithmetic to use
    assert experiment.run(tiny(precision="fp32"), device="cpu").created == a.created and len(calls) == 2


def test_bf16_autocast_runs_convolutions_in_bf16_and_keeps_weights_fp32():
    conv = torch.nn.Conv2d(3, 4, 3)
    with precision.autocast(torch.device("cpu"), "bf16"):
        y = conv(torch.randn(2, 3, 8, 8))
    assert y.dtype == torch.bfloat16 and conv.weight.dtype == torch.float32
    with precision.autocast(torch.device("cpu"), "fp32"):
        assert conv(torch.randn(2, 3, 8, 8)).dtype == torch.float32
