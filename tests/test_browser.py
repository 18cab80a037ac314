"""Open every page of the built book in headless Chromium, as a reader would, with no kernel and
no internet: no JavaScript errors, every image loaded, widgets rendered, math typeset. A screenshot
of each page is saved to ``_build/screenshots/`` (the CI artifact)."""
import shutil
from pathlib import Path

import pytest

from .conftest import needs_fmnist

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = [pytest.mark.slow, needs_fmnist,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium not installed")]
SHOTS = Path(__file__).resolve().parent.parent / "_build" / "screenshots"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def server(book_url):
    return book_url


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def pages(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*.html")
                  if p.parent.name in ("chapters", "book") or p.name == "index.html")


def test_every_page_renders_offline_without_errors(built_book, server, browser):
    SHOTS.mkdir(parents=True, exist_ok=True)
    checked = []
    for rel in pages(built_book):
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        errors, external = [], []
        page.on("console", lambda m, errors=errors: errors.append(f"{m.text} ({m.location.get('url')})")
                if m.type == "error" else None)
        page.on("pageerror", lambda e, errors=errors: errors.append(str(e)))
        page.on("response", lambda r, errors=errors: errors.append(f"HTTP {r.status} for {r.url}")
                if r.status >= 400 else None)
        page.on("request", lambda r, external=external: external.append(r.url)
                if not r.url.startswith(server) and not r.url.startswith("data:") else None)
        page.goto(f"{server}/{rel}", wait_until="networkidle")
        page.wait_for_timeout(300)
        broken = page.evaluate("Array.from(document.images).filter(i => !i.complete || i.naturalWidth === 0)"
                               ".map(i => i.src)")
        assert not broken, f"{rel}: images that did not load: {broken}"
        assert not errors, f"{rel}: JavaScript errors: {errors}"
        assert not external, f"{rel}: requests outside the book (the page must work offline): {external}"
        if page.locator("script[type='application/vnd.jupyter.widget-view+json']").count():
            assert page.locator(".jupyter-widgets").count() > 0, f"{rel}: widgets did not render"
        if page.locator("div.math, span.math").count():
            page.wait_for_selector("mjx-container", timeout=10000)
        page.screenshot(path=str(SHOTS / (rel.replace("/", "__").replace(".html", ".png"))), full_page=True)
        checked.append(rel)
        page.close()
    assert "chapters/wide_resnets.html" in checked and "book/intro.html" in checked


def test_a_scorecard_claim_opens_its_section_and_a_progress_summary_unfolds(built_book, server, browser):
    """A reader clicks a claim on the scorecard and lands on that claim in its chapter, with the
    claim's verdict in view; the folded training summary of a chapter opens on a click."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(f"{server}/chapters/scorecard.html", wait_until="networkidle")
    link = page.locator("table.wp-claims a[href*='#claim-']").first
    href = link.get_attribute("href")
    link.click()
    page.wait_for_load_state("networkidle")
    anchor = href.split("#", 1)[1]
    assert page.url.endswith(f"#{anchor}")
    assert page.locator(f"[id='{anchor}']").count() == 1
    top = page.evaluate("a => document.getElementById(a).getBoundingClientRect().top", anchor)
    assert 0 <= top < 900, f"the claim {anchor} is not in view after the click (top {top})"
    page.goto(f"{server}/chapters/patches.html", wait_until="networkidle")
    summary = page.locator(".wp-progress details")
    assert summary.count() == 1 and not summary.locator("table").is_visible()
    summary.locator("summary").click()
    assert summary.locator("table").is_visible()
    page.close()
