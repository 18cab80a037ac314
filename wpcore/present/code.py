"""The paper's core code as the lesson: ``show_source(obj)`` displays the source of a function or
class of ``wpcore`` as it is, read with ``inspect`` (never re-typed, so the page cannot show code
that is not the code that ran), with the file and lines it comes from."""
from __future__ import annotations

import inspect
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def source(obj) -> tuple[str, str]:
    """(where, code): ``"wpcore/nets/wrn.py, lines 80-112"`` and the source text of ``obj``."""
    lines, start = inspect.getsourcelines(obj)
    path = Path(inspect.getsourcefile(obj)).resolve()
    try:
        path = path.relative_to(ROOT)
    except ValueError:  # not in this repository: name the module instead
        path = Path(obj.__module__.replace(".", "/") + ".py")
    return f"{path.as_posix()}, lines {start}-{start + len(lines) - 1}", "".join(_dedent(lines))


def _dedent(lines: list[str]) -> list[str]:
    """Methods come indented as in their class: remove the common indent."""
    indent = min(len(ln) - len(ln.lstrip()) for ln in lines if ln.strip())
    return [ln[indent:] if ln.strip() else "\n" for ln in lines]


def show_source(*objs, note: str = "") -> None:
    """Display the source of each of ``objs`` in one block per object, under the file and lines it
    was read from; ``note`` (Markdown) goes before them."""
    from IPython.display import Markdown, display

    parts = [note] if note else []
    for obj in objs:
        where, code = source(obj)
        name = getattr(obj, "__qualname__", getattr(obj, "__name__", str(obj)))
        parts.append(f"`{name}`, from `{where}`:\n\n```python\n{code.rstrip()}\n```")
    display(Markdown("\n\n".join(parts)))
