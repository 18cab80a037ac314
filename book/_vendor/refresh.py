"""Refresh the JavaScript vendored in this folder from npm packages; see README.md.

    python book/_vendor/refresh.py

Run by hand, and only to change versions: it needs Node.js's npm and the network. The book
build (``wpcore.book.vendor``) never calls it; it copies what this script left here.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent

# exact versions: a refresh gives the same files until someone changes these
PACKAGES = {"@jupyter-widgets/html-manager": "1.0.15", "requirejs": "2.3.8", "mathjax": "3.2.2"}

# (package, file or glob inside it, folder here); a font is kept only if the script before it names it
FILES = [
    ("@jupyter-widgets/html-manager", "dist/embed-amd.js", "html-manager"),
    ("@jupyter-widgets/html-manager", "dist/*.woff2", "html-manager"),  # Font Awesome, bundled; woff2 only
    ("@jupyter-widgets/html-manager", "dist/embed.js.LICENSE.txt", "html-manager"),
    ("@fortawesome/fontawesome-free", "LICENSE.txt", "html-manager/font-awesome"),
    ("requirejs", "require.js", "requirejs"),
    ("mathjax", "es5/tex-chtml.js", "mathjax"),
    ("mathjax", "es5/output/chtml/fonts/woff-v2/*.woff", "mathjax/output/chtml/fonts/woff-v2"),
    ("mathjax", "LICENSE", "mathjax"),
]

# not in the npm packages, so kept as committed (from the packages' source repositories)
KEPT = ["html-manager/LICENSE", "requirejs/LICENSE"]


def main() -> int:
    npm = shutil.which("npm")
    if npm is None:
        print("refresh.py needs npm (Node.js); the book build itself does not", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([npm, "install", "--no-audit", "--no-fund", "--ignore-scripts", "--prefix", tmp,
                        *(f"{name}@{version}" for name, version in PACKAGES.items())], check=True)
        mods = Path(tmp) / "node_modules"
        for path in sorted(HERE.rglob("*")):  # clear the old copies, keep this script, README and KEPT
            rel = path.relative_to(HERE).as_posix()
            if path.is_file() and rel not in ("README.md", "refresh.py", *KEPT):
                path.unlink()
        script = ""
        for package, pattern, folder in FILES:
            matches = sorted((mods / package).glob(pattern))
            if not matches:
                raise SystemExit(f"{package}: nothing matches {pattern}")
            for src in matches:
                if src.suffix == ".js":
                    script = src.read_text()
                elif src.suffix in (".woff", ".woff2") and src.name not in script:
                    continue
                (HERE / folder).mkdir(parents=True, exist_ok=True)
                shutil.copy(src, HERE / folder / src.name)  # byte for byte as published
    for d in sorted(HERE.rglob("*"), reverse=True):
        if d.is_dir() and not any(d.iterdir()):
            d.rmdir()
    missing = [k for k in KEPT if not (HERE / k).exists()]
    if missing:
        print(f"copy these licence files by hand from the packages' repositories: {missing}", file=sys.stderr)
    files = [p for p in HERE.rglob("*") if p.is_file()]
    print(f"{len(files)} files, {sum(p.stat().st_size for p in files) / 1e6:.2f} MB in {HERE}")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
