"""Command-line arguments: a parser whose errors are one line, the value types, and the ``train``
options, which are ``Experiment``'s fields (``--batch-size`` for ``batch_size``...) read back into
an ``Experiment``: the dataclass's defaults and notes are the only copy.
"""
from __future__ import annotations

import argparse
import dataclasses
import inspect
import json
import re
import sys
import types
import typing


class Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, no usage dump
        sys.stderr.write(f"{self.prog}: error: {message} (see --help)\n")
        sys.exit(2)


class UsageError(ValueError):
    """A request the CLI refuses, with what to run instead."""


def positive_int(s: str) -> int:
    v = int(s)
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {s}")
    return v


def _kv(s: str):
    k, _, v = s.partition("=")
    if not k or not _:
        raise argparse.ArgumentTypeError(f"expected key=value, got {s!r}")
    try:
        return k, json.loads(v)
    except json.JSONDecodeError:
        return k, v


def _floats(s: str) -> tuple[float, ...]:
    try:
        return tuple(float(x) for x in s.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {s!r}") from None


def _field_notes() -> dict[str, str]:
    """The comment on each field of ``Experiment`` (its reason), for --help."""
    from ..experiment import Experiment

    notes = {}
    for line in inspect.getsource(Experiment).splitlines():
        m = re.match(r"\s+(\w+):[^#]*#\s*(.+)", line)
        if m:
            notes[m.group(1)] = m.group(2).strip()
    return notes


def add_experiment_fields(p: argparse.ArgumentParser) -> None:
    """One option per ``Experiment`` field (``--batch-size`` for ``batch_size``...), typed by the
    field's annotation; an option not given keeps the dataclass's default (no second copy here)."""
    from ..experiment import Experiment

    hints, notes = typing.get_type_hints(Experiment), _field_notes()
    for f in dataclasses.fields(Experiment):
        if f.name == "model":
            continue
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        flag, hint = "--" + f.name.replace("_", "-"), hints[f.name]
        help_ = f"{notes.get(f.name, '')} (default: {default!r})".replace("%", "%%")
        args = typing.get_args(hint)
        if hint is bool:
            p.add_argument(flag, action=argparse.BooleanOptionalAction, default=None, help=help_)
        elif hint is dict:
            p.add_argument(flag, type=_kv, action="append", default=None, metavar="KEY=VALUE",
                           help=help_ + "; repeatable, VALUE as JSON, e.g. block='\"B(3,3)\"'")
        elif hint is tuple:
            p.add_argument(flag, type=_floats, default=None, metavar="A,B,...", help=help_)
        elif isinstance(hint, types.UnionType) and type(None) in args:  # int | None
            p.add_argument(flag, type=positive_int, default=None, help=help_)
        else:
            p.add_argument(flag, type=hint, default=None, help=help_)


def experiment_from_args(args: argparse.Namespace):
    from ..experiment import Experiment

    kw = {}
    for f in dataclasses.fields(Experiment):
        v = getattr(args, f.name, None)
        if f.name != "model" and v is not None:
            kw[f.name] = dict(v) if isinstance(v, list) else v
    if args.dropout is not None:
        kw["model_kw"] = {**kw.get("model_kw", {}), "dropout": args.dropout}
    try:
        return Experiment(args.model, **kw)
    except ValueError as e:  # "epochs must be ..." -> "--epochs: epochs must be ...": name the option
        field = next((f.name for f in dataclasses.fields(Experiment) if str(e).startswith(f.name + " ")), None)
        raise UsageError(f"--{field.replace('_', '-')}: {e}" if field else str(e)) from None
