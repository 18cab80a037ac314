"""Learning to compare image patches (thesis ch. 1, DeepCompare, CVPR 2015).

Quick profile: half-width 2ch, 2ch-2stream, siam and siam-l2 trained for a few hundred steps on
real stereo correspondences of the Middlebury motorcycle pair (rows above 300 for training, below
for testing), beside a SIFT baseline on the same test pairs; the 2ch net also draws a disparity map
of the test rows. Standard profile (the published book): the same four half-width networks, 3
seeds each (6 for siam and siam-l2, ``TWO_STAGE_SEEDS``), trained for 64 epochs on the ``mixed``
pairs (half stereo, half the photographs of ``data.photos.PHOTOS`` through synthetic viewpoint, blur
and lighting changes), tested on image regions no training pair touches, with SIFT and the 2ch
network's convergence check (twice the epochs, 3 seeds; ``SETUP`` and ``CONVERGENCE`` say how long
and why). Full profile: the thesis's six Brown train -> test splits at full width.
"""
from __future__ import annotations

from statistics import mean

from ..experiment import Experiment
from ..profiles import check_profile
from . import convergence as conv
from . import verdict as v
from .claim import Claim, Rule, two_stage
from .stats import LEVEL
from .verdict import mean_spread

CHAPTER = "patches"
STANDARD_DESIGNED = True  # `standard` has its own design here (see SETUP)

# FPR95 (%) on Brown, train -> test; README table "from the paper" [R], thesis.md §1.4.
SPLITS = ["yos→nd", "yos→lib", "nd→yos", "nd→lib", "lib→yos", "lib→nd"]
THESIS = {
    "2ch": [2.74, 8.59, 6.04, 6.04, 7.00, 2.76],
    "2ch-2stream": [2.11, 7.20, 4.09, 4.85, 5.00, 1.90],
    "2ch-deep": [2.43, 7.40, 4.38, 4.56, 6.18, 2.77],
    "siam": [5.62, 13.48, 13.23, 8.77, 14.76, 4.04],
    "siam-2stream": [5.23, 11.34, 10.44, 6.45, 9.39, 2.82],
}
THESIS_SOURCE = "Brown FPR95 (%), paper table reprinted in the official README [R]"
# The released models re-scored by pytorch/eval.py (interpolated ROC) [R]: the only siam-l2 numbers.
THESIS_PYTORCH = {
    "siam": [5.76, 13.58, 12.63, 8.62, 15.29, 4.43],
    "siam-l2": [8.40, 18.90, 15.18, 12.55, 20.11, 6.05],
}
THESIS_PYTORCH_SOURCE = "released models re-scored with pytorch/eval.py (interpolated ROC) [R]"
THESIS_SIFT_MEAN = 26.55  # mean of 6 Brown splits as quoted by the HardNet paper (performance.md [T])

MODELS = {"smoke": ["2ch", "2ch-2stream", "siam", "siam-l2"],
          "quick": ["2ch", "2ch-2stream", "siam", "siam-l2"],
          "standard": ["2ch", "2ch-2stream", "siam", "siam-l2"],
          "full": ["2ch", "2ch-2stream", "2ch-deep", "siam", "siam-2stream", "siam-l2"]}
SEEDS = {"smoke": [0], "quick": [0], "standard": [0, 1, 2], "full": [0]}
# Two-stage seeds (a claim left undecided by the first 3 seeds gets 6, and its note says so): at
# standard's 64 epochs, siam vs siam-l2 (−1.00 points, interval −3.53 .. +1.53 at seeds 0-2). The
# 16-epoch design (published until 2026-12-07) had raised 2ch and 2ch-2stream to 6 seeds.
TWO_STAGE_SEEDS: dict[str, dict[str, list[int]]] = {"standard": {"siam": [0, 1, 2, 3, 4, 5],
                                                                 "siam-l2": [0, 1, 2, 3, 4, 5]}}
