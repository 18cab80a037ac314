"""Attention transfer, distillation and gradient-based attention (wpcore.losses.attention)."""
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from wpcore.losses import attention as A
from wpcore.nets import create


def small_pair():
    torch.manual_seed(0)
    teacher = create("wrn-10-2", num_classes=4, in_channels=1).eval().requires_grad_(False)
    student = create("wrn-10-1", num_classes=4, in_channels=1)
    x, y = torch.randn(4, 1, 12, 12), torch.tensor([0, 1, 2, 3])
    return student, teacher, x, y


def test_attention_maps_shapes_and_values():
    a = torch.tensor([[[[1.0, -2.0]], [[3.0, 0.5]]]])  # (1, 2, 1, 2)
    assert torch.equal(A.f_sum(a), torch.tensor([[[4.0, 2.5]]]))
    assert torch.equal(A.f_sum_p(a, 2), torch.tensor([[[10.0, 4.25]]]))
    assert torch.equal(A.f_max_p(a, 2), torch.tensor([[[9.0, 4.0]]]))
    q = A.at(torch.randn(3, 5, 4, 4))
    assert q.shape == (3, 16)
    assert torch.allclose(q.norm(dim=1), torch.ones(3))


def test_at_equals_official_formula():
    x = torch.randn(2, 6, 5, 5)
    q = x.pow(2).mean(1).view(2, -1)
    assert torch.allclose(A.at(x), q / q.norm(dim=1, keepdim=True))


def test_at_loss_of_identical_maps_is_zero_and_positive_otherwise():
    x = torch.randn(2, 8, 7, 7)
    assert A.at_loss(x, x).item() == 0.0
    assert A.at_loss(x, torch.randn(2, 3, 7, 7)).item() > 0  # channel counts may differ
    with pytest.raises(ValueError, match="spatial"):
        A.at_loss(x, torch.randn(2, 8, 6, 6))


def test_match_groups_by_spatial_size():
    s = [torch.zeros(1, 4, 8, 8), torch.zeros(1, 8, 4, 4), torch.zeros(1, 16, 2, 2)]
    t = [torch.zeros(1, 8, 8, 8), torch.zeros(1, 8, 8, 8), torch.zeros(1, 16, 4, 4), torch.zeros(1, 9, 3, 3)]
    assert A.match_groups(s, t) == [(0, 1), (1, 2)]
    student, teacher, x, _ = small_pair()
    assert A.match_groups(student.forward_groups(x), teacher.forward_groups(x)) == [(0, 0), (1, 1), (2, 2)]


@pytest.mark.parametrize("classes", [3, 10, 100])
@pytest.mark.filterwarnings("ignore:reduction. 'mean' divides:UserWarning")  # the paper-era default, on purpose
def test_kd_reductions_differ_by_classes_over_two(classes):
    """Reference §4.1: the paper-era KD term is C/2 times smaller than the batchmean one."""
    g = torch.Generator().manual_seed(classes)
    s, t = torch.randn(2, 8, classes, generator=g, dtype=torch.float64)
    y = torch.randint(0, classes, (8,), generator=g)
    new = A.kd_loss(s, t, y, alpha=1.0)
    old = A.kd_loss(s, t, y, alpha=1.0, reduction="legacy")
    assert torch.allclose(new, old * classes / 2)
    # the official expressions, before and after git 4133ac5 (T = 4, alpha = 0.9)
    p, q = F.log_softmax(s / 4, dim=1), F.softmax(t / 4, dim=1)
    ce = F.cross_entropy(s, y)
    paper_era = F.kl_div(p, q, reduction="mean") * (4 * 4 * 2.0 * 0.9) + ce * 0.1  # old default: mean
    fixed = F.kl_div(p, q, reduction="sum") * 4 ** 2 / 8 * 0.9 + ce * 0.1
    assert torch.allclose(A.kd_loss(s, t, y, reduction="legacy"), paper_era)
    assert torch.allclose(A.kd_loss(s, t, y), fixed)
    assert torch.allclose(A.kd_loss(s, t, y, alpha=0.0), F.cross_entropy(s, y))
    assert A.kd_loss(s, s, y, alpha=1.0).abs().item() < 1e-6


