"""Command line: ``python -m wpcore {plan,run,train,records,book,models,data} ...``.

``plan`` lists a profile's runs with their cost, teachers, data and records (``--preflight``: one
training step of each network); ``run`` makes study experiments' records (here, under torchrun,
or fanned out with Ray: ``wpcore.fanout``); ``train`` runs one experiment given field by field.
All make the same records as the chapters (same ``Experiment``, same key), so the book reuses them.
``records pack``/``unpack`` move records between machines (``wpcore.share``).
"""
from __future__ import annotations

import argparse
import dataclasses
import inspect
import json
import re
import shlex
import sys
import types
import typing


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, no usage dump
        sys.stderr.write(f"{self.prog}: error: {message} (see --help)\n")
        sys.exit(2)


class UsageError(ValueError):
    """A request the CLI refuses, with what to run instead."""


def _positive_int(s: str) -> int:
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


# --- train: its options are the Experiment's fields ------------------------------------------

def _field_notes() -> dict[str, str]:
    """The comment on each field of ``Experiment`` (its reason), for --help."""
    from .experiment import Experiment

    notes = {}
    for line in inspect.getsource(Experiment).splitlines():
        m = re.match(r"\s+(\w+):[^#]*#\s*(.+)", line)
        if m:
            notes[m.group(1)] = m.group(2).strip()
    return notes


def _add_experiment_fields(p: argparse.ArgumentParser) -> None:
    """One option per ``Experiment`` field (``--batch-size`` for ``batch_size``...), typed by the
    field's annotation; an option not given keeps the dataclass's default (no second copy here)."""
    from .experiment import Experiment

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
            p.add_argument(flag, type=_positive_int, default=None, help=help_)
        else:
            p.add_argument(flag, type=hint, default=None, help=help_)


def experiment_from_args(args: argparse.Namespace):
    from .experiment import Experiment

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


IMAGE_TASKS = ("classify", "attention", "dirac", "imagenet")


def where_used(model: str) -> tuple[str, str, str] | None:
    """(profile, chapter, label) of the first study experiment of ``model``'s family (quick first)."""
    from .nets import families
    from .scorecard import study_modules

    family = next((p for p, _ in families() if re.fullmatch(p, model)), None)
    for profile in ("quick", "full"):
        for mod in study_modules():
            for e in mod.experiments(profile):
                if e.model == model or (family and re.fullmatch(family, e.model)):
                    return profile, mod.CHAPTER, e.label if e.model == model else ""
    return None


def _instead(model: str) -> str:
    found = where_used(model)
    if not found:
        return "see `python -m wpcore models`"
    profile, chapter, label = found
    return (f"run it with: python -m wpcore run --profile {profile} --chapter {chapter}"
            + (f" --select {shlex.quote(label)}" if label else ""))


def check_trainable(exp) -> None:
    """Refuse, in one line saying what to run instead, a network that is not an image classifier
    for an image task, or an input the network cannot take."""
    import torch

    from .cost import FACTS
    from .data import DATASETS
    from .nets import create
    from .nets.contract import GroupNet

    if exp.task not in IMAGE_TASKS:
        return
    known = ("imagenet",) if exp.task == "imagenet" else DATASETS
    if exp.dataset not in known:
        hint = " (ImageNet: --task imagenet)" if exp.dataset == "imagenet" else ""
        raise UsageError(f"--dataset: unknown dataset {exp.dataset!r} for task {exp.task!r}{hint}; "
                         f"known: {', '.join(known)}")
    with torch.device("meta"):
        try:
            net = create(exp.model, **exp.model_kw)
        except ValueError:
            net = None
        if not isinstance(net, GroupNet):
            from .nets.deepcompare import PatchNet
            from .nets.multipath import MultiPathNet

            kind = ("a patch-pair network" if isinstance(net, PatchNet) else "a detector"
                    if isinstance(net, MultiPathNet) else "not an image classifier")
            raise UsageError(f"{exp.model} is {kind}; {_instead(exp.model)}")
        shape, classes = FACTS[exp.dataset].shape, FACTS[exp.dataset].num_classes
        try:
            create(exp.model, num_classes=classes, in_channels=shape[0], **exp.model_kw).eval()(
                torch.zeros(2, *shape))
        except (RuntimeError, ValueError) as e:
            reason = (str(e).strip().splitlines() or [""])[0]
            raise UsageError(f"{exp.model} cannot take {exp.dataset}'s {'x'.join(map(str, shape))} images "
                             f"({reason}); {_instead(exp.model)}") from None


