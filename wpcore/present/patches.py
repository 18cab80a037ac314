"""Tables and sentences of the patch-comparison chapter (thesis ch. 1), drawn from the records and
the study's setup; the figures are in :mod:`.patches_figures`."""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from .. import nets
from ..data import photos as PH
from ..data import stereo as ST
from ..nets import deepcompare as dc
from ..studies import patches as study
from ..studies.verdict import mean_spread
from .tables import fmt


def data_section(profile: str) -> str:
    """What the profile trains and tests on, in words, from its setup (``study.SETUP``)."""
    c = study.SETUP[profile]
    o = c.get("options", {})
    if c.get("dataset") != "mixed":
        return ""
    photos = ", ".join(PH.PHOTOS)
    return (f"The `{profile}` profile adds a second kind of pair and trains on both: {o['n_train']:,} training "
            f"pairs, half from the stereo pair (rows above {ST.STEREO_SPLIT_ROW}) and half from the photographs "
            f"scikit-image ships without a download ({len(PH.PHOTOS)}: {photos}; `clock` is left out, its test "
            "region has no texture to match). A matching photograph pair is a "
            "patch and the same point seen through a random change of viewpoint (rotation up to 30°, scale "
            "0.8-1.25, shear), blur (Gaussian, sigma "
            f"{', '.join(f'{x:g}' for x in PH.BLUR_SIGMAS)} px) and lighting (gain, bias, gamma, noise); a "
            "non-matching one puts the second patch elsewhere in the same photograph, half of the time only "
            f"32 to 64 px away. Training uses the first {PH.PHOTO_SPLIT:.0%} of each photograph along its longer "
            f"side and testing the rest, with every patch centre at least {PH.FOOTPRINT} px (farther than a warped "
            "patch reaches) from the line between them, so the "
            f"{o['n_test']:,} test pairs (half stereo, half photographs) show image regions no training pair "
            "touches. The records keep the FPR95 of each half as well.")


# --- results ---------------------------------------------------------------------------------

def run_name(record) -> str:
    return record.extra.get("label") or study.name_of(record)


def by_network(records) -> dict[str, list]:
    """The records grouped by run name (one entry per network and SIFT), in the records' order."""
    out: dict[str, list] = {}
    for r in records:
        out.setdefault(run_name(r), []).append(r)
    return out


def _values(rs, key: str) -> list[float]:
    return [r.final[key] for r in rs if r.final.get(key) is not None]


# the second test sets a record may carry: key in ``final`` -> column / words
EXTRA_SCORES = {"fpr95_stereo": "stereo half", "fpr95_photos": "photographs half",
                "fpr95_transfer": "on warped photos"}


def results_table(records) -> pd.DataFrame:
    """Ours next to the thesis's Brown mean, one row per network (mean ± s.d. over its seeds), from
    the records (the data and the thesis's sources go in the caption: ``results_caption``)."""
    rows = []
    extra = [k for k in EXTRA_SCORES if any(r.final.get(k) is not None for r in records)]
    for name, rs in by_network(records).items():
        model = study.name_of(rs[0])
        ref = study.THESIS.get(model) or study.THESIS_PYTORCH.get(model)
        tag = "" if not ref else (" [paper]" if model in study.THESIS else " [re-scored]")
        rows.append({"run": name, "parameters": fmt(rs[0].final.get("params")),
                     "our FPR95 (%)": mean_spread(_values(rs, "fpr95")),
                     "interpolated (%)": mean_spread(_values(rs, "fpr95_interp")),
                     **{f"{EXTRA_SCORES[k]} (%)": mean_spread(_values(rs, k)) for k in extra},
                     "thesis, Brown mean (%)": (fmt(float(np.mean(ref))) + tag) if ref else "—"})
    return pd.DataFrame(rows)


def seed_counts(profile: str, each: str = "") -> str:
    """"3 seeds" (followed by ``each`` when every network has them), or "6 seeds (2ch, 2ch-2stream)
    and 3 seeds (siam, siam-l2)" where the networks differ."""
    groups: dict[int, list[str]] = {}
    for m in study.MODELS[profile]:
        groups.setdefault(len(study.seeds(profile, m)), []).append(m)
    if len(groups) == 1:
        n = next(iter(groups))
        return f"{n} seed{'s' * (n != 1)}{each}"
    return " and ".join(f"{n} seed{'s' * (n != 1)} ({', '.join(ms)})" for n, ms in sorted(groups.items(), reverse=True))


def results_caption(records, profile: str) -> str:
    r = next(r for r in records if r.config["task"] == "patches")
    return (f"Ours ({profile} profile; {r.config['dataset']} pairs, {r.data.get('n_train', 0):,} train / "
            f"{r.data.get('n_test', 0):,} test; mean ± s.d. over the seeds of each network, {seed_counts(profile)}, SIFT "
            "is deterministic) next to the thesis's Brown means: "
            f"[paper] {study.THESIS_SOURCE}; [re-scored] {study.THESIS_PYTORCH_SOURCE}")


