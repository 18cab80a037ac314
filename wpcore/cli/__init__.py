"""Command line: ``python -m wpcore {plan,run,train,records,book,models,data} ...``.

``plan`` lists a profile's runs with their cost, teachers, data and records (``--preflight``: one
training step of each network); ``run`` makes study experiments' records (here, under torchrun,
or fanned out with Ray: ``wpcore.fanout``); ``train`` runs one experiment given field by field.
All make the same records as the chapters (same ``Experiment``, same key), so the book reuses them.
``records pack``/``unpack`` move records between machines (``wpcore.share``).

Here: the parser and ``main``; ``commands`` holds what each command does, ``options`` the
argument types and ``train``'s options (``Experiment``'s fields), ``trainable`` what ``train``
refuses. ``wpcore/__main__.py`` only calls ``main``.
"""
from __future__ import annotations

import argparse
import sys

from .commands import COMMANDS
from .options import Parser, add_experiment_fields, positive_int


def parser() -> argparse.ArgumentParser:
    from ..profiles import PROFILES

    p = Parser(prog="python -m wpcore", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True, parser_class=Parser)

    pl = sub.add_parser("plan", help="every run of a profile: estimated GPU-hours, teachers, data, records")
    pl.add_argument("--profile", default="full", choices=PROFILES)
    pl.add_argument("--chapter", action="append", default=None, help="only this chapter (repeatable)")
    pl.add_argument("--gpus", type=positive_int, default=8, help="also total the hours on this many GPUs (8)")
    pl.add_argument("--device", default=None, help="the device whose records (precision) to look for")
    pl.add_argument("--preflight", action="store_true",
                    help="build each distinct network at its real input size and take one training step here")

    r = sub.add_parser("run", help="make the records of a chapter's experiments (the book reuses them)")
    r.add_argument("--profile", default="quick", choices=PROFILES)
    r.add_argument("--chapter", action="append", default=None, help="this chapter (repeatable; default: all)")
    r.add_argument("--select", nargs="+", default=None, metavar="LABEL|INDEX",
                   help="only these runs: an index of `plan` or a label (every seed with that label)")
    r.add_argument("--device", default=None, help="cpu, cuda, cuda:1 (default: cuda when available)")
    r.add_argument("--compile", action="store_true", help="torch.compile the models")
    r.add_argument("--ray", nargs="?", const="local", default=None, metavar="ADDRESS",
                   help="fan the runs out with Ray: a local cluster on this machine's GPUs, or ADDRESS "
                        "('auto', host:port) of a running cluster")
    r.add_argument("--runs-per-gpu", type=positive_int, default=1,
                   help="with --ray: small (latency-bound) runs that share one GPU (1)")
    r.add_argument("--workers", type=positive_int, default=None,
                   help="on a CPU: runs trained at a time, each in its own process with cores/N threads "
                        "(default: one per core; benchmarks/results/cpu_packing.md)")
    r.add_argument("--dry-run", action="store_true", help="list what would run, in order, and stop")

    t = sub.add_parser("train", help="train one experiment given field by field, and write its record")
    t.add_argument("model", help="registry name, e.g. wrn-16-4 (see `python -m wpcore models`)")
    add_experiment_fields(t)
    t.add_argument("--dropout", type=float, default=None, help="shorthand for --model-kw dropout=...")
    t.add_argument("--device", default=None, help="cpu, cuda, cuda:1 (default: cuda when available)")
    t.add_argument("--compile", action="store_true", help="torch.compile the model")
    t.add_argument("--force", action="store_true", help="train even if a matching record exists")
    t.add_argument("--resume", dest="resume", action="store_true", default=True,
                   help="continue a killed run from its last epoch checkpoint (the default)")
    t.add_argument("--restart", dest="resume", action="store_false", help="discard a checkpoint and start over")

    b = sub.add_parser("book", help="execute the chapters and build the HTML book")
    b.add_argument("--profile", default="standard", choices=PROFILES)
    b.add_argument("--chapter", action="append", default=None,
                   help="execute only this chapter (repeatable); the book keeps the others as last executed")
    b.add_argument("--retrain", action="store_true",
                   help="first train every run of the profile that is missing or stale (published ones too), "
                        "then publish the profile's records (those of --chapter only, when given) under results/<profile>/")
    b.add_argument("--workers", type=positive_int, default=None,
                   help="on a CPU: runs trained at a time before the chapters execute, each in its own process "
                        "(default: one per core; 1: the chapters train their runs one after the other)")

    r = sub.add_parser("records", help="list records and their status (current, stale, orphan); publish a "
                                       "profile; pack records into an archive, unpack one")
    r.add_argument("--profile", action="append", choices=PROFILES, default=None,
                   help="only the records this profile uses (repeatable; publish and pack take one)")
    r.add_argument("--check", action="store_true",
                   help="exit 1 when a published record is stale or a published profile lacks a record")
    rsub = r.add_subparsers(dest="records_command", required=False, parser_class=Parser)
    pb = rsub.add_parser("publish", help="copy a profile's current records into results/<profile>/ (read-only)")
    pb.add_argument("--chapter", action="append", default=None,
                    help="only this chapter's records (repeatable); the others already published stay")
    pk = rsub.add_parser("pack", help="write records (JSON + weights, checksummed) into a tar archive")
    pk.add_argument("file", help="the archive to write (.tar, or .tar.gz to compress)")
    pk.add_argument("--chapter", action="append", default=None, help="with --profile: only this chapter")
    up = rsub.add_parser("unpack", help="check an archive, then add its records (existing ones are kept)")
    up.add_argument("file")
    vf = rsub.add_parser("verify", help="train records again in a scratch folder and compare every number of "
                                        "their histories with the recorded ones (exit 1 when one differs)")
    vf.add_argument("--chapter", default=None, help="with --profile and --index: the chapter's runs")
    vf.add_argument("--index", type=int, nargs="+", default=None, help="indices of `plan --chapter` (with --chapter)")
    vf.add_argument("--key", nargs="+", default=None, help="record keys")
    vf.add_argument("--tolerance", type=float, default=0.0,
                    help="largest difference that still agrees (0: exact, as on the machine that made the record)")
    vf.add_argument("--device", default=None, help="cpu, cuda (default: cuda when available)")

    sub.add_parser("models", help="list the registered network families")
    d = sub.add_parser("data", help="make sure the embedded data (Fashion-MNIST) is present")
    d.add_argument("--quiet", action="store_true")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    from ..data import DataError

    try:
        return COMMANDS[args.command](args)
    except KeyboardInterrupt:
        print("interrupted; the last epoch's checkpoint is kept and a rerun resumes from it", file=sys.stderr)
        return 130
    except (ValueError, RuntimeError, FileNotFoundError, DataError, TimeoutError) as e:
        print(f"error: {(str(e).strip().splitlines() or [type(e).__name__])[0]}", file=sys.stderr)
        return 1
