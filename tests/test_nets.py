"""Every registered network: builds, runs forward and backward on CPU; WRN counts match §3.2."""
import pytest
import torch

from wpcore import nets

# thesis.md §3.2 [C]: (CIFAR-10, CIFAR-100) parameter counts, computed from the official code
THESIS_PARAMS = {
    "wrn-40-1": (563_930, 569_780), "wrn-40-2": (2_243_546, 2_255_156), "wrn-40-4": (8_949_210, 8_972_340),
    "wrn-40-8": (35_748_314, 35_794_484), "wrn-28-10": (36_479_194, 36_536_884),
    "wrn-28-12": (52_517_850, 52_587_060), "wrn-52-1": (758_362, 764_212), "wrn-22-8": (17_158_106, 17_204_276),
    "wrn-22-10": (26_797_914, 26_855_604), "wrn-16-4": (2_748_890, 2_772_020),
    "wrn-16-8": (10_961_370, 11_007_540), "wrn-16-10": (17_116_634, 17_174_324),
    "wrn-40-10": (55_841_754, 55_899_444), "wrn-16-1": (175_066, None), "wrn-16-2": (691_674, None),
}


def count(m):
    return sum(p.numel() for p in m.parameters())


@pytest.mark.parametrize("name", nets.list_models())
def test_forward_backward(name):
    torch.manual_seed(0)
    model = nets.create(name, **nets.example_kwargs(name))
    model.train()
    if getattr(model, "has_example_loss", False):
        loss = model.example_loss()
    else:
        x = torch.randn(2, *getattr(model, "example_input_shape", (3, 32, 32)))
        out = model(x)
        assert torch.isfinite(out).all()
        loss = out.float().pow(2).mean()
    loss.backward()
    missing = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert not missing, f"no gradient reaches {missing[:5]}"


@pytest.mark.parametrize("name", sorted(THESIS_PARAMS))
def test_wrn_parameter_counts_match_thesis(name):
    c10, c100 = THESIS_PARAMS[name]
    with torch.device("meta"):
        assert count(nets.create(name, num_classes=10)) == c10
        if c100 is not None:
            assert count(nets.create(name, num_classes=100)) == c100


def test_wrn_shapes_and_groups():
    m = nets.create("wrn-16-2", num_classes=7, in_channels=1)
    gs = m.forward_groups(torch.randn(3, 1, 28, 28))
    assert [tuple(g.shape[1:]) for g in gs] == [(32, 28, 28), (64, 14, 14), (128, 7, 7)]
    assert m(torch.randn(3, 1, 28, 28)).shape == (3, 7)


def test_wrn_block_structure():
    """Projection shortcut only where width or stride change; dropout between the convs; no conv bias."""
    m = nets.create("wrn-16-4", dropout=0.3)
    first = m.groups[0][0]
    assert first.shortcut is not None and m.groups[0][1].shortcut is None
    assert all(c.bias is None for c in m.modules() if isinstance(c, torch.nn.Conv2d))
    assert first.dropout == 0.3


@pytest.mark.parametrize("name,kw,msg", [
    ("wrn-17-2", {}, "6n+4"), ("wrn-16-0", {}, "width"), ("wrn-16-2", {"dropout": 1.5}, "dropout"),
    ("wrn-16-2", {"block": "B(9,9)"}, "unknown block"), ("resnet-999", {}, "unknown model"),
    ("wrn-16-2", {"depht": 3}, "this family takes"),
])
def test_bad_model_arguments_are_clear(name, kw, msg):
    with pytest.raises(ValueError, match=msg.replace("(", r"\(").replace("+", r"\+")):
        nets.create(name, **kw)
