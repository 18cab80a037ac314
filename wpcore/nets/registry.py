"""The one model registry: names like ``wrn-28-10`` map to builder functions.

A family registers a *pattern* (a regular expression whose groups are passed to the builder as
integers) or a plain name. ``create(name, **kw)`` builds; ``list_models()`` lists the canonical
names the tests run over (every registered family contributes the configurations it wants tested).
"""
from __future__ import annotations

import inspect
import json
import re
import typing
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


def _lookup(name: str) -> tuple[Callable[..., nn.Module], list, str]:
    """(builder, its positional arguments from the name, its one-line help) for ``name``."""
    for pattern, fn, help_ in _PATTERNS:
        m = pattern.match(name)
        if m:
            return fn, [_convert(g) for g in m.groups()], help_
    raise ValueError(
        f"unknown model {name!r}; known families: {', '.join(p.pattern[:-2] for p, _, _ in _PATTERNS)}"
        " (see wpcore.nets.list_models())"
    )


def builder(name: str) -> Callable[..., nn.Module]:
    """The function that builds ``name`` (its module is part of a run's code fingerprint)."""
    return _lookup(name)[0]


def signature(fn: Callable[..., nn.Module]) -> inspect.Signature:
    """The builder's signature; a builder that passes ``**kw`` on to the network class it returns
    (its return annotation) takes that class's keyword parameters that have defaults (those
    without one the builder supplies itself)."""
    sig = inspect.signature(fn)
    params = [p for p in sig.parameters.values() if p.kind is not p.VAR_KEYWORD]
    if len(params) == len(sig.parameters):
        return sig
    cls = typing.get_type_hints(fn).get("return")
    if not isinstance(cls, type):
        return sig
    names = {p.name for p in params}
    own = inspect.signature(cls).parameters.values()
    extra = [p.replace(kind=p.KEYWORD_ONLY) for p in own if p.name not in names and p.default is not p.empty
             and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    extra += [p for p in own if p.kind is p.VAR_KEYWORD]
    return sig.replace(parameters=params + extra)


def _check(name: str, kw: dict) -> inspect.BoundArguments:
    """Bind ``kw`` to the builder's signature; a wrong keyword is a one-line error naming what the
    family takes (an error raised *inside* a builder is not caught here)."""
    fn, args, help_ = _lookup(name)
    try:
        return signature(fn).bind(*args, **kw)
    except TypeError as e:
        raise ValueError(f"{name}: {e}; this family takes: {help_}") from None


def _canonical(v):
    return json.loads(json.dumps(v))


def normalise(name: str, kw: dict) -> dict:
    """``kw`` checked against the builder of ``name``, without the arguments equal to the builder's
    defaults, so that spellings of one network are one experiment: ``normalise("wrn-16-2",
    {"block": "B(3,3)"}) == {}``. Tuples and lists count as equal (the record stores JSON)."""
    fn, _, _ = _lookup(name)
    _check(name, kw)
    params = signature(fn).parameters
    out = {}
    for k, v in kw.items():
        p = params.get(k)
        if p is not None and p.default is not inspect.Parameter.empty and _canonical(p.default) == _canonical(v):
            continue
        out[k] = v
    return out


def create(name: str, **kw) -> nn.Module:
    """Build a registered network by name, e.g. ``create("wrn-16-4", num_classes=10)``."""
    bound = _check(name, kw)
    return _lookup(name)[0](*bound.args, **bound.kwargs)


def list_models() -> list[str]:
    """Canonical model names, one or more per family (every test runs over these)."""
    return sorted(_EXAMPLES)


def example_kwargs(name: str) -> dict:
    """Keyword arguments the tests pass when building the example ``name`` (e.g. input size)."""
    return dict(_EXAMPLES.get(name, {}))


def families() -> list[tuple[str, str]]:
    """(pattern, one-line help) for every registered family; the CLI prints these."""
    return [(p.pattern[:-2], h) for p, _, h in _PATTERNS]