# the baseline whose convergence is checked (2ch; 1 = the profile's length, 2 = twice as many epochs).
# Seeds 0, 1 and 2 since 2026-12-08: seeds 0 and 1 failed it (5.65 +- 0.18% at 64 epochs, 5.30 at 128: a
# change of 0.35 against 0.18), but two seeds estimate a spread poorly (seed 2 alone moves the s.d. at 64
# epochs from 0.18 to 0.40) and the comparisons use three; the MultiPath check took its third seed for the
# same reason (studies/multipath.py), and then every chapter's (convergence.STANDARD_SEEDS). Added after
# seeing the two-seed check fail; the page says so. Seed 2 at 128 epochs: 5.30% (1010 s); on three seeds
# the check fails, 5.87 +- 0.40 -> 5.30, a change of 0.57.
CONVERGENCE = {"standard": {"multipliers": (1, 2), "seeds": conv.STANDARD_SEEDS}}
STEREO_MODEL = "2ch"  # the network that draws the disparity map
BROWN = {"yosemite": "yos", "notredame": "nd", "liberty": "lib"}


SETUP = {
    "smoke": {"dataset": "stereo", "epochs": 1, "batch_size": 32, "max_steps": 2, "model_kw": {"width": 0.25},
              "options": {"n_train": 128, "n_test": 100, "transfer": "warped"}},
    # 10,240 stereo pairs, 4 epochs of 128-pair balanced batches = 320 steps at standard's lr 0.05.
    # Pilot (2ch, seed 0, one thread, 2026-12-06): FPR95 16.4% in 21 s, where the first quick design
    # (2 epochs at lr 0.01) left it at 20.7% (2 epochs at 0.05: 21.6%; 4 at 0.01: 18.6%)
    "quick": {"dataset": "stereo", "epochs": 4, "batch_size": 128, "lr": 0.05, "milestones": (0.5, 0.75),
              "model_kw": {"width": 0.5}, "options": {"n_train": 10240, "n_test": 4000, "transfer": "warped"}},
    # 64 epochs of 20,480 pairs = 10,240 steps at lr 0.05 (x0.2 at half and three quarters of training),
    # half stereo (rows above 300) and half every photograph of data.photos.PHOTOS (the first 60% of
    # each, through random viewpoint, blur and lighting changes); tested on 8,000 pairs of regions no
    # training pair touches (stereo rows below 300, the last 40% of each photograph).
    # Why 64 epochs: 2ch's FPR95 keeps falling for a long time. Pilots (2ch, seed 0, one thread): 8.33% at
    # 16 epochs, 6.30 at 32, 5.53 at 64, 4.95 at 128, 4.85 at 256; lr 0.01 was slower (10.86% at 16), lr 0.1
    # worse (9.60% at 16, 7.73 at 32), and none of these shortcut it: an exponential average of the weights
    # (9.05% at 16), half the width (7.00% at 64), batches of 32 (6.93% at 16 epochs, 7.55 at 32), a quarter
    # of the pairs (9.40% in 2,560 steps, 7.32 in 5,120), a cosine schedule (6.05% at 64, stereo half 13.9,
    # photographs 3.45), batch norm after every convolution (a deviation tried 2026-12-08: 8.10% at 16 epochs
    # at lr 0.05, 8.40 at lr 0.2, against 8.33 without; its training hinge loss was already 0.08, so what
    # 2ch lacks at 16 epochs is not optimisation speed). Nor is the step cheaper: torch.compile made 2ch-2stream's
    # step slower on this CPU (153 against 88 ms, one thread). 128 epochs would settle it but cost about 5.6 thread-hours for the chapter; 64 costs
    # about what the 16-epoch design did with its longer runs, gets most of the way (5.53 of 4.85), and its
    # check (64 -> 128) measures what is left.
    # The 16-epoch design (published until 2026-12-07, commit 06094a1) judged networks still learning fast:
    # 2ch 8.60 +- 0.39% at 16 epochs, 6.82 at 32. Trained longer on two seeds, two of its verdicts moved
    # the thesis's way: 2ch-2stream - 2ch +0.26 (undecided) at 16 epochs, -1.06 at 32; siam - siam-l2 +2.71
    # (does not hold) at 16, +0.65 at 32, -1.15 at 64. Hence this design.
    "standard": {"dataset": "mixed", "epochs": 64, "batch_size": 128, "lr": 0.05, "milestones": (0.5, 0.75),
                 "model_kw": {"width": 0.5}, "options": {"n_train": 20480, "n_test": 8000}},
    "full": {"epochs": 20, "batch_size": 256, "lr": 0.01, "milestones": (0.5, 0.75), "model_kw": {}},
}


