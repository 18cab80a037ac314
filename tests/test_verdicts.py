"""The verdict rules (wpcore.studies.verdict, over the types of studies.claim) and their words
(wpcore.present.verdicts)."""
import random
from statistics import mean

import pytest

from wpcore.present import verdicts as words
from wpcore.studies import stats
from wpcore.studies import verdict as v
from wpcore.studies.claim import Better, Claim, Kind, Margin, Rule, Verdict

TEN = Margin("test margin", absolute=1.0)


def claim(result, kind=Kind.CLAIM):
    return Claim("ch", "A is better than B.", "thesis", "ours", *result, kind=kind)


def test_difference_uses_the_t_interval_and_states_direction():
    verdict, ev = v.difference([1.0, 1.2, 1.1], [2.0, 2.1, 1.9], "points")
    assert verdict is Verdict.HOLDS and ev.agrees and ev.lo < ev.diff < ev.hi < 0
    assert ev.df == pytest.approx(4.0) and (ev.hi - ev.lo) / 2 == pytest.approx(2.776 * ev.se, rel=1e-3)
    assert v.difference([2.0, 2.1, 1.9], [1.0, 1.2, 1.1], "points")[0] is Verdict.FAILS
    assert v.difference([1.0, 3.0, 2.0], [2.0, 2.5, 1.5], "points")[0] is Verdict.INCONCLUSIVE
    # higher is better (AP)
    assert v.difference([30.0, 31.0, 30.5], [20.0, 21.0, 20.5], "AP", Better.HIGHER)[0] is Verdict.HOLDS
    # one seed: no statistics, but the direction is always stated
    verdict, ev = v.difference([1.0], [2.0], "points")
    assert verdict is Verdict.INDICATIVE and ev.agrees is True
    assert v.difference([3.0], [2.0], "points")[1].agrees is False
    assert v.difference([], [2.0], "points")[0] is Verdict.NOT_MEASURED


def test_a_fixed_reference_is_a_one_sample_test():
    verdict, ev = v.difference([5.0, 5.2, 4.8], 30.0, "points")
    assert verdict is Verdict.HOLDS and ev.n == (3, 0) and ev.df == 2


def test_no_significant_difference_is_not_equivalence():
    """The old rule turned "inconclusive" into "holds (as accurate)"; with 3 seeds a network one
    s.d. worse then "held" most of the time. Non-inferiority and equivalence need the whole
    interval inside the margin."""
    a, b = [10.0, 12.0, 11.0], [10.5, 10.0, 11.5]        # similar means, wide spread
    assert v.difference(a, b, "points")[0] is Verdict.INCONCLUSIVE
    assert v.non_inferiority(a, b, TEN, "points")[0] is Verdict.NOT_SHOWN
    assert v.equivalence(a, b, TEN, "points")[0] is Verdict.NOT_SHOWN
    tight_a, tight_b = [10.0, 10.1, 10.05], [10.02, 10.08, 10.0]
    assert v.non_inferiority(tight_a, tight_b, TEN, "points")[0] is Verdict.HOLDS
    assert v.equivalence(tight_a, tight_b, TEN, "points")[0] is Verdict.HOLDS
    assert v.non_inferiority([13.0, 13.1, 13.2], tight_b, TEN, "points")[0] is Verdict.FAILS
    assert v.equivalence([7.0, 7.1, 7.2], tight_b, TEN, "points")[0] is Verdict.FAILS
    # better than the reference by far: "at most 1 point worse" holds, "equivalent" does not
    assert v.non_inferiority([5.0, 5.1, 5.2], tight_b, TEN, "points")[0] is Verdict.HOLDS
    assert v.equivalence([5.0, 5.1, 5.2], tight_b, TEN, "points")[0] is Verdict.FAILS


def test_a_gap_inside_the_margin_with_a_huge_spread_does_not_hold():
    """The old DiracNet rule said "holds" for a gap of 0.9 ± 3 under a 1-point margin."""
    a = [7.0, 10.9, 14.8]
    b = [10.0, 10.0, 10.0]
    assert mean(a) - mean(b) == pytest.approx(0.9)
    assert v.non_inferiority(a, b, TEN, "points")[0] is Verdict.NOT_SHOWN


