"""WRN variants (thesis §3.1): every block type, the deepening factor, dropout, the ImageNet
WRN-50-2-bottleneck; FLOPs by PyTorch's counter; the chapter's study (experiments and verdicts)."""

import dataclasses

import pytest
import torch

from wpcore import flops, nets
from wpcore.nets.wrn import BLOCKS, Block, block_kernels
from wpcore.studies import verdict
from wpcore.studies import wide_resnets as study
from wpcore.studies import wide_resnets_claims as wrn_claims
from wpcore.studies import wide_resnets_thesis as thesis


def count(m):
    return sum(p.numel() for p in m.parameters())


def block_params(kernels, c_in, c_out):
    """Hand count of one block: convs (no bias), BN (2 per channel), projection if widths differ."""
    convs = sum(k * k * (c_in if i == 0 else c_out) * c_out for i, k in enumerate(kernels))
    bns = 2 * (c_in + c_out * (len(kernels) - 1))
    return convs + bns + (c_in * c_out if c_in != c_out else 0)


@pytest.mark.parametrize("block", sorted(BLOCKS))
def test_every_block_type_shapes_backward_and_count(block):
    torch.manual_seed(0)
    m = nets.create("wrn-16-2", block=block, num_classes=10)
    x = torch.randn(2, 3, 8, 8)
    gs = m.forward_groups(x)
    assert [tuple(g.shape[1:]) for g in gs] == [(32, 8, 8), (64, 4, 4), (128, 2, 2)]
    out = m(x)
    assert out.shape == (2, 10) and torch.isfinite(out).all()
    out.pow(2).mean().backward()
    assert all(p.grad is not None for p in m.parameters())
    k = BLOCKS[block]
    n = 2  # blocks per group at depth 16
    expected = (
        3 * 9 * 16
        + sum(
            block_params(k, c_in, w) + (n - 1) * block_params(k, w, w)
            for c_in, w in ((16, 32), (32, 64), (64, 128))
        )
        + 2 * 128
        + 128 * 10
        + 10
    )
    assert count(m) == expected
    assert m.block_type == block


def test_basic_block_counts_unchanged_and_kernels_as_named():
    assert count(nets.create("wrn-28-10", block="B(3,3)")) == 36_479_194
    m = nets.create("wrn-10-1", block="B(3,1,3)")
    assert [c.kernel_size[0] for c in m.groups[0][0].convs] == [3, 1, 3]
    assert block_kernels("B(1,3,1)") == (1, 3, 1) and block_kernels(l=4) == (3, 3, 3, 3)


def convs3x3(m):
    return sum(isinstance(c, torch.nn.Conv2d) and c.kernel_size == (3, 3) for c in m.modules())


@pytest.mark.parametrize("block", sorted(BLOCKS))
def test_downsampling_stride_sits_on_the_first_conv(block):
    """Official generic block (models/wide-resnet.lua@8606dab:50-52, HEAD:43): the stride is on
    the block's first convolution whatever its kernel (the 1x1 of B(1,3,1), B(1,3)), and on the
    projection shortcut."""
    m = nets.create("wrn-10-2", block=block)
    k = BLOCKS[block]
    for g, group in enumerate(m.groups):
        b = group[0]
        assert [c.stride[0] for c in b.convs] == [1 if g == 0 else 2] + [1] * (len(k) - 1)
        assert b.shortcut.stride[0] == (1 if g == 0 else 2)


def test_bottleneck_block_strides_its_first_1x1():
    b = Block(16, 32, 2, (1, 3, 1))
    assert [c.stride[0] for c in b.convs] == [2, 1, 1]
    assert b(torch.randn(1, 16, 8, 8)).shape == (1, 32, 4, 4)
    assert b(torch.randn(1, 16, 7, 7)).shape == (1, 32, 4, 4)  # odd sizes: 1x1/2 and 3x3/2 agree


