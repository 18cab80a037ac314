"""One number, one source (issue 19 item 4): what a page's prose and verdicts say agrees with its
tables. The contradictions seen on the pages were the DiracNets folding speed-up (verdict vs
table), the attention distance (0.0008 ± 0.0000 in the table, 0.84 ± 0.03 x1e-3 in the check),
the MultiPath training time (progress bar vs table) and the patch ranking on the warped photos
(reversed, and never said). Each is checked on the built smoke book.
"""
import re

import pytest

from .conftest import needs_fmnist
from .test_book_html import soup

pytestmark = [pytest.mark.slow, needs_fmnist]
NUM = r"-?\d+(?:\.\d+)?(?: ± \d+(?:\.\d+)?)?"   # a number as mean_spread writes it


def table(page, caption: str) -> list[dict]:
    """The rows of the table whose caption contains ``caption``, as dicts of cell text."""
    for t in page.find_all("table"):
        cap = t.find("caption")
        if cap is not None and caption in cap.get_text():
            head = [th.get_text(" ", strip=True) for th in t.find("thead").find_all("th")]
            return [dict(zip(head, (td.get_text(" ", strip=True) for td in tr.find_all(["td", "th"]))))
                    for tr in t.find("tbody").find_all("tr")]
    raise AssertionError(f"no table captioned {caption!r}")


def runs_summary(page) -> list[dict]:
    block = page.find(class_="wp-progress")
    t = block.find("table")
    head = [th.get_text(" ", strip=True) for th in t.find("thead").find_all("th")]
    return [dict(zip(head, (td.get_text(" ", strip=True) for td in tr.find_all("td")))) for tr in t.find_all("tr")[1:]]


def verdict_text(page, claim_start: str) -> str:
    for el in page.find_all(["p", "li", "div"]):
        text = el.get_text(" ", strip=True)
        if text.startswith(claim_start) or f"Claim. {claim_start}" in text:
            return text
    raise AssertionError(f"no verdict text for {claim_start!r}")


def test_diracnets_fold_saving_in_the_verdict_is_the_tables(built_book):
    page = soup(built_book / "chapters" / "diracnets.html")
    text = page.get_text(" ", strip=True)
    said = re.search(rf"unfolded vs folded, on .+?, right after training: ({NUM})% saved", text)
    assert said, "the verdict no longer states the time saved"
    rows = table(page, "Folded vs unfolded, from the records")
    assert rows[-1]["network"] == "all trained DiracNets"
    assert rows[-1]["time saved (%)"] == said.group(1)


def test_attention_distance_table_and_check_agree(built_book):
    page = soup(built_book / "chapters" / "attention.html")
    text = page.get_text(" ", strip=True)
    said = re.search(rf"x1e-3\): AT students ({NUM}) vs plain students ({NUM})", text)
    assert said, "the check no longer states the distances"
    rows = {r["student"]: r for r in table(page, "Attention distance to")}
    col = next(k for k in next(iter(rows.values())) if k.startswith("AT distance"))
    assert "x1e-3" in col
    assert rows["AT"][col] == said.group(1) and rows["student alone"][col] == said.group(2)


def test_multipath_training_times_are_the_records(built_book):
    page = soup(built_book / "chapters" / "multipath.html")
    summary = {r["run"].rsplit(", seed", 1)[0]: r["training time (s)"] for r in runs_summary(page)}
    for row in table(page, "Ablation"):
        assert row["training time (s)"] == summary[row["variant"]], row["variant"]


def test_patches_ranking_sentence_follows_the_table(built_book):
    """The sentence's orders are the table's (ties in the shown digits may come in either order)."""
    page = soup(built_book / "chapters" / "patches.html")
    rows = {r["run"]: r for r in table(page, "next to the thesis's Brown means") if r["on warped photos (%)"] != "—"}
    text = page.get_text(" ", strip=True)
    same = re.search(r"Both test sets order the runs the same way, best first: (.+?)\.", text)
    if same:
        orders = [same.group(1).split(", ")] * 2
    else:
        assert "The two test sets order the runs differently." in text
        orders = [re.search(r"on the stereo pairs: (.+?);", text).group(1).split(", "),
                  re.search(r"on the warped photos: (.+?)\.", text).group(1).split(", ")]
    for names, col in zip(orders, ("our FPR95 (%)", "on warped photos (%)")):
        assert sorted(names) == sorted(rows)
        values = [float(rows[n][col]) for n in names]
        assert values == sorted(values), f"{col}: the sentence's order {names} is not the table's {values}"
    if not same:
        assert orders[0] != orders[1]
