"""Every chapter executes at the smoke profile, the book builds, and pages hold what they should.

The whole book is built once per test session (smoke profile, fresh records), into a temporary
folder; then each page is checked. The full profile's path is exercised on fixture data.
"""
import dataclasses
import re

import pytest

from wpcore import book, experiment

from . import fixtures
from .conftest import needs_fmnist
from .test_book_html import soup

pytestmark = [pytest.mark.slow, needs_fmnist]


def test_every_toc_chapter_has_a_page(built_book):
    for name in book.toc_chapters():
        page = built_book / "chapters" / f"{name}.html"
        assert page.exists(), name
        text = page.read_text()
        assert "Traceback" not in text


def test_root_redirect_names_the_icon(built_book):
    """Without an icon link the browser asks for /favicon.ico while following the redirect: a 404
    that made the browser test fail now and then."""
    index = (built_book / "index.html").read_text()
    assert 'rel="icon"' in index and "url=book/intro.html" in index
    assert (built_book / "_static" / "favicon.svg").exists()


def test_wide_resnets_page_has_figure_table_and_verdict(built_book):
    text = (built_book / "chapters" / "wide_resnets.html").read_text()
    imgs = re.findall(r'<img[^>]+src="([^"]+\.png)"', text)
    assert imgs, "no figure on the page"
    for src in imgs:
        assert (built_book / "chapters" / src).resolve().exists(), src
    assert "<table" in text and "Thesis vs ours" in text
    assert "Verdict" in text and "Provenance" in text
    assert "wrn-16-1" in text  # the smoke profile's deep-thin network, from the records


def test_failing_chapter_fails_loudly_and_keeps_old_html(tmp_path, monkeypatch):
    root = tmp_path / "proj"
    (root / "chapters").mkdir(parents=True)
    (root / "book").mkdir()
    (root / "book" / "intro.md").write_text("# Intro\n")
    for f in ("_config.yml",):
        (root / f).write_text((book.ROOT / f).read_text())
    (root / "_toc.yml").write_text("format: jb-book\nroot: book/intro\nchapters:\n  - file: chapters/broken\n")
    (root / "chapters" / "broken.py").write_text(
        '# %% tags=["parameters"]\nprofile = "quick"\n\n# %%\nx = 1\n\n# %%\nraise RuntimeError("boom in cell")\n')
    old_html = root / "_build" / "html"
    old_html.mkdir(parents=True)
    (old_html / "index.html").write_text("previous book")
    with pytest.raises(book.ChapterFailed, match=r"chapter broken failed in cell 4 \(`raise RuntimeError.*with RuntimeError: boom in cell"):
        book.build("smoke", root=root)
    assert (old_html / "index.html").read_text() == "previous book"


def test_full_profile_path_runs_two_steps_on_fixture_cifar(tmp_path, monkeypatch):
    """The full profile's CIFAR-10 experiments (WRN-40-4, WRN-16-8, WRN-28-10...) are the thesis recipe
    and run end to end on a CIFAR-10 fixture in the real binary format (2 steps, small batch; the
    other datasets: tests/test_wrn.py)."""
    from wpcore.studies import wide_resnets

    fixtures.install(monkeypatch, tmp_path / "data", "cifar-10")
    exps = [e for e in wide_resnets.experiments("full") if e.dataset == "cifar-10"]
    assert {"wrn-40-4", "wrn-16-8", "wrn-28-10"} <= {e.model for e in exps}
    assert all(e.epochs == 200 and e.batch_size == 128 for e in exps)
    for e in exps[:1]:
        rec = experiment.run(dataclasses.replace(e, batch_size=8, max_steps=2))
        assert rec.final["steps"] == 2 and rec.data["n_train"] == 30
        assert rec.config["dataset"] == "cifar-10"


def test_unchanged_chapter_is_not_executed_again(tmp_path):
    root = tmp_path / "proj"
    (root / "chapters").mkdir(parents=True)
    (root / "wpcore").mkdir()
    (root / "wpcore" / "x.py").write_text("A = 1\n")
    src = root / "chapters" / "ok.py"
    src.write_text('# %% tags=["parameters"]\nprofile = "quick"\n\n# %%\nprint("executed", profile)\n')
    out = book.execute_chapter("ok", "smoke", tmp_path / "nb", root)
    first = out.stat().st_mtime_ns
    assert book.execute_chapter("ok", "smoke", tmp_path / "nb", root).stat().st_mtime_ns == first
    src.write_text(src.read_text() + "\n# %%\nprint('changed')\n")
    assert book.execute_chapter("ok", "smoke", tmp_path / "nb", root).stat().st_mtime_ns != first