@pytest.mark.parametrize("l", [1, 2, 3, 4])
def test_deepening_factor_keeps_the_size_of_wrn_40_2(l):
    """Paper §3, Table 3: WRN-40-2 at l = 1..4 has the same 36 convolutions 3x3 in its groups,
    N = (40 - 4) / (3 l) blocks of l each, hence the same 2,243,546 parameters (thesis §3.2)."""
    with torch.device("meta"):
        m = nets.create("wrn-40-2", l=l)
    assert [len(g) for g in m.groups] == [12 // l] * 3
    assert all(len(b.convs) == l for g in m.groups for b in g)
    assert convs3x3(m) == 1 + 36 and count(m) == 2_243_546
    assert m.block_type == "B(" + ",".join(["3"] * l) + ")"


@pytest.mark.parametrize("l", [1, 2, 3, 4])
def test_deepening_factor_runs(l):
    torch.manual_seed(0)
    m = nets.create("wrn-40-1", l=l)
    m(torch.randn(2, 3, 8, 8)).sum().backward()
    assert all(p.grad is not None for p in m.parameters())


@pytest.mark.parametrize("l,depth,valid", [(3, 16, "13, 22, 31, 40"), (4, 22, "16, 28, 40, 52"), (1, 9, "7, 10, 13")])
def test_depth_must_suit_the_deepening_factor(l, depth, valid):
    with pytest.raises(ValueError, match=rf"l={l} must be {3 * l}n\+4 with n >= 1 \({valid}"):
        nets.create(f"wrn-{depth}-2", l=l)


def test_bn_gamma_is_drawn_from_u01_as_the_official_code():
    """Torch7 nn.BatchNormalization:reset() (weight:uniform(), bias:zero()), which the Lua WRN
    keeps (models/utils.lua inits convolutions and linear biases only); torch.rand in the port."""
    torch.manual_seed(0)
    bns = [b for b in nets.create("wrn-16-4", block="B(3,1,3)").modules() if isinstance(b, torch.nn.BatchNorm2d)]
    gamma = torch.cat([b.weight.detach() for b in bns])
    assert gamma.numel() > 2000 and 0 <= gamma.min() and gamma.max() < 1
    assert gamma.mean().item() == pytest.approx(0.5, abs=0.03)
    assert gamma.std().item() == pytest.approx(12**-0.5, abs=0.02)  # the s.d. of U(0, 1)
    assert all((b.bias == 0).all() and (b.running_mean == 0).all() and (b.running_var == 1).all() for b in bns)


@pytest.mark.parametrize(
    "kw,msg",
    [
        ({"l": 5}, "deepening factor"),
        ({"l": 2, "block": "B(1,3)"}, "either block"),
        ({"l": 1, "dropout": 0.3}, "l >= 2"),
        ({"block": "B(5,5)"}, "unknown block"),
    ],
)
def test_bad_variant_arguments_are_clear(kw, msg):
    with pytest.raises(ValueError, match=msg.replace("(", r"\(")):
        nets.create("wrn-16-2", **kw)


@pytest.mark.parametrize("kw", [{"block": b} for b in ("B(3,3)", "B(3,1,3)", "B(1,3,1)", "B(3,1,1)")] + [{"l": 4}])
def test_dropout_sits_before_every_conv_but_the_first_and_only_in_training(kw):
    """Official generic block (models/wide-resnet.lua:51-63): BN-ReLU-conv, then BN-ReLU-Dropout-conv
    for every later convolution; the shortcut takes the pre-activated input, never dropped."""
    torch.manual_seed(0)
    m = nets.create("wrn-16-1" if "l" in kw else "wrn-10-1", dropout=0.9, **kw)
    x = torch.randn(8, 3, 8, 8)
    m.eval()
    assert torch.equal(m(x), m(x))  # no dropout in eval mode
    m.train()
    b = m.groups[1][0]  # a downsampling block, with a projection shortcut
    zeros = {}

    def hook(name):
        def record(mod, inp):
            zeros[name] = (inp[0] == 0).float().mean().item()

        return record

    mods = [(f"conv{i}", c) for i, c in enumerate(b.convs)] + [("shortcut", b.shortcut)]
    hooks = [mod.register_forward_pre_hook(hook(name)) for name, mod in mods]
    m(x)
    for h in hooks:
        h.remove()
    assert zeros["conv0"] < 0.7 and zeros["shortcut"] < 0.7  # ReLU zeros only (about half)
    assert all(zeros[f"conv{i}"] > 0.85 for i in range(1, len(b.convs)))  # 90% dropped on top


@pytest.mark.parametrize(
    "name,expected",
    [
        ("resnet-18", 11_689_512),
        ("resnet-34", 21_797_672),
        ("resnet-50", 25_557_032),
        ("wrn-50-2", 68_883_240),
    ],
)
def test_imagenet_counts_match_torchvision(name, expected):
    with torch.device("meta"):
        assert count(nets.create(name)) == expected


def test_imagenet_bn_gamma_is_one_as_the_official_wrn_50_2():
    """pretrained/wide-resnet.lua:172-183 (fb.resnet.torch BNInit): gamma 1, beta 0, unlike the CIFAR WRN."""
    bns = [m for m in nets.create("resnet-18", num_classes=10).modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert all((b.weight == 1).all() and (b.bias == 0).all() for b in bns)


def test_imagenet_nets_are_torchvision_layout():
    """Same parameter names and shapes as torchvision (its weights load unchanged); same outputs."""
    import torchvision

    with torch.device("meta"):
        tv, m = torchvision.models.wide_resnet50_2(), nets.create("wrn-50-2")
    assert {k: v.shape for k, v in m.state_dict().items()} == {k: v.shape for k, v in tv.state_dict().items()}
    assert m.layer1[0].conv2.out_channels == 128  # the doubled inner width
    tv, m = torchvision.models.resnet18().eval(), nets.create("resnet-18").eval()
    m.load_state_dict(tv.state_dict())
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(m(x), tv(x), atol=1e-5)
        assert [g.shape[1] for g in m.forward_groups(x)] == [64, 128, 256, 512]
    assert nets.create("wrn-16-2").__class__.__name__ == "WideResNet"  # wrn-d-k still the CIFAR family


@pytest.mark.parametrize(
    "name,gflop", [("wrn-28-10", 10.49), ("wrn-40-4", 2.60), ("wrn-16-8", 3.10), ("wrn-16-1", 0.053)]
)
def test_forward_flops_match_performance_sheet(name, gflop):
    assert flops.forward_flops(name) / 1e9 == pytest.approx(gflop, rel=0.01)


def test_training_flops_are_three_forwards_and_scale_with_input():
    fwd, train = flops.forward_flops("wrn-16-2"), flops.train_flops("wrn-16-2")
    assert train / fwd == pytest.approx(3.0, rel=0.02)
    # convolutions dominate: FLOPs scale with the number of pixels
    assert flops.forward_flops("wrn-16-2", (3, 16, 16)) / fwd == pytest.approx(0.25, rel=0.01)
    assert flops.forward_flops("wrn-50-2", (3, 224, 224)) / 1e9 == pytest.approx(22.8, rel=0.01)


# --- the study -------------------------------------------------------------------------------


def test_quick_has_three_experiments_three_seeds_similar_sizes():
    ps = study.parts("quick")
    assert set(ps) == {"depth_width", "blocks", "dropout", "deepening", "widening"}
    assert ps.pop("deepening") == [] and ps.pop("widening") == []
    for exps in ps.values():
        labels = {e.label for e in exps}
        assert all(sum(e.label == lab for e in exps) == 3 for lab in labels)  # 3 seeds each
    thin, wide = study.PAIRS["quick"]
    with torch.device("meta"):
        p_thin, p_wide = (count(nets.create(m, in_channels=1)) for m in (thin, wide))
    assert int(thin.split("-")[1]) > int(wide.split("-")[1]) and abs(p_thin - p_wide) / p_wide < 0.2
    assert {e.model_kw.get("block", "B(3,3)") for e in ps["blocks"]} == set(BLOCKS)
    keys = [e.key() for e in study.experiments("quick")]
    assert len(keys) == len(set(keys)) == 27  # the dropout-off baseline is shared with (a)


def test_standard_grid_is_one_seed_of_every_point_sharing_the_runs_made_already():
    grid = study.grid("standard")
    assert {(int(e.model.split("-")[1]), int(e.model.split("-")[2])) for e in grid} == set(study.GRID["standard"])
    assert all(e.seed == 0 and e.config() == study.single("standard", e.model).config() for e in grid)
    exps = study.experiments("standard")
    keys = [e.key() for e in exps]
    assert len(keys) == len(set(keys)) and {e.key() for e in grid} <= set(keys)
    others = {e.key() for part in study.parts("standard").values() for e in part}
    shared = [e.model for e in grid if e.key() in others]
    # trained once, under their first label (WRN-16-4 and WRN-40-2 with the widening claim's seeds)
    assert sorted(shared) == ["wrn-16-1", "wrn-16-2", "wrn-16-4", "wrn-40-1", "wrn-40-2"]
    assert study.grid("quick") == [] and len(study.experiments("quick")) == 27


def test_full_profile_is_the_thesis_recipe():
    exps = study.experiments("full")
    cifar = [e for e in exps if e.dataset.startswith("cifar")]
    assert all(e.epochs == 200 and e.lr == 0.1 and e.batch_size == 128 and e.augment for e in cifar)
    assert {e.dataset for e in exps} == {"cifar-10", "cifar-100", "svhn", "imagenet"}  # ImageNet: test_full_profile.py
    svhn = [e for e in exps if e.dataset == "svhn"]
    assert all(
        e.epochs == 160 and e.lr == 0.01 and e.milestones == (0.5, 0.75) and e.gamma == 0.1 and not e.augment
        for e in svhn
    )
    assert {e.model_kw.get("dropout", 0) for e in svhn} == {0, 0.4}
    assert {(e.model, e.model_kw.get("block", "B(3,3)")) for e in study.parts("full")["blocks"]} == {
        (f"wrn-{d}-2", b) for b, (d, _) in thesis.TABLE2_BLOCKS.items()
    }


@dataclasses.dataclass
class FakeRecord:
    key: str
    config: dict
    final: dict
    device: dict = dataclasses.field(default_factory=lambda: {"type": "cpu"})
    code: dict = dataclasses.field(default_factory=dict)
    data: dict = dataclasses.field(default_factory=lambda: {"n_train": 3000})
    history: list = dataclasses.field(default_factory=list)
    wall_time_s: float = 1.0


def fake_records(profile, error_of):
    return [
        FakeRecord(
            e.key(),
            e.config(),
            {
                "test_error": error_of(e),
                "time_s": 10.0 if e.model.endswith("-1") else 5.0,
                "epoch": 3,
                "params": 1,
            },
            history=[{"time_s": (10.0 if e.model.endswith("-1") else 5.0) * (i + 1) / 3} for i in range(3)],
        )
        for e in study.experiments(profile)
    ]


def test_verdicts_are_computed_from_the_records():
    def error(e):  # wide better, B(3,1) best by far, dropout worse; a little seed noise
        base = 10.0 + 0.1 * e.seed
        if e.model == "wrn-22-1" and not e.model_kw:
            base += 5
        if e.model_kw.get("block") == "B(3,1)":
            base -= 4
        if e.model_kw.get("dropout"):
            base += 3
        return base

    V = verdict.Verdict
    cs = study.claims(fake_records("quick", error), "quick")
    # quick runs neither the deepening (Table 3) nor the widening study (Table 4): their claims say so
    # instead of vanishing
    assert [c.verdict for c in cs] == [V.HOLDS, V.FAILS, V.FAILS, V.NOT_MEASURED, V.NOT_MEASURED, V.HOLDS]
    assert cs[4].evidence.note == "not run in this profile"
    assert "wrn-10-2 10.10 ± 0.10%" in cs[0].ours and "B(3,1)" in cs[1].evidence.note
    assert cs[0].evidence.rule is verdict.Rule.NON_INFERIORITY and cs[2].evidence.rule is verdict.Rule.DIFFERENCE
    # equal means with a seed spread too large to bound the gap: "as accurate" is not shown (it used
    # to read "holds (as accurate; no significant difference)"), the dropout difference is inconclusive
    same = study.claims(fake_records("quick", lambda e: 10.0 + e.seed), "quick")
    assert [c.verdict for c in same[:3]] == [V.NOT_SHOWN, V.NOT_SHOWN, V.INCONCLUSIVE]
    # speeds measured on two machines are not compared
    recs = fake_records("quick", error)
    recs[0] = dataclasses.replace(recs[0], device={"type": "cuda", "name": "H200"})
    assert study.claims(recs, "quick")[5].verdict is V.NOT_COMPARABLE


def test_widening_shares_its_networks_and_trains_only_the_missing_seeds():
    """Table 4's trend at standard: WRN-16-1/2/4 and WRN-40-1/2, 3 seeds each, 6 for the two-stage step
    WRN-16-2 -> -16-4; every network but WRN-16-4 and WRN-40-2 beyond seed 0 (the grid's) is a run
    another experiment makes already."""
    ps = study.parts("standard")
    widening = ps.pop("widening")
    seeds = {(16, 2): range(6), (16, 4): range(6)}
    assert {(e.model, e.seed) for e in widening} == {
        (f"wrn-{d}-{k}", s) for d, ks in ((16, (1, 2, 4)), (40, (1, 2))) for k in ks for s in seeds.get((d, k), range(3))}
    assert all(e.config() == study.single("standard", e.model, e.seed).config() for e in widening)
    made = {e.key() for part in ps.values() for e in part} | {e.key() for e in study.grid("standard")}
    assert sorted((e.model, e.seed) for e in widening if e.key() not in made) == [
        *(("wrn-16-4", s) for s in range(1, 6)), ("wrn-40-2", 1), ("wrn-40-2", 2)]


@pytest.mark.parametrize("width_4,expected", [(11.0, "HOLDS"), (12.0, "INCONCLUSIVE"), (13.0, "FAILS")])
def test_widening_claim_judges_every_doubling(width_4, expected):
    """Width 1 -> 2 one point better at both depths; width 2 -> 4 at depth 16 better, flat or worse
    (seed noise 0.1 a seed): the claim holds only when every doubling is better, is not decided when
    one is flat, does not hold when one is worse."""
    def error(e):
        k = int(e.model.split("-")[2])
        return {1: 13.0, 2: 12.0, 4: width_4}.get(k, 12.0) + 0.1 * e.seed

    c = next(c for c in study.claims(fake_records("standard", error), "standard") if "widening" in c.claim)
    assert c.verdict is verdict.Verdict[expected]
    assert "of 3 comparisons" in c.evidence.note and c.evidence.looks == 2  # the two-stage step is marked
    assert f"WRN-16-4 {width_4 + 0.25:.2f} ± 0.19% (6 seeds)" in c.ours and "WRN-40-1 13.10 ± 0.10% (3 seeds)" in c.ours
    assert "k=4 4.97% [T]" in c.thesis and c.evidence.thesis_effect is not None


def test_as_accurate_margin_is_pinned():
    """The margin of the "as accurate" claims was fixed from Table 2 before any run."""
    assert wrn_claims.SIMILAR.relative == 0.05 and wrn_claims.SIMILAR.absolute is None


def test_epoch_seconds_ignore_an_interrupted_first_epoch():
    hist = [{"time_s": 354.0}, {"time_s": 380.0}, {"time_s": 407.6}]  # epoch 1 ran in a killed process
    assert wrn_claims.epoch_seconds(hist) == pytest.approx(27.6)


@pytest.mark.slow
@pytest.mark.parametrize("dataset", ["cifar-10", "cifar-100", "svhn"])
def test_full_profile_runs_two_steps_on_fixture_data(tmp_path, monkeypatch, dataset):
    """Each full-profile recipe (CIFAR-10/100, SVHN) runs end to end on a fixture in the real format."""
    from wpcore import experiment

    from . import fixtures

    fixtures.install(monkeypatch, tmp_path / "data", dataset)
    exps = [e for e in study.experiments("full") if e.dataset == dataset]
    e = min(exps, key=lambda e: int(e.model.split("-")[1]) * int(e.model.split("-")[2]) ** 2)  # the cheapest
    rec = experiment.run(dataclasses.replace(e, batch_size=4, max_steps=2))
    assert rec.final["steps"] == 2 and rec.config["dataset"] == dataset
    assert rec.config["model_kw"] == e.model_kw


def test_errors_figure_draws_every_experiment_and_groups_the_widening_networks_by_depth():
    """Standard's figure: (a)-(c) in a first row, (d) deepening and (e) widening in a second, the widening
    networks split by depth; quick, which has neither, keeps one row."""
    import matplotlib.pyplot as plt

    from wpcore.present import wide_resnets as show

    fig = show.errors_figure(fake_records("standard", lambda e: 12.0 + 0.1 * e.seed), "standard")
    titles = [ax.get_title() for ax in fig.get_axes()]
    assert titles == [show.TITLES[p] for p in ("depth_width", "blocks", "dropout", "deepening", "widening")]
    widening = fig.get_axes()[-1]
    assert [t.get_text() for t in widening.texts] == ["depth 16", "depth 40"]
    assert [t.get_text() for t in widening.get_xticklabels()] == ["wrn-16-1", "wrn-16-2", "wrn-16-4", "wrn-40-1",
                                                                  "wrn-40-2"]
    plt.close(fig)
    fig = show.errors_figure(fake_records("quick", lambda e: 12.0), "quick")
    assert len(fig.get_axes()) == 3
    plt.close(fig)


def test_full_judges_table_4_s_depth_40_column_from_one_seed_sharing_two_networks():
    """At full: WRN-40-1, -40-2 and -40-4 on CIFAR-10 with the thesis's recipe; -40-2 is the deepening
    factor's l = 2 and -40-4 the pair's network, so WRN-40-1 is the one run added (the attention chapter's
    teacher, the same run); one seed a network, so the verdict is the direction of one seed."""
    widening = study.parts("full")["widening"]
    assert [(e.model, e.dataset, e.epochs, e.seed) for e in widening] == [
        (f"wrn-40-{k}", "cifar-10", 200, 0) for k in (1, 2, 4)]
    others = {e.key() for part, exps in study.parts("full").items() if part != "widening" for e in exps}
    assert [e.model for e in widening if e.key() not in others] == ["wrn-40-1"]
    table4 = {e.model: thesis.TABLE4_ZCA[(40, int(e.model.split("-")[2]))][0] for e in widening}
    c = next(c for c in study.claims(fake_records("full", lambda e: table4.get(e.model, 5.0)), "full")
             if "widening" in c.claim)
    assert c.verdict is verdict.Verdict.INDICATIVE and c.evidence.agrees and c.evidence.looks == 1
    assert "WRN-40-1 6.85%" in c.ours and "cifar-10" in c.ours
