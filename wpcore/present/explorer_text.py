"""The width/depth explorer's words and numbers: the row of numbers under its controls and the
sentences beside it, made in Python from ``studies.wide_resnets_explorer``'s data (the page's
script only looks them up); ``present.explorer`` draws the charts."""
from __future__ import annotations

from ..studies import wide_resnets_explorer as study
from ..studies.verdict import mean_spread


def sig(x: float, digits: int = 3) -> str:
    """``digits`` significant digits, trailing zeros kept: 1.0 -> "1.00", 606.4 -> "606", 0.184 -> "0.184"."""
    return f"{x:#.{digits}g}".rstrip(".")


def si(x: float, unit: str = "") -> str:
    """3 significant digits with an SI prefix: 693,498 -> "693 k", 3.2e17 FLOP -> "320 PFLOP"."""
    div, prefix = next(((d, p) for d, p in ((1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"))
                        if abs(x) >= d), (1, ""))
    return f"{sig(x / div)} {prefix}{unit}".rstrip()


def net_name(depth: int, width: int, block: str) -> str:
    return f"WRN-{depth}-{width} {block}"


def geometry(shape) -> str:
    return "x".join(map(str, shape))


def rate(img_s: float) -> str:
    """Images per second, whole above 100, else 2 significant digits: 1,234; 56; 0.18."""
    return f"{img_s:,.0f}" if img_s >= 100 else sig(img_s, 2)


def speed_text(s: dict | None) -> str:
    if s is None:
        return "— (no run in this profile to measure or estimate it from)"
    if s["measured"]:
        runs = f"the fastest of {s['runs']} runs" if s["runs"] > 1 else "1 run"
        return (f"{rate(s['img_s'])} images/s of {s['dataset']} {geometry(s['shape'])} on {s['device']}: "
                f"measured, {runs}")
    return f"about {rate(s['img_s'])} images/s of {geometry(s['shape'])} on {s['device']}: an estimate"


def thesis_text(points: list[dict]) -> str:
    if not points:
        return "— (not in the thesis's tables)"
    return "; ".join(f"{p['error']:.2f}% ({p['table']} [{p['tag']}]{', ' + p['preprocessing'] if p['preprocessing'] else ''})"
                     for p in points)


def ours_text(runs: list[dict], profile: str) -> str:
    if not runs:
        return f"— (not trained at {profile})"
    by_variant: dict[str, list[dict]] = {}
    for r in runs:
        by_variant.setdefault(r["variant"], []).append(r)
    parts = []
    for variant, rs in sorted(by_variant.items()):
        r0 = rs[0]
        parts.append(f"{variant + ': ' if variant else ''}{mean_spread([r['error'] for r in rs])}% "
                     f"({len(rs)} seed{'s' * (len(rs) != 1)}, {r0['dataset']} {geometry(r0['shape'])}, "
                     f"{r0['n_train']:,} images x {r0['epochs']} epochs)")
    return "; ".join(parts)


def row(net: dict, profile: str) -> dict[str, str]:
    """The displayed text of every field of the table for one network of the grid."""
    return {"name": net_name(net["depth"], net["width"], net["block"]),
            "params": f"{net['params']:,} ({si(net['params'])}), CIFAR-10 head",
            "flops": f"{si(net['flops'], 'FLOP')} per 32x32 image (forward + backward)",
            "speed": speed_text(net["speed"]), "thesis": thesis_text(net["thesis"]),
            "ours": ours_text(net["ours"], profile)}


def basis_text(ex: study.Explorer) -> str:
    """What "measured" and "estimate" mean on this page."""
    measured = ("Speeds. Measured: the training images of a run (training-set size x epochs) over its wall time, "
                "evaluation after each epoch included, on the machine its record names.")
    if ex.estimate is None:
        return measured + " No run of this profile has a record, so none is estimated."
    e = ex.estimate
    return (measured + f" Estimate, for a network this profile did not train: the median training rate of its "
            f"{e.runs} runs on {e.device}, {si(e.rate, 'FLOP/s')}, over the training FLOPs above; rough, as small "
            "networks use a machine less well than large ones." + agreement_text(study.benchmark_agreement(e)))


def agreement_text(rows: list[dict]) -> str:
    """How far the estimate is from the CPU benchmark table ("" without one)."""
    if not rows:
        return ""
    lo, hi = min(r["ratio"] for r in rows), max(r["ratio"] for r in rows)
    within = all(1 / study.AGREEMENT_FACTOR <= r["ratio"] <= study.AGREEMENT_FACTOR for r in rows)
    return (f" Against the CPU benchmark table (benchmarks/results/cpu.md, {rows[0]['date']}: our engine at 32x32 "
            f"on {rows[0]['device']}, per thread): the estimate is {sig(lo, 2)}-{sig(hi, 2)}x the measured rate for "
            + ", ".join(r["network"] for r in rows)
            + (f", within the factor of {study.AGREEMENT_FACTOR:g} this page states (below 1: our runs train "
               "14x14 images, little work a step, some on a loaded machine)."
               if within else f", outside the factor of {study.AGREEMENT_FACTOR:g} it should be within."))