def test_non_inferiority_error_rate_at_the_margin_is_at_most_5_percent():
    """Simulated: when a is exactly ``margin`` worse, "holds" must come out at most 2.5% + noise."""
    rng = random.Random(0)
    holds = 0
    for _ in range(2000):
        a = [1.0 + rng.gauss(0, 1) for _ in range(3)]
        b = [rng.gauss(0, 1) for _ in range(3)]
        holds += v.non_inferiority(a, b, TEN, "points")[0] is Verdict.HOLDS
    assert holds / 2000 < 0.04


def test_relative_margin_scales_with_the_reference():
    m = Margin("5% of the reference", relative=0.05)
    assert m.value(8.0) == pytest.approx(0.4) and m.value(20.0) == pytest.approx(1.0)
    _, ev = v.non_inferiority([8.1, 8.2, 8.0], [8.0, 8.1, 7.9], m, "points")
    assert ev.margin == pytest.approx(0.4)


def test_tolerance_paired_and_check():
    assert v.tolerance([4.8, 4.7, 4.75], 4.75, Margin("r", relative=0.1), "points")[0] is Verdict.HOLDS
    assert v.tolerance([6.0, 6.1, 6.2], 4.75, Margin("r", relative=0.1), "points")[0] is Verdict.FAILS
    assert v.tolerance([4.8], 4.75, Margin("r", relative=0.1), "points")[0] is Verdict.INDICATIVE
    assert v.paired([-1.0, -1.1, -0.9, -1.0], "points")[0] is Verdict.HOLDS
    assert v.paired([-1.0, 1.1, -0.9, 1.0], "points")[0] is Verdict.INCONCLUSIVE
    assert v.check(1e-6, 1e-4, "rel")[0] is Verdict.HOLDS and v.check(1e-2, 1e-4, "rel")[0] is Verdict.FAILS


def test_all_of_holds_only_when_every_comparison_holds():
    ok = v.difference([1.0, 1.1, 1.2], [2.0, 2.1, 2.2], "p")
    unsure = v.difference([1.0, 2.1, 1.2], [2.0, 1.1, 2.2], "p")
    bad = v.difference([3.0, 3.1, 3.2], [2.0, 2.1, 2.2], "p")
    assert v.all_of({"x": ok, "y": ok})[0] is Verdict.HOLDS
    verdict, ev = v.all_of({"x": ok, "y": unsure})
    assert verdict is Verdict.INCONCLUSIVE and "y" in ev.note
    assert v.all_of({"x": ok, "y": bad})[0] is Verdict.FAILS


def test_every_rule_explains_itself_in_its_own_words():
    """The old page printed "larger than twice its standard error" next to every verdict."""
    diff = words.explain(claim(v.difference([1.0, 1.2, 1.1], [2.0, 2.1, 1.9], "points")))
    assert "interval" in diff and "side of zero" in diff and "margin" not in diff
    ni = words.explain(claim(v.non_inferiority([10.0, 12.0, 11.0], [10.5, 10.0, 11.5], TEN, "points")))
    assert "not shown" in ni and "margin of 1.00 points" in ni and "side of zero" not in ni
    eq = words.explain(claim(v.equivalence([10.0, 10.1, 10.05], [10.02, 10.08, 10.0], TEN, "points")))
    assert "within ±1.00 points" in eq and "test margin" in eq
    one = claim(v.difference([3.0], [2.0], "points"))
    assert words.label(one) == "one seed; goes against the thesis" and "hint" in words.explain(one)
    chk = claim(v.check(1e-6, 1e-4, "rel"), kind=Kind.CHECK)
    assert words.label(chk) == "check passes" and "is within the tolerance" in words.explain(chk)
    inconclusive = claim(v.difference([1.0, 3.0, 2.0], [2.0, 2.5, 1.5], "points", thesis_effect=-0.5))
    assert "detected 80% of the time" in words.explain(inconclusive) and "-0.50" in words.explain(inconclusive)
    assert "exclude the thesis's difference" not in words.explain(inconclusive)  # -0.5 lies inside the interval
    small = claim(v.difference([2.0, 2.2, 2.1], [2.1, 2.3, 2.2], "points", thesis_effect=-1.5))  # interval about ±0.26
    assert "exclude the thesis's difference of -1.50" in words.explain(small)
    assert "smaller than that" not in words.explain(small)  # -1.5 is beyond the MDE: these seeds could see it
    weak = claim(v.difference([2.0, 2.4, 2.2], [2.1, 2.5, 2.3], "points", thesis_effect=-0.2))  # MDE about 0.6
    k = stats.seeds_to_detect(weak.evidence.se, weak.evidence.df, -0.2)
    assert f"would take about {k} times these seeds ({3 * k} vs {3 * k})" in words.explain(weak)
    assert stats.mde(weak.evidence.se / k ** 0.5, k * (weak.evidence.df + 2) - 2) <= 0.2 \
        < stats.mde(weak.evidence.se / (k - 1) ** 0.5, (k - 1) * (weak.evidence.df + 2) - 2)
    assert "allows a true difference of at most" not in words.explain(small)  # the thesis's bound says it
    lo = weak.evidence.lo
    assert f"In the claim's direction the interval allows a true difference of at most {-lo:.2f} points." \
        in words.explain(weak)
    higher = claim(v.difference([2.0, 2.4, 2.2], [2.1, 2.5, 2.3], "AP", better=Better.HIGHER))
    assert f"at most {higher.evidence.hi:.2f} AP" in words.explain(higher)
    held = claim(v.difference([1.0, 1.2, 1.1], [2.0, 2.1, 1.9], "points", thesis_effect=-3.0))
    assert held.verdict is Verdict.HOLDS  # a decided claim states its power too, beside the thesis's effect
    assert "detected 80% of the time (the thesis's own difference: -3.00)" in words.explain(held)
    assert {Rule(r.value) for r in Rule} == set(Rule)


