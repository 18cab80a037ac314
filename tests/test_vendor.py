"""The pages' JavaScript ships with the repository (``book/_vendor``): the build copies it and
never calls npm, and every file the pages and those scripts load is there, with its licence."""
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from wpcore import book

ROOT = Path(__file__).resolve().parent.parent
VENDOR = ROOT / book.VENDOR_FOLDER
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
_which = shutil.which


def test_vendor_copies_the_committed_files_without_npm_or_network(tmp_path, monkeypatch):
    """A reader's machine without Node.js: no npm on PATH, and any attempt to start a program fails."""
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setattr(shutil, "which", lambda *a, **k: None)

    def no_program(*args, **kw):
        raise AssertionError(f"vendor() started a program: {args[0] if args else kw}")

    monkeypatch.setattr(subprocess, "run", no_program)
    monkeypatch.setattr(subprocess, "Popen", no_program)
    out = book.vendor(tmp_path / "_build")
    assert out == tmp_path / "_build" / "vendor"
    shipped = {p.relative_to(VENDOR) for p in VENDOR.rglob("*")
               if p.is_file() and p.suffix != ".md" and p.name != "refresh.py"}
    copied = {p.relative_to(out) for p in out.rglob("*") if p.is_file()}
    assert copied == shipped
    for rel in copied:
        assert (out / rel).read_bytes() == (VENDOR / rel).read_bytes(), rel
    for f in book.VENDOR_ENTRY_FILES:
        assert (out / f).stat().st_size > 10_000, f
    # a second build replaces the copy, and a file removed from the repository does not linger
    (out / "stale.js").write_text("old")
    assert not (book.vendor(tmp_path / "_build") / "stale.js").exists()


def test_the_build_module_never_calls_npm():
    assert "npm" not in (ROOT / "wpcore" / "book.py").read_text()


def test_an_incomplete_vendor_folder_fails_with_a_clear_message(tmp_path):
    (tmp_path / book.VENDOR_FOLDER).mkdir(parents=True)
    try:
        book.vendor(tmp_path / "_build", root=tmp_path)
    except book.ChapterFailed as e:
        assert "requirejs/require.js" in str(e) and "README.md" in str(e)
    else:
        raise AssertionError("an empty book/_vendor was accepted")


def test_every_file_the_pages_load_is_vendored():
    """_config.yml makes the pages load require.js, the widget manager and MathJax from
    ``_static/offline/``; each exists here, and it is the list ``vendor()`` checks."""
    cfg = yaml.safe_load((ROOT / "_config.yml").read_text())["sphinx"]["config"]
    assert cfg["html_static_path"] == ["_vendor_static"]
    loaded = [cfg["mathjax_path"], *cfg["nb_ipywidgets_js"]]
    vendored = {p.removeprefix("offline/") for p in loaded if p.startswith("offline/")}
    assert vendored == set(book.VENDOR_ENTRY_FILES)
    for rel in vendored:
        assert (VENDOR / rel).is_file(), rel
    # ours, served next to them: require.js's path for the widget manager's fonts
    assert [p for p in loaded if not p.startswith("offline/")] == ["wpbook-widgets.js"]
    assert list(cfg["nb_ipywidgets_js"]) == ["offline/requirejs/require.js", "wpbook-widgets.js",
                                             "offline/html-manager/embed-amd.js"]
    assert (ROOT / "book" / "wpbook-widgets.js").is_file()


def test_every_font_the_scripts_load_is_vendored():
    """MathJax's CommonHTML output loads its woff fonts from ``output/chtml/fonts/woff-v2`` next to
    ``tex-chtml.js``; the widget manager's CSS loads Font Awesome's woff2 fonts from its own folder."""
    mathjax = (VENDOR / "mathjax" / "tex-chtml.js").read_text()
    assert 'resolvePath("output/chtml/fonts/woff-v2"' in mathjax
    fonts = set(re.findall(r"MathJax_[\w-]+\.woff\b", mathjax))
    assert len(fonts) >= 20
    woff = VENDOR / "mathjax" / "output" / "chtml" / "fonts" / "woff-v2"
    assert fonts == {p.name for p in woff.iterdir()}
    widgets = (VENDOR / "html-manager" / "embed-amd.js").read_text()
    woff2 = set(re.findall(r"\b[0-9a-f]{20}\.woff2\b", widgets))
    assert len(woff2) == 3
    assert woff2 == {p.name for p in (VENDOR / "html-manager").glob("*.woff2")}


