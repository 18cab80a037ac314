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
# # Learning to compare image patches
#
# *Thesis chapter 1; S. Zagoruyko and N. Komodakis, "Learning to Compare Image Patches via
# Convolutional Neural Networks", CVPR 2015* {cite}`zagoruyko2015compare`.
#
# Do two small image patches show the same 3D point? Hand-crafted descriptors such as SIFT
# answer by describing each patch and measuring a distance. The thesis learns the comparison
# itself from raw pixels, and studies *how* to wire the network: describe each patch with shared
# weights and then compare (**siamese**), the same with unshared weights (**pseudo-siamese**), or
# stack both patches as a 2-channel image and let the first layer see both (**2-channel**); and
# whether to look at the patch at two resolutions at once (**central-surround**, two streams).
#
# This chapter builds all these networks, trains the main ones under the selected profile, scores
# them against SIFT with the thesis's metric (FPR95), and uses a trained network for its
# application: a disparity map from a stereo pair.

# %% tags=["parameters"]
profile = "quick"  # smoke | quick | standard | full
live_widgets = True  # the book build sets False: its static pages have no kernel for a live widget

# %% tags=["hide-input"]
import time

import matplotlib.pyplot as plt
from IPython.display import Markdown, display

from wpcore import experiment, present
from wpcore.data import stereo as ST
from wpcore.nets import deepcompare
from wpcore.present import patches as show
from wpcore.present import patches_figures as figs
from wpcore.present import patches_widget
from wpcore.studies import patches as study

t_page = present.start(profile, study)

# %% [markdown]
# ## What the thesis reports
#
# FPR95 is the false-positive rate at 95% recall: the share of non-matching pairs that are
# accepted when the threshold lets through 95% of the matching ones (lower is better). The
# benchmark is Brown et al.'s multi-view stereo patches of three scenes (Liberty, Notre Dame,
# Yosemite) {cite}`brown2011discriminative`: train on one scene, test on the standard 100,000
# pairs of another.

# %% [markdown]
# The SIFT baseline's Brown numbers in the verdicts below are those quoted by the HardNet paper
# {cite}`mishchuk2017hardnet`; the thesis's own SIFT row has not been checked against its PDF.

# %% tags=["hide-input"]
for table, caption in show.thesis_tables():
    present.show_table(table, caption=caption)

# %% [markdown]
# Two protocols compute FPR95 in the official code. The Lua meter behind the paper's table
# sorts the scores and reads the FPR at the *pair* where the recall is closest to 95%; the PyTorch
# evaluator interpolates the FPR linearly on scikit-learn's ROC curve. They agree when a ROC
# point sits at 95% recall, and otherwise can differ, which is why the two tables above differ in
# the second decimal. We report the Lua protocol and keep the other beside it.

# %% [markdown]
# ## The idea: three ways to compare two patches
#
# The figure is drawn from the networks themselves: each box is a layer of the registered
# network (read from its modules, in the paper's notation C(n,k,s) for a convolution with n
# filters k x k at stride s followed by a ReLU, P(k,s) for max-pooling, F(n) for a linear layer),
# with the shape a 64x64 pair gives it. The **2-channel** network sees both patches from its first
# layer; the **siamese** network describes each patch with the same tower and compares the two
# descriptors only at the end; the **central-surround** network looks at the centre at full
# resolution and at the whole patch at half resolution.

# %% tags=["hide-input"]
fig = figs.architectures_figure()

# %% [markdown]
# The whole 2-channel network is a few lines of `wpcore` (shown as it is in the package, not
# re-typed): a convolutional tower on the 2-channel pair, then a small fully connected head
# that returns one score. The siamese network's `forward` differs in one place: each patch goes
# through a tower of its own (with shared weights), and only the two descriptors meet.

# %% tags=["hide-input"]
present.show_source(deepcompare.TwoChannel, deepcompare.Siamese.forward, deepcompare.central_surround)

# %% [markdown]
# ## The networks
#
# Every network takes a pair as a 2-channel 64x64 input (channel 0 = patch 1, channel 1 =
# patch 2), each patch minus its own mean and divided by 256, and returns one score: higher
# means "same point". The siamese networks also give a per-patch descriptor; their *-l2*
# versions score a pair by minus the distance between L2-normalised descriptors, so the
# descriptors can be used for nearest-neighbour search. The *-spp* versions end with spatial
# pyramid pooling and accept larger patches. Parameter counts at the paper's width:

# %% tags=["hide-input"]
present.show_table(show.networks_table(), caption="DeepCompare networks (width 1.0, the paper's)")

# %% [markdown]
# ## The data
#
# The `quick` and `standard` profiles cannot download Brown's 1.5 GB of patches, so they use real
# correspondences that ship with scikit-image: the Middlebury *motorcycle* stereo pair
# {cite}`scharstein2014middlebury` with its
# ground-truth disparity. A matching pair is a 64x64 patch of the left image and the patch of the
# right image shifted by the true disparity; a non-matching pair takes the right patch elsewhere,
# half of the time on the same scanline 16 to 96 pixels away from the true match (the confusions a
# stereo matcher meets). Training pairs come from the top 300 rows, test pairs from the rows
# below, with no patch crossing the line. A few test pairs:

# %% tags=["hide-input"]
exps = study.experiments(profile)
fig = figs.pairs_figure(ST.stereo_pairs("test", 8, seed=3))
if show.data_section(profile):  # the standard profile's photographs
    plt.show()
    display(Markdown(show.data_section(profile)))
    fig = figs.photo_pairs_figure()

# %% [markdown]
# ## The experiment
#
# Training as in the official code: hinge loss on labels ±1, batches of as many matching as
# non-matching pairs, and each pair flipped or rotated by a multiple of 90° (both patches alike)
# and its two patches swapped at random. Two changes: the book's single training loop uses SGD
# with Nesterov momentum and a step schedule instead of the original averaged SGD, and weights
# start from He's fan-in initialisation (the official fan-out "MSRinit" left the two-stream and
# siamese networks stuck at zero output in runs this short). SIFT descriptors (scikit-image,
# computed at the patch centre, fixed scale and orientation; Lowe's descriptor {cite}`lowe2004sift`)
# are scored on the same test pairs. What this profile trains:

# %% tags=["hide-input"]
display(Markdown(show.profile_sentence(profile)))

# %% [markdown]
# A run whose record already exists is not trained again.

# %%
progress = present.NotebookProgress(exps)
records = [experiment.run(e, log=progress) for e in exps]
progress.summary(records)

# %% tags=["hide-input"]
all_records, records = records, study.in_study(records, profile)  # the convergence check's longer runs stay out
trained = [r for r in records if r.config["task"] == "patches"]
fig = present.learning_curves(trained, metrics=("train_loss", "fpr95"), label=show.run_name,
                              title=f"Training ({profile} profile): hinge loss and test FPR95",
                              ylabels=show.curves_ylabels())

# %% tags=["hide-input"]
fig = figs.roc_figure(records)

# %% [markdown]
# Each colour is one network (one line per seed; dashed: SIFT). The grey line is 95% recall: where a curve crosses it
# is that network's FPR95. Curves further left are better.

# %% [markdown]
# ### Where the threshold sits
#
# A curve is every threshold at once; a matcher in use has one. Pick a matcher in the menu and move
# the threshold slider (to the right it accepts more pairs: a lower threshold): the black dot walks
# along its ROC curve, the table gives its true- and false-positive rates (counted from the scores
# the network, rebuilt from its record, gives the test pairs), and the strip below shows eight test
# pairs, ordered by score, with the threshold as a black line through them. Look for the pairs
# that change side: raising the threshold first turns away the doubtful matches (false
# negatives), lowering it lets in non-matches that look alike (false positives). The slider starts
# at the first threshold that reaches 95% recall, next to
# where the FPR95 of the table is read (the diamond).

# %% tags=["hide-input"]
matchers = patches_widget.show_threshold_widget(show.widget_records(records, profile), live=live_widgets)

# %% [markdown]
# ## The stereo application
#
# A patch comparison network is a stereo matcher: for each pixel of the left image, score the
# left patch against right patches along the same scanline at every candidate disparity, and keep
# the best (winner-take-all, no smoothing). Here the trained 2-channel network does this on a
# coarse grid of the test rows (disparities 0 to 64 in steps of 2); its map is drawn beside the
# ground truth.