def seeds(profile: str, model: str) -> list[int]:
    """The seeds ``profile`` trains ``model`` with."""
    return TWO_STAGE_SEEDS.get(profile, {}).get(model, SEEDS[profile])


def _common(profile: str) -> dict:
    return SETUP[profile]


def study(profile: str) -> list[Experiment]:
    """Every network of the profile at every seed, and the SIFT baseline (per Brown split in full)."""
    check_profile(profile)
    c = _common(profile)
    if profile == "full":
        from ..data.phototour import BROWN_SPLITS

        exps = []
        for train, test in BROWN_SPLITS:
            split = f"{BROWN[train]}→{BROWN[test]}"
            exps += [Experiment(m, task="patches", seed=s, label=f"{m} {split}", dataset=f"brown:{train}",
                                **{**c, "options": {"test_scene": test}})
                     for m in MODELS[profile] for s in SEEDS[profile]]
            exps.append(Experiment("siam-l2", task="patch-sift", epochs=0, dataset=f"brown:{train}",
                                   label=f"SIFT {split}", options={"test_scene": test, "descriptor": "sift"}))
        return exps
    exps = []
    for m in MODELS[profile]:
        for s in seeds(profile, m):
            opts = dict(c["options"])
            if m == STEREO_MODEL and s == SEEDS[profile][0]:
                opts.update(stereo_map=True, stereo_stride=64 if profile == "smoke" else 16)
            exps.append(Experiment(m, task="patches", seed=s, label=m, **{**c, "options": opts}))
    exps.append(Experiment("siam-l2", task="patch-sift", epochs=0, dataset=c["dataset"], label="SIFT",
                           options={**c["options"], "descriptor": "sift"}))
    return exps


def convergence(profile: str) -> dict[float, list[Experiment]]:
    """The baseline (2ch) at the profile's training length and at twice it, one run per seed ({}
    where the profile does not check it; ``studies.convergence``). At 1x these are the study's own
    2ch runs (seed 0 draws the stereo map)."""
    if profile not in CONVERGENCE:
        return {}
    c = CONVERGENCE[profile]
    base = {e.seed: e for e in study(profile) if e.task == "patches" and e.model == "2ch"}
    return conv.at_lengths(lambda s: base[s], c["multipliers"], c["seeds"])


def experiments(profile: str) -> list[Experiment]:
    """Every run of the chapter, each once: the study and its baseline's convergence check."""
    return conv.each_once(study(profile), *convergence(profile).values())


def in_study(records, profile: str) -> list:
    """The records of the study's comparisons: the convergence check's longer runs apart."""
    return conv.in_study(records, convergence(profile), study(profile))


def name_of(record) -> str:
    return "SIFT" if record.config["task"] == "patch-sift" else record.config["model"]


def fpr(records, model: str) -> list[float]:
    """FPR95 (%, official protocol) of every record of ``model`` ("SIFT" for the baseline)."""
    return [r.final["fpr95"] for r in records if name_of(r) == model]


def split_of(record) -> str:
    """The Brown train -> test split of a full-profile record ("yos→nd"), or "" for embedded data."""
    ds = record.config["dataset"]
    if not ds.startswith("brown:"):
        return ""
    return f"{BROWN[ds.split(':', 1)[1]]}→{BROWN[record.config['options']['test_scene']]}"


def _split_means(records, model: str) -> dict[str, float]:
    out: dict[str, list[float]] = {}
    for r in records:
        if name_of(r) == model:
            out.setdefault(split_of(r), []).append(r.final["fpr95"])
    return {k: mean(x) for k, x in out.items()}


UNIT = "points of FPR95"


def judge(records, a: str, b: str, thesis_effect: float | None = None, level: float = LEVEL):
    """Is ``a``'s FPR95 lower than ``b``'s? On Brown (full) a paired test across the train -> test
    splits (each split's mean over seeds), since the splits differ far more than seeds; on the
    embedded data a comparison over seeds (SIFT, being deterministic, is a fixed value)."""
    if any(split_of(r) for r in records):
        ma, mb = _split_means(records, a), _split_means(records, b)
        common = [k for k in SPLITS if k in ma and k in mb]
        return v.paired([ma[k] - mb[k] for k in common], UNIT, thesis_effect=thesis_effect,
                        note=f"paired over the Brown splits {', '.join(common)}", level=level)
    fa, fb = fpr(records, a), fpr(records, b)
    return v.difference(fa, fb[0] if b == "SIFT" and len(fb) == 1 else fb, UNIT, thesis_effect=thesis_effect,
                        level=level)


