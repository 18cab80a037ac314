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
# # DiracNets: deep networks without skip connections
#
# *Thesis chapter 5; S. Zagoruyko and N. Komodakis, "DiracNets: Training Very Deep Neural Networks
# Without Skip-Connections", arXiv 1706.00388 (v2, 2018)* {cite}`zagoruyko2017dirac`.
#
# Residual networks train deep because every block adds its output to an identity path. Plain
# chains of convolutions of the same depth train badly. The thesis moves the identity *into the
# weights*: each convolution's weight is parameterized as
#
# $$\hat W = \operatorname{diag}(a)\, I + \operatorname{diag}(b)\, W_{\text{norm}},$$
#
# where $I$ is the Dirac delta (convolving with it returns the input), $W_{\text{norm}}$ is $W$
# normalised per output filter, and $a$ and $b$ are learned per channel (initialised to 1 and 0.1).
# At initialisation every layer is close to the identity, as in a ResNet, yet the network
# remains a plain chain ReLU → conv → BN. After training, $\hat W$ and BN fold into one ordinary
# convolution, which leaves a VGG-like network of convolutions and ReLUs.
#
# This chapter builds the parameterization and the networks, trains a plain network, a DiracNet
# and a ResNet of the same depth and width as depth grows, follows $a$ and $b$ during training,
# folds the trained DiracNets and times them, and compares with the thesis.

# %% tags=["parameters"]
profile = "quick"  # smoke | quick | standard | full
live_widgets = True  # the book build sets False: its static pages have no kernel for a live widget

# %% tags=["hide-input"]
import time

import pandas as pd
import torch
from IPython.display import Markdown, display

from wpcore import experiment, present
from wpcore.nets import dirac
from wpcore.present import diracnets as dfig
from wpcore.present import diracnets_widget
from wpcore.studies import diracnets as study
from wpcore.studies import linear

t_page = present.start(profile, study)

# %% [markdown]
# ## What the thesis reports
#
# Test error (%) and parameter counts. Each number carries its source tag from the reference
# sheet: **[R]** read in the official repository, **[C]** computed from its model definitions,
# **[T]** a third-party quote of the paper, **[U]** recalled from the paper and not yet checked
# against its PDF. The thesis's depth study (plain vs Dirac up to hundreds of layers) exists only
# as figures, so it has no numbers here.

# %% tags=["hide-input"]
present.show_table(dfig.thesis_table(), caption="Thesis numbers")

# %% [markdown]
# ## The idea: the identity inside the weights
#
# One real Dirac convolution of `wpcore` at initialisation, its weights read from the module: the
# delta $I$ (each output channel copies its input channel), the normalised random weight scaled by
# $b$, and their sum, the weight the convolution applies. At initialisation the layer is almost the
# identity, like a residual block whose branch starts small; training moves $a$, $b$ and $W$, and
# after training the sum is just an ordinary convolution weight.

# %% tags=["hide-input"]
fig = dfig.parameterisation_figure()

# %% [markdown]
# The parameterization as `wpcore` has it: the effective weight is one line, and the convolution
# applies it like any other weight.

# %% tags=["hide-input"]
present.show_source(dirac.normalize_filters, dirac.DiracConv.effective_weight, dirac.DiracConv.forward)

# %% [markdown]
# ## The parameterization
#
# With $a = 1$ and $b = 0$ a Dirac convolution is exactly the identity. In the first version of
# the paper (v1), $a$ and $b$ were scalars and the activation was NCReLU, $[\max(x,0), \min(x,0)]$,
# which doubles the channels; the delta is then tiled so that NCReLU followed by the convolution
# is still the identity. Both checks run here, on random inputs:

# %% tags=["hide-input"]
present.show_table(dfig.identity_table(), caption="A Dirac convolution with a = 1, b = 0 is the identity")

