"""What each command of ``python -m wpcore`` does, given its parsed arguments; each returns the exit
status. The work is done by the modules they call (``plan``, ``preflight``, ``fanout``,
``experiment``, ``publish``, ``share``, ``book``); here arguments become calls and results lines.
"""
from __future__ import annotations

import json
import sys

from .options import UsageError, experiment_from_args
from .trainable import check_trainable


def select(items, wanted: list[str] | None):
    """The plan items ``--select`` names: an index of ``plan``, or a label (every seed with it)."""
    if not wanted:
        return items
    out = []
    for s in wanted:
        hits = [it for it in items if (s.isdigit() and it.index == int(s)) or it.label == s]
        if not hits:
            labels = ", ".join(dict.fromkeys(it.label for it in items))
            raise UsageError(f"no run {s!r} in {', '.join(dict.fromkeys(it.chapter for it in items))}; "
                             f"give an index of `plan` or one of: {labels}")
        out += hits
    return out


def cmd_plan(args) -> int:
    from .. import plan, preflight

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
    import torch

    from .. import distributed, fanout, plan
    from ..experiment import default_device

    everything = plan.build(args.profile, args.chapter, args.device)
    items = fanout.ordered(select(everything, args.select), everything)
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
        workers = args.workers or fanout.cpu_workers()
        try:  # every rank checks the data; concurrent first downloads are safe (store.download)
            unavailable = fanout.prepare_data(items, log=print if main_rank else (lambda s: None))
            items, skipped = fanout.runnable(items, unavailable)
            on_cpu = (torch.device(device) if device else default_device()).type == "cpu"
            if on_cpu and not distributed.is_distributed() and workers > 1 and not args.compile:
                outcomes = skipped + fanout.run_packed(items, workers)
            else:
                outcomes = skipped + fanout.run_here(items, device, args.compile,
                                                     log=print if main_rank else (lambda s: None))
        finally:
            distributed.shutdown()
    print(fanout.summary(outcomes))
    return 0 if all(o.ok for o in outcomes) else 1


def cmd_train(args) -> int:
    from .. import distributed
    from ..experiment import run
    from ..present import TerminalProgress

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


def _verify(args, profile: str | None) -> int:
    from .. import records, verify
    from ..present import TerminalProgress

    keys = list(args.key or [])
    if args.chapter or args.index:
        if not (profile and args.chapter and args.index):
            raise UsageError("records verify takes --key KEY..., or --profile P and --chapter C with --index I...")
        from ..plan import chapter_experiments

        exps = chapter_experiments(profile, [args.chapter])[0][1]
        bad = [i for i in args.index if not 0 <= i < len(exps)]
        if bad:
            raise UsageError(f"{args.chapter} has runs 0-{len(exps) - 1} at {profile}; no index {bad[0]}")
        keys += [exps[i].key() for i in args.index]
    if not keys:
        raise UsageError("records verify needs --key KEY... or --profile P --chapter C --index I...")
    found = {k: records.find(k) for k in keys}
    missing = [k for k, r in found.items() if r is None]
    if missing:
        raise UsageError(f"no record {missing[0]}; `python -m wpcore records` lists them")
    results = [verify.verify(r, args.device, log=TerminalProgress()) for r in found.values()]
    print(verify.table(results, args.tolerance))
    return 0 if all(c.agrees(args.tolerance) for c in results) else 1


def cmd_records(args) -> int:
    from .. import publish, share
    from ..profiles import PROFILES

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
    if args.records_command == "verify":
        return _verify(args, one)
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


def cmd_book(args) -> int:
    from ..book import build
    from ..fanout import summary, train_missing

    outcomes = train_missing(args.profile, args.chapter, args.workers, retrain_stale=args.retrain)
    if outcomes:
        print(summary(outcomes))
    if args.retrain:  # what the workers did not make (on a GPU, or one run alone), one after the other
        from ..experiment import run
        from ..present import TerminalProgress
        from ..publish import publish, used_experiments

        for _, exp in used_experiments([args.profile], args.chapter).values():
            run(exp, log=TerminalProgress(), retrain_stale=True)
        publish(args.profile, args.chapter)
    build(args.profile, args.chapter)
    return 0


def cmd_models(args) -> int:
    from ..nets import families, list_models

    for pattern, help_ in families():
        print(f"{pattern:28s} {help_}")
    print("examples:", ", ".join(list_models()))
    return 0


def cmd_data(args) -> int:
    from ..data.store import ensure_fashion_mnist

    path = ensure_fashion_mnist()
    if not args.quiet:
        print(f"Fashion-MNIST: {path}")
    return 0


COMMANDS = {"plan": cmd_plan, "run": cmd_run, "train": cmd_train, "records": cmd_records, "book": cmd_book,
            "models": cmd_models, "data": cmd_data}
