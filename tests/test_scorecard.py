"""The scorecard collects every claim the chapters show: tested on the smoke book."""
import re

import pytest

from wpcore import book, scorecard
from wpcore.present.verdicts import slug
from wpcore.studies.claim import Kind

from .conftest import needs_fmnist

pytestmark = [pytest.mark.slow, needs_fmnist]


def test_the_scorecard_claims_are_the_union_of_the_chapters_claims(built_book, monkeypatch):
    """Each chapter page marks every claim it shows with an anchor (present.verdicts.show_verdicts);
    the scorecard, computed from the same records, must hold exactly those claims. (The
    attention-distance check was dropped from the scorecard when its input lived in a notebook.)"""
    monkeypatch.setenv("WPCORE_RUNS", str(built_book.parent.parent / "runs"))
    shown = set()
    for name in book.toc_chapters():
        if name == "scorecard":
            continue
        shown |= set(re.findall(r'id="(claim-[a-z0-9-]+)"', (built_book / "chapters" / f"{name}.html").read_text()))
    claims, _ = scorecard.collect("smoke")
    collected = {slug(c) for c in claims if c.kind is Kind.CLAIM}
    assert collected == shown and len(collected) >= 15
    checks = [c for c in claims if c.kind is Kind.CHECK]
    assert any("attention maps closer" in c.claim for c in checks)  # read from the records now


def test_every_chapter_checks_its_baseline_on_the_same_seeds_at_standard():
    """One rule for every check, not a third seed only where two had failed (2026-12-08)."""
    from wpcore.studies import convergence

    mods = scorecard.study_modules()
    assert len(mods) == 5
    for m in mods:
        runs = m.convergence("standard")
        assert 2 in runs, m.CHAPTER
        for mult, es in runs.items():
            assert tuple(e.seed for e in es) == convergence.STANDARD_SEEDS == (0, 1, 2), (m.CHAPTER, mult)


def test_power_table_sets_each_decided_or_undecided_claim_beside_the_thesis():
    from wpcore.present import scorecard as card
    from wpcore.studies import verdict as v
    from wpcore.studies.claim import Claim

    def claim(ev_verdict, text):
        verdict, ev = ev_verdict
        return Claim("patches", text, "t", "o", verdict, ev)

    held = claim(v.difference([1.0, 1.2, 1.1], [2.0, 2.1, 1.9], "points", thesis_effect=-3.0), "A beats B.")
    open_ = claim(v.difference([1.0, 3.0, 2.0], [2.0, 2.5, 1.5], "points"), "C beats D.")
    one = claim(v.difference([3.0], [2.0], "points"), "E beats F.")  # one seed: no spread, no MDE, no row
    out = card.power_html([held, open_, one])
    rows = re.findall(r"<tr><td>.*?</tr>", out)
    assert len(rows) == 2 and "E beats F." not in out
    cells = re.findall(r"<td>(.*?)</td>", rows[0])
    assert cells[1] == "-0.90" and cells[3] == f"{held.evidence.mde:.2f}" and cells[4] == "-3.00"
    assert "—" == re.findall(r"<td>(.*?)</td>", rows[1])[4]  # no thesis difference for C vs D
    assert out.count('class="wp-chapter-row"') == 1  # one chapter, one heading row
