"""Execute the chapters with papermill, then build the book with jupyter-book.

``python -m wpcore book --profile quick`` (what ``make book`` runs):
1. every chapter listed in ``_toc.yml`` (``chapters/<name>``) is converted from its jupytext
   source and executed with papermill under the profile, into ``_build/notebooks/``;
   a failing chapter stops everything with its name and failing cell, and a non-zero exit;
2. a staging folder gets ``_config.yml``, ``_toc.yml``, ``book/``, the executed notebooks and the
   pages' JavaScript committed under ``book/_vendor`` (no Node.js, no network),
   and jupyter-book builds it;
3. only then is the new HTML swapped into ``_build/html``: a failed build leaves the previous
   HTML as it was.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


class ChapterFailed(RuntimeError):
    pass


def toc_chapters(root: Path = ROOT) -> list[str]:
    """Chapter names (``chapters/<name>``) in the order of ``_toc.yml``."""
    text = (root / "_toc.yml").read_text()
    return re.findall(r"file:\s*chapters/([\w-]+)", text)


def inputs_digest(src: Path, profile: str, parameters: dict | None, root: Path = ROOT) -> str:
    """What an executed chapter depends on besides its records: its source, the profile and
    parameters, and the package's code."""
    import hashlib

    h = hashlib.sha256(f"{profile}|{sorted((parameters or {}).items())}".encode())
    for f in [src, *sorted((root / "wpcore").rglob("*.py"))]:
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


def page_records(name: str, profile: str, runs: Path | None = None) -> dict[str, str | None]:
    """The records a page shows, as {key: creation stamp, or None when missing}: the experiments of
    the chapter's study (a page that is no study's chapter, the scorecard, reads every study). The
    page is executed again when this changes: a record made, retrained (``--force``) or published."""
    from . import records
    from .scorecard import study_modules

    mods = [m for m in study_modules() if m.CHAPTER == name] or study_modules()
    out = {}
    for m in mods:
        for e in m.experiments(profile):
            rec = records.find(e.key(), runs)
            out[e.key()] = rec.created if rec else None
    return out


def runs_dir(root: Path = ROOT) -> Path:
    """Where the pages' records are: ``$WPCORE_RUNS`` or the project's ``runs/`` (the page kernels are
    handed the same folder, so they and this process agree)."""
    return Path(os.environ.get("WPCORE_RUNS") or root / "runs")


def is_current(out: Path, digest: str, name: str, profile: str, runs: Path) -> bool:
    """True if the executed notebook ``out`` was made from these inputs and the records it shows."""
    import nbformat

    if not out.exists():
        return False
    try:
        meta = nbformat.read(out, as_version=4).metadata.get("wpcore", {})
    except (OSError, ValueError):  # unreadable notebook: not current
        return False
    return meta.get("inputs") == digest and meta.get("records") == page_records(name, profile, runs)


def pages_to_stage(names: list[str], nb_dir: Path, root: Path = ROOT) -> tuple[list[str], list[str]]:
    """The executed notebooks the HTML is built from, in ``_toc.yml``'s order, and which of them were
    not executed by this build: a build of some chapters keeps every other chapter already executed at
    this profile, so that rebuilding one page does not leave a book of one page."""
    toc = toc_chapters(root)
    kept = [n for n in toc if n not in names and (nb_dir / f"{n}.ipynb").exists()]
    return [n for n in toc if n in names or n in kept] + [n for n in names if n not in toc], kept


def kernel_manager_with(env: dict[str, str]) -> type:
    """A Jupyter kernel manager class whose kernels start with this process's environment plus
    ``env``: what a page's kernel needs is handed to it, never written into ``os.environ``."""
    from jupyter_client.manager import AsyncKernelManager

    class PageKernelManager(AsyncKernelManager):
        async def _async_pre_start_kernel(self, **kw):
            kw["env"] = {**os.environ, **kw.get("env", {}), **env}
            return await super()._async_pre_start_kernel(**kw)

    return PageKernelManager


