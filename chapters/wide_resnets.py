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
# *Thesis chapter 3; S. Zagoruyko and N. Komodakis, "Wide Residual Networks", BMVC 2016* {cite}`zagoruyko2016wide`.
#
# Residual networks {cite}`he2016deep` of 2016 grew ever deeper and thinner: a thousand layers,
# each with few channels {cite}`he2016identity`. The thesis asks whether depth is really what they need. Its answer: widen the
# residual blocks and cut the depth. A 16-layer network 8 times wider than the original matches
# or beats a 1000-layer one, with fewer sequential layers and far better use of a GPU.
#
# The chapter tests six claims: (a) a shallow-wide network is as accurate as a deep-thin one of
# similar size, and it trains faster; (b) no block type beats the basic B(3,3); (c) dropout
# between the convolutions of a block helps; (d) two convolutions per block (deepening factor
# l = 2) beat one, three or four at equal size; (e) at fixed depth, every doubling of the width
# lowers the error. It builds every network variant of the paper, counts their cost with
# PyTorch's FLOP counter, trains the experiments under the selected profile, and ends with an
# explorer of the whole width/depth/block grid that works in this static page.

# %% tags=["parameters"]
profile = "quick"  # smoke | quick | standard | full
live_widgets = True  # the book build sets False: its static pages have no kernel for a live widget

# %% tags=["hide-input"]
import time

from wpcore import experiment, present
from wpcore.nets import wrn
from wpcore.present import wide_resnets as show
from wpcore.present.explorer import show_explorer
from wpcore.studies import linear
from wpcore.studies import wide_resnets as study

t_page = present.start(profile, study)

# %% [markdown]
# ## What the thesis reports
#
# CIFAR test error with mean/std preprocessing and flip/translation augmentation, the median of
# 5 runs. Each number carries its source tag from the reference sheet: **[R]** read in the
# official repository, **[T]** a third-party quote of the paper, **[U]** recalled from the paper
# and not yet checked against its PDF.

# %% tags=["hide-input"]
for table, caption in show.thesis_tables():
    present.show_table(table, caption=caption)

# %% [markdown]
# ## The networks
#
# WRN-*d*-*k* has depth *d* = 6*N* + 4: a 3x3 stem convolution, three groups of *N* residual
# blocks with 16*k*, 32*k* and 64*k* channels (the second and third start with stride 2), then
# batch norm, ReLU, global average pooling and a linear classifier. The basic block is
# pre-activation B(3,3): BN-ReLU-conv3x3-BN-ReLU-dropout-conv3x3, added to the shortcut.
#
# ## The idea: wide blocks instead of many thin ones
#
# Left, a block of WRN-16-4 as the code builds it: the boxes are the operations of
# `Block.forward`, traced with `torch.fx` on a real block (so the order of BN, ReLU, dropout and
# convolutions, the strides, widths and the shortcut are the code's, not a drawing's). Right, the
# width/depth grid the chapter is about: the parameter count of WRN-*d*-*k*, counted on networks
# built for a 32x32 colour image. Depth adds parameters slowly, width quadratically; the thesis's
# CIFAR networks and the networks this page trains are outlined.

# %% tags=["hide-input"]
exps = study.experiments(profile)
fig = show.idea_figure(show.planned_cells(exps))

# %% [markdown]
# The block, as `wpcore` has it (every block type of the paper is this one class, with other
# kernel sizes):

# %% tags=["hide-input"]
present.show_source(wrn.Block)

# %% [markdown]
# Below, the shapes of WRN-16-4 on a 32x32 colour image, group by group.

# %% tags=["hide-input"]
present.show_table(show.groups_table("wrn-16-4"), caption="WRN-16-4, group outputs")

# %% [markdown]
# The paper also varies what a block is. B(*a*,*b*,...) lists the kernel sizes of its
# convolutions, all at the group's width: B(3,1,3) adds a 1x1 between the two 3x3, B(1,3,1) is
# a bottleneck that keeps the width, B(3,1,1) is network-in-network-like; the deepening factor
# *l* stacks *l* 3x3 convolutions per block. For ImageNet, WRN-50-2-bottleneck is ResNet-50
# (post-activation) with its inner 1x1 and 3x3 twice as wide. Parameters and FLOPs below are
# computed here, by building each network and running PyTorch's FLOP counter over one forward
# pass (1 multiply-add = 2 FLOP; a training step costs about 3x the forward).

