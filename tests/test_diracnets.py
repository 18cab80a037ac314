"""The DiracNets study (experiments per profile, verdicts), its task, and the chapter at smoke."""
import dataclasses

import pytest

from wpcore import experiment
from wpcore.records import Record
from wpcore.studies import diracnets as study
from wpcore.studies.verdict import Kind, Rule, Verdict
from wpcore.tasks.diracnets import fold_speed, inference_ms

from . import fixtures
from .conftest import needs_fmnist


@pytest.mark.parametrize("profile", ["smoke", "quick", "full"])
def test_experiments_compare_three_networks_of_equal_depth_and_width(profile):
    exps = [e for e in study.study(profile) if e.dataset != "imagenet"]  # ImageNet: test_full_profile.py
    depths, seeds = study.DEPTHS[profile], study.SEEDS[profile]
    grid = [e for e in exps if "28-10" not in e.model]
    assert len(grid) == len(depths) * 3 * len(seeds) and len(depths) >= 2
    for d in depths:
        names = {e.model for e in grid if int(e.model.split("-")[1]) == d}
        w = study.WIDTH[profile]
        assert names == {f"plainnet-{d}-{w}", f"diracnet-{d}-{w}", f"wrn-{d}-{w}"}
    assert all(e.task == "dirac" and not e.nesterov and e.lr == 0.1 for e in exps)
    assert len({e.key() for e in exps}) == len(exps)


def test_profiles_follow_the_brief():
    quick = study.experiments("quick")
    assert len(study.DEPTHS["quick"]) >= 3 and len(study.SEEDS["quick"]) >= 3
    assert all(e.dataset == "fashion-mnist" for e in quick)
    assert not any(e.augment for e in quick + study.experiments("standard"))  # standard's lesson, quick too
    full = [e for e in study.experiments("full") if e.dataset != "imagenet"]  # ImageNet: test_full_profile.py
    assert all(e.epochs == 200 and e.batch_size == 128 and e.milestones == (0.3, 0.6, 0.8) and e.gamma == 0.2
               for e in full)
    assert {e.dataset for e in full} == {"cifar-10", "cifar-100"}
    assert {e.model for e in full} >= {"diracnet-28-10", "wrn-28-10"}


def _record(model, seed, err, loss=1.0, fold=None, dataset="fashion-mnist"):
    extra = {"fold": fold} if fold else {}
    return Record(key=f"{model}-{seed}", config={"model": model, "seed": seed, "dataset": dataset},
                  history=[], final={"test_error": err, "train_loss": loss}, wall_time_s=1.0,
                  device={"type": "cpu"}, code={}, data={}, created="2026-01-01", extra=extra)


def test_claims_are_computed_from_records():
    fold = {"fold_max_rel_diff": 1e-7, "fold_batch": 500, "unfolded_ms": 10.0, "folded_ms": 8.0}
    recs = []
    for s, jitter in enumerate((0.0, 0.3, -0.2)):
        recs += [_record("plainnet-10-1", s, 20 + jitter), _record("plainnet-22-1", s, 30 + jitter),
                 _record("plainnet-46-1", s, 60 + jitter),
                 _record("diracnet-10-1", s, 20 + jitter, fold=dict(fold, unfolded_ms=10 + s)),
                 _record("diracnet-22-1", s, 19 + jitter, fold=fold),
                 _record("diracnet-46-1", s, 18.5 + jitter, fold=dict(fold, folded_ms=7.0 + s / 10)),
                 _record("wrn-10-1", s, 19 + jitter), _record("wrn-22-1", s, 18 + jitter),
                 _record("wrn-46-1", s, 18 + jitter)]
    claims = study.claims(recs, "quick")
    verdicts = [c.verdict for c in claims]
    assert verdicts[:5] == [Verdict.HOLDS] * 5
    assert verdicts[5:] == [Verdict.NOT_MEASURED] * 2  # DiracNet-28-10: full profile only
    assert [c.evidence.rule for c in claims[:5]] == [Rule.DIFFERENCE, Rule.DIFFERENCE, Rule.NON_INFERIORITY,
                                                     Rule.CHECK, Rule.PAIRED]
    assert claims[3].kind is Kind.CHECK and all(c.kind is Kind.CLAIM for c in claims if c is not claims[3])
    assert "60.03" in claims[0].ours and "18.53" in claims[1].ours
    # a DiracNet that fails to match the ResNet by far more than the noise
    worse = [dataclasses.replace(r, final={**r.final, "test_error": r.final["test_error"] + 5})
             if r.config["model"] == "diracnet-46-1" else r for r in recs]
    assert study.claims(worse, "quick")[2].verdict is Verdict.FAILS
    # a gap inside the margin with a spread too large to bound it is "not shown", never "holds"
    noisy = [dataclasses.replace(r, final={**r.final, "test_error": r.final["test_error"] + 1 + 3 * (r.config["seed"] - 1)})
             if r.config["model"] == "diracnet-46-1" else r for r in recs]
    assert study.claims(noisy, "quick")[2].verdict is Verdict.NOT_SHOWN
    # folding that changes the outputs fails its claim
    broken = [dataclasses.replace(r, extra={"fold": dict(fold, fold_max_rel_diff=1e-2)}) if r.extra else r
              for r in recs]
    assert study.claims(broken, "quick")[3].verdict is Verdict.FAILS
    # folding that makes inference slower fails the speed claim
    slower = [dataclasses.replace(r, extra={"fold": dict(fold, folded_ms=12.0 + r.config["seed"])}) if r.extra else r
              for r in recs]
    assert study.claims(slower, "quick")[4].verdict is Verdict.FAILS


