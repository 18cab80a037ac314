# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Wide Residual Networks
#
# *Thesis chapter 3; S. Zagoruyko and N. Komodakis, "Wide Residual Networks", BMVC 2016.*
#
# Residual networks of 2016 grew ever deeper and thinner: a thousand layers, each with few
# channels. The thesis asks whether depth is really what they need. Its answer: widen the
# residual blocks and cut the depth. A 16-layer network 8 times wider than the original matches
# or beats a 1000-layer one, with fewer sequential layers and far better use of a GPU.
#
# This chapter builds the networks, trains a deep-thin and a shallow-wide one of similar size
# under the selected profile, and compares what we measure with what the thesis reports.

# %% tags=["parameters"]
profile = "quick"  # smoke | quick | full

# %% tags=["hide-input"]
import time

import pandas as pd
from IPython.display import Markdown, display

from wpcore import experiment, nets, present
from wpcore.profiles import DESCRIPTION, check_profile
from wpcore.studies import wide_resnets as study

check_profile(profile)
present.theme()
t_page = time.perf_counter()
display(Markdown(f"Running under profile **{profile}**: {DESCRIPTION[profile]}."))

# %% [markdown]
# ## What the thesis reports
#
# CIFAR test error with mean/std preprocessing and flip/translation augmentation, the median of
# 5 runs. Each number carries its source tag from the reference sheet: **[R]** read in the
# official repository, **[T]** a third-party quote of the paper, **[U]** recalled from the paper
# and not yet checked against its PDF.

# %% tags=["hide-input"]
present.show_table(pd.DataFrame([
    {"network": name, "parameters": present.fmt(v["params"] / 1e6, 1, "M"),
     "CIFAR-10 error (%)": present.fmt(v["cifar-10"]), "CIFAR-100 error (%)": present.fmt(v["cifar-100"]),
     "source": v["source"]}
    for name, v in study.THESIS.items()]), caption="Thesis numbers (CIFAR test error, %)")

# %% [markdown]
# ## The network
#
# WRN-*d*-*k* has depth *d* = 6*N* + 4: a 3x3 stem convolution, three groups of *N* residual
# blocks with 16*k*, 32*k* and 64*k* channels (the second and third start with stride 2), then
# batch norm, ReLU, global average pooling and a linear classifier. Each block is
# pre-activation B(3,3): BN-ReLU-conv3x3-BN-ReLU-dropout-conv3x3, added to the shortcut. Below, the
# shapes of WRN-16-4 on a 32x32 colour image, group by group.

# %% tags=["hide-input"]
import torch

net = nets.create("wrn-16-4", num_classes=10)
groups = net.forward_groups(torch.zeros(1, 3, 32, 32))
present.show_table(pd.DataFrame([{"group": i + 1, "output shape (C, H, W)": tuple(g.shape[1:]),
                                  "parameters": present.fmt(sum(p.numel() for p in net.groups[i].parameters()))}
                                 for i, g in enumerate(groups)]), caption="WRN-16-4, group outputs")

# %% [markdown]
# Parameter count grows with the square of the width but only linearly with depth. The grid
# below is computed by building each network (CIFAR-10 head); the thesis's rows are exactly
# these numbers.

# %% tags=["hide-input"]
depths, widths = [10, 16, 22, 28, 40], [1, 2, 4, 8, 10]
grid = pd.DataFrame([[sum(p.numel() for p in nets.create(f"wrn-{d}-{k}").parameters()) / 1e6 for k in widths]
                     for d in depths], index=[f"depth {d}" for d in depths], columns=[f"k={k}" for k in widths])
display(grid.style.format("{:.2f}M").background_gradient(cmap="Blues", axis=None)
        .set_caption("Parameters of WRN-d-k (millions)"))

# %% [markdown]
# ## The experiment
#
# A deep-thin and a shallow-wide network of similar parameter count, trained with the thesis's
# recipe (SGD with Nesterov momentum 0.9, weight decay 5e-4, batch 128, learning rate 0.1 divided
# by 5 at 30%, 60% and 80% of training, random crop from a 4-pixel reflection pad and flips). The
# `quick` profile scales it down to Fashion-MNIST subsets and a few epochs; `full` is the
# thesis's 200-epoch CIFAR-10 run. A run whose record already exists is not trained again.

# %%
exps = study.experiments(profile)
records = [experiment.run(e, log=present.NotebookProgress()) for e in exps]

# %% tags=["hide-input"]
labels = {e.key(): e.name() for e in exps}
fig = present.curves(records, label=lambda r: labels.get(r.key, r.config["model"]),
                     title=f"Learning curves ({profile} profile, {records[0].config['dataset']})")

# %% [markdown]
# Each line is one network (a band shows the spread over seeds where there are several). Look at
# the right panel: the test error of both networks at the end of training.

# %% [markdown]
# ## Thesis vs ours

# %% tags=["hide-input"]
rows = []
for r in records:
    model = r.config["model"]
    ref = study.THESIS.get(model, {})
    rows.append({"run": labels.get(r.key, model), "parameters": present.fmt(r.final["params"]),
                 "our test error (%)": present.fmt(r.final["test_error"]),
                 "our data": f"{r.config['dataset']} ({r.data.get('n_train', '?')} train / {r.data.get('n_test', '?')} test)",
                 "epochs": r.config["epochs"], "seed": r.config["seed"],
                 "s / epoch": present.fmt(r.final["time_s"] / max(r.final["epoch"], 1), 1),
                 "thesis CIFAR-10 error (%)": present.fmt(ref.get("cifar-10")),
                 "thesis source": ref.get("source", "— (no thesis number for this network)")})
present.show_table(pd.DataFrame(rows), caption=f"Ours ({profile} profile) next to the thesis")

# %% [markdown]
# ## Verdict

# %% tags=["hide-input"]
for c in study.claims(records, profile):
    display(Markdown(f"**Claim.** {c.claim}\n\n- *Thesis:* {c.thesis}\n- *Ours:* {c.ours}\n"
                     f"- *Verdict:* **{c.verdict}** ({c.detail})"))
if profile != "full":
    display(Markdown(
        "What this profile can and cannot show: the networks are small and trained for minutes on "
        f"{records[0].config['dataset']} subsets, far from convergence, so the comparison speaks "
        "about early training of these small networks, not about the thesis's CIFAR results. Run "
        "the `full` profile on a GPU to test the thesis's numbers themselves."))

# %% tags=["hide-input"]
present.provenance(records, profile, time.perf_counter() - t_page)