# %% tags=["hide-input"]
st_rec = next((r for r in records if "stereo" in r.extra), None)
if st_rec is None:
    display(Markdown("No stereo map in this profile's records."))
else:
    st = st_rec.extra["stereo"]
    fig = figs.stereo_figure(st, ST.stereo_images()[0], show.run_name(st_rec))
    display(Markdown(f"Mean absolute error {st['mae_px']:.1f} px; {st['bad3_pct']:.0f}% of the grid pixels with "
                     f"ground truth are more than 3 px off (grid step {st['stride']} px)."))

# %% [markdown]
# ## Thesis vs ours

# %% tags=["hide-input"]
present.show_table(show.results_table(records), caption=show.results_caption(records, profile))

# %% [markdown]
# The thesis column is the mean over the six Brown splits; ours is one test set of another kind
# of data, so compare the *order* of the networks, not the values.

# %% tags=["hide-input"]
display(Markdown(show.second_test_sentence(records)))

# %% tags=["hide-input"]
display(Markdown(show.ranking_sentence(records)))

# %% [markdown]
# ## Have the networks learned their task?
#
# The 2-channel network trained once and twice this profile's length, one dot per seed: if twice
# the training moves its test FPR95 by more than the spread between seeds, the comparisons above
# are between half-trained networks.

# %% tags=["hide-input"]
convergence = present.show_convergence_check(all_records, study, profile, metric="fpr95",
                                             label="test FPR95 (%)", unit=study.UNIT)
if halves := show.check_halves(all_records, study.convergence(profile)):
    display(Markdown(halves))

# %% [markdown]
# Why `standard` trains for 64 epochs: 2ch keeps learning for a long time. A one-seed pilot of 2ch
# (seed 0, made while the profile was designed; not a published record, its numbers are quoted from
# the design notes in `wpcore/studies/patches.py`) reached 8.33% at 16 epochs, 6.30% at 32, 5.53% at
# 64, 4.95% at 128 and 4.85% at 256. It levels off at about 128 epochs, where the chapter (then 15
# runs) would have cost about 5.6 single-thread hours; 64 epochs costs half that and gets most of the
# way. Pilots of cheaper ways there found none (half the width, batches of 32, a quarter of the
# training pairs, a cosine schedule, averaged weights, batch norm after every convolution: the same notes).
#
# The check uses seeds 0, 1 and 2 since 2026-12-08, as every chapter's does. On seeds 0 and 1 alone
# it failed (5.65 ± 0.18% at 64 epochs, 5.30% at 128: a change of 0.35 points against a tolerance of
# 0.18), but two seeds estimate a spread poorly: seed 2 alone moves the s.d. at 64 epochs from 0.18 to
# 0.40. So seed 2 was also trained at 128 epochs, as the MultiPath chapter's check had taken its third
# seed for the same reason, and then every chapter's check took a third seed, so that no check is
# looked at harder because of its result (`wpcore.studies.convergence.STANDARD_SEEDS`). It did not
# rescue this one: on three seeds it fails by a wider absolute margin, a change of 0.57 points (5.87%
# to 5.30%) against one s.d. of 0.40; 2ch is still learning at 64 epochs.
#
# The first published design trained 16 epochs (until 2026-12-07). Its check failed (2ch 8.60 ± 0.39%
# at 16 epochs, 6.82% at 32), and the other networks, trained longer on two seeds, showed two of its
# verdicts to be about half-trained networks: 2ch-2stream − 2ch was +0.26 points at 16 epochs (undecided)
# and −1.06 at 32; siam − siam-l2 was +2.71 at 16 (the learned decision network *lost*), +0.65 at 32
# and −1.15 at 64. This design trains every network four times as long instead.

# %% [markdown]
# ## Verdict

# %% tags=["hide-input"]
claims = study.claims(all_records, profile)
state = present.training_state(convergence, profile)
present.show_verdicts(claims, profile, show.verdict_scope(records, profile, state))
if show.undecided_sentence(claims):
    display(Markdown(show.undecided_sentence(claims)))

# %% tags=["hide-input"]
present.provenance(all_records, profile, time.perf_counter() - t_page, chapter="patches")
