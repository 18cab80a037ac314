"""Dirac parameterization (thesis §5.1), DiracNet / PlainNet builders (§5.2) and folding."""
import pytest
import torch
from torch import nn

from wpcore import nets
from wpcore.nets.dirac import DiracConv1d, DiracConv2d, DiracNet, dirac_delta, ncrelu, normalize_filters
from wpcore.nets.fold import FoldedNet, fold, fold_conv_bn
from wpcore.train import param_groups

# thesis.md §5.2 [C]: parameter counts of the official v2 definitions (BN, a and b included)
THESIS_PARAMS = {
    ("diracnet-28-10", 10): 36_450_090, ("diracnet-28-10", 100): 36_507_780,
    ("diracnet-28-5", 10): 9_124_250, ("diracnet-28-5", 100): 9_153_140,
    ("diracnet-34-2", 10): 1_854_378, ("diracnet-34-4", 10): 7_395_146,
    ("diracnet-18", 1000): 11_523_368, ("diracnet-34", 1000): 21_638_952,
}


def count(m):
    return sum(p.numel() for p in m.parameters())


@pytest.mark.parametrize("name,classes", sorted(THESIS_PARAMS))
def test_parameter_counts_match_thesis(name, classes):
    with torch.device("meta"):
        assert count(nets.create(name, num_classes=classes)) == THESIS_PARAMS[name, classes]


def test_plain_net_has_the_same_layers_minus_a_and_b():
    dirac, plain = nets.create("diracnet-16-1"), nets.create("plainnet-16-1")
    n_convs = len(dirac.dirac_convs())
    assert n_convs == 3 * 2 * 2  # three groups of 2n blocks, n = 2
    widths = 16 + 32 + 64
    assert count(dirac) - count(plain) == 2 * (4 * widths)  # a and b per channel, 4 blocks per group
    assert not any(isinstance(m, nn.Conv2d) and m.bias is not None for m in plain.modules())


@pytest.mark.parametrize("cls,shape", [(DiracConv1d, (2, 5, 11)), (DiracConv2d, (2, 5, 7, 6))])
@pytest.mark.parametrize("k", [1, 3, 5])
def test_a1_b0_is_identity(cls, shape, k):
    torch.manual_seed(0)
    conv = cls(5, 5, k)
    with torch.no_grad():
        conv.a.fill_(1.0)
        conv.b.zero_()
    x = torch.randn(*shape)
    torch.testing.assert_close(conv(x), x, rtol=0, atol=1e-6)


@pytest.mark.parametrize("name,kw", [("diracnet-16-2", {}), ("plainnet-16-2", {}), ("diracnet-18", {"width": 0.25})])
def test_bn_gamma_is_drawn_from_u01_as_the_official_code(name, kw):
    """Official ``bnparams`` (diracnet.py:27-31): weight torch.rand (U(0, 1)), bias 0; stem BN too."""
    torch.manual_seed(0)
    net = nets.create(name, **kw)
    bns = [m for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
    assert net.stem[1] is bns[0] and (bns[0].weight < 1).any()
    gamma = torch.cat([b.weight.detach() for b in bns])
    assert 0 <= gamma.min() and gamma.max() < 1
    assert gamma.mean().item() == pytest.approx(0.5, abs=0.04) and gamma.std().item() == pytest.approx(12**-0.5, abs=0.03)
    assert all((b.bias == 0).all() for b in bns)


def test_v1_ncrelu_then_tiled_delta_is_identity():
    torch.manual_seed(0)
    conv = DiracConv2d(2 * 4, 4, 3, version="v1")
    assert conv.a.shape == (1,) and conv.a.item() == 5.0 and conv.b.item() == pytest.approx(1e-3)
    with torch.no_grad():
        conv.a.fill_(1.0)
        conv.b.zero_()
    x = torch.randn(3, 4, 6, 6)
    torch.testing.assert_close(conv(ncrelu(x)), x, rtol=0, atol=1e-6)


@pytest.mark.parametrize("shape", [(8, 4, 3, 3), (4, 8, 3, 3), (5, 5, 5), (6, 6, 1, 1)])
def test_delta_is_torch_dirac(shape):
    assert dirac_delta(shape[0], shape[1], shape[2:]).equal(nn.init.dirac_(torch.empty(shape)))


def test_delta_and_normalisation_shapes():
    d = dirac_delta(8, 4, (3, 3))  # widening: only the 4 shared channels carry the identity
    assert d.shape == (8, 4, 3, 3) and d.sum() == 4 and d[:4, :, 1, 1].equal(torch.eye(4))
    t = dirac_delta(4, 8, (3, 3), tiled=True)
    assert t.sum() == 8 and t[:, :4, 1, 1].equal(torch.eye(4)) and t[:, 4:, 1, 1].equal(torch.eye(4))
    w = normalize_filters(torch.randn(6, 3, 3, 3))
    torch.testing.assert_close(w.flatten(1).norm(dim=1), torch.ones(6))


def test_v2_init_and_effective_weight():
    conv = DiracConv2d(4, 4, 3)
    assert conv.a.shape == (4,) and (conv.a == 1).all() and torch.allclose(conv.b, torch.full((4,), 0.1))
    w = conv.effective_weight()
    expected = conv.delta + 0.1 * normalize_filters(conv.weight)
    torch.testing.assert_close(w, expected)
    assert "delta" not in conv.state_dict()  # recomputed, never stored in records


def test_weight_decay_groups():
    net = nets.create("diracnet-10-1")
    skip = net.no_weight_decay()
    names = dict(net.named_parameters())
    ab = {n for n in names if n.endswith((".a", ".b"))}
    bn = {n for n, m in net.named_modules() if isinstance(m, nn.BatchNorm2d) for n in (f"{n}.weight", f"{n}.bias")}
    assert ab and ab <= skip and bn <= skip and "fc.bias" in skip
    decayed = set(names) - skip
    assert decayed == {n for n, p in names.items() if p.dim() > 1}  # convs and fc weight only
    assert "fc.weight" in decayed and all(n.endswith("weight") for n in decayed)
    groups = param_groups(net, 5e-4)
    assert [g["weight_decay"] for g in groups] == [5e-4, 0.0]
    assert sum(len(g["params"]) for g in groups) == len(names)
    assert len(groups[1]["params"]) == len(skip)
    assert nets.create("diracnet-10-1", version="v1").no_weight_decay() == set()  # v1 decays everything
    assert nets.create("plainnet-10-1").no_weight_decay() == {n for n, p in
                                                              nets.create("plainnet-10-1").named_parameters()
                                                              if p.dim() == 1}


def test_shapes_and_groups():
    net = nets.create("diracnet-16-2", num_classes=7, in_channels=1)
    gs = net.forward_groups(torch.randn(2, 1, 28, 28))
    assert [tuple(g.shape[1:]) for g in gs] == [(32, 28, 28), (64, 14, 14), (128, 7, 7)]
    assert net(torch.randn(2, 1, 28, 28)).shape == (2, 7)
    imagenet = nets.create("diracnet-18", width=0.25, num_classes=5)
    gs = imagenet.forward_groups(torch.randn(1, 3, 64, 64))
    assert [tuple(g.shape[1:]) for g in gs] == [(16, 16, 16), (32, 8, 8), (64, 4, 4), (128, 2, 2)]
    assert sum(len(g) for g in imagenet.groups) == 2 * 8 + 3  # 16 Dirac blocks + 3 max-pools


def test_a1_b0_network_is_a_stack_of_identities():
    """With a = 1 and b = 0 every block is ReLU -> BN, so depth changes nothing but BN."""
    torch.manual_seed(0)
    net = nets.create("diracnet-10-1", in_channels=1).eval()
    for conv in net.dirac_convs().values():
        with torch.no_grad():
            conv.a.fill_(1.0)
            conv.b.zero_()
    block = net.groups[0][0]
    x = torch.randn(2, 16, 8, 8)
    torch.testing.assert_close(block(x), block.bn(torch.relu(x)), rtol=0, atol=1e-6)


def _randomise(net: DiracNet) -> DiracNet:
    """Give BN statistics and a, b values that look trained, so folding is really tested."""
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.5)
                m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                m.weight.copy_(torch.randn(m.num_features, generator=g))
                m.bias.copy_(torch.randn(m.num_features, generator=g) * 0.1)
        for conv in net.dirac_convs().values():
            conv.a.copy_(torch.rand(conv.a.shape, generator=g) + 0.5)
            conv.b.copy_(torch.rand(conv.b.shape, generator=g))
    return net.eval()


