"""Thesis ch. 1 (DeepCompare): networks, hinge loss, FPR95, PhotoTour format, embedded pairs."""
import itertools
import warnings
import zipfile

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from wpcore import nets
from wpcore.data import DataError
from wpcore.data import pairs as PS
from wpcore.data import patches as P
from wpcore.data import photos as PH
from wpcore.data import phototour as PT
from wpcore.data import stereo as ST
from wpcore.data.store import file_hash
from wpcore.losses.hinge import hinge
from wpcore.metrics.matching import TiedScoresWarning, fpr95, fpr95_interpolated, roc_curve, roc_steps
from wpcore.nets import deepcompare as dc

NAMES = sorted(dc.BUILDERS)
SIAMESE = [n for n in NAMES if "siam" in n]


# --- networks -----------------------------------------------------------------------------------

@pytest.mark.parametrize("name", NAMES)
def test_every_net_scores_pairs_and_trains(name):
    torch.manual_seed(0)
    m = nets.create(name, width=0.25)
    assert m.example_input_shape == (2, 64, 64)
    out = m(torch.randn(3, 2, 64, 64))
    assert out.shape == (3,) and torch.isfinite(out).all()
    out.pow(2).mean().backward()
    assert all(p.grad is not None for p in m.parameters())


# thesis.md §1.1 [C]: parameter counts computed from the official model files
@pytest.mark.parametrize("name,millions", [("2ch", 0.98), ("2ch-deep", 1.67), ("2ch-2stream", 2.35), ("siam", 1.17)])
def test_paper_width_parameter_counts(name, millions):
    m = nets.create(name)
    assert round(sum(p.numel() for p in m.parameters()) / 1e6, 2) == millions


@pytest.mark.parametrize("name", dc.SPP_MODELS)
@pytest.mark.parametrize("hw", [(64, 64), (80, 80), (96, 128)])
def test_spp_nets_take_any_size(name, hw):
    m = nets.create(name, width=0.25)
    out = m(torch.randn(2, 2, *hw))
    assert out.shape == (2,)
    out.sum().backward()


def test_spp_bins_are_the_cells_adaptive_pooling_reads():
    side = 7
    x = torch.randn(1, 1, side, side)
    for level in (1, 2, 3, 5, 7):
        pooled = F.adaptive_max_pool2d(x, level)[0, 0]
        bins = dc.spp_bins(side, level)
        for i, (r0, r1) in enumerate(bins):
            for j, (c0, c1) in enumerate(bins):
                assert pooled[i, j] == x[0, 0, r0:r1, c0:c1].max()


@pytest.mark.parametrize("name", dc.SPP_MODELS)
def test_every_spp_level_pools_distinct_cells_at_64(name):
    """At the training size the map that reaches SPP must have at least l x l cells for every
    level l, so that each level's bins are distinct regions (the old (1, 2) pyramid split a 1x1
    map into 4 bins that all read the same cell)."""
    m = nets.create(name, width=0.25)
    seen = []
    tower = m.features if hasattr(m, "features") else m.branches[0]
    tower.register_forward_hook(lambda mod, args, out: seen.append(tuple(out.shape[-2:])))
    m(torch.randn(2, 2, 64, 64))
    assert seen and all(s == (seen[0][0],) * 2 for s in seen)
    side = seen[0][0]
    for level in dc.SPP_LEVELS:
        bins = dc.spp_bins(side, level)
        assert level <= side and len(set(bins)) == level, f"level {level} on a {side}x{side} map: {bins}"
    with pytest.raises(ValueError, match="SPP level 2"):
        dc.spp(torch.randn(1, 3, 1, 1), (1, 2))


@pytest.mark.parametrize("name", SIAMESE)
def test_descriptors(name):
    m = nets.create(name, width=0.25).eval()
    d = m.descriptor(torch.randn(4, 1, 64, 64))
    assert d.shape == (4, m.dim)
    if name.endswith("-l2"):
        x = torch.randn(4, 2, 64, 64)
        assert torch.allclose(d.norm(dim=1), torch.ones(4), atol=1e-5)
        if not name.startswith("pseudo"):  # one shared branch: score = -|d1 - d2|, symmetric
            expect = -(m.descriptor(x[:, :1]) - m.descriptor(x[:, 1:])).norm(dim=1)
            assert torch.allclose(m(x), expect, atol=1e-5)
            assert torch.allclose(m(x), m(x.flip(1)), atol=1e-5)