@pytest.mark.parametrize("method", ["at", "f-actt", "kd", "at+kd", "grad-at"])
def test_gradient_reaches_student_and_never_teacher(method):
    student, teacher, x, y = small_pair()
    before = {k: v.clone() for k, v in teacher.state_dict().items()}
    with torch.no_grad():
        regs = A.regressors(student.forward_groups(x), teacher.forward_groups(x)) if method == "f-actt" else None
    loss, _ = A.transfer_loss(student, teacher, x, y, method, regs=regs)
    loss.backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in student.parameters())
    if regs is not None:  # the regressors learn with the student
        assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in regs.parameters())
    assert all(p.grad is None for p in teacher.parameters())
    assert not teacher.training  # frozen in eval mode: BN running stats untouched
    assert all(torch.equal(v, teacher.state_dict()[k]) for k, v in before.items())


def test_at_term_alone_reaches_every_student_group():
    student, teacher, x, _ = small_pair()
    at = A.at_total(student.forward_groups(x), teacher.forward_groups(x).copy())
    at.backward()
    for g in student.groups:
        assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in g.parameters())
    assert student.fc.weight.grad is None  # the head does not take part in attention


def test_fact_is_an_l2_between_regressed_student_and_teacher_activations():
    student, teacher, x, _ = small_pair()
    sg, tg = student.forward_groups(x), teacher.forward_groups(x)
    regs, pairs = A.regressors(sg, tg), A.match_groups(sg, tg)
    assert [(r.in_channels, r.out_channels, r.kernel_size, r.bias) for r in regs] == \
        [(sg[i].shape[1], tg[j].shape[1], (1, 1), None) for i, j in pairs] == [(16, 32, (1, 1), None),
                                                                             (32, 64, (1, 1), None),
                                                                             (64, 128, (1, 1), None)]
    by_hand = sum(((F.conv2d(sg[i], r.weight) - tg[j]) ** 2).mean() for r, (i, j) in zip(regs, pairs))
    assert torch.allclose(A.fact_total(sg, tg, regs, beta=3.0), 1.5 * by_hand)
    same = A.regressors(tg, tg)  # the teacher against itself through identity regressors: zero
    for r in same:
        nn.init.dirac_(r.weight)
    assert A.fact_total(tg, tg, same).item() == 0.0
    with pytest.raises(ValueError, match="2 regressors for 3 pairs"):
        A.fact_total(sg, tg, regs[:2])
    keep = A.WithRegressors(student, regs)  # one module: the loop trains both, predicts as the student
    assert torch.equal(keep(x), student(x)) and len(list(keep.parameters())) == \
        len(list(student.parameters())) + len(regs)


def test_methods_need_a_teacher_and_a_known_name():
    student, teacher, x, y = small_pair()
    with pytest.raises(ValueError, match="needs its regressors"):
        A.transfer_loss(student, teacher, x, y, "f-actt")
    with pytest.raises(ValueError, match="teacher"):
        A.transfer_loss(student, None, x, y, "at")
    with pytest.raises(ValueError, match="unknown method"):
        A.transfer_loss(student, None, x, y, "fitnets")
    loss, _ = A.transfer_loss(student, None, x, y, "flip")  # flip invariance needs no teacher
    assert loss.item() > 0