def test_each_package_ships_its_licence_and_the_readme_names_its_version():
    readme = (VENDOR / "README.md").read_text()
    for folder in ("html-manager", "requirejs", "mathjax"):
        assert (VENDOR / folder / "LICENSE").stat().st_size > 1000, folder
    assert (VENDOR / "html-manager" / "font-awesome" / "LICENSE.txt").exists()
    refresh = (VENDOR / "refresh.py").read_text()
    for name, version in re.findall(r'"([@\w/-]+)": "([\d.]+)"', refresh.split("PACKAGES =", 1)[1].split("\n", 1)[0]):
        assert f"`{name}` {version}" in readme and f"{name}@{version}" in readme, name
    assert "python book/_vendor/refresh.py" in readme


def test_the_vendored_folder_stays_small():
    size = sum(p.stat().st_size for p in VENDOR.rglob("*") if p.is_file())
    assert size < 7_000_000, f"book/_vendor is {size / 1e6:.1f} MB"  # 5.4 MB for the pages, 0.8 MB Vega
    assert not list(VENDOR.rglob("*.map"))


def _tiny_book(tmp_path: Path) -> Path:
    """A one-page book built by ``book.build`` from this repository's configuration: a widget
    (its saved state makes the page load require.js and the widget manager) and some math."""
    root = tmp_path / "proj"
    (root / "chapters").mkdir(parents=True)
    shutil.copytree(ROOT / "book", root / "book")
    shutil.copy(ROOT / "_config.yml", root / "_config.yml")
    (root / "_toc.yml").write_text("format: jb-book\nroot: book/intro\nchapters:\n  - file: chapters/widget\n")
    (root / "book" / "intro.md").write_text("# Intro\n\nMath: $\\sum_i \\alpha_i \\mathcal{L}$.\n")
    # no description: html-manager 1.x typesets one with MathJax 2's MathJax.Hub, absent from the
    # MathJax 3 the book uses, and the page throws (upstream, jupyter-widgets/ipywidgets#3829)
    (root / "chapters" / "widget.py").write_text(
        '# %% tags=["parameters"]\nprofile = "quick"\nlive_widgets = True\n\n'
        "# %% [markdown]\n# # Widget\n#\n# $$\\lVert W \\rVert_2 = \\frac{a}{b}$$\n\n"
        "# %%\nimport ipywidgets as W\nW.IntSlider(value=3)\n")
    return book.build("smoke", root=root, build_dir=tmp_path / "_build")


@pytest.mark.slow
def test_a_page_with_a_widget_and_math_loads_only_vendored_files(tmp_path, monkeypatch):
    """The smoke book has no widget (its pages are static), so a tiny one checks the widget
    wiring: the page names require.js, the widget manager and MathJax under _static/offline/,
    each file exists, and in Chromium (when installed) the widget renders and the math is
    typeset with no request leaving the book and none unanswered (the widget manager's fonts
    included, which require.js looked for next to the page until wpbook-widgets.js)."""
    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: None if name == "npm" else _which(name, *a, **k))
    html = _tiny_book(tmp_path)
    page = html / "chapters" / "widget.html"
    text = page.read_text()
    assert "application/vnd.jupyter.widget-state+json" in text
    order = [text.index(f"_static/{f}?") for f in ("offline/requirejs/require.js", "wpbook-widgets.js",
                                                   "offline/html-manager/embed-amd.js", )]
    assert order == sorted(order), "require.js, its paths, then the widget manager"
    assert "_static/offline/mathjax/tex-chtml.js" in text
    for ref in re.findall(r'<script[^>]+src="([^"]+)"', text):
        if "://" not in ref:
            assert (page.parent / ref.split("?")[0]).resolve().is_file(), ref
    assert not (html / "book" / "_vendor").exists()
    if not Path(CHROMIUM).exists():
        return
    import functools
    import http.server
    import threading

    from playwright.sync_api import sync_playwright

    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(html))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    server = f"http://127.0.0.1:{httpd.server_address[1]}"
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
            tab = browser.new_page()
            problems = []
            tab.on("pageerror", lambda e: problems.append(str(e)))
            tab.on("response", lambda r: problems.append(f"HTTP {r.status} for {r.url}") if r.status >= 400 else None)
            tab.on("request", lambda r: problems.append(f"outside the book: {r.url}")
                   if not r.url.startswith(server) and not r.url.startswith("data:") else None)
            tab.goto(f"{server}/chapters/widget.html", wait_until="networkidle")
            tab.wait_for_selector(".jupyter-widgets", timeout=15000)
            tab.wait_for_selector("mjx-container", timeout=15000)
            tab.wait_for_timeout(500)
            browser.close()
    finally:
        httpd.shutdown()
    assert not problems, problems
