"""Wide Residual Networks (thesis ch. 3): is width, not depth, what residual networks need?

Quick profile: a deep-thin and a shallow-wide WRN of similar size on Fashion-MNIST (the
thesis-scale analogue of WRN-40-4 vs WRN-16-8). Full profile: the thesis's CIFAR-10 recipe
(200 epochs, batch 128, lr 0.1 x0.2 at 60/120/160, Nesterov, wd 5e-4, meanstd, crop+flip).
"""
from __future__ import annotations

from statistics import mean

from ..experiment import Experiment
from ..profiles import check_profile
from .verdict import HOLDS, INDICATIVE, NOT_MEASURED, Claim, lower_is_better, mean_spread

CHAPTER = "wide_resnets"

# Thesis numbers: CIFAR test error (%), meanstd preprocessing unless said otherwise.
# Source tags as in the reference sheet: R = official repository, T = third-party quote of
# the paper, U = recalled from the paper, unverified.
THESIS = {
    "wrn-28-10": {"params": 36_479_194, "cifar-10": 4.00, "cifar-100": 19.25, "source": "Table 5 [R]"},
    "wrn-28-10-dropout": {"params": 36_479_194, "cifar-10": 3.89, "cifar-100": 18.85, "source": "Table 6 [R]"},
    "wrn-40-4": {"params": 8_949_210, "cifar-10": 4.53, "cifar-100": 21.18, "source": "Table 5 [T]"},
    "wrn-16-8": {"params": 10_961_370, "cifar-10": 4.27, "cifar-100": 20.43, "source": "Table 5 [U]"},
    "pre-resnet-164": {"params": 1_700_000, "cifar-10": 5.46, "cifar-100": 24.33, "source": "Table 5 [R]"},
    "pre-resnet-1001": {"params": 10_200_000, "cifar-10": 4.92, "cifar-100": 22.71, "source": "Table 5 [R]"},
}

# (deep-thin, shallow-wide) pairs of similar parameter count, per profile
PAIRS = {
    "smoke": ("wrn-16-1", "wrn-10-2"),
    "quick": ("wrn-40-1", "wrn-16-2"),   # 0.56M vs 0.69M parameters; 40 vs 16 layers
    "full": ("wrn-40-4", "wrn-16-8"),    # 8.9M vs 11.0M, the thesis's own pair
}
SEEDS = {"smoke": [0], "quick": [0], "full": [0]}


def experiments(profile: str) -> list[Experiment]:
    check_profile(profile)
    thin, wide = PAIRS[profile]
    if profile == "smoke":
        common = dict(dataset="fashion-mnist", epochs=1, train_subset=256, test_subset=256)
    elif profile == "quick":
        common = dict(dataset="fashion-mnist", epochs=3, train_subset=8000, test_subset=4000)
    else:
        common = dict(dataset="cifar-10", epochs=200)
    exps = [Experiment(m, seed=s, label=f"{m} ({role})", **common)
            for m, role in ((thin, "deep-thin"), (wide, "shallow-wide")) for s in SEEDS[profile]]
    if profile == "full":
        exps.append(Experiment("wrn-28-10", seed=0, label="wrn-28-10", **common))
    return exps


def _errors(records, model: str) -> list[float]:
    return [r.final["test_error"] for r in records if r.config["model"] == model]


def claims(records, profile: str) -> list[Claim]:
    thin, wide = PAIRS[profile]
    e_thin, e_wide = _errors(records, thin), _errors(records, wide)
    ds = records[0].config["dataset"] if records else "—"
    n = len(e_thin)
    verdict, detail = lower_is_better(e_wide, e_thin)
    t_thin = [r.final["time_s"] / max(r.final["epoch"], 1) for r in records if r.config["model"] == thin]
    t_wide = [r.final["time_s"] / max(r.final["epoch"], 1) for r in records if r.config["model"] == wide]
    speed_verdict = NOT_MEASURED
    if t_thin and t_wide:
        speed_verdict = INDICATIVE if n < 2 else (HOLDS if mean(t_wide) < mean(t_thin) else "does not hold at this scale")
    return [
        Claim(CHAPTER,
              "A shallow-wide residual network is as accurate as (or better than) a deep-thin one of similar size.",
              f"CIFAR-10 error: WRN-16-8 (11.0M) {THESIS['wrn-16-8']['cifar-10']}% [U] vs WRN-40-4 (8.9M) "
              f"{THESIS['wrn-40-4']['cifar-10']}% [T] (Table 5); WRN-28-10 {THESIS['wrn-28-10']['cifar-10']}% vs "
              f"pre-ResNet-1001 {THESIS['pre-resnet-1001']['cifar-10']}% [R]",
              f"{ds} test error ({profile}, {n} seed{'s' * (n != 1)}): {wide} {mean_spread(e_wide)}% vs {thin} "
              f"{mean_spread(e_thin)}%",
              verdict, detail),
        Claim(CHAPTER,
              "Wide networks train faster than deep thin ones of similar accuracy (they use the hardware better).",
              "WRN-40-4 trains several times faster than pre-ResNet-1001 on a GPU (paper text [U])",
              f"seconds per epoch ({profile}, {records[0].device.get('name') or records[0].device.get('type') if records else '—'}): "
              f"{wide} {mean_spread(t_wide, 1)} s vs {thin} {mean_spread(t_thin, 1)} s",
              speed_verdict, "time per epoch from the records (training + evaluation)"),
    ]
