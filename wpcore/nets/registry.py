"""The one model registry: names like ``wrn-28-10`` map to builder functions.

A family registers a *pattern* (a regular expression whose groups are passed to the builder as
integers) or a plain name. ``create(name, **kw)`` builds; ``list_models()`` lists the canonical
names the tests run over (every registered family contributes the configurations it wants tested).
"""
from __future__ import annotations

import re
from collections.abc import Callable

from torch import nn

_PATTERNS: list[tuple[re.Pattern, Callable[..., nn.Module], str]] = []
_EXAMPLES: dict[str, dict] = {}  # canonical name -> default kwargs the tests use (e.g. in_channels)


def register(pattern: str, examples: dict[str, dict] | list[str] = (), help: str = ""):
    """Decorator: ``@register(r"wrn-(\\d+)-(\\d+)", examples=["wrn-16-1"])``.

    The builder receives the pattern's groups (converted to int when numeric) as positional
    arguments, then the keyword arguments of ``create``.
    """
    compiled = re.compile(pattern + r"\Z")

    def deco(fn):
        _PATTERNS.append((compiled, fn, help or (fn.__doc__ or "").strip().splitlines()[0]))
        ex = examples if isinstance(examples, dict) else {name: {} for name in examples}
        for name, kw in ex.items():
            if not compiled.match(name):
                raise ValueError(f"example {name!r} does not match pattern {pattern!r}")
            _EXAMPLES[name] = kw
        return fn

    return deco


def _convert(group: str):
    return int(group) if group.isdigit() else group


def create(name: str, **kw) -> nn.Module:
    """Build a registered network by name, e.g. ``create("wrn-16-4", num_classes=10)``."""
    for pattern, fn, help_ in _PATTERNS:
        m = pattern.match(name)
        if m:
            try:
                return fn(*[_convert(g) for g in m.groups()], **kw)
            except TypeError as e:  # a wrong keyword: say which ones the family takes
                raise ValueError(f"{name}: {e}; this family takes: {help_}") from None
    raise ValueError(
        f"unknown model {name!r}; known families: {', '.join(p.pattern[:-2] for p, _, _ in _PATTERNS)}"
        " (see wpcore.nets.list_models())"
    )


def list_models() -> list[str]:
    """Canonical model names, one or more per family (every test runs over these)."""
    return sorted(_EXAMPLES)


def example_kwargs(name: str) -> dict:
    """Keyword arguments the tests pass when building the example ``name`` (e.g. input size)."""
    return dict(_EXAMPLES.get(name, {}))


def families() -> list[tuple[str, str]]:
    """(pattern, one-line help) for every registered family; the CLI prints these."""
    return [(p.pattern[:-2], h) for p, _, h in _PATTERNS]