def execute_chapter(name: str, profile: str, out_dir: Path, root: Path = ROOT, parameters: dict | None = None,
                    reuse: bool = True) -> Path:
    """Execute one chapter with papermill; an executed notebook whose inputs are unchanged is reused."""
    import jupytext
    import papermill as pm

    src = root / "chapters" / f"{name}.py"
    if not src.exists():
        raise ChapterFailed(f"chapter {name}: {src} does not exist (listed in _toc.yml)")
    from .profiles import check_profile

    try:
        check_profile(profile)
    except ValueError as e:
        raise ChapterFailed(f"chapter {name}: {e}") from None
    out_dir.mkdir(parents=True, exist_ok=True)
    runs = runs_dir(root)
    out = out_dir / f"{name}.ipynb"
    digest = inputs_digest(src, profile, parameters, root)
    if reuse and is_current(out, digest, name, profile, runs):
        print(f"    {name}: unchanged since its last execution, reusing it", flush=True)
        return out
    nb = jupytext.read(src)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    source_nb = out_dir / f"{name}.source.ipynb"
    jupytext.write(nb, source_nb)
    # the kernel's own environment; this process's is left as it was
    kernel_env = {"PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")])),
                  "MPLBACKEND": "module://matplotlib_inline.backend_inline", "WPCORE_RUNS": str(runs)}
    try:
        # live_widgets=False: the page becomes static HTML, where a widget that needs a kernel cannot run
        pm.execute_notebook(str(source_nb), str(out),
                            parameters={"profile": profile, "live_widgets": False, **(parameters or {})},
                            kernel_name="python3", cwd=str(root), progress_bar=sys.stderr.isatty(),
                            kernel_manager_class=kernel_manager_with(kernel_env))
    except pm.PapermillExecutionError as e:
        first = next((ln for ln in (e.source or "").splitlines() if ln.strip()), "")
        raise ChapterFailed(f"chapter {name} failed in cell {e.exec_count} (`{first[:80]}`) with {e.ename}: "
                            f"{e.evalue}; the executed notebook with the traceback is {out}") from None
    finally:
        source_nb.unlink(missing_ok=True)
    _finish_notebook(out, digest, page_records(name, profile, runs))
    return out


def _dedupe_inline_scripts(html_dir: Path) -> None:
    """jupyter-book 1.x includes sphinx-thebe's inline configuration script twice on every page,
    which throws "THEBE_JS_URL has already been declared" in the browser: keep the first copy."""
    for page in html_dir.rglob("*.html"):
        seen, out, changed = set(), [], False
        for line in page.read_text().splitlines(keepends=True):
            s = line.strip()
            if s.startswith("<script>const THEBE_JS_URL") and s in seen:
                changed = True
                continue
            seen.add(s)
            out.append(line)
        if changed:
            page.write_text("".join(out))


def _redirect_with_icon(index: Path) -> None:
    """jupyter-book's root index.html is a bare redirect with no icon link, so a browser asks the
    server for /favicon.ico (a 404) while it follows it: point it at the book's icon."""
    if index.exists() and "rel=\"icon\"" not in (text := index.read_text()):
        index.write_text('<link rel="icon" href="_static/favicon.svg" type="image/svg+xml" />\n' + text)


def _finish_notebook(path: Path, digest: str, record_keys: dict[str, str | None]) -> None:
    """Stamp the inputs digest; remove papermill's parameter cells from the HTML (the page states
    its profile in prose; the cells stay in the downloadable notebook)."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    nb.metadata["wpcore"] = {"inputs": digest, "records": record_keys}
    for cell in nb.cells:
        tags = cell.metadata.setdefault("tags", [])
        if ("parameters" in tags or "injected-parameters" in tags) and "remove-cell" not in tags:
            tags.append("remove-cell")
    nbformat.write(nb, path)


# The pages' JavaScript (widget manager, require.js, MathJax with its fonts), committed under
# book/_vendor with its licences; book/_vendor/README.md says where each file comes from.
VENDOR_FOLDER = "book/_vendor"
# what _config.yml makes every page load, under _static/offline/
VENDOR_ENTRY_FILES = ["requirejs/require.js", "html-manager/embed-amd.js", "mathjax/tex-chtml.js"]


def vendor(build_dir: Path, root: Path = ROOT) -> Path:
    """The JavaScript the pages need, served from the book itself so that it reads offline: copied
    from the repository's ``book/_vendor`` into ``_build/vendor`` (no network, no Node.js), less
    its README and refresh script. Vega, Vega-Lite and vega-embed (``vega/``) come with it: the Wide
    ResNets explorer's charts load them from ``_static/offline/vega/`` (``wpcore.present.explorer``)."""
    src = root / VENDOR_FOLDER
    missing = [f for f in VENDOR_ENTRY_FILES if not (src / f).is_file()]
    if missing:
        raise ChapterFailed(f"the vendored JavaScript is incomplete: {', '.join(missing)} missing under {src} "
                            "(restore the folder from git; see its README.md)")
    out = build_dir / "vendor"
    shutil.rmtree(out, ignore_errors=True)
    shutil.copytree(src, out, ignore=shutil.ignore_patterns("*.md", "refresh.py", "__pycache__"))
    return out


SOURCE_ARCHIVE = "wpcore-source.tar.gz"


