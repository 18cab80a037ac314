"""Command line: ``python -m wpcore {train,book,models,data} ...``.

``train`` runs the same ``experiment.run`` as the chapters and writes the same record, so a run
made here on a GPU is reused by the book.
"""
from __future__ import annotations

import argparse
import json
import sys


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, no usage dump
        sys.stderr.write(f"{self.prog}: error: {message} (see --help)\n")
        sys.exit(2)


def _positive_int(s: str) -> int:
    v = int(s)
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {s}")
    return v


def _nonneg_int(s: str) -> int:
    v = int(s)
    if v < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {s}")
    return v


def _kv(s: str):
    k, _, v = s.partition("=")
    if not k or not _:
        raise argparse.ArgumentTypeError(f"expected key=value, got {s!r}")
    try:
        return k, json.loads(v)
    except json.JSONDecodeError:
        return k, v


def parser() -> argparse.ArgumentParser:
    from .data import DATASETS
    from .profiles import PROFILES

    p = _Parser(prog="python -m wpcore", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    t = sub.add_parser("train", help="train one network and write its record")
    t.add_argument("model", help="registry name, e.g. wrn-16-4 (see `python -m wpcore models`)")
    t.add_argument("--dataset", default="fashion-mnist", choices=DATASETS)
    t.add_argument("--epochs", type=_nonneg_int, default=10)
    t.add_argument("--batch-size", type=_positive_int, default=128)
    t.add_argument("--lr", type=float, default=0.1)
    t.add_argument("--weight-decay", type=float, default=5e-4)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--train-subset", type=_positive_int, default=None, help="class-balanced subset size")
    t.add_argument("--test-subset", type=_positive_int, default=None)
    t.add_argument("--no-augment", action="store_true", help="no random crop / flip")
    t.add_argument("--dropout", type=float, default=None, help="dropout between the convolutions of a block")
    t.add_argument("--model-kw", type=_kv, action="append", default=[], metavar="KEY=VALUE",
                   help="extra builder argument (repeatable), e.g. --model-kw block='B(3,3)'")
    t.add_argument("--device", default=None, help="cpu, cuda, cuda:1 (default: cuda when available)")
    t.add_argument("--compile", action="store_true", help="torch.compile the model")
    t.add_argument("--precision", default="auto", choices=("auto", "bf16", "fp32"),
                   help="auto: bf16 autocast where the hardware does bf16 natively, else fp32")
    t.add_argument("--force", action="store_true", help="train even if a matching record exists")
    t.add_argument("--resume", dest="resume", action="store_true", default=True,
                   help="continue a killed run from its last epoch checkpoint (the default)")
    t.add_argument("--restart", dest="resume", action="store_false", help="discard a checkpoint and start over")
    t.add_argument("--max-steps", type=_positive_int, default=None, help="stop after this many steps")

    b = sub.add_parser("book", help="execute the chapters and build the HTML book")
    b.add_argument("--profile", default="quick", choices=PROFILES)
    b.add_argument("--chapter", action="append", default=None, help="only this chapter (repeatable)")
    b.add_argument("--retrain", action="store_true",
                   help="first train every run of the profile that is missing or stale (published ones too), "
                        "then publish the profile's records under results/<profile>/")

    r = sub.add_parser("records", help="list records and their status (current, stale, orphan); publish a profile")
    r.add_argument("action", nargs="?", default="list", choices=("list", "publish"),
                   help="list (default), or publish: copy a profile's records into results/<profile>/")
    r.add_argument("--profile", action="append", choices=PROFILES, default=None,
                   help="only the records this profile uses (repeatable); publish needs exactly one")
    r.add_argument("--check", action="store_true",
                   help="exit 1 when a published record is stale or a published profile lacks a record")

    sub.add_parser("models", help="list the registered network families")
    d = sub.add_parser("data", help="make sure the embedded data (Fashion-MNIST) is present")
    d.add_argument("--quiet", action="store_true")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        if args.command == "train":
            from . import distributed
            from .experiment import Experiment, run
            from .present import TerminalProgress

            model_kw = dict(args.model_kw)
            if args.dropout is not None:
                model_kw["dropout"] = args.dropout
            exp = Experiment(args.model, dataset=args.dataset, epochs=args.epochs, batch_size=args.batch_size,
                             lr=args.lr, weight_decay=args.weight_decay, seed=args.seed,
                             train_subset=args.train_subset, test_subset=args.test_subset,
                             augment=not args.no_augment, model_kw=model_kw, max_steps=args.max_steps,
                             precision=args.precision)
            device = distributed.init_from_env(args.device)  # torchrun: process group, this rank's device
            main_rank = distributed.is_main()
            try:
                rec = run(exp, device=device, log=TerminalProgress(), force=args.force, compile=args.compile,
                          resume=args.resume)
            finally:
                distributed.shutdown()
            if main_rank:
                print(json.dumps({"record": str(rec.path), "final": rec.final,
                                  "wall_time_s": round(rec.wall_time_s, 1)}))
        elif args.command == "book":
            from .book import build

            if args.retrain:
                from .experiment import run
                from .present import TerminalProgress
                from .publish import publish, used_experiments

                for _, exp in used_experiments([args.profile]).values():
                    run(exp, log=TerminalProgress(), retrain_stale=True)
                publish(args.profile)
            build(args.profile, args.chapter)
        elif args.command == "records":
            return _records(args)
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
    except (ValueError, RuntimeError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


def _records(args) -> int:
    from . import publish
    from .profiles import PROFILES

    profiles = args.profile or list(PROFILES)
    if args.action == "publish":
        if len(profiles) != 1:
            raise ValueError("publish needs exactly one --profile")
        publish.publish(profiles[0])
        return 0
    rows = publish.status(profiles)
    for r in rows:
        print(f"{r.status.value:8s} {r.key} {r.where:18s} {r.label[:40]:40s} {r.used_by or '-'}"
              + (f"  [{r.why}]" if r.why else ""))
    counts = {s: sum(r.status is s for r in rows) for s in publish.Status}
    print(", ".join(f"{n} {s.value}" for s, n in counts.items()))
    if args.check:
        problems = publish.check(profiles)
        for p in problems:
            print("error: " + p, file=sys.stderr)
        return 1 if problems else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