# %% [markdown]
# ## The networks
#
# CIFAR DiracNet-*d*-*w* (*n* = (*d* − 4)/6): a 3x3 stem with 16*w* channels, BN and ReLU, then
# three groups of 2*n* Dirac blocks at 16*w*, 32*w* and 64*w* channels with 2x2 max-pooling between
# groups (no strided convolutions, no skip connections), then ReLU, average pooling and a linear
# layer. The plain baseline PlainNet-*d*-*w* has the same layers with ordinary convolutions. The
# ResNet of the same depth and width is WRN-*d*-*w* from the wide-residual-networks chapter: the
# same number of 3x3 convolutions and channels, in residual blocks. ImageNet DiracNet-18/34 follow
# ResNet-18/34 with two Dirac blocks per residual block. Parameter counts, computed by building
# each network, next to the thesis's:

# %% tags=["hide-input"]
present.show_table(dfig.parameters_table(), caption="Parameters (BN, a and b included; the thesis's counts are [C])")

# %% tags=["hide-input"]
table, caption = dfig.networks_table(profile)
present.show_table(table, caption=caption)

# %% [markdown]
# ## The experiment
#
# At each depth, a plain network, a DiracNet and a ResNet of the same depth and width, trained with
# the DiracNet recipe (SGD with momentum 0.9, no Nesterov, learning rate 0.1 divided by 5 at 30%,
# 60% and 80% of training, weight decay 5e-4, no weight decay on $a$, $b$, BN and biases for the
# Dirac and plain nets). The `quick` profile trains on a 2,000-image subset of Fashion-MNIST,
# average-pooled to 14x14 to fit two CPU cores, for 6 epochs of batch 64 without augmentation, 3 seeds.
# `standard`, the published book, trains on 10,000 images at 14x14 for 20 epochs of batch 128
# without augmentation (as the Wide ResNets chapter's `standard`, whose page says why), 3 seeds,
# and trains DiracNet-22 twice as long as well, to check that the runs have converged. `full`
# is the thesis's 200-epoch CIFAR-10 recipe. A run whose record already exists is not trained again.
# After training, each DiracNet is folded and both versions are timed on a test batch.

# %%
exps = study.experiments(profile)
progress = present.NotebookProgress(exps)
recs = [experiment.run(e, log=progress) for e in exps]
progress.summary(recs)

# %% tags=["hide-input"]
study_recs = study.in_study(recs, profile)  # the convergence check's own runs apart
depth_recs = [r for r in study_recs if "28-10" not in r.config["model"]]
fig = dfig.depth_figure(depth_recs, study.DEPTHS[profile],
                        f"Error and training loss vs depth ({profile} profile, {depth_recs[0].config['dataset']}, "
                        f"width {study.WIDTH[profile]})")

# %% tags=["hide-input"]
display(Markdown(
    "Each line is the mean over seeds (band: the range of seeds; dots: single runs). The training loss on the "
    "right is what the depth problem is about: a network that cannot be optimised has a high loss on its own "
    "training data, whatever it would do on the test set."
    + (" Its axis is logarithmic because one network's loss is more than ten times another's: on a linear axis "
       "that one curve would flatten all the others." if fig.log_axis else "")))

# %% [markdown]
# The same test errors, one network at a time: untick a network to hide it, and hover over a dot
# for its run. What to look for: does the plain network's error climb with depth while the
# DiracNet's and the ResNet's stay down?

# %% tags=["hide-input"]
depth_widget = diracnets_widget.show_depth_widget(depth_recs, live=live_widgets)

# %% tags=["hide-input"]
deep = study.DEPTHS[profile][-1]
deepest = [r for r in depth_recs if study.depth_of(r) == deep]
fig = present.learning_curves(deepest, metrics=("train_loss", "test_error"),
                              label=lambda r: f"{study.role_of(r)} {deep}",
                              title=f"Learning curves at depth {deep} ({profile} profile)")

# %% [markdown]
# ## How a and b evolve
#
# BN follows every Dirac convolution, so the scale of $\hat W$ does not matter, only the ratio
# $b/a$ per channel: how far a layer has moved away from the identity (0.1 at initialisation).
# Left: the mean of $b/a$ per group after each epoch for the deepest DiracNets, on an axis from 0,
# so that a change is a change and not seed noise magnified. Right: the mean $a$ and $b$ of every
# layer at the end of training, input to output. The sentence under the figure says how far they
# moved.

# %% tags=["hide-input"]
dirac_deep = [r for r in deepest if study.role_of(r) == "dirac"]
deep_name = f"DiracNet-{deep}-{study.WIDTH[profile]}"
fig = dfig.ab_figure(dirac_deep, deep_name)
display(Markdown(dfig.ab_summary(dirac_deep, deep_name)))