def test_central_surround_geometry():
    x = torch.arange(64.0).repeat(64, 1)[None, None]  # value = column index
    c, s = dc.central_surround(x)
    assert c.shape == s.shape == (1, 1, 32, 32)
    assert c[0, 0, 0, 0] == 16 and c[0, 0, 0, -1] == 47          # columns 16..47: the centre crop
    assert s[0, 0, 0, 0] == 0.5 and s[0, 0, 0, -1] == 62.5       # 2x2 means of the whole patch


def test_unknown_builder_argument_is_clear():
    with pytest.raises(ValueError, match="width"):
        nets.create("2ch", depth=3)


# --- loss ---------------------------------------------------------------------------------------

def test_hinge_known_values():
    s = torch.tensor([2.0, 0.5, -0.5, -2.0])
    y = torch.tensor([1, 1, -1, 1])
    # max(0, 1 - y s): 0, 0.5, 0.5, 3
    assert hinge(s, y).item() == pytest.approx(1.0)


# --- FPR95 --------------------------------------------------------------------------------------

def _ordered(labels):
    """Scores decreasing in the given label order."""
    return np.arange(len(labels), 0, -1).astype(float), np.array(labels)


def test_fpr95_exact_point():
    # 18 P, 2 N, 2 P, 8 N: TPR reaches 19/20 = 0.95 after 2 negatives of 10
    s, y = _ordered([1] * 18 + [-1] * 2 + [1] * 2 + [-1] * 8)
    assert fpr95(s, y) == pytest.approx(0.2)
    assert fpr95_interpolated(s, y) == pytest.approx(0.2)


def test_fpr95_protocols_differ_between_roc_points():
    # 9 P, 2 N, 1 P, 8 N (10 P, 10 N): TPR jumps from 0.9 to 1.0 across the 2 negatives.
    s, y = _ordered([1] * 9 + [-1] * 2 + [1] + [-1] * 8)
    assert fpr95(s, y) == pytest.approx(0.0)              # Lua: nearest pair, first at TPR 0.9
    assert fpr95_interpolated(s, y) == pytest.approx(0.2)  # sklearn ROC: on the vertical segment


def test_fpr95_perfect_random_and_labels_0_1():
    s, y = _ordered([1] * 50 + [-1] * 50)
    assert fpr95(s, y) == 0.0 and fpr95(s, (y > 0).astype(int)) == 0.0
    rng = np.random.default_rng(0)
    y = rng.choice([-1, 1], 20000)
    assert fpr95(rng.random(20000), y) == pytest.approx(0.95, abs=0.015)  # chance: FPR = TPR
    with pytest.raises(ValueError, match="both"):
        fpr95(np.zeros(3), np.ones(3))


def _lua_fpr95(scores, labels, order_key):
    """FPR95Meter.lua on one order: sort by decreasing score, tied pairs ordered by ``order_key``
    (the arbitrary order of torch.sort), cumulative TPR/FPR, the first FPR where |TPR - .95| is least."""
    p = np.asarray(labels)[np.lexsort((order_key, -np.asarray(scores, float)))] > 0
    tpr, fpr = np.cumsum(p) / p.sum(), np.cumsum(~p) / (~p).sum()
    return fpr[np.argmin(np.abs(tpr - 0.95))]


def test_fpr95_constant_scores_score_chance_not_zero():
    # a constant network on a list that names its 1000 matches first: every order of the ties is
    # equally likely under the Lua sort, so FPR95 = 950 / 1001 (about 95%), not 0 (the stable order)
    y = np.array([1] * 1000 + [-1] * 1000)
    with pytest.warns(TiedScoresWarning, match="2000 of 2000 scores"):
        assert fpr95(np.zeros(2000), y) == pytest.approx(950 / 1001)
    with pytest.warns(TiedScoresWarning):  # the order of the list does not matter any more
        assert fpr95(np.zeros(2000), y[::-1]) == pytest.approx(950 / 1001)


def test_fpr95_perfect_ranking_is_zero_even_with_ties_inside_each_class():
    y = np.array([1] * 300 + [-1] * 700)
    rng = np.random.default_rng(0)
    y = y[rng.permutation(len(y))]
    with pytest.warns(TiedScoresWarning):
        assert fpr95(y.astype(float), y) == 0.0           # two tied groups, no tie across classes
    assert fpr95(y + rng.random(len(y)) * 0.5, y) == 0.0  # untied