def page_weights(profile: str) -> list[Experiment]:
    """The runs whose weights the page draws from: the threshold widget rescores the first seed of
    each network (the others are summarised by their records)."""
    first = SEEDS[profile][0]
    return [e for e in study(profile) if e.task == "patches" and e.seed == first]


def claims(records, profile: str) -> list[Claim]:
    all_records = list(records)
    records = in_study(all_records, profile)  # the convergence check's own runs apart
    ds = records[0].config["dataset"] if records else "—"
    n = sorted({len(seeds(profile, m)) for m in MODELS[profile]})
    where = f"{ds} test pairs, {profile} profile, {'-'.join(map(str, n))} seed{'s' * (n != [1])} per network"

    def tmean(model, table=THESIS):
        return mean(table[model])

    def compare(a: str, b: str, claim: str, thesis: str, effect: float | None) -> Claim:
        verdict, ev = judge(records, a, b, effect)
        ours = f"FPR95 ({where}): {a} {mean_spread(fpr(records, a))}% vs {b} {mean_spread(fpr(records, b))}%"
        if {a, b} == set(TWO_STAGE_SEEDS.get(profile, {})):
            ours, ev = two_stage(ours, ev)
        return Claim(CHAPTER, claim, thesis, ours, verdict, ev)

    nets = [m for m in MODELS[profile] if fpr(records, m)]
    sift = THESIS_SIFT_MEAN
    def vs_sift(m, level=LEVEL):
        return judge(records, m, "SIFT", tmean(m, THESIS_PYTORCH if m == "siam-l2" else THESIS) - sift, level)

    if nets:  # every network must beat SIFT; a failure must survive Bonferroni over the networks
        sift_verdict, sift_ev = v.all_of({f"{m} vs SIFT": vs_sift(m) for m in nets},
                                         {f"{m} vs SIFT": vs_sift(m, v.bonferroni(len(nets))) for m in nets})
    else:
        sift_verdict, sift_ev = v.not_measured(Rule.DIFFERENCE, UNIT, "no runs")
    out = [
        compare("2ch", "siam", "Comparing the two patches jointly from the first layer (2-channel) beats "
                "describing each patch first (siamese).",
                f"mean over 6 Brown splits: 2ch {tmean('2ch'):.2f}% vs siam {tmean('siam'):.2f}% ({THESIS_SOURCE})",
                tmean("2ch") - tmean("siam")),
        compare("2ch-2stream", "2ch", "The central-surround two-stream input improves the 2-channel network.",
                f"mean: 2ch-2stream {tmean('2ch-2stream'):.2f}% vs 2ch {tmean('2ch'):.2f}%, best on 5 of 6 splits "
                f"({THESIS_SOURCE})", tmean("2ch-2stream") - tmean("2ch")),
        compare("siam", "siam-l2", "A learned decision network compares siamese descriptors better than "
                "their L2 distance.",
                f"mean: siam {tmean('siam', THESIS_PYTORCH):.2f}% vs siam-l2 {tmean('siam-l2', THESIS_PYTORCH):.2f}% "
                f"({THESIS_PYTORCH_SOURCE})", tmean("siam", THESIS_PYTORCH) - tmean("siam-l2", THESIS_PYTORCH)),
        Claim(CHAPTER, "Learned patch comparison beats the hand-crafted SIFT descriptor (every network we train).",
              f"SIFT is far worse on Brown ({sift}% mean FPR95 as quoted by the HardNet paper, performance.md [T]; "
              "the paper's own SIFT row is [U])",
              f"FPR95 ({where}): " + "; ".join(f"{m} {mean_spread(fpr(records, m))}%" for m in nets)
              + f" vs SIFT {mean_spread(fpr(records, 'SIFT'))}%", sift_verdict, sift_ev),
    ]
    runs = convergence(profile)
    if runs:
        out.append(conv.check(CHAPTER, all_records, runs, what=runs[1][0].model, metric="fpr95", unit=UNIT))
    return out

