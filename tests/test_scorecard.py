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
