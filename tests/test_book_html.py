"""The built book read as a reader would (issue 19): no stray output, math typeset, one progress
block per page, every citation resolved and every bibliography entry cited, the numbers a page's
prose and verdicts state equal to those in its tables, the scorecard's links landing on their
claims.

These run on the smoke book that ``tests/conftest.py`` builds once per session, and read its HTML
with BeautifulSoup (a dependency of the book's theme).
"""
import re
from pathlib import Path

import pytest

from wpcore import book

from .conftest import needs_fmnist

pytestmark = [pytest.mark.slow, needs_fmnist]
ROOT = Path(__file__).resolve().parent.parent


def soup(path: Path):
    from bs4 import BeautifulSoup

    return BeautifulSoup(path.read_text(), "html.parser")


def article(page):
    """The page's article, without code, math, scripts and styles: what a reader reads as prose."""
    main = page.find("article") or page
    for tag in main.find_all(["script", "style", "pre", "code", "mjx-container"]):
        tag.decompose()
    for tag in main.find_all(class_=["math", "highlight", "cell_input"]):
        tag.decompose()
    return main


def pages(html: Path) -> list[Path]:
    return [html / "chapters" / f"{n}.html" for n in book.toc_chapters()] + sorted((html / "book").glob("*.html"))


def outputs(page) -> list:
    return page.find_all(class_="cell_output")


def test_no_stray_python_reprs_in_outputs(built_book):
    """A cell whose last line returns a matplotlib object prints its repr (``Text(583.97, 0.5, ...)``,
    ``<matplotlib.legend.Legend at 0x...>``) above the figure."""
    for path in pages(built_book):
        for out in outputs(soup(path)):
            text = out.get_text()
            assert not re.search(r"\b(Text|Line2D|Legend)\(", text), f"{path.name}: stray repr {text[:120]!r}"
            assert "<matplotlib" not in text and "<Figure size" not in text, f"{path.name}: stray repr {text[:120]!r}"


def test_no_unrendered_math(built_book):
    """``$b/a$`` in a Markdown *output* is not typeset (only Markdown cells are): it reaches the
    reader as dollar signs."""
    for path in pages(built_book):
        text = article(soup(path)).get_text(" ")
        bad = re.findall(r"\$[^$\s][^$\n]{0,60}?\$", text)
        assert not bad, f"{path.name}: unrendered math {bad[:3]}"


def test_at_most_one_progress_block_per_page(built_book):
    for path in pages(built_book):
        blocks = soup(path).find_all(class_="wp-progress")
        assert len(blocks) <= 1, f"{path.name}: {len(blocks)} progress blocks"


def test_every_chapter_that_trains_folds_its_progress_into_one_summary(built_book):
    for name in book.toc_chapters():
        if name == "scorecard":
            continue
        blocks = soup(built_book / "chapters" / f"{name}.html").find_all(class_="wp-progress")
        assert len(blocks) == 1 and blocks[0].find("details"), name
        assert "starting" not in blocks[0].get_text(), f"{name}: a stale 'starting' line"


def test_every_citation_resolves_and_every_entry_is_cited(built_book):
    from bs4 import BeautifulSoup

    refs = BeautifulSoup((built_book / "book" / "references.html").read_text(), "html.parser")
    entries = refs.find_all(attrs={"role": "doc-biblioentry"}) or refs.select("div.citation")
    keys = set(re.findall(r"^@\w+\{([^,]+),", (ROOT / "book" / "references.bib").read_text(), re.MULTILINE))
    assert len(entries) == len(keys), f"references page lists {len(entries)} entries, the .bib has {len(keys)}"
    for path in pages(built_book):
        text = path.read_text()
        assert "could not find bibtex key" not in text
        for a in soup(path).select("span.xref, a.reference.internal"):
            assert not re.fullmatch(r"\[\]|\[\?\]", a.get_text().strip()), f"{path.name}: unresolved citation"


def test_cited_keys_and_bibliography_agree():
    """Source level: every {cite} key used is in references.bib, and every entry there is cited."""
    keys = set(re.findall(r"^@\w+\{([^,]+),", (ROOT / "book" / "references.bib").read_text(), re.MULTILINE))
    cited = set()
    for f in [*ROOT.glob("chapters/*.py"), *ROOT.glob("book/*.md")]:
        for group in re.findall(r"\{cite(?::\w+)?\}`([^`]+)`", f.read_text()):
            cited |= {k.strip() for k in group.split(",")}
    assert cited - keys == set(), f"cited but not in references.bib: {sorted(cited - keys)}"
    assert keys - cited == set(), f"in references.bib but never cited: {sorted(keys - cited)}"


