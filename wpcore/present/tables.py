"""Tables and the provenance banner every chapter ends with."""
from __future__ import annotations

import datetime as dt
import math
from collections import Counter

import pandas as pd


def fmt(value, digits: int = 2, unit: str = "") -> str:
    """A number for a table or a sentence: fixed digits, unit, and '—' for missing."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if isinstance(value, int):
        return f"{value:,}{unit}"
    return f"{value:.{digits}f}{unit}"


def show_table(df: pd.DataFrame, caption: str | None = None):
    """Display a DataFrame as a clean HTML table (no index), with an optional caption."""
    from IPython.display import display

    styler = df.style.hide(axis="index")
    if caption:
        styler = styler.set_caption(caption)
    display(styler)


def code_versions(records) -> str:
    """The code the records were made with, in one phrase: versions, commits, uncommitted runs."""
    versions = sorted({str(r.code.get("wpcore")) for r in records})
    commits = sorted({(r.code.get("git") or "no git")[:7] for r in records})
    dirty = sum(bool(r.code.get("dirty")) for r in records)
    return (f"wpcore {', '.join(versions)} at {len(commits)} commit{'s' * (len(commits) != 1)} "
            f"({', '.join(commits)})"
            + (f"; {dirty} of the runs from a work tree with uncommitted changes" if dirty else ""))


def provenance(records, profile: str, wall_s: float | None = None, chapter: str | None = None):
    """A banner: profile, datasets, devices, dates, code versions, seeds, wall time, and, for a
    ``chapter`` (its name in ``chapters/``), the command that rebuilds its page."""
    from IPython.display import Markdown, display

    records = list(records)
    devices = Counter(r.device.get("name") or f"{r.device.get('type')} ({r.device.get('threads')} "
                      f"thread{'' if r.device.get('threads') == 1 else 's'})"
                      for r in records)
    code = code_versions(records)
    datasets = sorted({r.config.get("dataset", "?") for r in records})
    precisions = Counter(r.precision or r.config.get("precision", "?") for r in records)
    seeds = sorted({r.config.get("seed", 0) for r in records})
    dates = sorted(r.created[:10] for r in records)
    train_s = sum(r.wall_time_s for r in records)
    lines = [
        f"**Provenance.** Profile `{profile}`; data: {', '.join(datasets) or '—'}; "
        f"{len(records)} runs (seeds {', '.join(map(str, seeds)) or '—'}), trained on "
        + "; ".join(f"{d} ({n} runs)" if len(devices) > 1 else d for d, n in devices.items())
        + " in " + ", ".join(f"{p} ×{n}" if len(precisions) > 1 else p for p, n in precisions.items())
        + (" (bf16 autocast: convolutions in bf16, weights and batch norm in fp32)" if "bf16" in precisions else "")
        + ".",
        f"Code: {code}. Records made {dates[0] if dates else '—'}"
        + (f" to {dates[-1]}" if dates and dates[-1] != dates[0] else "")
        + f"; total training time in the records {train_s:.0f} s"
        + (f"; this page executed in {wall_s:.0f} s" if wall_s is not None else "")
        + f" on {dt.date.today().isoformat()}.",
    ]
    if chapter:
        rebuild = (f"Rerun this page: `make setup && .venv/bin/python -m wpcore book --profile {profile} "
                   f"--chapter {chapter}`")
        from ..publish import published_chapters

        if chapter in published_chapters(profile):  # its records live in results/<profile>/, not runs/
            lines.append(rebuild + f" (it reuses the published records under `results/{profile}/`; to train one "
                         f"again and compare it number by number: `python -m wpcore records --profile {profile} "
                         f"verify --chapter {chapter} --index N`, N from `python -m wpcore plan --profile {profile} "
                         f"--chapter {chapter}`).")
        else:
            lines.append(rebuild + " (records with matching keys are reused; delete `runs/` to retrain).")
    stale = stale_lines(records)
    if stale:
        lines.append("**Made with older code.** " + " ".join(stale))
    display(Markdown("\n\n".join(lines)))


def stale_lines(records) -> list[str]:
    """One sentence per record that is not current (the code that defines it changed since it was
    made, or a record it was made from was made again): a published book shows them, marked."""
    from ..experiment import record_staleness

    out = []
    for r in records:
        why = record_staleness(r)
        if why:
            out.append(f"`{r.key}` ({r.extra.get('label') or r.config['model']}): {'; '.join(why)}.")
    return out