def check_halves(records, runs: dict[float, list]) -> str:
    """Where the convergence check's baseline still learns: its FPR95 on each half of a mixed test set
    at the profile's length and at twice it (mean over seeds, and each seed on the stereo half); ""
    where the records do not split their score."""
    by_key = {r.key: r for r in records}
    got = {m: [by_key[e.key()] for e in runs.get(m, []) if e.key() in by_key] for m in (1, 2)}
    if not got[1] or not got[2] or any(r.final.get("fpr95_photos") is None for m in got for r in got[m]):
        return ""

    def half(m, k):
        return np.mean([r.final[k] for r in got[m]])

    seeds = {m: ", ".join(f"{r.final['fpr95_stereo']:.1f}" for r in got[m]) for m in (1, 2)}
    e1, e2 = runs[1][0].epochs, runs[2][0].epochs
    return (f"Where the check's change comes from: on the stereo half of the test pairs the baseline's FPR95 "
            f"goes from {half(1, 'fpr95_stereo'):.1f}% at {e1} epochs (seeds: {seeds[1]}) to "
            f"{half(2, 'fpr95_stereo'):.1f}% at {e2} ({seeds[2]}); on the photographs half from "
            f"{half(1, 'fpr95_photos'):.2f}% (s.d. {np.std([r.final['fpr95_photos'] for r in got[1]], ddof=1):.2f}) "
            f"to {half(2, 'fpr95_photos'):.2f}%. Both halves still improve, the stereo pairs (real "
            "correspondences between two views) by far the most, and they are where the seeds differ most.")


def second_scores(records) -> tuple[str, str]:
    """The two test sets whose orders ``rankings`` compares: the two halves of a mixed test set, or
    the test pairs and the warped photographs."""
    if any(r.final.get("fpr95_photos") is not None for r in records):
        return "fpr95_stereo", "fpr95_photos"
    return "fpr95", "fpr95_transfer"


def rankings(records) -> tuple[list[str], list[str]]:
    """The networks (and SIFT) ordered best first by their mean FPR95 on each of the two test sets
    of ``second_scores`` (runs without the second score are left out of both)."""
    a, b = second_scores(records)
    groups = {n: rs for n, rs in by_network(records).items() if _values(rs, b)}
    return tuple(sorted(groups, key=lambda n: np.mean(_values(groups[n], k))) for k in (a, b))


def ranking_sentence(records) -> str:
    """Whether the two test sets order the networks alike, in words."""
    a, b = second_scores(records)
    first, second = rankings(records)
    words = {"fpr95": "the stereo pairs", "fpr95_transfer": "the warped photos",
             "fpr95_stereo": "the stereo half", "fpr95_photos": "the photographs half"}
    if len(first) < 2:
        return f"Only one run has a score on {words[b]}, so there is no order to compare."
    if first == second:
        return f"Both test sets order the runs the same way, best first: {', '.join(first)}."
    return (f"**The two test sets order the runs differently.** Best first, on {words[a]}: "
            f"{', '.join(first)}; on {words[b]}: {', '.join(second)}. A network that is best on one "
            "kind of pair need not be best on the other: rotation, scale and lighting changes (photographs) "
            "ask for a different invariance than a horizontal shift (stereo).")


def curves_ylabels() -> dict:
    return {"train_loss": "training loss (hinge)", "fpr95": "test FPR95 (%)"}



# --- tables of the thesis and of the networks ------------------------------------------------

def thesis_tables() -> list[tuple[pd.DataFrame, str]]:
    """The thesis's Brown FPR95 per split and their mean: the paper's table and the re-scored models."""
    out = []
    for table, caption in ((study.THESIS, f"Thesis: {study.THESIS_SOURCE}"),
                           (study.THESIS_PYTORCH, f"Thesis models, {study.THESIS_PYTORCH_SOURCE}")):
        out.append((pd.DataFrame([{"network": m, **{s: fmt(v) for s, v in zip(study.SPLITS, vals)},
                                   "mean": fmt(float(np.mean(vals)))} for m, vals in table.items()]), caption))
    return out


def networks_table() -> pd.DataFrame:
    """Every registered DeepCompare network at the paper's width: parameters, descriptor, patch sizes."""
    rows = []
    for name in sorted(dc.BUILDERS):
        with torch.device("meta"):
            m = nets.create(name)
        rows.append({"network": name, "parameters": fmt(sum(p.numel() for p in m.parameters())),
                     "descriptor size": getattr(m, "dim", "— (no descriptor)"),
                     "patch sizes": "any >= 64" if "spp" in name else "64x64"})
    return pd.DataFrame(rows)


# --- the profile in words -------------------------------------------------------------------