def source_archive(root: Path, out: Path) -> str | None:
    """Write the code that builds the book (the git working tree, uncommitted changes to tracked
    files included) to ``out``; return its commit, or None outside a git checkout."""
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, check=True).stdout.strip()

    try:
        head = git("rev-parse", "--short=12", "HEAD")
        tree = git("stash", "create") or "HEAD"  # a commit of the working tree, made without touching it
        git("archive", "--format=tar.gz", f"--prefix=wpcore-{head}/", "-o", str(out), tree)
    except (OSError, subprocess.CalledProcessError):
        return None
    return head + ("" if tree == "HEAD" else " with uncommitted changes")


def _set_source(config: Path, commit: str | None) -> None:
    """The introduction's ``{{ source }}``: a link to the shipped archive, or what there is instead."""
    import yaml

    cfg = yaml.safe_load(config.read_text())
    text = (f'<a href="../{SOURCE_ARCHIVE}">{SOURCE_ARCHIVE}</a> (git commit {commit}; unpack it and run the '
            "commands below in its folder)") if commit else \
        "the folder this book was built from (not a git checkout, so no archive of it ships with the book)"
    cfg.setdefault("parse", {}).setdefault("myst_substitutions", {})["source"] = text
    config.write_text(yaml.safe_dump(cfg, sort_keys=False, allow_unicode=True))


def build(profile: str = "quick", chapters: list[str] | None = None, root: Path = ROOT,
          build_dir: Path | None = None, parameters: dict | None = None) -> Path:
    """Execute chapters and build the HTML; return the folder holding index.html."""
    from .profiles import check_profile

    check_profile(profile)
    build_dir = Path(build_dir or root / "_build")
    names = chapters if chapters is not None else toc_chapters(root)
    nb_dir = build_dir / "notebooks" / profile
    t0 = time.perf_counter()
    for i, name in enumerate(names, 1):
        print(f"[{i}/{len(names)}] executing chapters/{name}.py (profile {profile}) ...", flush=True)
        t = time.perf_counter()
        execute_chapter(name, profile, nb_dir, root, parameters)
        print(f"[{i}/{len(names)}] {name} done in {time.perf_counter() - t:.0f} s", flush=True)

    stage = build_dir / "stage"
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir(parents=True)
    for f in ("_config.yml", "_toc.yml"):
        shutil.copy(root / f, stage / f)
    archive = source_archive(root, stage / SOURCE_ARCHIVE)
    _set_source(stage / "_config.yml", archive)
    shutil.copytree(root / "book", stage / "book", ignore=shutil.ignore_patterns("_vendor"))
    # not under _static: jupyter-book would add every .js found there to every page
    shutil.copytree(vendor(build_dir, root), stage / "_vendor_static" / "offline")
    for f in ("wpbook.css", "wpbook-widgets.js"):
        shutil.copy(root / "book" / f, stage / "_vendor_static" / f)
    (stage / "chapters").mkdir()
    pages, kept = pages_to_stage(names, nb_dir, root)
    if kept:
        old = [n for n in kept if not is_current(nb_dir / f"{n}.ipynb", inputs_digest(
            root / "chapters" / f"{n}.py", profile, parameters, root), n, profile, runs_dir(root))]
        print(f"also in the book, as last executed: {', '.join(kept)}"
              + (f"; older than their code or records: {', '.join(old)} (`wpcore book --profile {profile}` "
                 "without --chapter brings them up to date)" if old else ""), flush=True)
    for name in pages:
        shutil.copy(nb_dir / f"{name}.ipynb", stage / "chapters" / f"{name}.ipynb")
    print("building the HTML with jupyter-book ...", flush=True)
    r = subprocess.run([str(Path(sys.executable).with_name("jupyter-book")), "build", str(stage), "--builder", "html"],
                       capture_output=True, text=True, check=False)
    if r.returncode != 0:
        sys.stderr.write(r.stdout[-4000:] + r.stderr[-4000:])
        raise ChapterFailed(f"jupyter-book build failed (exit {r.returncode}); the previous HTML is untouched")
    warnings = [ln for ln in r.stdout.splitlines() + r.stderr.splitlines() if "WARNING" in ln]
    for w in warnings[:20]:
        print("  " + w)
    _dedupe_inline_scripts(stage / "_build" / "html")
    _redirect_with_icon(stage / "_build" / "html" / "index.html")
    html = build_dir / "html"
    old = build_dir / "html.old"
    shutil.rmtree(old, ignore_errors=True)
    if html.exists():
        html.rename(old)
    if archive:
        shutil.copy(stage / SOURCE_ARCHIVE, stage / "_build" / "html" / SOURCE_ARCHIVE)
    (stage / "_build" / "html").rename(html)
    shutil.rmtree(old, ignore_errors=True)
    print(f"book built in {time.perf_counter() - t0:.0f} s: open {html / 'index.html'}", flush=True)
    return html