# %% tags=["hide-input"]
present.show_table(show.cost_table(), caption="Parameters and FLOPs (PyTorch's FlopCounterMode), CIFAR-10 or ImageNet head")

# %% [markdown]
# ## The experiments
#
# The experiments, each network trained with several seeds under the thesis's recipe (SGD with
# Nesterov momentum 0.9, weight decay 5e-4, learning rate divided by 5 at 30%, 60% and 80% of
# training, random crop from a 4-pixel reflection pad and flips): (a) a deep-thin and a
# shallow-wide network of similar parameter count; (b) the six block types at similar parameter
# count; (c) dropout 0.3 between the convolutions, on and off; (d) at `standard` and `full`, the
# deepening factor $l$ (convolutions per block) at equal size; (e) widening at fixed depth, the
# trend of the thesis's Table 4: at `standard` WRN-16-1, -2 and -4 and WRN-40-1 and -2, three
# seeds each (six for WRN-16-2 and -4, see the verdict; this claim was added after the
# explorer's one-seed grid below had been published, and its networks are shared with the other
# experiments, so only seeds 1-5 of WRN-16-4 and 1-2 of WRN-40-2 were trained for it), at `full`
# Table 4's own WRN-40-1, -2 and -4 on CIFAR-10, one seed each. `quick` scales the recipe down to
# 3,000 Fashion-MNIST images at 14x14, ten epochs of batch 64 (learning rate 0.05, the thesis's
# ratio) with a 2% linear warm-up and, as at `standard`, no augmentation.
# `standard`, the published book, trains on 10,000 Fashion-MNIST images average-pooled to 14x14
# for 20 epochs of batch 128 with a 2% linear warm-up and, a deviation, no augmentation: at
# 14x14 the crop and flip kept the networks underfit for twice that training, while without them
# they fit their training set and their test error settles (the check below). `full` is the
# thesis's CIFAR-10/100 and SVHN recipes. A run whose record exists is reused.
#
# ```{note}
# **These runs' schedule was misnamed until 2026-12-07.** The `quick` and `standard` runs of this
# chapter and of the attention chapter were configured as `schedule="cosine"`, but `fit_config`
# (`wpcore/tasks/setup.py`) did not pass the schedule to the training loop, so they trained with
# the step schedule above; each record's per-epoch learning rate shows it. The fix passes the
# schedule and these recipes now name `step`, what was trained. The whole standard book was
# retrained under the fix (2026-12-07): all 177 records, each equal in every number to the record
# it replaced, their 24 weights files too.
# ```

# %%
progress = present.NotebookProgress(exps)
records = [experiment.run(e, log=progress) for e in exps]
progress.summary(records)

# %% tags=["hide-input"]
fig = show.errors_figure(records, profile)

# %% tags=["hide-input"]
main_ds = study.COMMON[profile]["dataset"]
by_key = {r.key: r for r in records}
dw = [by_key[e.key()] for e in study.parts(profile)["depth_width"] if e.dataset == main_ds]
fig = present.learning_curves(dw, label=lambda r: r.extra.get("label") or r.config["model"],
                              title=f"(a) learning curves, {main_ds} ({profile} profile); band: range of seeds")

# %% [markdown]
# ## Have the networks learned their task?
#
# Before any verdict: the baseline, the shallow-wide network of (a), trained at half, once and
# twice this profile's length, one dot per seed. If twice the training still moves its test error
# by more than the spread between seeds, the runs are not converged and the comparisons below
# are between half-trained networks. The check is of the width-2 baseline only; at `standard`
# two narrow (width-1) networks pass the same check on their own pages: WRN-16-1 with this
# recipe, the student trained alone in {doc}`the attention chapter <attention>`, and
# DiracNet-22-1 (the DiracNet recipe, on the same images for as long) in
# {doc}`the DiracNets chapter <diracnets>`.