def test_scorecard_links_land_on_their_claims(built_book):
    """Every claim and check of the scorecard links to an anchor that exists on its chapter page."""
    page = soup(built_book / "chapters" / "scorecard.html")
    links = [a["href"] for a in page.select("table.wp-claims a[href*='#']")]
    assert any("#claim-" in h for h in links), "the scorecard links no claim"
    for href in links:
        target, anchor = href.split("#")
        path = (built_book / "chapters" / target).resolve()
        assert path.exists(), href
        assert soup(path).find(id=anchor) is not None, f"{href}: no such anchor"


def test_scorecard_is_coloured_by_verdict_and_lists_checks_apart(built_book):
    page = soup(built_book / "chapters" / "scorecard.html")
    assert page.select("table.wp-dashboard") and page.select(".wp-verdict")
    text = page.get_text(" ")
    assert "Checks" in text and "convergence check" in text and "decided by chance" in text
    assert re.search(r"Built from the .smoke. profile.s records: \d+ runs, code wpcore", text)
    headings = [h.get_text(" ").strip().rstrip("#").strip() for h in page.select("h2")]  # the page's contents
    assert {"Claim by claim", "Effect sizes and power", "Checks", "If the baselines had trained longer"} <= set(headings)


def test_introduction_shows_the_headline_results_and_the_source(built_book):
    intro = soup(built_book / "book" / "intro.html")
    assert intro.select("table.wp-dashboard"), "no scorecard summary on the introduction"
    assert intro.find("img", alt="verdicts per chapter"), "no headline figure on the introduction"
    assert "<this repository>" not in intro.get_text()
    link = intro.find("a", href=re.compile(r"wpcore-source\.tar\.gz$"))
    assert link is not None and (built_book / "book" / link["href"]).resolve().exists()

def test_launch_configuration_is_complete_or_absent():
    """A Binder launch button needs a hub and a repository; the template had neither."""
    import yaml

    cfg = yaml.safe_load((ROOT / "_config.yml").read_text())
    if "launch_buttons" in cfg:
        assert cfg["launch_buttons"].get("binderhub_url") and cfg.get("repository", {}).get("url")


def test_faults_page_is_in_the_appendix(built_book):
    nav = soup(built_book / "book" / "intro.html").find(class_="bd-sidebar-primary") \
        or soup(built_book / "book" / "intro.html")
    text = nav.get_text("|")
    assert text.index("Appendix") < text.index("Faults and bad inputs")


def test_every_file_a_page_loads_is_in_the_book(built_book):
    """Every script, stylesheet and icon a page names is a file of the built HTML, and a page with
    math loads the vendored MathJax (a page with a widget, the vendored widget manager: there is
    none at smoke, tests/test_vendor.py builds one)."""
    from urllib.parse import urlsplit

    for path in [built_book / "index.html", *pages(built_book)]:
        page = soup(path)
        loaded = set()
        refs = [t["src"] for t in page.find_all("script", src=True)] + \
               [t["href"] for t in page.find_all("link", href=True) if {"stylesheet", "icon", "preload"} & set(t.get("rel", []))]
        for ref in refs:
            url = urlsplit(ref)
            assert not url.scheme and not url.netloc, f"{path.name}: {ref} is outside the book"
            target = (path.parent / url.path).resolve()
            assert target.is_file(), f"{path.name}: {ref} is not in the book"
            loaded.add(target.relative_to(built_book.resolve()).as_posix())
        if page.select("div.math, span.math"):
            assert "_static/offline/mathjax/tex-chtml.js" in loaded, f"{path.name}: math without the vendored MathJax"
        if page.find("script", type="application/vnd.jupyter.widget-state+json"):
            for f in ("requirejs/require.js", "html-manager/embed-amd.js"):
                assert f"_static/offline/{f}" in loaded, f"{path.name}: a widget without the vendored {f}"
    assert not (built_book / "book" / "_vendor").exists()
