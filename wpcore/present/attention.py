"""Figures and tables of the attention transfer chapter (thesis ch. 4), drawn from the networks and
the records. The study (``wpcore.studies.attention``) computes; this module draws.

The central figure (``transfer_figure``) draws a teacher and a student group by group, from
their ``forward_groups`` outputs, and links the groups that ``losses.match_groups`` pairs: the
AT loss is computed exactly between those.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
import torch

from .. import nets
from ..losses import attention as losses
from ..studies import attention as study
from . import diagrams as D


@torch.no_grad()
def _row(ax, net, x, y: float, name: str, colour: str) -> list[D.Box]:
    groups = net.eval().forward_groups(x)
    logits = net.forward_head(groups[-1])
    ax.text(0.2, y + 0.75, name, fontsize=9, fontweight="bold", color=colour)
    items = [("input", "input", D.shape_text(x.shape))]
    items += [(f"group {i + 1}", "conv", D.shape_text(g.shape)) for i, g in enumerate(groups)]
    items += [("pool + linear", "fc", D.shape_text(logits.shape))]
    boxes, prev = [], None
    for k, (text, kind, sub) in enumerate(items):
        b = D.box(ax, 1.2 + 2.35 * k, y, text, kind, sub, w=1.9, h=0.8, fontsize=8)
        if prev is not None:
            D.arrow(ax, prev.right, b.left)
        boxes.append(b)
        prev = b
    return boxes


def input_shape(data: dict) -> tuple[int, int, int]:
    """(C, H, W) of what the networks of ``data`` (an experiment's data fields) see: the dataset's
    test images, resized to ``image_size`` where it is set."""
    from ..data import load

    c, h, w = load(data["dataset"], "test").shape
    size = data.get("image_size")
    return (c, size, size) if size else (c, h, w)


def transfer_figure(teacher: str, student: str, shape: tuple[int, int, int] = (1, 28, 28)):
    """Teacher (top) and student (bottom) group by group, with the group outputs the AT loss
    compares (``match_groups``: equal spatial size) joined by red arrows."""
    t_net, s_net = nets.create(teacher, in_channels=shape[0]), nets.create(student, in_channels=shape[0])
    x = torch.zeros(1, *shape)
    with torch.no_grad():
        pairs = losses.match_groups(s_net.eval().forward_groups(x), t_net.eval().forward_groups(x))
    fig, (ax,) = D.new(9.5, 3.6)
    D.canvas(ax, (0, 12.6), (0.2, 5.6))
    top = _row(ax, t_net, x, 4.0, f"teacher {teacher} (trained first, then frozen)", "#333333")
    bottom = _row(ax, s_net, x, 1.3, f"student {student} (trained with the AT loss)", "#333333")
    for k, (i, j) in enumerate(pairs):
        a, b = top[1 + j], bottom[1 + i]
        D.arrow(ax, a.bottom, b.top, colour="#d55e00", style="-|>", text="AT" if k else "AT loss", fontsize=7.5)
    ax.text(6.3, 0.35, "AT loss = β Σ over linked groups of mean (Q_S − Q_T)²,  Q = vec(mean_c |A_c|²) / ‖·‖₂",
            ha="center", fontsize=8.5, color="#d55e00")
    return D.save_or_show(fig)


# --- attention maps (from the records' weights) ---------------------------------------------

def definitions_figure(model, x, group: int = 1, name: str = ""):
    """The three attention maps of the thesis (F_sum, F_sum^p, F_max^p with p = 2) of one group
    of ``model`` on one image ``x`` (1, C, H, W), each with its colour bar."""
    with torch.no_grad():
        g = model.eval().forward_groups(x)[group]
    fig, axes = plt.subplots(1, 4, figsize=(9.5, 2.6))
    axes[0].imshow(x[0].permute(1, 2, 0).squeeze(-1).numpy(), cmap="gray")
    axes[0].set_title("input", fontsize=9)
    titles = {"sum": "F_sum = Σ_c |A_c|", "sum_p": "F_sum² = Σ_c |A_c|²", "max_p": "F_max² = max_c |A_c|²"}
    for ax, (key, fn) in zip(axes[1:], losses.MAPS.items()):
        h = ax.imshow(fn(g)[0].numpy(), cmap="inferno")
        ax.set_title(titles[key], fontsize=9)
        fig.colorbar(h, ax=ax, fraction=0.046, label="activation²" if "²" in titles[key] else "activation")
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
        ax.grid(False)
    fig.suptitle(f"The three attention maps of group {group + 1} of {name} ({tuple(g.shape[1:])} output)", fontsize=10)
    fig.tight_layout()
    return fig


def maps_figure(raw, maps: dict, class_names=None, labels=None):
    """One row per image; per group, one column per network (``maps``: name -> ``study.group_maps``
    output, each map scaled to [0, 1] per image; one colour bar for all)."""
    names = list(maps)
    n_groups = len(next(iter(maps.values())))
    n = raw.shape[0]
    cols = 1 + n_groups * len(names)
    fig, axes = plt.subplots(n, cols, figsize=(1.05 * cols + 0.8, 1.15 * n + 0.7), squeeze=False)
    im = None
    for i in range(n):
        axes[i, 0].imshow(raw[i].permute(1, 2, 0).squeeze(-1).numpy(), cmap="gray")
        if labels is not None and class_names:
            axes[i, 0].set_ylabel(class_names[int(labels[i])], fontsize=8)
        for g in range(n_groups):
            for k, name in enumerate(names):
                ax = axes[i, 1 + g * len(names) + k]
                im = ax.imshow(maps[name][g][i], cmap="inferno", vmin=0, vmax=1)
                if i == 0:
                    ax.set_title(f"group {g + 1}\n{name}", fontsize=7.5)
    axes[0, 0].set_title("input", fontsize=8)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
        ax.grid(False)
    fig.tight_layout(rect=(0, 0, 0.93, 1))
    cax = fig.add_axes((0.945, 0.15, 0.015, 0.7))
    fig.colorbar(im, cax=cax, label="F_sum² / its maximum")
    return fig


def errors_figure(rows: list[dict], title: str | None = None):
    """Student test error by method: one dot per seed, the mean with its s.d. (black), and the
    teacher's error as a dashed line (``study.results_table`` rows)."""
    df = pd.DataFrame([{"pair": r["pair"], "method": r["method"], "test error (%)": e}
                       for r in rows for e in r["errors"]])
    pairs = list(dict.fromkeys(r["pair"] for r in rows))
    fig, axes = plt.subplots(1, len(pairs), figsize=(7.5 * len(pairs), 4.0), squeeze=False)
    for ax, pair in zip(axes[0], pairs):
        d = df[(df["pair"] == pair) & (df["method"] != "teacher")]
        order = list(dict.fromkeys(d["method"]))
        sns.pointplot(d, x="method", y="test error (%)", order=order, errorbar="sd", linestyle="none",
                      color="black", marker="_", markersize=14, capsize=0.08, ax=ax)
        sns.stripplot(d, x="method", y="test error (%)", order=order, hue="method", legend=False, size=6,
                      jitter=0.12, alpha=0.8, ax=ax)
        t = df[(df["pair"] == pair) & (df["method"] == "teacher")]["test error (%)"]
        if len(t):
            ax.axhline(t.mean(), color="gray", linestyle="--", linewidth=1)
            ax.annotate(f"teacher {t.mean():.1f}%", (1, t.mean()), xycoords=("axes fraction", "data"),
                        xytext=(-2, 3), textcoords="offset points", fontsize=8, color="gray", ha="right")
        ax.set(title=f"students of {pair}", xlabel=None)
        ax.tick_params(axis="x", rotation=20)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


DISTANCE_UNIT = "x1e-3"   # the unit the study's check uses for the AT distance


def distance_table(distances: dict[str, list[float]]) -> pd.DataFrame:
    """The AT distance of each kind of student, in the unit and digits of the study's check."""
    from ..studies.verdict import mean_spread

    return pd.DataFrame([{"student": study.METHOD_NAMES[m], "seeds": len(v),
                          f"AT distance to the teacher ({DISTANCE_UNIT})": mean_spread([x * 1e3 for x in v])}
                         for m, v in distances.items()])


def maps_note(teacher_record) -> str:
    """How far the networks whose maps are drawn were trained, from the teacher's record."""
    r = teacher_record
    return (f"*The teacher's maps come from its record: {r.config['epochs']} epochs ({r.final.get('steps', '?')} "
            f"steps) on {r.data.get('n_train', '?')} {r.config['dataset']} images, {r.final['test_error']:.1f}% test "
            "error. A map says where a network looks only as far as the network has learned to look: read these "
            "with that error in mind: the thesis's figures show the maps of converged networks.*")


# --- tables and sentences ---------------------------------------------------------------------

THESIS_COLUMNS = {"student": "student alone", "at": "AT", "f-actt": "F-ActT", "kd": "KD", "at+kd": "AT+KD",
                  "teacher": "teacher"}


def thesis_table() -> pd.DataFrame:
    """The thesis's CIFAR-10 errors per pair and method, each with its source tag."""
    return pd.DataFrame([{"teacher → student": f"{t} → {s}",
                          **{name: f"{ref[m][0]} [{ref[m][1]}]" for m, name in THESIS_COLUMNS.items()}}
                         for (t, s), ref in study.THESIS.items()])


def peers_table() -> pd.DataFrame:
    """A peer reproduction's CIFAR-100 accuracies (not the thesis's numbers)."""
    from .tables import fmt

    return pd.DataFrame([{"teacher": t, "student": s, "teacher top-1 (%)": fmt(ta), "student alone top-1 (%)": fmt(sa),
                          "AT top-1 (%)": fmt(at), "source": study.PEER_SOURCE}
                         for (t, s), (ta, sa, at) in study.PEERS.items()])


def _two_stage(profile: str, plan) -> dict[tuple, list[str]]:
    """{seeds: [methods]} of the methods that train more seeds than ``plan.seeds`` at ``profile``."""
    out: dict[tuple, list[str]] = {}
    for m in plan.methods:
        if study.seeds(profile, m) != plan.seeds:
            out.setdefault(study.seeds(profile, m), []).append(m)
    return out


def plan_sentence(profile: str) -> str:
    """What ``profile`` trains: pairs, data, epochs, methods, seeds."""
    plan = study.PLANS[profile]
    d = plan.data
    return (f"This profile: pairs {', '.join(f'{t} → {s}' for t, s in plan.pairs)}; {d['dataset']}"
            + (f" ({d['train_subset']} training images, {d.get('test_subset') or 'all'} test images"
               + (f", at {d['image_size']}x{d['image_size']}" if d.get("image_size") else "")
               + (", no augmentation" if d.get("augment") is False else "") + ")" if d.get("train_subset") else "")
            + f"; teacher {plan.teacher_epochs} epochs, students {plan.student_epochs} epochs; methods "
            + ", ".join(study.METHOD_NAMES[m] for m in plan.methods)
            + (f" (and {', '.join(study.METHOD_NAMES[m] for m in plan.extra_methods)} on the first pair)"
               if plan.extra_methods else "")
            + f"; seeds {', '.join(map(str, plan.seeds))}"
            + "".join(f" ({', '.join(study.METHOD_NAMES[m] for m in two)}: seeds {', '.join(map(str, ss))})"
                      for ss, two in _two_stage(profile, plan).items()) + "."
            + ("" if len(plan.pairs) == len(study.THESIS) else
               " The other thesis pairs are left to the `full` profile: their teachers (WRN-40-1, WRN-40-2) cost "
               "several times more per step than WRN-16-2 on two CPU cores, and gradient AT's double backprop "
               "already makes it the most expensive method here."))


def thesis_vs_ours(rows: list[dict], dataset: str) -> pd.DataFrame:
    """``study.results_table`` rows next to the thesis's number for the same pair and method."""
    keys = {v: k for k, v in study.METHOD_NAMES.items()}
    out = []
    for r in rows:
        t, s = r["pair"].split(" → ")
        ref = study.THESIS.get((t, s), {}).get(keys.get(r["method"], "teacher"))
        out.append({"pair": r["pair"], "method": r["method"], f"ours: {dataset} error (%)": r["test error (%)"],
                    "seeds": r["seeds"],
                    "thesis: CIFAR-10 error (%)": f"{ref[0]} [{ref[1]}]" if ref else "— (none for this pair or method)"})
    return pd.DataFrame(out)


def gap_table(rows: list[dict]) -> pd.DataFrame:
    """``study.gap_rows``: each method's share of the teacher-student gap, ours next to the thesis's."""
    def pct(x):
        return "—" if x is None else f"{100 * x:.0f}%"
    return pd.DataFrame([{"pair": r["pair"], "method": r["method"], "seeds": r["seeds"],
                          "ours: share of the gap closed": f"{pct(r['share'])} ({pct(r['lo'])} to {pct(r['hi'])})",
                          "thesis: share closed (CIFAR-10)": pct(r["thesis share"])} for r in rows])


def gap_sentence(rows: list[dict]) -> str:
    """The two gaps the shares are taken of (first pair)."""
    if not rows:
        return ""
    r = rows[0]
    theirs = f"; the thesis's teacher, {r['thesis gap']:.2f} points on CIFAR-10" if r["thesis gap"] else ""
    return (f"For {r['pair']}, our teacher's test error is {r['gap']:.2f} points below the student alone's "
            f"(mean over its seeds; the teacher is one run){theirs}. A method's share is its mean error reduction "
            "over that gap; the interval is that of the difference to the student alone, over the students' "
            "seeds, divided by the gap (the teacher's own test-set noise is not in it).")


def fact_sentence(rows: list[dict], profile: str) -> str:
    """How F-ActT ranks against AT and the student alone in ``study.results_table`` rows (first
    pair), next to the thesis's ranking; empty where the profile has no F-ActT runs."""
    from statistics import mean

    plan = study.PLANS[profile]
    pair = " → ".join(plan.pairs[0])
    got = {r["method"]: r["errors"] for r in rows if r["pair"] == pair and r["errors"]}
    names = [study.METHOD_NAMES[m] for m in ("f-actt", "at", "student")]
    if not all(n in got for n in names):
        return ""
    f, a, s = (mean(got[n]) for n in names)
    ref = study.THESIS.get(plan.pairs[0], {})
    thesis = (f" (thesis, CIFAR-10: AT {ref['at'][0]}% [{ref['at'][1]}], F-ActT {ref['f-actt'][0]}% "
              f"[{ref['f-actt'][1]}], student alone {ref['student'][0]}% [{ref['student'][1]}])") if ref else ""
    order = ("the student learned more from the teacher's whole activations than from its attention maps, the "
             "reverse of the thesis's ranking" if f < a else "AT helped more than F-ActT, as in the thesis")
    return (f"Mean test errors: F-ActT {f:.2f}%, AT {a:.2f}%, student alone {s:.2f}% ({len(got[names[0]])}, "
            f"{len(got[names[1]])} and {len(got[names[2]])} seeds). Here {order}{thesis}; the verdicts below say "
            "whether the seeds decide it. F-ActT is our definition (1x1 regressors, β_F = 1, not tuned), so "
            "the comparison is with that definition, not necessarily the paper's.")