# --- the parser --------------------------------------------------------------------------------

def parser() -> argparse.ArgumentParser:
    from .profiles import PROFILES

    p = _Parser(prog="python -m wpcore", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    pl = sub.add_parser("plan", help="every run of a profile: estimated GPU-hours, teachers, data, records")
    pl.add_argument("--profile", default="full", choices=PROFILES)
    pl.add_argument("--chapter", action="append", default=None, help="only this chapter (repeatable)")
    pl.add_argument("--gpus", type=_positive_int, default=8, help="also total the hours on this many GPUs (8)")
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
    r.add_argument("--runs-per-gpu", type=_positive_int, default=1,
                   help="with --ray: small (latency-bound) runs that share one GPU (1)")
    r.add_argument("--dry-run", action="store_true", help="list what would run, in order, and stop")

    t = sub.add_parser("train", help="train one experiment given field by field, and write its record")
    t.add_argument("model", help="registry name, e.g. wrn-16-4 (see `python -m wpcore models`)")
    _add_experiment_fields(t)
    t.add_argument("--dropout", type=float, default=None, help="shorthand for --model-kw dropout=...")
    t.add_argument("--device", default=None, help="cpu, cuda, cuda:1 (default: cuda when available)")
    t.add_argument("--compile", action="store_true", help="torch.compile the model")
    t.add_argument("--force", action="store_true", help="train even if a matching record exists")
    t.add_argument("--resume", dest="resume", action="store_true", default=True,
                   help="continue a killed run from its last epoch checkpoint (the default)")
    t.add_argument("--restart", dest="resume", action="store_false", help="discard a checkpoint and start over")

    b = sub.add_parser("book", help="execute the chapters and build the HTML book")
    b.add_argument("--profile", default="quick", choices=PROFILES)
    b.add_argument("--chapter", action="append", default=None, help="only this chapter (repeatable)")
    b.add_argument("--retrain", action="store_true",
                   help="first train every run of the profile that is missing or stale (published ones too), "
                        "then publish the profile's records (those of --chapter only, when given) under results/<profile>/")

    r = sub.add_parser("records", help="list records and their status (current, stale, orphan); publish a "
                                       "profile; pack records into an archive, unpack one")
    r.add_argument("--profile", action="append", choices=PROFILES, default=None,
                   help="only the records this profile uses (repeatable; publish and pack take one)")
    r.add_argument("--check", action="store_true",
                   help="exit 1 when a published record is stale or a published profile lacks a record")
    rsub = r.add_subparsers(dest="records_command", required=False, parser_class=_Parser)
    pb = rsub.add_parser("publish", help="copy a profile's current records into results/<profile>/ (read-only)")
    pb.add_argument("--chapter", action="append", default=None,
                    help="only this chapter's records (repeatable); the others already published stay")
    pk = rsub.add_parser("pack", help="write records (JSON + weights, checksummed) into a tar archive")
    pk.add_argument("file", help="the archive to write (.tar, or .tar.gz to compress)")
    pk.add_argument("--chapter", action="append", default=None, help="with --profile: only this chapter")
    up = rsub.add_parser("unpack", help="check an archive, then add its records (existing ones are kept)")
    up.add_argument("file")

    sub.add_parser("models", help="list the registered network families")
    d = sub.add_parser("data", help="make sure the embedded data (Fashion-MNIST) is present")
    d.add_argument("--quiet", action="store_true")
    return p


# --- commands ----------------------------------------------------------------------------------

def _select(items, select: list[str] | None):
    if not select:
        return items
    out = []
    for s in select:
        hits = [it for it in items if (s.isdigit() and it.index == int(s)) or it.label == s]
        if not hits:
            labels = ", ".join(dict.fromkeys(it.label for it in items))
            raise UsageError(f"no run {s!r} in {', '.join(dict.fromkeys(it.chapter for it in items))}; "
                             f"give an index of `plan` or one of: {labels}")
        out += hits
    return out


def cmd_plan(args) -> int:
    from . import plan, preflight

    items = plan.build(args.profile, args.chapter, args.device)
    print(plan.format_plan(items, args.profile, args.gpus))
    if args.preflight:
        print(f"\npreflight on {args.device or 'the default device'} (one training step per distinct network):")
        checks = preflight.preflight(items, args.device)
        bad = [c for c in checks if not c.ok]
        print(f"preflight: {len(checks) - len(bad)} of {len(checks)} checks passed")
        return 1 if bad else 0
    return 0


def cmd_run(args) -> int:
    from . import distributed, fanout, plan

    everything = plan.build(args.profile, args.chapter, args.device)
    items = fanout.ordered(_select(everything, args.select), everything)
    if args.dry_run:
        for it in items:
            print(f"{it.chapter} #{it.index} {it.label}: {it.cost.gpu_hours:.2f} GPU-h, "
                  f"{'recorded' if it.recorded else 'to run'}")
        return 0
    if args.ray:
        items, skipped = fanout.runnable(items, fanout.prepare_data(items))
        outcomes = skipped + fanout.run_ray(items, None if args.ray == "local" else args.ray, args.runs_per_gpu,
                                            args.device, args.compile)
    else:
        device = distributed.init_from_env(args.device)  # torchrun: every rank runs, rank 0 writes
        main_rank = distributed.is_main()
        try:  # every rank checks the data; concurrent first downloads are safe (store.download)
            unavailable = fanout.prepare_data(items, log=print if main_rank else (lambda s: None))
            items, skipped = fanout.runnable(items, unavailable)
            outcomes = skipped + fanout.run_here(items, device, args.compile,
                                                 log=print if main_rank else (lambda s: None))
        finally:
            distributed.shutdown()
    print(fanout.summary(outcomes))
    return 0 if all(o.ok for o in outcomes) else 1


def cmd_train(args) -> int:
    from . import distributed
    from .experiment import run
    from .present import TerminalProgress

    exp = experiment_from_args(args)
    check_trainable(exp)
    device = distributed.init_from_env(args.device)  # torchrun: process group, this rank's device
    main_rank = distributed.is_main()
    try:
        rec = run(exp, device=device, log=TerminalProgress(), force=args.force, compile=args.compile,
                  resume=args.resume)
    finally:
        distributed.shutdown()
    if main_rank:
        print(json.dumps({"record": str(rec.path), "final": rec.final, "wall_time_s": round(rec.wall_time_s, 1)}))
    return 0


def cmd_records(args) -> int:
    from . import publish, share
    from .profiles import PROFILES

    profiles = args.profile or list(PROFILES)
    one = args.profile[0] if args.profile and len(args.profile) == 1 else None
    if args.records_command == "pack":
        manifest = share.pack(args.file, share.keys_for(one, args.chapter))
        print(f"packed {len(manifest['keys'])} records into {args.file}")
        return 0
    if args.records_command == "unpack":
        got = share.unpack(args.file)
        print(f"unpacked {args.file}: {len(got['installed'])} records added, {len(got['kept'])} already present (kept)")
        return 0
    if args.records_command == "publish":
        if one is None:
            raise ValueError("publish needs exactly one --profile, e.g. records --profile standard publish")
        publish.publish(one, args.chapter)
        return 0
    rows = publish.status(profiles)
    for r in rows:
        print(f"{r.status.value:8s} {r.key} {r.where:18s} {r.label[:40]:40s} {r.used_by or '-'}"
              + (f"  [{r.why}]" if r.why else ""))
    counts = {st: sum(r.status is st for r in rows) for st in publish.Status}
    print(", ".join(f"{n} {st.value}" for st, n in counts.items()))
    if args.check:
        problems = publish.check(profiles)
        for p in problems:
            print("error: " + p, file=sys.stderr)
        return 1 if problems else 0
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    from .data import DataError

    try:
        if args.command == "plan":
            return cmd_plan(args)
        if args.command == "run":
            return cmd_run(args)
        if args.command == "train":
            return cmd_train(args)
        if args.command == "records":
            return cmd_records(args)
        if args.command == "book":
            from .book import build

            if args.retrain:
                from .experiment import run
                from .present import TerminalProgress
                from .publish import publish, used_experiments

                for _, exp in used_experiments([args.profile], args.chapter).values():
                    run(exp, log=TerminalProgress(), retrain_stale=True)
                publish(args.profile, args.chapter)
            build(args.profile, args.chapter)
        elif args.command == "models":
            from .nets import families, list_models

            for pattern, help_ in families():
                print(f"{pattern:28s} {help_}")
            print("examples:", ", ".join(list_models()))
        elif args.command == "data":
            from .data.store import ensure_fashion_mnist

            path = ensure_fashion_mnist()
            if not args.quiet:
                print(f"Fashion-MNIST: {path}")
    except KeyboardInterrupt:
        print("interrupted; the last epoch's checkpoint is kept and a rerun resumes from it", file=sys.stderr)
        return 130
    except (ValueError, RuntimeError, FileNotFoundError, DataError, TimeoutError) as e:
        print(f"error: {(str(e).strip().splitlines() or [type(e).__name__])[0]}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
