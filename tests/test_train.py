"""The fit loop: it learns, follows the thesis schedule, resumes exactly, refuses NaN."""
import pytest
import torch

from wpcore import nets
from wpcore.data import DeviceLoader, load
from wpcore.train import FitConfig, NonFiniteLoss, classification_eval, fit, lr_at, param_groups


def _digits_loaders(seed=0, n=256):
    train = load("digits", "train").subset(n)
    mean, std = train.mean_std()
    return (DeviceLoader(train, 64, True, mean=mean, std=std, seed=seed, crop=1),  # 8x8 digits: pad 1
            DeviceLoader(load("digits", "test"), 250, False, mean=mean, std=std))


def _reference_two_epochs() -> tuple[FitConfig, torch.nn.Module]:
    """WRN-10-1 trained 2 epochs on 256 digits without interruption: what a resumed run must equal."""
    cfg = FitConfig(epochs=2, lr=0.05)
    torch.manual_seed(0)
    ref = nets.create("wrn-10-1", in_channels=1)
    fit(ref, _digits_loaders()[0], cfg)
    return cfg, ref


def test_schedule_is_60_120_160_of_200_epochs():
    cfg = FitConfig(epochs=200)
    per_epoch = 391
    total = 200 * per_epoch
    lrs = {e: lr_at(e * per_epoch, total, cfg) for e in (0, 59, 60, 119, 120, 159, 160, 199)}
    assert lrs == pytest.approx({0: 0.1, 59: 0.1, 60: 0.02, 119: 0.02, 120: 0.004, 159: 0.004,
                                 160: 0.0008, 199: 0.0008})


def test_fit_learns_digits():
    torch.manual_seed(0)
    train, test = _digits_loaders(n=1297)
    model = nets.create("wrn-10-1", in_channels=1)
    # 6 epochs: with the official BN init (gamma ~ U(0, 1)) 3 epochs end at 46-65% error (seeds 0-4), 6 at 15-24%
    hist = fit(model, train, FitConfig(epochs=6), evaluate=classification_eval(test))
    assert len(hist) == 6 and hist[-1]["train_loss"] < hist[0]["train_loss"]
    assert hist[-1]["test_error"] < 30  # chance is 90%
    assert [h["epoch"] for h in hist] == [1, 2, 3, 4, 5, 6]


def test_evaluating_every_few_epochs_trains_the_same_network():
    """``eval_every`` saves evaluations (the last epoch is always evaluated) and changes nothing else:
    evaluation draws no random numbers and leaves the weights as they were."""
    out = []
    for every in (1, 3):
        torch.manual_seed(0)
        train, test = _digits_loaders(n=128)
        model = nets.create("wrn-10-1", in_channels=1)
        hist = fit(model, train, FitConfig(epochs=4, eval_every=every), evaluate=classification_eval(test))
        out.append((hist, model.state_dict()))
    (every1, w1), (every3, w3) = out
    assert [("test_error" in h) for h in every3] == [False, False, True, True]
    assert all("test_error" in h for h in every1)
    assert [h["train_loss"] for h in every1] == [h["train_loss"] for h in every3]
    assert every1[-1]["test_error"] == every3[-1]["test_error"]
    assert all(torch.equal(w1[k], w3[k]) for k in w1)
    with pytest.raises(ValueError, match="eval_every"):
        FitConfig(epochs=1, eval_every=0)


def test_optimizer_is_nesterov_sgd_with_decay_groups():
    model = nets.create("wrn-10-1")
    model.no_weight_decay = lambda: {"fc.bias"}
    groups = param_groups(model, 5e-4)
    assert groups[0]["weight_decay"] == 5e-4 and groups[1]["weight_decay"] == 0.0
    assert len(groups[1]["params"]) == 1 and groups[1]["params"][0] is model.fc.bias


def test_resume_from_checkpoint_is_bitwise_identical(tmp_path):
    """Two epochs straight == one epoch, 'crash', resume for the second (CPU, deterministic)."""
    def make():
        torch.manual_seed(0)
        return nets.create("wrn-10-1", in_channels=1)

    cfg = FitConfig(epochs=2, lr=0.05)
    ref = make()
    train, test = _digits_loaders()
    hist_ref = fit(ref, train, cfg, evaluate=classification_eval(test))

    a = make()
    train, test = _digits_loaders()
    # the same run, killed right after its first epoch's checkpoint
    fit(a, train, FitConfig(epochs=2, lr=0.05, max_steps=len(train)), checkpoint=tmp_path / "ck")
    # a new process would rebuild everything from scratch: new model, new loader, then resume
    b = nets.create("wrn-10-1", in_channels=1)
    train, test = _digits_loaders()
    hist = fit(b, train, cfg, evaluate=classification_eval(test), checkpoint=tmp_path / "ck")
    assert hist[-1]["epoch"] == 2
    for (k, v), (_, w) in zip(ref.state_dict().items(), b.state_dict().items()):
        assert torch.equal(v, w), k
    assert hist[-1]["test_error"] == hist_ref[-1]["test_error"]


def test_nan_loss_stops_with_message():
    train, _ = _digits_loaders()
    model = nets.create("wrn-10-1", in_channels=1)
    with pytest.raises(NonFiniteLoss, match="lower the learning rate"):
        fit(model, train, FitConfig(epochs=1, log_every=1), objective=lambda m, b: m(b[0]).sum() * float("nan"))


def test_bad_config_values():
    with pytest.raises(ValueError, match="epochs"):
        FitConfig(epochs=-1)
    with pytest.raises(ValueError, match="lr"):
        FitConfig(epochs=1, lr=0)


def test_ctrl_c_mid_epoch_checkpoints_and_resumes_bitwise(tmp_path):
    """SIGINT in the middle of an epoch: a checkpoint between two steps, and a resume that ends
    exactly where an uninterrupted run ends."""
    import os
    import signal

    cfg, ref = _reference_two_epochs()
    calls = {"n": 0}

    def objective(model, batch):
        calls["n"] += 1
        if calls["n"] == 6:  # epoch 2 (4 steps per epoch), second step
            os.kill(os.getpid(), signal.SIGINT)
        return torch.nn.functional.cross_entropy(model(batch[0]), batch[1])

    torch.manual_seed(0)
    a = nets.create("wrn-10-1", in_channels=1)
    train, _ = _digits_loaders()
    with pytest.raises(KeyboardInterrupt, match="epoch 2 at step 6"):
        fit(a, train, cfg, objective=objective, checkpoint=tmp_path / "ck")
    b = nets.create("wrn-10-1", in_channels=1)
    train, _ = _digits_loaders()
    fit(b, train, cfg, checkpoint=tmp_path / "ck")
    for (k, v), (_, w) in zip(ref.state_dict().items(), b.state_dict().items()):
        assert torch.equal(v, w), k


def test_fit_config_carries_every_field_of_the_recipe():
    from types import SimpleNamespace

    from wpcore.experiment import Experiment
    from wpcore.tasks.setup import fit_config

    exp = Experiment("wrn-10-1", epochs=3, lr=0.05, schedule="cosine", warmup=0.1, label_smoothing=0.1,
                     milestones=(0.5,), gamma=0.1, weight_decay=1e-4, nesterov=False, eval_every=2)
    cfg = fit_config(exp, SimpleNamespace(compile=False, amp=False))
    for field in ("epochs", "lr", "milestones", "gamma", "warmup", "label_smoothing", "weight_decay", "nesterov",
                  "eval_every", "schedule"):
        assert getattr(cfg, field) == getattr(exp, field), field
