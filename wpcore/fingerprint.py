"""Which source defines a run, and a fingerprint of it that ignores comments and docstrings.

A record stores the fingerprint of the code that made it: one digest per source file the run
uses. When the code changes, a record whose files changed is *stale*: the book retrains it (or,
for a published record, marks it on the page), and ``python -m wpcore records --check`` fails.

**Which files.** The roots are the training loop (``train.py``, ``precision.py``), the task set-up
shared by every task (``tasks/setup.py``), the module of the run's task and the module that
defines its network family (found through the registry); then every wpcore module those import,
followed through ``from . import`` statements (also those inside functions) and through the
re-exports of package ``__init__`` files. Modules that orchestrate, store or present runs but do
not change what is trained are left out (``INFRASTRUCTURE``): editing the book, the records or a
study's prose stales nothing, and a change to one chapter's task stales only that chapter's records.
``distributed.py`` is left out too: it only acts under torchrun, where DDP is checked against a
single process by tests/test_distributed.py.

**Which changes count.** Each file is parsed, its docstrings dropped, and the syntax tree printed
again (``ast.unparse``): comments, docstrings, blank lines and formatting do not change the
digest; any change to the code does.
"""
from __future__ import annotations

import ast
import functools
import hashlib
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
ROOT = PACKAGE.parent
ROOTS = ("train.py", "precision.py", "tasks/setup.py")
INFRASTRUCTURE = {
    "__init__.py", "__main__.py", "book.py", "experiment.py", "records.py", "safe.py", "distributed.py",
    "profiles.py", "scorecard.py", "fingerprint.py", "flops.py", "plan.py", "cost.py", "preflight.py", "share.py",
    "fanout.py",
    "nets/registry.py", "nets/__init__.py", "tasks/__init__.py", "data/store.py",
}
INFRASTRUCTURE_DIRS = ("cli/", "present/", "studies/")


def rel(path: Path) -> str:
    return path.resolve().relative_to(PACKAGE).as_posix()


def _is_infrastructure(name: str) -> bool:
    return name in INFRASTRUCTURE or name.startswith(INFRASTRUCTURE_DIRS)


@functools.cache
def _digest(path: Path, mtime_ns: int) -> str:
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and body \
                and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                and isinstance(body[0].value.value, str):
            node.body = body[1:] or [ast.Pass()]
    return hashlib.sha256(ast.unparse(tree).encode()).hexdigest()[:16]


def source_digest(path: Path) -> str:
    """The digest of a Python file's code, blind to comments, docstrings and formatting."""
    return _digest(path, path.stat().st_mtime_ns)


def _module_file(dotted: list[str]) -> Path | None:
    """wpcore-relative module path parts -> its file (module.py or package/__init__.py)."""
    base = PACKAGE.joinpath(*dotted)
    if base.with_suffix(".py").exists():
        return base.with_suffix(".py")
    if (base / "__init__.py").exists():
        return base / "__init__.py"
    return None


@functools.cache
def _imports(path: Path, mtime_ns: int) -> tuple[Path, ...]:
    """The wpcore modules ``path`` imports, names resolved through package re-exports."""
    here = rel(path).split("/")[:-1]
    out: list[Path] = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                parts = here[:len(here) - node.level + 1] + (node.module.split(".") if node.module else [])
            elif node.module and node.module.split(".")[0] == "wpcore":
                parts = node.module.split(".")[1:]
            else:
                continue
            for alias in node.names:
                sub = _module_file(parts + [alias.name])
                if sub is not None and sub.name != "__init__.py":  # "from ..losses import attention"
                    out.append(sub)
                    continue
                target = _module_file(parts)
                if target is None:
                    continue
                if target.name == "__init__.py":  # a name re-exported by a package: follow it
                    out.extend(_reexport(target, alias.name))
                else:
                    out.append(target)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "wpcore" and (f := _module_file(alias.name.split(".")[1:])):
                    out.append(f)
    return tuple(dict.fromkeys(out))


def _reexport(init: Path, name: str) -> list[Path]:
    """The module a package's ``__init__`` takes ``name`` from (``from .images import load``)."""
    pkg = rel(init).split("/")[:-1]
    for node in ast.parse(init.read_text()).body:
        if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module \
                and any(a.name == name or a.asname == name for a in node.names):
            f = _module_file(pkg + node.module.split("."))
            return [f] if f else []
    return []


def closure(roots: list[Path]) -> list[Path]:
    """Every non-infrastructure wpcore module reachable from ``roots`` by imports."""
    seen: dict[Path, None] = {}
    todo = [p.resolve() for p in roots]
    while todo:
        p = todo.pop()
        if p in seen or _is_infrastructure(rel(p)):
            continue
        seen[p] = None
        todo.extend(_imports(p, p.stat().st_mtime_ns))
    return sorted(seen, key=rel)


def of_run(task_module: str, model_module: str) -> dict:
    """The fingerprint of a run: ``{"files": {path: digest}, "digest": combined}`` over the closure
    of the training loop, the task's module and the network family's module (dotted names)."""
    roots = [PACKAGE / r for r in ROOTS]
    for dotted in (task_module, model_module):
        f = _module_file(dotted.split(".")[1:])
        if f is not None:
            roots.append(f)
    files = {rel(p): source_digest(p) for p in closure(roots)}
    combined = hashlib.sha256(repr(sorted(files.items())).encode()).hexdigest()[:16]
    return {"files": files, "digest": combined}


def changed(recorded: dict | None, current: dict) -> list[str]:
    """The files whose code differs between a record's fingerprint and the current one (all of
    them, ``["(no fingerprint)"]``, for a record made before fingerprints existed)."""
    if not recorded or "files" not in recorded:
        return ["(no fingerprint: made by older code)"]
    old, new = recorded["files"], current["files"]
    return sorted(f for f in set(old) | set(new) if old.get(f) != new.get(f))