def test_against_lists_every_result_that_goes_the_other_way():
    assert claim(v.difference([3.0], [2.0], "points")).against  # one seed, against: still listed
    assert claim(v.difference([2.0, 3.1, 2.2], [2.0, 2.1, 2.2], "points")).against  # inconclusive, against
    assert not claim(v.difference([1.0, 1.1, 1.2], [2.0, 2.1, 2.2], "points")).against


def test_spurious_count_uses_only_statistical_claims():
    cs = [claim(v.difference([1.0, 1.1, 1.2], [2.0, 2.1, 2.2], "p")) for _ in range(10)]
    cs += [claim(v.difference([1.0], [2.0], "p")), claim(v.check(0.0, 1.0, "x"), kind=Kind.CHECK)]
    n, expected, twice = v.spurious_expected(cs)
    assert n == 10 and twice == 0 and expected == pytest.approx(0.5)
    from wpcore.studies.claim import two_stage
    from wpcore.studies.stats import TWO_LOOK_ERROR

    cs[0].ours, cs[0].evidence = two_stage(cs[0].ours, cs[0].evidence)  # seeds judged twice: a higher chance of a spurious verdict
    n, expected, twice = v.spurious_expected(cs)
    assert n == 10 and twice == 1 and expected == pytest.approx(9 * 0.05 + TWO_LOOK_ERROR)
    assert "unlikely (7%)" in words.explain(cs[0]) and "unlikely (5%)" in words.explain(cs[1])


def test_two_look_error_is_what_judging_3_then_6_seeds_gives_where_no_difference_exists():
    """``TWO_LOOK_ERROR`` re-simulated with the verdicts' own interval: two samples of six normal
    values with no difference, judged at 3 vs 3 and, when undecided there, at 6 vs 6."""
    import numpy as np
    from scipy.stats import t as student_t

    from wpcore.studies.stats import LEVEL, TWO_LOOK_ERROR, critical

    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((2, 40_000, 6))

    def decided(k: int) -> np.ndarray:
        va, vb = a[:, :k].var(axis=1, ddof=1) / k, b[:, :k].var(axis=1, ddof=1) / k
        se, df = np.sqrt(va + vb), (va + vb) ** 2 / (va ** 2 / (k - 1) + vb ** 2 / (k - 1))
        t = student_t.ppf(0.5 + LEVEL / 2, df)  # critical(), vectorised
        assert t[0] == pytest.approx(critical(df[0]))
        return np.abs(a[:, :k].mean(axis=1) - b[:, :k].mean(axis=1)) > t * se

    first, both = decided(3), decided(6)
    assert first.mean() < 0.05 - 0.005  # Welch's interval is conservative at 3 vs 3
    assert abs((first | both).mean() - TWO_LOOK_ERROR) < 0.006  # about 3.5 standard errors of 40,000 draws
