"""The pages' JavaScript ships with the repository (``book/_vendor``): the build copies it and
never calls npm, and every file the pages and those scripts load is there, with its licence."""
import re
import shutil
import subprocess
from pathlib import Path

import yaml

from wpcore import book

ROOT = Path(__file__).resolve().parent.parent
VENDOR = ROOT / book.VENDOR_FOLDER


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
    shipped = {p.relative_to(VENDOR) for p in VENDOR.rglob("*") if p.is_file()} - {Path("README.md"), Path("refresh.py")}
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
    assert all(p.startswith("offline/") for p in loaded), loaded


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
    assert size < 6_000_000, f"book/_vendor is {size / 1e6:.1f} MB"
    assert not list(VENDOR.rglob("*.map"))