# %% [markdown]
# Move $a$ and $b$ yourself. The kernels below are one output channel of the first Dirac
# convolution of the deepest DiracNet trained above (seed 0), on its first four input channels; the
# sliders start at that channel's trained $a$ and $b$, and every cell is $a I + b W_\mathrm{norm}$
# computed from the layer's own $I$ and $W_\mathrm{norm}$. Push $b$ up and $a$ down and the
# kernel turns from the identity (one bright centre on the matching input channel) into the
# learned convolution; since BN follows, only the ratio $b/a$ changes what the layer does.

# %% tags=["hide-input"]
kernel_widget = diracnets_widget.show_kernel_widget(dirac_deep[0], live=live_widgets)

# %% [markdown]
# ## Folding for inference
#
# In eval mode each block ReLU → conv($\hat W$) → BN is ReLU followed by one ordinary convolution
# with weight $\hat W \cdot \gamma/\sqrt{\sigma^2+\epsilon}$ and a bias. `wpcore.nets.fold` builds
# that conv-ReLU chain from a trained DiracNet. Right after training, every DiracNet was folded:
# the largest relative difference of its logits on a test batch, and the median time of a forward
# pass of that batch, unfolded and folded, on the training device. The last row, over all trained
# DiracNets, is the number the verdict below uses.

# %% tags=["hide-input"]
present.show_table(dfig.fold_table(study_recs),
                   caption="Folded vs unfolded, from the records (times in ms per test batch; time saved: mean ± "
                           "s.d. over runs)")

# %% [markdown]
# How much folding saves depends on the batch: computing the effective weights costs the same for
# one image as for many, while the convolutions grow with the batch. A second measurement, made while
# this page was built (not a record, and not what the verdict uses), times the deepest trained
# DiracNet (its weights loaded from the record) and an ImageNet-shaped DiracNet-18 (random weights;
# the time does not depend on their values) at batch 1 and at a larger batch:

# %% tags=["hide-input"]
present.show_table(dfig.speed_table(dirac_deep[0], profile),
                   caption=f"Measured while building this page, not a record ({torch.get_num_threads()} CPU threads, "
                           "median of repeats, eval mode, no gradients)")

# %% [markdown]
# ## Thesis vs ours

# %% tags=["hide-input"]
summary = dfig.error_by_depth_table(depth_recs)
present.show_table(summary, caption=f"Ours: test error by depth ({profile} profile, "
                   f"{depth_recs[0].config['dataset']}, width {study.WIDTH[profile]}, mean ± s.d. over seeds)")
rows = dfig.thesis_networks_rows(recs)
if rows:
    present.show_table(pd.DataFrame(rows), caption="The thesis's CIFAR networks (full profile)")
else:
    display(Markdown("The thesis's own CIFAR networks (DiracNet-28-10, WRN-28-10) are trained only "
                     "under the `full` profile; their thesis numbers are in the first table."))

# %% [markdown]
# ## Have the networks learned their task?
#
# The DiracNet of the middle depth trained once and twice this profile's length, one dot per
# seed: if twice the training moves its test error by more than the spread between seeds, the
# comparisons above are between half-trained networks.

# %% tags=["hide-input"]
convergence = present.show_convergence_check(recs, study, profile)
present.show_linear_floor(recs, study, profile, linear.baseline_floor(study, profile))

# %% [markdown]
# ## Verdict

# %% tags=["hide-input"]
present.show_verdicts(study.claims(recs, profile), profile, (
    f"small networks (width {study.WIDTH[profile]}) trained for "
    f"{depth_recs[0].final['steps']} steps on a {depth_recs[0].data.get('n_train', '?')}-image subset of "
    f"{depth_recs[0].config['dataset']} at 14x14, {present.training_state(convergence, profile)}. It speaks "
    "about how each kind of network trains as it gets deeper, not about the thesis's CIFAR and "
    "ImageNet accuracies. Run the `full` profile on a GPU to test those."))

# %% tags=["hide-input"]
present.provenance(recs, profile, time.perf_counter() - t_page, chapter="diracnets")