def test_a_build_of_one_chapter_keeps_the_others_already_executed(tmp_path):
    """`wpcore book --chapter X` (each page's "rerun this page") once left a book of one page."""
    root = tmp_path / "proj"
    root.mkdir()
    (root / "_toc.yml").write_text("parts:\n- chapters:\n  - file: chapters/a\n  - file: chapters/b\n"
                                   "  - file: chapters/c\n")
    nb = tmp_path / "nb"
    nb.mkdir()
    for n in ("a", "c"):
        (nb / f"{n}.ipynb").write_text("{}")
    assert book.pages_to_stage(["b"], nb, root) == (["a", "b", "c"], ["a", "c"])
    assert book.pages_to_stage(["a", "b", "c"], nb, root) == (["a", "b", "c"], [])
    (nb / "c.ipynb").unlink()
    assert book.pages_to_stage(["b"], nb, root) == (["a", "b"], ["a"])  # never executed: not in the book


def test_a_page_is_executed_again_when_its_records_change(tmp_path, monkeypatch):
    """The scorecard reads records it may not find; when they appear, or one is made again
    (``--force``), the page must be redone."""
    from wpcore import records
    from wpcore.studies import wide_resnets

    monkeypatch.setenv("WPCORE_RUNS", str(tmp_path / "runs"))
    root = tmp_path / "proj"
    (root / "chapters").mkdir(parents=True)
    (root / "wpcore").mkdir()
    (root / "chapters" / "card.py").write_text('# %% tags=["parameters"]\nprofile = "quick"\n\n# %%\nprint(profile)\n')
    first = book.execute_chapter("card", "smoke", tmp_path / "nb", root).stat().st_mtime_ns
    assert book.execute_chapter("card", "smoke", tmp_path / "nb", root).stat().st_mtime_ns == first
    key = wide_resnets.experiments("smoke")[0].key()
    records.write(records.Record(key, {}, [], {}, 0.0, {}, {}, {}, "2026-01-01T00:00:00"))
    second = book.execute_chapter("card", "smoke", tmp_path / "nb", root).stat().st_mtime_ns
    assert second != first
    assert book.execute_chapter("card", "smoke", tmp_path / "nb", root).stat().st_mtime_ns == second
    records.write(records.Record(key, {}, [], {}, 0.0, {}, {}, {}, "2026-01-02T00:00:00"))  # made again
    assert book.execute_chapter("card", "smoke", tmp_path / "nb", root).stat().st_mtime_ns != second


def test_a_page_kernel_gets_its_settings_without_touching_this_process_environment(tmp_path, monkeypatch):
    """The builder used to write WPCORE_CHAPTER, WPCORE_RUNS and more into its own os.environ (and
    os.environ.clear() them afterwards); the kernel now gets them, and the caller's environment stays
    as it was."""
    import json
    import os

    monkeypatch.delenv("WPCORE_RUNS", raising=False)
    root = tmp_path / "proj"
    (root / "chapters").mkdir(parents=True)
    (root / "wpcore").mkdir()
    (root / "chapters" / "env.py").write_text(
        '# %% tags=["parameters"]\nprofile = "quick"\nlive_widgets = True\n\n# %%\nimport json, os\n'
        'print(json.dumps({"runs": os.environ.get("WPCORE_RUNS"), "chapter": os.environ.get("WPCORE_CHAPTER"), '
        '"live": live_widgets, "profile": profile}))\n')
    before = dict(os.environ)
    out = book.execute_chapter("env", "smoke", tmp_path / "nb", root)
    assert dict(os.environ) == before
    import nbformat

    nb = nbformat.read(out, as_version=4)
    seen = json.loads(nb.cells[-1].outputs[0]["text"])
    assert seen == {"runs": str(root / "runs"), "chapter": None, "live": False, "profile": "smoke"}


def test_every_page_names_its_own_rerun_command(built_book):
    for name in book.toc_chapters():
        if name == "scorecard":
            continue
        text = " ".join(soup(built_book / "chapters" / f"{name}.html").get_text(" ").split())
        assert f"--profile smoke --chapter {name}" in text, name


def test_every_chapter_shows_its_central_figure_and_its_code(built_book):
    """Each chapter draws its idea and shows the paper's core code read from wpcore."""
    central = {"patches": "nets/deepcompare.py", "multipath": "nets/multipath.py", "wide_resnets": "nets/wrn.py",
               "attention": "losses/attention.py", "diracnets": "nets/dirac.py"}
    for name, source in central.items():
        page = soup(built_book / "chapters" / f"{name}.html")
        text = " ".join(page.get_text(" ").split())
        assert "The idea" in text, name
        assert f"from wpcore/{source}, lines" in text, f"{name}: no source of wpcore/{source} on the page"
        assert page.select("div.cell_output img"), f"{name}: no figure"