def profile_sentence(profile: str) -> str:
    """What the profile trains (networks, width, seeds, steps, data), from the study's setup; at
    ``standard``, what it changes against ``quick`` and why (its documented deviations)."""
    if profile == "full":
        return ("The `full` profile trains every network at the paper's width on each of the six Brown "
                "train → test splits.")
    c = study.SETUP[profile]
    o = c["options"]
    steps = c.get("max_steps") or c["epochs"] * o["n_train"] // c["batch_size"]
    out = (f"The `{profile}` profile trains {', '.join(study.MODELS[profile])} at width "
           f"{c['model_kw'].get('width', 1):g} (the paper's is 1) with {seed_counts(profile, ' each')}, "
           f"{steps} steps of {c['batch_size']}-pair batches ({c['epochs']} epoch{'s' * (c['epochs'] != 1)} of "
           f"{o['n_train']:,} {c['dataset']} pairs), tested on {o['n_test']:,} pairs.")
    if profile != "standard":
        return out
    q = study.SETUP["quick"]
    q_steps = q["epochs"] * q["options"]["n_train"] // q["batch_size"]
    return out + (
        f" Against `quick` ({q_steps} steps on {q['options']['n_train']:,} stereo pairs, one seed) it changes "
        "what kept `quick` from deciding. The stereo pair alone asks for no invariance but a horizontal shift, "
        "so half of the training pairs now come from photographs seen through viewpoint, blur and lighting "
        f"changes, and the test pairs from regions that no training pair touches; the training set grows to "
        f"{o['n_train']:,} pairs so that each kind is seen as often as `quick` saw stereo pairs. Each network "
        f"trains {steps / q_steps:g} times as many steps and has {seed_counts(profile)}, so that a verdict can tell "
        "a difference between networks from seed noise (its minimal detectable difference stands beside the "
        "thesis's effect). The networks stay at half width to fit the profile's budget; they train much longer "
        "than `quick`'s because the baseline keeps learning for a long time (the convergence check below shows "
        "how much twice the training still changes it).")


def widget_records(records, profile: str) -> list:
    """The runs the threshold widget rescores: the runs whose weights the page keeps
    (``study.page_weights``, the first seed of each network) and SIFT."""
    keep = {e.key() for e in study.page_weights(profile)}
    return [r for r in records if r.config["task"] == "patch-sift" or r.key in keep]


def second_test_sentence(records) -> str:
    """What the second score of the results table measures, for the records' data."""
    if second_scores(records)[1] == "fpr95_photos":
        return ("The \"stereo half\" and \"photographs half\" columns split our FPR95 over the two halves of "
                "the test set: the stereo pair's rows below 300 (a horizontal shift and a little lighting "
                "between the two patches of a match), and the photographs' held-out regions (rotation, scale, "
                "shear, blur and lighting). Each half is balanced, so each column is an FPR95 of its own.")
    return ("The \"warped photos\" column scores the same networks, trained on stereo pairs only, on a second "
            "embedded set: patches of other scikit-image photographs against copies seen through a random "
            "rotation (up to 30°), scale, shear and lighting change. Like the thesis's train-on-one-scene, "
            "test-on-another protocol, it asks how well the learned comparison transfers.")


def verdict_scope(records, profile: str, state: str) -> str:
    """What the profile can and cannot show, for the verdict section (``state``: the words of
    ``present.training_state`` for the convergence check)."""
    c = study.SETUP.get(profile, {})
    if c.get("dataset") == "mixed":
        return (f"half-width networks trained for minutes on {c['options']['n_train']:,} embedded pairs (the "
                "stereo pair and synthetic changes of scikit-image's photographs), "
                f"{state}. The photographs' changes are synthetic (one affine map, one blur, one lighting change), "
                "not Brown's multi-view patches of real 3D scenes, and SIFT at a fixed orientation meets rotated "
                "patches it was not designed for. Run the `full` profile (Brown data, GPU) to test the thesis's "
                "numbers themselves.")
    return ("half-width networks trained for minutes on one stereo "
            f"pair, {state}; matching patches differ by a shift and a little lighting but never by rotation or "
            "scale, unlike Brown's multi-view patches. SIFT at a fixed orientation is well suited to this "
            "data. Run the `full` profile (Brown data, GPU) to test the thesis's numbers themselves.")


def undecided_sentence(claims) -> str:
    """Why each undecided claim stays undecided, from its evidence: the seeds' minimal detectable
    difference (MDE) against the thesis's own effect."""
    from ..studies.claim import Kind, Verdict

    out = []
    for c in claims:
        e = c.evidence
        if c.kind is not Kind.CLAIM or c.verdict is not Verdict.INCONCLUSIVE or e.mde is None or e.thesis_effect is None:
            continue
        name = c.claim.split(":")[0].rstrip(".")
        if e.mde > abs(e.thesis_effect):
            out.append(f"*{name}*: the seeds' spread hides a difference as small as the thesis's "
                       f"({abs(e.thesis_effect):.2f} {e.unit}, against a minimal detectable difference of "
                       f"{e.mde:.2f}); more seeds would be needed to decide it.")
        else:
            out.append(f"*{name}*: a difference the size of the thesis's ({abs(e.thesis_effect):.2f} {e.unit}) would "
                       f"have shown 80% of the time (minimal detectable difference {e.mde:.2f}), so on this data the "
                       f"effect is probably smaller than the thesis's, or reversed (we measured {e.diff:+.2f}).")
    return ("Why the undecided claims stay undecided:\n\n" + "\n".join(f"- {x}" for x in out)) if out else ""