@pytest.mark.parametrize("n,seed", [(20, 0), (57, 1), (1000, 2), (5001, 3)])
def test_fpr95_agrees_with_sklearn_roc_and_the_closest_tpr_rule(n, seed):
    """Untied scores: sklearn's ROC with every threshold kept, FPR at the first TPR closest to 0.95."""
    from sklearn.metrics import roc_curve as sk_roc

    rng = np.random.default_rng(seed)
    y = rng.choice([-1, 1], n, p=[0.6, 0.4])
    y[:2] = [-1, 1]
    s = y * rng.uniform(0, 2) + rng.normal(0, 1, n)
    assert len(np.unique(s)) == n
    f, t, _ = sk_roc(y > 0, s, drop_intermediate=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")                    # untied: no warning
        assert fpr95(s, y) == pytest.approx(f[np.argmin(np.abs(t - 0.95))], abs=1e-12)


def test_fpr95_ties_equal_the_average_over_every_order_of_the_ties():
    # 9 matches, 6 non-matches; groups of tied scores that mix both classes. Enumerate every order
    # within each tied group (3! * 5! * 4! = 17,280 orders) and average the Lua value.
    s = np.array([5, 5, 5, 4, 3, 3, 3, 3, 3, 2, 1, 1, 1, 1, 0], float)
    y = np.array([1, 1, -1, 1, 1, -1, 1, 1, -1, 1, 1, -1, -1, 1, -1])
    groups = [np.flatnonzero(s == v) for v in np.unique(s)]
    total, count = 0.0, 0
    key = np.zeros(len(s))
    for perms in itertools.product(*[itertools.permutations(range(len(g))) for g in groups]):
        for g, perm in zip(groups, perms):
            key[g] = perm
        total += _lua_fpr95(s, y, key)
        count += 1
    with pytest.warns(TiedScoresWarning, match="12 of 15"):
        assert fpr95(s, y) == pytest.approx(total / count, abs=1e-12)


def test_fpr95_ties_equal_the_mean_over_random_permutations():
    rng = np.random.default_rng(4)
    y = rng.choice([-1, 1], 600)
    s = np.round(y * 0.8 + rng.normal(0, 1, 600), 0)      # about 7 tied levels, most of them mixed
    values = np.array([_lua_fpr95(s, y, rng.random(600)) for _ in range(4000)])
    with pytest.warns(TiedScoresWarning):
        got = fpr95(s, y)
    assert abs(got - values.mean()) < 4 * values.std() / np.sqrt(len(values)) + 1e-9
    assert values.std() > 0.005  # the orders of the ties really change the Lua value


def test_fpr95_refuses_non_finite_scores_and_mismatched_lengths():
    with pytest.raises(ValueError, match="NaN"):
        fpr95(np.array([0.0, np.nan, 1.0]), np.array([1, -1, 1]))
    with pytest.raises(ValueError, match="one score per pair"):
        fpr95(np.zeros(3), np.array([1, -1]))


def test_roc_curves_are_monotone():
    rng = np.random.default_rng(1)
    y = rng.choice([-1, 1], 500)
    s = y + rng.normal(0, 1, 500)
    tpr, fpr = roc_steps(s, y)
    assert tpr[-1] == fpr[-1] == 1 and (np.diff(tpr) >= 0).all() and (np.diff(fpr) >= 0).all()
    f, t, _ = roc_curve(s, y)
    assert (np.diff(f) >= 0).all() and (np.diff(t) >= 0).all()


# --- PhotoTour format ---------------------------------------------------------------------------

def _write_scene(folder, n=300):
    """A scene in the exact Brown layout; patch i has pixel (0,0) = i % 256, (0,1) = i // 256."""
    sheets = -(-n // 256)
    for k in range(sheets):
        sheet = np.zeros((1024, 1024), np.uint8)
        for j in range(256):
            i = k * 256 + j
            if i < n:
                r, c = divmod(j, 16)
                sheet[r * 64:(r + 1) * 64, c * 64:(c + 1) * 64] = 77
                sheet[r * 64, c * 64], sheet[r * 64, c * 64 + 1] = i % 256, i // 256
        Image.fromarray(sheet, "L").save(folder / f"patches{k:04d}.bmp")
    point = np.arange(n) // 3  # three views of each 3D point
    (folder / "info.txt").write_text("".join(f"{p} 0\n" for p in point))
    pairs = [(0, 1), (3, 5), (0, 3), (298, 299), (257, 100), (299, 297)]
    lines = [f"{a} {point[a]} 0 {b} {point[b]} 0\n" for a, b in pairs]
    (folder / PT.TEST_PAIRS).write_text("".join(lines))
    return pairs, point


@pytest.fixture
def scene_zip(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    pairs, point = _write_scene(src)
    zpath = tmp_path / "fixture.zip"
    with zipfile.ZipFile(zpath, "w") as z:
        for f in sorted(src.iterdir()):
            z.write(f, f.name)
    return tmp_path, {"fixture": ("file:///nowhere/fixture.zip", file_hash(zpath, "md5"))}, pairs, point


def test_phototour_loader_reads_the_real_layout(scene_zip):
    root, table, pairs, point = scene_zip
    ps = PT.load_phototour("fixture", root, archives=table, counts={"fixture": 300})
    assert ps.pairs.shape == (len(pairs), 2, 64, 64) and ps.pairs.dtype == torch.uint8
    for k, (a, b) in enumerate(pairs):
        for ch, i in ((0, a), (1, b)):
            assert ps.pairs[k, ch, 0, 0] == i % 256 and ps.pairs[k, ch, 0, 1] == i // 256
            assert ps.pairs[k, ch, 5, 5] == 77
        assert ps.labels[k] == (1 if point[a] == point[b] else -1)
    assert ps.labels.tolist() == [1, 1, -1, 1, -1, 1]


def test_phototour_checksums_and_counts(scene_zip):
    root, table, _, _ = scene_zip
    bad = {"fixture": (table["fixture"][0], "0" * 32)}
    with pytest.raises(DataError, match="corrupt"):
        PT.load_phototour("fixture", root, archives=bad)
    with pytest.raises(DataError, match="incomplete"):
        PT.load_phototour("fixture", root, archives=table, counts={"fixture": 301})
    with pytest.raises(DataError, match="missing"):
        PT.load_phototour("liberty", root / "empty")
    with pytest.raises(ValueError, match="unknown"):
        PT.load_phototour("paris", root, archives=table)


# --- embedded pairs: positives really correspond ---------------------------------------------------

@pytest.fixture(scope="module")
def stereo():
    return ST.stereo_pairs("test", 600, seed=1)


def _mad(ps):
    x = ps.pairs.float()
    return (x[:, 0] - x[:, 1]).abs().mean(dim=(1, 2))


def test_stereo_positives_align_at_the_ground_truth_disparity(stereo):
    pos = stereo.pairs[stereo.labels > 0].float()
    assert len(pos) == 300 and (stereo.labels < 0).sum() == 300
    # slide the left patch's central 24x24 block along the right patch's scanline
    left = pos[:, 0, 20:44, 20:44]
    ssd = torch.stack([(left - pos[:, 1, 20:44, 20 + s:44 + s]).pow(2).mean(dim=(1, 2)) for s in range(-12, 13)], 1)
    best = ssd.argmin(1) - 12
    textured = pos[:, 0].std(dim=(1, 2)) > 8  # flat patches have no defined best shift
    assert (best[textured].abs() <= 2).float().mean() > 0.85
    assert torch.bincount(best[textured] + 12).argmax() == 12  # zero shift is the most common
    mad = _mad(stereo)
    assert mad[stereo.labels > 0].mean() < 0.5 * mad[stereo.labels < 0].mean()


def test_stereo_disparity_direction():
    left, right, disp = ST.stereo_images()
    r, c = np.mgrid[100:400:20, 150:600:20]
    r, c = r.ravel(), c.ravel()
    ok = np.isfinite(disp[r, c])
    r, c, d = r[ok], c[ok], np.round(disp[r[ok], c[ok]]).astype(int)
    a = ST.crop(left, r, c, 16).astype(float)
    minus = np.abs(a - ST.crop(right, r, c - d, 16)).mean()
    plus = np.abs(a - ST.crop(right, r, np.minimum(c + d, 732), 16)).mean()
    assert minus < 0.5 * plus  # left (r, c) <-> right (r, c - disp)


def test_warped_geometry_and_positives():
    im = np.random.default_rng(0).random((120, 140)).astype(np.float32)
    c = np.array([[60.0, 70.0]])
    rot90 = np.array([[[0.0, -1.0], [1.0, 0.0]]])  # u = (row, col) -> (-col, row)
    same = PH.sample_warped(im, c, np.eye(2)[None], 16)[0]
    assert np.allclose(same, ST.crop(im, np.array([60]), np.array([70]), 16)[0], atol=1e-5)
    turned = PH.sample_warped(im, c, rot90, 15)[0]  # odd size: rotation about the centre pixel
    centred = ST.crop(im, np.array([60]), np.array([70]), 15)[0]
    assert np.allclose(turned, np.rot90(centred, -1), atol=1e-5)
    ps = PH.warped_pairs("test", 200, seed=0)
    mad = _mad(ps)
    assert mad[ps.labels > 0].mean() < 0.8 * mad[ps.labels < 0].mean()


@pytest.mark.parametrize("name", PH.PHOTOS)
def test_photo_regions_never_share_a_pixel(name):
    """Every footprint of a training centre (up to FOOTPRINT px away) stays on its side of the line,
    every test one on the other, and both regions hold patch centres."""
    im = PH._gray(name)
    (tr_r, tr_c), (te_r, te_c) = PH._region(im.shape, "train"), PH._region(im.shape, "test")
    long_ax = int(im.shape[1] > im.shape[0])
    train_span, test_span = (tr_r, te_r) if long_ax == 0 else (tr_c, te_c)
    assert train_span[1] + PH.FOOTPRINT <= test_span[0] - PH.FOOTPRINT + 1e-9
    assert all(lo < hi for lo, hi in (tr_r, tr_c, te_r, te_c))
    reach = 1.25 * 1.15 * np.sqrt(2) * PS.PATCH / 2  # random_affine's largest scale and shear, a corner
    assert reach <= PH.FOOTPRINT


def test_photo_pairs_match_and_keep_their_output():
    ps = PH.photo_pairs("test", 200, seed=0)
    x = ps.pairs.float()
    x = x - x.mean(dim=(2, 3), keepdim=True)
    ncc = (x[:, 0] * x[:, 1]).sum(dim=(1, 2)) / (x[:, 0].norm(dim=(1, 2)) * x[:, 1].norm(dim=(1, 2))).clamp_min(1e-6)
    # normalised cross-correlation: a match is the same surface through a change of view, blur and
    # lighting, a non-match another surface (measured: 0.44 vs 0.05)
    assert ncc[ps.labels > 0].mean() > ncc[ps.labels < 0].mean() + 0.25
    flat = (ps.pairs[:, 0].float() / 255).std(dim=(1, 2)) < PH.MIN_STD - 1 / 255
    assert not flat.any()  # flat patches 1 are drawn again
    # the generator's output, pinned: if this changes, bump GENERATOR_VERSION (record keys)
    assert P.GENERATOR_VERSION == 1 and ps.content_digest() == PHOTOS_V1


PHOTOS_V1 = "dfae50f9e3ee48f7"  # photo_pairs("test", 200, seed=0) at GENERATOR_VERSION 1


def test_stereo_and_warped_pairs_keep_their_output():
    # pinned like the photographs: if these change, bump GENERATOR_VERSION (record keys)
    assert ST.stereo_pairs("test", 200, seed=0).content_digest() == "f888c0419ab2c21e"
    assert PH.warped_pairs("test", 200, seed=0).content_digest() == "fa7dba52284b6130"


def test_mixed_pairs_are_half_stereo_half_photos_and_scored_per_half():
    from wpcore.tasks import patches as T

    m = P.load_pairs("mixed", "test", 40, seed=0)
    assert m.parts == {"stereo": (0, 20), "photos": (20, 40)} and len(m) == 40
    assert torch.equal(m.pairs[:20], ST.stereo_pairs("test", 20, 0).pairs)
    scores = np.where(m.labels.numpy() > 0, 1.0, 0.0)
    scores[20:] = -scores[20:]  # perfect on the stereo half, inverted on the photographs half
    got = T.part_metrics(scores, m)
    assert got["fpr95_stereo"] == 0 and got["fpr95_photos"] == 100


# --- preprocessing, augmentation, batches ------------------------------------------------------------

def test_normalize_is_per_patch_mean_over_256():
    x = torch.randint(0, 256, (3, 2, 8, 8), dtype=torch.uint8)
    n = PS.normalize(x)
    assert torch.allclose(n.mean(dim=(2, 3)), torch.zeros(3, 2), atol=1e-6)
    assert torch.allclose(n * 256, x.float() - x.float().mean(dim=(2, 3), keepdim=True), atol=1e-4)


def test_augmentation_transforms_both_patches_alike():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(64, 1, 8, 8)
    x = torch.cat([a, 2 * a], 1)              # patch 2 = 2 x patch 1
    y = PS.augment_pairs(x, g)
    swapped = torch.tensor([torch.allclose(y[i, 0], 2 * y[i, 1]) for i in range(64)])
    kept = torch.tensor([torch.allclose(y[i, 1], 2 * y[i, 0]) for i in range(64)])
    assert (swapped | kept).all() and swapped.any() and kept.any()
    # the transform is one of the 6 of train.lua, applied to patch 1
    for i in range(64):
        p = y[i, 0] if kept[i] else y[i, 1]  # the undoubled patch
        assert any(torch.equal(p, PS._transform(a[i, 0], k)) for k in range(6))


def test_balanced_loader(stereo):
    loader = PS.PairLoader(stereo, 32, True, augment=True, balanced=True)
    assert len(loader) == 300 // 16
    for x, y in loader:
        assert x.shape == (32, 2, 64, 64) and y.sum() == 0 and x.dtype == torch.float32