class Tiny(nn.Module):
    """A conv net with smooth activations, so second derivatives are well defined."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3, padding=1)
        self.fc = nn.Linear(2 * 4 * 4, 3)

    def forward(self, x):
        return self.fc(torch.tanh(self.conv(x)).flatten(1))


def test_input_gradient_matches_finite_differences():
    torch.manual_seed(1)
    net = Tiny().double()
    x, y = torch.randn(2, 1, 4, 4, dtype=torch.double), torch.tensor([0, 2])
    j, _ = A.input_gradient(net, x, y)
    eps, idx = 1e-6, (1, 0, 2, 3)
    xp, xm = x.clone(), x.clone()
    xp[idx] += eps
    xm[idx] -= eps
    fd = (F.cross_entropy(net(xp), y, reduction="sum") - F.cross_entropy(net(xm), y, reduction="sum")) / (2 * eps)
    assert torch.allclose(j[idx], fd, atol=1e-8)


@pytest.mark.parametrize("variant", ["teacher", "flip"])
def test_double_backprop_matches_finite_differences(variant):
    torch.manual_seed(2)
    student, teacher = Tiny().double(), Tiny().double()
    x, y = torch.randn(3, 1, 4, 4, dtype=torch.double), torch.tensor([0, 1, 2])
    j_t, _ = A.input_gradient(teacher, x, y)

    def penalty():
        j_s, _ = A.input_gradient(student, x, y, create_graph=True)
        if variant == "teacher":
            return A.gradient_at_loss(j_s, j_t)
        return A.flip_invariance_loss(j_s, A.input_gradient(student, x.flip(-1), y, create_graph=True)[0])

    penalty().backward()
    eps = 1e-6
    for p in (student.conv.weight, student.fc.weight):
        analytic = p.grad.flatten()
        for k in range(0, p.numel(), max(1, p.numel() // 6)):
            with torch.no_grad():
                p.view(-1)[k] += eps
                up = penalty().item()
                p.view(-1)[k] -= 2 * eps
                down = penalty().item()
                p.view(-1)[k] += eps
            assert abs(analytic[k].item() - (up - down) / (2 * eps)) < 1e-6 * max(1.0, abs(analytic[k].item()))


# --- the task, the study and the chapter's helpers ---------------------------------------------

def tiny_experiments(method="at"):
    from wpcore.experiment import Experiment

    common = {"dataset": "digits", "epochs": 1, "train_subset": 200, "test_subset": 100, "batch_size": 50}
    teacher = Experiment("wrn-10-2", **common)
    options = {"method": method} if method in ("student", "flip") else {"method": method, "teacher": teacher.config()}
    return teacher, Experiment("wrn-10-1", task="attention", max_steps=2, options=options, **common)


@pytest.mark.parametrize("method", ["at", "grad-at", "f-actt"])
def test_task_learns_from_the_teacher_record_and_leaves_it_untouched(method):
    from wpcore import experiment, records

    teacher_exp, student_exp = tiny_experiments(method)
    t_rec = experiment.run(teacher_exp, device="cpu")
    weights = t_rec.weights_path.read_bytes()
    rec = experiment.run(student_exp, device="cpu")
    assert rec.extra["teacher_key"] == t_rec.key and rec.extra["method"] == method
    assert rec.final["teacher_error"] == t_rec.final["test_error"]
    assert rec.final["test_at_distance"] >= 0
    assert t_rec.weights_path.read_bytes() == weights
    assert records.find(student_exp.key()) is not None
    student = experiment.load_model(rec)  # F-ActT's regressors are dropped: the record holds the student
    assert rec.final["params"] == sum(p.numel() for p in student.parameters())
    stamps = [(f.stat().st_ino, f.stat().st_mtime_ns) for f in (rec.path, rec.weights_path)]
    assert experiment.run(student_exp, device="cpu").created == rec.created
    # reused, not retrained: a rewrite (atomic rename) would change the inode and the mtime (ns)
    assert [(f.stat().st_ino, f.stat().st_mtime_ns) for f in (rec.path, rec.weights_path)] == stamps


def test_task_options_are_checked():
    from wpcore.tasks.attention import check_options

    assert check_options({"method": "student"})["beta"] == 1e3
    with pytest.raises(ValueError, match="unknown attention options"):
        check_options({"method": "at", "gamma": 1})
    with pytest.raises(ValueError, match="needs options"):
        check_options({"method": "kd"})
    with pytest.raises(ValueError, match="unknown kd_reduction"):
        check_options({"method": "student", "kd_reduction": "sum"})


def test_study_kd_runs_use_the_paper_era_kl_scale():
    """The KD and AT+KD runs are compared with the thesis's numbers, made with the legacy scale."""
    from wpcore.studies import attention as study

    for profile in ("smoke", "quick", "full"):
        exps = study.experiments(profile)
        kd = [e for e in exps if e.options.get("method") in ("kd", "at+kd")]
        assert kd and all(e.options["kd_reduction"] == "legacy" for e in kd)
        assert all("kd_reduction" not in e.options for e in exps if e not in kd)  # other keys unchanged