@pytest.mark.parametrize("profile", ["smoke", "standard"])
def test_the_baseline_is_also_trained_twice_as_long_and_kept_out_of_the_claims(profile):
    runs = study.convergence(profile)
    main = study.study(profile)
    middle = study.model_name("dirac", study.DEPTHS[profile][len(study.DEPTHS[profile]) // 2], study.WIDTH[profile])
    assert sorted(runs) == [1, 2] and all(e.model == middle for es in runs.values() for e in es)
    assert all(e.epochs == 2 * study.SETUP[profile]["epochs"] for e in runs[2])
    assert {e.key() for e in runs[1]} & {e.key() for e in main}  # the study's own runs are the 1x points
    exps = study.experiments(profile)
    assert len({e.key() for e in exps}) == len(exps) >= len(main) + len(runs[2])
    # a 2x record of the baseline, far better than the 1x ones, must not enter the depth claims
    twice = {e.key() for e in runs[2]}
    recs = [dataclasses.replace(_record(e.model, e.seed, 1.0 if e.key() in twice else 10.0 + e.seed / 10), key=e.key())
            for e in exps]
    assert {r.key for r in study.in_study(recs, profile)} == {e.key() for e in main}  # the check's own runs apart
    claims = study.claims(recs, profile)
    assert not any("1.00" in c.ours for c in claims if "converged" not in c.claim)
    check = next(c for c in claims if "converged" in c.claim)
    assert check.kind is Kind.CHECK and check.verdict is Verdict.FAILS  # 10 -> 1: not converged


def test_margins_are_the_thesis_derived_constants():
    """Pinned: the margins were fixed from the thesis's numbers before any run (see the study)."""
    assert study.MATCH.relative == 0.12 and study.MATCH.absolute is None
    gap = study.THESIS["diracnet-28-10"]["cifar-100"] - study.THESIS["wrn-28-10"]["cifar-100"]
    assert gap / study.THESIS["wrn-28-10"]["cifar-100"] == pytest.approx(0.119, abs=1e-3)
    assert study.REACH.relative == 0.10


def test_inference_ms_times_every_model():
    import torch

    models = {"a": torch.nn.Identity(), "b": torch.nn.ReLU()}
    ms = inference_ms(models, torch.randn(2, 3), repeats=3)
    assert set(ms) == {"a", "b"} and all(v >= 0 for v in ms.values())


def test_fold_speed_rows():
    from wpcore import nets

    rows = fold_speed(nets.create("diracnet-10-1", in_channels=1), (1, 8, 8), batches=(1, 2), repeats=1)
    assert [r["batch"] for r in rows] == [1, 2]
    assert all(r["max_rel_diff"] <= study.FOLD_TOLERANCE and r["speedup"] > 0 for r in rows)


def test_task_logs_a_b_and_checks_folding_on_fixture_data(tmp_path, monkeypatch):
    fixtures.install(monkeypatch, tmp_path / "data", "fashion-mnist")
    exps = {e.model: e for e in study.experiments("smoke") if e.seed == 0 and "-10-" in e.model}
    dirac = experiment.run(dataclasses.replace(exps["diracnet-10-1"], max_steps=2, batch_size=8))
    assert dirac.final["steps"] == 2 and dirac.data["shape"] == [1, 14, 14]  # average-pooled by 2
    assert "size:14" in dirac.data["train"]
    row = dirac.history[-1]
    assert {"a_mean_g1", "b_mean_g3", "b_over_a_mean", "train_error", "test_error"} <= set(row)
    assert len(dirac.extra["ab_per_layer"]["a"]) == 6  # 3 groups x 2 blocks
    assert dirac.extra["fold"]["fold_max_rel_diff"] <= study.FOLD_TOLERANCE
    assert dirac.extra["fold"]["folded_ms"] > 0
    plain = experiment.run(dataclasses.replace(exps["plainnet-10-1"], max_steps=2, batch_size=8))
    assert "a_mean" not in plain.history[-1] and plain.extra["ab_per_layer"] is None
    resnet = experiment.run(dataclasses.replace(exps["wrn-10-1"], max_steps=2, batch_size=8))
    assert "fold" not in resnet.extra


def test_task_rejects_unknown_options(tmp_path, monkeypatch):
    fixtures.install(monkeypatch, tmp_path / "data", "fashion-mnist")
    e = dataclasses.replace(study.experiments("smoke")[0], options={"downsampel": 2}, max_steps=1)
    with pytest.raises(ValueError, match="downsampel"):
        experiment.run(e)


def test_full_profile_path_runs_two_steps_on_fixture_cifar(tmp_path, monkeypatch):
    fixtures.install(monkeypatch, tmp_path / "data", "cifar-10")
    e = next(e for e in study.experiments("full") if e.model == "diracnet-10-2")
    rec = experiment.run(dataclasses.replace(e, batch_size=8, max_steps=2))
    assert rec.final["steps"] == 2 and rec.data["shape"] == [3, 32, 32]
    assert rec.extra["fold"]["fold_max_rel_diff"] <= study.FOLD_TOLERANCE


@pytest.mark.slow
@needs_fmnist
def test_chapter_executes_at_smoke(built_book):
    """Reads the chapter as the shared smoke build executed it (tests/conftest.py)."""
    text = (built_book.parent / "notebooks" / "smoke" / "diracnets.ipynb").read_text()
    assert "Traceback" not in text and "Verdict" in text and "diracnet-16-1" in text
    assert "image/png" in text  # the figures
