"""The engine on a CUDA device: skipped where there is none (CI), run on a GPU machine with
``python -m pytest tests/test_gpu.py`` (the GPU benchmark run of benchmarks/results/gpu.md ran them too)."""
import pytest
import torch

from wpcore import experiment, nets, records
from wpcore.data import DeviceLoader, load
from wpcore.experiment import Experiment
from wpcore.train import FitConfig, classification_eval, fit

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def _digits(device, n=1297, seed=0):
    train = load("digits", "train").subset(n)
    mean, std = train.mean_std()
    return (DeviceLoader(train, 64, True, device, mean=mean, std=std, seed=seed, crop=1),
            DeviceLoader(load("digits", "test"), 250, False, device, mean=mean, std=std))


def test_device_loader_makes_the_same_batches_on_cuda_as_on_cpu():
    """The random draws come from a CPU generator: the augmented batches do not depend on the device."""
    cpu, _ = _digits("cpu")
    gpu, _ = _digits("cuda")
    for (xc, yc), (xg, yg) in zip(cpu, gpu):
        assert xg.is_cuda and torch.equal(yc, yg.cpu())
        torch.testing.assert_close(xg.cpu(), xc, rtol=0, atol=1e-6)


@pytest.mark.parametrize("compile", [False, True])
def test_fit_on_cuda_learns_with_bf16_channels_last_and_fused_sgd(compile):
    torch.manual_seed(0)
    train, test = _digits("cuda")
    model = nets.create("wrn-10-1", in_channels=1)
    hist = fit(model, train, FitConfig(epochs=5, compile=compile), evaluate=classification_eval(test))
    assert next(model.parameters()).is_cuda
    assert hist[-1]["train_loss"] < hist[0]["train_loss"] and hist[-1]["test_error"] < 30  # chance 90%


def test_a_record_trained_on_cuda_is_read_back_on_cpu():
    """Train on the GPU, read the weights anywhere: the CPU model gives the recorded test error."""
    exp = Experiment("wrn-10-1", dataset="digits", epochs=2, train_subset=512, test_subset=300)
    rec = experiment.run(exp, device="cuda")
    assert rec.device["type"] == "cuda" and "name" in rec.device
    model = nets.create("wrn-10-1", in_channels=1)
    model.load_state_dict(records.load_weights(rec, device="cpu"))
    test = DeviceLoader(load("digits", "test").subset(300), 300, False, mean=rec.data["mean"], std=rec.data["std"])
    err = classification_eval(test)(model.eval())["test_error"]
    # bf16 on the GPU vs fp32 here: a few borderline images may flip
    assert abs(err - rec.final["test_error"]) <= 2.0
    stamps = [(f.stat().st_ino, f.stat().st_mtime_ns) for f in (rec.path, rec.weights_path)]
    assert experiment.run(exp, device="cuda").created == rec.created
    # reused, not retrained: a rewrite (atomic rename) would change the inode and the mtime (ns)
    assert [(f.stat().st_ino, f.stat().st_mtime_ns) for f in (rec.path, rec.weights_path)] == stamps


def test_fit_resumes_on_cuda_from_its_checkpoint(tmp_path):
    torch.manual_seed(0)
    train, test = _digits("cuda", n=512)
    model = nets.create("wrn-10-1", in_channels=1)
    fit(model, train, FitConfig(epochs=2, lr=0.05, max_steps=len(train)), checkpoint=tmp_path / "ck")
    again = nets.create("wrn-10-1", in_channels=1)
    train, test = _digits("cuda", n=512)
    hist = fit(again, train, FitConfig(epochs=2, lr=0.05), evaluate=classification_eval(test),
               checkpoint=tmp_path / "ck")
    assert [h["epoch"] for h in hist] == [1, 2] and hist[1]["steps"] == 2 * len(train)
    assert torch.isfinite(torch.tensor(hist[1]["train_loss"]))