def test_renormalized_teacher_sees_its_own_normalisation_and_stays_in_eval():
    from wpcore.tasks.attention import Renormalized

    _, teacher, _, _ = small_pair()
    raw = torch.rand(3, 1, 12, 12) * 255
    wrapped = Renormalized(teacher, [30.0], [70.0], [40.0], [60.0])
    wrapped.train()
    assert not wrapped.training and not teacher.training
    expected = teacher((raw - 40.0) / 60.0)
    assert torch.allclose(wrapped((raw - 30.0) / 70.0), expected, atol=1e-5)


def test_study_plans_pair_every_student_with_its_teacher():
    from wpcore.studies import attention as study

    for profile in ("smoke", "quick", "standard", "full"):
        exps = [e for e in study.experiments(profile) if e.dataset != "imagenet"]  # ImageNet: test_full_profile.py
        plan = study.PLANS[profile]
        teachers = {t for t, _ in plan.pairs}
        assert [e.model for e in exps[:len(teachers)]] == list(dict.fromkeys(t for t, _ in plan.pairs))
        assert len({e.key() for e in exps}) == len(exps)
        for e in exps[len(teachers):]:
            assert e.task == "attention"
            t = e.options.get("teacher")
            if t:
                assert t == study.teacher_experiment(profile, t["model"]).config()
    quick = study.experiments("quick")
    assert len(quick) == 1 + 5 * 3 and {e.config()["options"]["method"] for e in quick[1:]} == \
        {"student", "at", "kd", "at+kd", "grad-at"}
    assert {(t, s) for t, s in study.PLANS["full"].pairs} == set(study.THESIS)


def test_quick_and_standard_train_on_their_wide_resnet_chapters_data():
    """quick takes standard's lesson: teacher and students use the Wide ResNets chapter's data and
    recipe of the same profile (14x14, no augmentation, warm-up), not 28x28 with crop + flip."""
    from wpcore.studies import attention as study
    from wpcore.studies import wide_resnets as wrn

    for profile in ("quick", "standard"):
        common = {k: v for k, v in wrn.COMMON[profile].items() if k != "epochs"}
        for e in study.experiments(profile):
            assert {k: getattr(e, k) for k in common} == common, (profile, e.label)
        assert study.PLANS[profile].student_epochs == wrn.COMMON[profile]["epochs"]


def fake_record(model, method, seed, error, teacher="wrn-16-2"):
    from wpcore.records import Record

    if method == "teacher":
        cfg = {"model": model, "task": "classify", "seed": seed, "options": {}}
    else:
        options = {"method": method}
        if method not in ("student", "flip"):
            options["teacher"] = {"model": teacher}
        cfg = {"model": model, "task": "attention", "seed": seed, "options": options}
    return Record(f"{model}{method}{seed}", cfg, [], {"test_error": error}, 1.0, {}, {}, {}, "2026-01-01")


def test_claims_are_computed_from_records(monkeypatch):
    from wpcore.studies import attention as study
    from wpcore.studies.claim import Verdict

    recs = [fake_record("wrn-16-2", "teacher", 0, 5.0)]
    for seed, jitter in enumerate((0.0, 0.1, -0.1)):
        recs += [fake_record("wrn-16-1", "student", seed, 10 + jitter),
                 fake_record("wrn-16-1", "at", seed, 8 + jitter),
                 fake_record("wrn-16-1", "kd", seed, 11 + jitter)]
    monkeypatch.setattr(study, "attention_distances", lambda records, profile: {"at": [1, 1.1, 1.05],
                                                                                 "student": [3, 3.2, 3.1]})
    claims = study.claims(recs, "quick")
    verdicts = {c.claim.split(" from")[0]: c.verdict for c in claims}
    assert verdicts["Attention transfer"] is Verdict.HOLDS
    assert verdicts["Knowledge distillation"] is Verdict.FAILS
    assert verdicts["AT and KD combine: AT+KD"] is Verdict.NOT_MEASURED
    assert verdicts["Gradient-based attention transfer"] is Verdict.NOT_MEASURED
    check = next(c for c in claims if "attention maps closer" in c.claim)
    assert check.verdict is Verdict.HOLDS and check.kind.value == "check"  # an implementation check, not a claim
    rows = study.results_table(recs, "quick")
    assert rows[0]["method"] == "teacher" and rows[0]["errors"] == [5.0]
    assert next(r for r in rows if r["method"] == "AT")["test error (%)"] == "8.00 ± 0.10"