# %% tags=["hide-input"]
convergence = present.show_convergence_check(records, study, profile)
present.show_linear_floor(records, study, profile, linear.baseline_floor(study, profile))

# %% [markdown]
# **Why not single-digit errors?** `standard`'s networks settle at about 12-13% test error, not the
# single digits a WRN reaches on the whole of Fashion-MNIST: they train on 10,000 of its 60,000
# images, at 14x14, where they converge in about 20 epochs. Pilots show what more images would cost
# (WRN-16-2 unless said, seed 0, one thread, two runs at a time on the 2 cores, where a run of this
# design takes about 145 s; the numbers are in `wpcore/studies/wide_resnets.py`): all 60,000 images
# reach 8.81% after 4 epochs and 8.13% after 8 and after 16 (8 epochs: 2.2 times this design's
# time); 30,000 reach 9.28% after 8 epochs and 9.53% after 16 (1.1 times); 20,000 reach 10.12% after
# 10 and 10.20% after 20 (0.9 times). The width-1 networks of the other experiments, though, keep
# learning longer on more images: DiracNet-22-1 on 30,000 reached 10.96% after 8 epochs, 9.82% after
# 16 (2.3 times its time at this design) and 10.48% after 32. Converged on 30,000 images, those
# networks would cost about twice as much, and the book already takes longer than the budget the
# introduction states. At `standard`, then, the comparisons are between networks trained until
# twice the training on these 10,000 images no longer moves the baseline (the check above).

# %% [markdown]
# ## Thesis vs ours
#
# Our mean test error and its spread over seeds (± one standard deviation), next to the thesis's
# number for the same comparison. At `quick` the data set and the training length differ from the
# thesis, so only the *ordering* within an experiment can be compared, not the numbers.

# %% tags=["hide-input"]
present.show_table(show.ours_table(records, profile),
                   caption=f"Ours ({profile} profile): test error over seeds, and wall time per run")

# %% [markdown]
# ## The width/depth explorer
#
# Move the sliders and pick a block type: the chosen network is ringed in every chart and its
# numbers are in the table. Top left, where it sits among all WRNs of depth 10-40 and width
# 1-12, with curves of equal parameter count; then test error against parameters, against the
# compute of the whole training (FLOPs per image counted by PyTorch's counter, times images,
# times epochs) and against the measured training time, for the thesis's CIFAR-10 networks and
# for every run of this profile that has a record. At `standard` those include a width x depth grid
# trained for this explorer (depths 10-40 at widths 1 and 2, width 4 at depths 10 and 16; seed 0
# of each, the chapter's recipe; WRN-16-4 and WRN-40-2 have two more seeds for claim (e)): one
# seed a point, so two points closer than the seed
# spread of the repeated networks in the table above are not told apart. The thesis's errors and
# ours are on different data at `quick` and `standard`, so compare the shapes of the two clouds,
# not their heights.
# Our speeds are measured from the records, on the machine each names; a network this profile did
# not train gets an estimate, labelled as such, with its basis under the table. It runs in the
# page itself, with no kernel and nothing fetched from outside the book.

# %% tags=["hide-input"]
explorer = show_explorer(profile, live=live_widgets)

# %% [markdown]
# ## Verdict

# %% tags=["hide-input"]
present.show_verdicts(study.claims(records, profile), profile, (
    "the networks are small (tens to hundreds of thousands "
    f"of parameters) and trained for {study.COMMON[profile]['epochs']} epoch(s) on "
    f"{study.COMMON[profile].get('train_subset', 'all')} {main_ds} images, "
    f"{present.training_state(convergence, profile)}, so the "
    "verdicts speak about small networks on an easy data set at low resolution, not about the "
    "thesis's CIFAR results. Each verdict "
    "above says which rule decided it: a difference holds only when its whole 95% interval lies on the "
    "thesis's side of zero, and \"as accurate\" only when the whole interval lies inside the stated margin. Run the "
    "`full` profile on a GPU to test the thesis's numbers themselves."))

# %% tags=["hide-input"]
present.provenance(records, profile, time.perf_counter() - t_page, chapter="wide_resnets")