@pytest.mark.parametrize("name,kw,size", [
    ("diracnet-16-1", {}, 32), ("diracnet-10-1", {"version": "v1", "in_channels": 1}, 28),
    ("plainnet-10-1", {}, 32), ("diracnet-18", {"width": 0.125}, 64),
])
def test_folded_and_unfolded_outputs_agree(name, kw, size):
    """Tolerance: max |difference| <= 1e-4 x max |output| in float32 (only rounding differs)."""
    torch.manual_seed(0)
    net = _randomise(nets.create(name, **kw))
    folded = fold(net)
    assert isinstance(folded, FoldedNet)
    assert not any(isinstance(m, (nn.BatchNorm2d,)) for m in folded.modules())
    assert not hasattr(folded, "dirac_convs") and all(
        isinstance(m, nn.Conv2d) and m.bias is not None for m in folded.modules() if isinstance(m, nn.Conv2d))
    x = torch.randn(4, kw.get("in_channels", 3), size, size)
    with torch.no_grad():
        ref, out = net.forward_groups(x), folded.forward_groups(x)
        for a, b in zip(ref, out):
            assert (a - b).abs().max() <= 1e-4 * a.abs().max()
        y, y_f = net(x), folded(x)
    assert (y - y_f).abs().max() <= 1e-4 * y.abs().max()


def test_fold_conv_bn_matches_eval_bn():
    torch.manual_seed(0)
    conv, bn = nn.Conv2d(3, 4, 3, padding=1, bias=True), nn.BatchNorm2d(4)
    _randomise_bn = torch.Generator().manual_seed(2)
    with torch.no_grad():
        bn.running_mean.copy_(torch.randn(4, generator=_randomise_bn))
        bn.running_var.copy_(torch.rand(4, generator=_randomise_bn) + 0.1)
        bn.weight.copy_(torch.randn(4, generator=_randomise_bn))
    bn.eval()
    w, b = fold_conv_bn(conv.weight, conv.bias, bn)
    x = torch.randn(2, 3, 5, 5)
    with torch.no_grad():
        torch.testing.assert_close(nn.functional.conv2d(x, w, b, padding=1), bn(conv(x)), rtol=1e-5, atol=1e-5)


def test_fold_rejects_other_networks():
    with pytest.raises(TypeError, match="DiracNet"):
        fold(nets.create("wrn-10-1"))


@pytest.mark.parametrize("name,kw,msg", [
    ("diracnet-17-1", {}, "6n\\+4"), ("plainnet-16-0", {}, "width"), ("diracnet-16-1", {"version": "v3"}, "version"),
    ("diracnet-18", {"width": 0}, "multiplier"),
])
def test_bad_arguments_are_clear(name, kw, msg):
    with pytest.raises(ValueError, match=msg):
        nets.create(name, **kw)