@pytest.mark.slow
def test_chapter_executes_at_smoke_with_figures_and_verdicts(built_book):
    """Reads the chapter as the shared smoke build executed it (tests/conftest.py)."""
    import json

    from .conftest import fmnist_available

    if not fmnist_available():
        pytest.skip("Fashion-MNIST not installed (make data)")
    nb = json.loads((built_book.parent / "notebooks" / "smoke" / "attention.ipynb").read_text())
    outputs = [o for c in nb["cells"] for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert sum("image/png" in o.get("data", {}) for o in outputs) >= 3  # maps, errors, the three F maps
    text = json.dumps(outputs)
    assert "Verdict" in json.dumps(nb["cells"]) and "Claim." in text and "RepDistiller" in text


def test_standard_shares_its_teacher_with_the_wide_resnets_chapter_and_checks_convergence(monkeypatch):
    """One recipe, one run: the standard teacher is the WRN chapter's WRN-16-2 seed 0 (same key); the
    student alone is also trained twice as long, and those runs stay out of the method comparison."""
    import dataclasses

    from wpcore.studies import attention as study
    from wpcore.studies import wide_resnets
    from wpcore.studies.verdict import Verdict

    teacher = study.teacher_experiment("standard", "wrn-16-2")
    assert teacher.key() in {e.key() for e in wide_resnets.experiments("standard")}
    runs = study.convergence("standard")
    assert sorted(runs) == [1, 2] and all(e.options == {"method": "student"} for es in runs.values() for e in es)
    assert [e.epochs for e in runs[2]] == [2 * study.PLANS["standard"].student_epochs] * 3  # seeds 0-2 (convergence.STANDARD_SEEDS)
    assert {e.key() for e in study.experiments("standard")} - {e.key() for e in study.study("standard")} \
        == {e.key() for e in runs[2]}
    recs = [fake_record("wrn-16-2", "teacher", 0, 5.0)]
    for seed in (0, 1, 2):
        recs += [dataclasses.replace(fake_record("wrn-16-1", "student", seed, 10 + seed / 10),
                                     key=study.student_experiment("standard", "wrn-16-2", "wrn-16-1", "student", seed).key())]
    recs += [dataclasses.replace(fake_record("wrn-16-1", "student", e.seed, 1.0), key=e.key()) for e in runs[2]]
    monkeypatch.setattr(study, "attention_distances", lambda records, profile: {})  # needs weights
    claims = study.claims(recs, "standard")
    assert "student alone 10.10 ± 0.10%" in claims[0].ours  # the 2x runs (1.0%) are not a seed of it
    check = claims[-1]
    assert "converged" in check.claim and check.verdict is Verdict.FAILS  # 10 -> 1: not converged


def test_maps_use_the_images_at_the_size_the_network_was_trained_at():
    """A standard record trained on 14x14 images: its maps and distances see 14x14 images, the
    training's average pooling of the 28x28 originals, not the originals."""
    from types import SimpleNamespace

    from wpcore.studies import attention_maps

    rec = SimpleNamespace(config={"dataset": "fashion-mnist", "test_subset": 100, "image_size": 14},
                          data={"mean": [0.0], "std": [1.0]})
    raw, x, _, _ = attention_maps.test_images(rec, 3)
    assert raw.shape == (3, 1, 14, 14) and x.shape == (3, 1, 14, 14)
    full, _, _, _ = attention_maps.test_images(SimpleNamespace(config={**rec.config, "image_size": None},
                                                               data=rec.data), 3)
    assert full.shape == (3, 1, 28, 28)
    assert torch.equal(raw, F.avg_pool2d(full.float(), 2).round().to(torch.uint8))


def test_standard_compares_fact_with_the_student_alone(monkeypatch):
    from wpcore.studies import attention as study
    from wpcore.studies.claim import Verdict

    recs = [fake_record("wrn-16-2", "teacher", 0, 5.0)]
    recs += [fake_record("wrn-16-1", "student", seed, 10 + 0.1 * (seed % 3 - 1)) for seed in range(6)]
    recs += [fake_record("wrn-16-1", "f-actt", seed, 9 + 0.1 * (seed - 1)) for seed in range(3)]
    recs += [fake_record("wrn-16-1", "at", seed, 9.5 + 0.1 * (seed % 3 - 1)) for seed in range(6)]
    monkeypatch.setattr(study, "attention_distances", lambda records, profile: {})
    claims = study.claims(recs, "standard")
    claim = next(c for c in claims if c.claim.startswith("Full-activation transfer"))
    assert claim.verdict is Verdict.HOLDS and claim.evidence.n == (3, 6)
    assert claim.evidence.thesis_effect == pytest.approx(8.51 - 8.77)
    assert "F-ActT 8.51% [U]" in claim.thesis and "F-ActT 9.00 ± 0.10% (3 seeds)" in claim.ours
    versus = next(c for c in claims if "beats full-activation transfer" in c.claim)
    assert versus.verdict is Verdict.FAILS and versus.evidence.n == (6, 3)  # AT 9.5 against F-ActT 9.0
    assert versus.evidence.thesis_effect == pytest.approx(7.93 - 8.51) and versus.against
    row = next(r for r in study.results_table(recs, "standard") if r["method"] == "F-ActT")
    assert row["seeds"] == 3 and row["test error (%)"] == "9.00 ± 0.10"
    assert "f-actt" not in study.PLANS["quick"].methods  # quick keeps its 20 minutes
    from wpcore.present import attention as show

    text = show.fact_sentence(study.results_table(recs, "standard"), "standard")
    assert "F-ActT 9.00%, AT 9.50%, student alone 10.00% (3, 6 and 6 seeds)" in text
    assert "reverse of the thesis's ranking" in text and "F-ActT 8.51% [U]" in text
    assert show.fact_sentence(study.results_table(recs[:7], "standard"), "standard") == ""  # no F-ActT runs


def test_effects_are_also_read_as_shares_of_the_teacher_student_gap(monkeypatch):
    """Our teacher is 5 points ahead of its student here, the thesis's 2.46: each claim scales the
    thesis's difference to our gap, and the page's table gives each method's share of the gap."""
    from wpcore.present import attention as show
    from wpcore.studies import attention as study
    from wpcore.studies import attention_claims as judged

    recs = [fake_record("wrn-16-2", "teacher", 0, 5.0)]
    recs += [fake_record("wrn-16-1", "student", seed, 10 + 0.1 * (seed % 3 - 1)) for seed in range(6)]
    recs += [fake_record("wrn-16-1", "at", seed, 9.5 + 0.1 * (seed % 3 - 1)) for seed in range(6)]
    monkeypatch.setattr(study, "attention_distances", lambda records, profile: {})
    assert judged.gap(recs, "wrn-16-2", "wrn-16-1") == pytest.approx(5.0)
    assert judged.thesis_gap("wrn-16-2", "wrn-16-1") == pytest.approx(8.77 - 6.31)
    at = next(c for c in study.claims(recs, "standard") if c.claim.startswith("Attention transfer from"))
    scaled = (7.93 - 8.77) * 5.0 / (8.77 - 6.31)
    assert f"would be {scaled:+.2f} points, which the interval excludes" in at.evidence.note
    assert at.evidence.thesis_effect == pytest.approx(7.93 - 8.77)  # the rule still uses the thesis's own number
    (row,) = judged.gap_rows(recs, "standard")
    assert row["method"] == "AT" and row["share"] == pytest.approx(0.1) and row["lo"] < 0.1 < row["hi"]
    assert row["thesis share"] == pytest.approx(0.84 / 2.46)
    table = show.gap_table([row])
    assert table.iloc[0]["thesis: share closed (CIFAR-10)"] == "34%"
    assert table.iloc[0]["ours: share of the gap closed"].startswith("10% (")
    assert "5.00 points below" in show.gap_sentence([row])
    # without the teacher's record there is no gap: no note, no row
    bare = study.claims(recs[1:], "standard")
    assert "scaled to our gap" not in next(c for c in bare if c.claim.startswith("Attention transfer from")).evidence.note
    assert judged.gap_rows(recs[1:], "standard") == []
