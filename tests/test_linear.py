"""The linear floor of the classifier chapters: a logistic regression on a network's own images."""
import dataclasses

from tests.conftest import needs_fmnist
from wpcore.present.convergence import floor_sentence
from wpcore.studies import diracnets, linear, wide_resnets
from wpcore.studies.linear import LinearFloor


@needs_fmnist
def test_the_floor_is_fitted_on_the_baselines_own_images_and_learns():
    base = wide_resnets.convergence("smoke")[1][0]
    floor = linear.linear_floor(base)
    assert (floor.n_train, floor.shape) == (base.train_subset, (1, 28, 28))
    assert floor.error < 60  # ten classes: chance is 90%
    assert linear.linear_floor(base) == floor  # no randomness: the page's number is the same on every build
    fewer = linear.linear_floor(dataclasses.replace(base, train_subset=32))
    assert fewer.n_train == 32 and fewer.error > floor.error  # four times fewer images: a worse floor


@needs_fmnist
def test_each_profile_fits_the_data_of_its_own_check():
    floor = linear.baseline_floor(diracnets, "smoke")
    assert (floor.n_train, floor.n_test, floor.shape) == (128, 100, (1, 14, 14))
    assert linear.baseline_floor(diracnets, "quick") is None  # quick checks no convergence: nothing to set it by


def test_cifar_sized_data_is_not_fitted_at_page_build():
    assert linear.too_large(50_000, (3, 32, 32))
    assert not linear.too_large(60_000, (1, 28, 28))


def test_the_sentence_says_which_side_of_the_floor_the_baseline_is():
    floor = LinearFloor(18.18, 10_000, 10_000, (1, 14, 14))
    above = floor_sentence(floor, [12.0, 13.0], "wrn-16-2")
    assert "18.18%" in above and "12.50%" in above and "5.68 points fewer" in above and "2 seeds" in above
    below = floor_sentence(floor, [20.0], "wrn-16-2")
    assert "1.82 points more" in below and "have not learned more than a linear model" in below
    assert floor_sentence(None, [12.0], "wrn-16-2") == "" and floor_sentence(floor, [], "wrn-16-2") == ""
