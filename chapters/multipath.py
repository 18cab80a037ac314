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
# # A MultiPath network for object detection
#
# *Thesis chapter 2; S. Zagoruyko, A. Lerer, T.-Y. Lin, P. O. Pinheiro, S. Gross, S. Chintala and
# P. Dollár, "A MultiPath Network for Object Detection", BMVC 2016* {cite}`zagoruyko2016multipath`.
#
# Fast R-CNN {cite}`girshick2015fast` classifies each object proposal from one RoI-pooled window of the last convolutional
# layer. COCO's {cite}`lin2014coco` objects are often small, crowded and only recognisable from their surroundings,
# and its metric averages AP over IoU thresholds from 0.5 to 0.95, so a detector must also place
# boxes tightly. The MultiPath network changes Fast R-CNN in three ways:
#
# - **foveal regions**: each proposal is also seen at 1.5x, 2x and 4x its size, each view
#   through its own fully connected head, and the views are concatenated (context);
# - **skip connections**: RoI features come from three convolutional stages, not only the
#   last, so small objects keep their detail;
# - **integral loss**: six classifiers, trained to call a proposal positive at IoU at least
#   0.50, 0.55, ..., 0.75, averaged at test, so the scores favour well-placed boxes. As in the
#   official code, each training step draws one of the six thresholds and updates that classifier.
#
# This chapter builds the detector with each modification as a switch, trains the paper's
# ablation (baseline, then each modification added in turn) under the selected profile, and
# evaluates every run with the COCO evaluation code.

# %% tags=["parameters"]
profile = "quick"  # smoke | quick | standard | full
live_widgets = True  # the book build sets False: its static pages have no kernel for a live widget

# %% tags=["hide-input"]
import time

from IPython.display import Markdown, display

from wpcore import experiment, nets, present
from wpcore.nets import multipath as mpnet
from wpcore.nets.multipath_onehead import OneHeadMultiPathNet
from wpcore.present import multipath as show
from wpcore.present import multipath_widget
from wpcore.studies import multipath as study
from wpcore.studies.claim import Verdict
from wpcore.studies.verdict import mean_spread
from wpcore.tasks.multipath import test_split

t_page = present.start(profile, study)

# %% [markdown]
# ## What the thesis reports
#
# COCO box AP in percent. The tags come from the reference sheet: **[R]** read in the official
# repository, **[T]** a third-party quote of the paper, **[U]** not checked against the paper's
# PDF. The per-modification numbers of the paper's ablation table are not in our reference
# sheet, so the chapter tests the *direction* of each step, not its size.

# %% tags=["hide-input"]
present.show_table(show.thesis_table(), caption="Thesis numbers (COCO)")

# %% [markdown]
# ## The data
#
# The `quick` and `standard` profiles cannot train on COCO. Instead they compose scenes: crops of
# scikit-image's photographs with one to four Fashion-MNIST objects pasted on them, tinted, at sizes
# from 16 to 100 pixels (at most the scene's side less 8), later objects occluding earlier ones. They are written as COCO-format annotation
# files and read by the same loader that reads COCO, and scored by pycocotools. The `full`
# profile reads COCO itself: trainval35k for training, val5k (the first 5000 images of
# `instances_val2014.json`) for testing.

# %% tags=["hide-input"]
exps = study.study(profile)  # the ablation; experiments() adds the convergence check's longer runs
test = test_split(exps[0].dataset, exps[0].options)
display(Markdown(show.data_sentence(exps[0], test, profile)))
fig = show.scenes_figure(test)

# %% [markdown]
# ## The idea: every proposal seen through several paths
#
# Drawn from the full MultiPath network of this page (its regions, the stages each region pools
# from and its classifiers are read from the built module): on the left, the four foveal regions
# of one proposal, computed by the network's own `foveal_boxes`; on the right, the paths a proposal
# takes. Each region is pooled from one or more trunk stages (the skip connections), normalised and
# reduced, and goes through its own fully connected head; the concatenated features feed six
# classifiers, each trained to call a box positive from its own IoU threshold (the integral loss).

# %% tags=["hide-input"]
full = nets.create(exps[len(study.VARIANTS) - 1].model, num_classes=test.num_classes, **exps[-1].model_kw)
image, target = test[0]
fig = show.idea_figure(full, image, target["boxes"][0])

# %% [markdown]
# The heart of it in `wpcore`, as the package has it: `foveal_boxes` scales a box about its
# centre, `region_features` pools every region from its stages and runs its head, `losses` trains
# one integral classifier a step on its own threshold's RoIs, and `scores` averages the classifiers.

# %% tags=["hide-input"]
present.show_source(mpnet.foveal_boxes, mpnet.MultiPathNet.region_features, OneHeadMultiPathNet.losses,
                    mpnet.MultiPathNet.scores)

# %% [markdown]
# ## The network
#
# A small VGG-like trunk gives three stages at strides 2, 4 and 8 (the analogues of VGG-16's
# conv3, conv4 and conv5), and a region proposal network on the last stage gives the proposals.
# The table lists, for each variant of the ablation, which stages each foveal region pools from,
# how many classifiers it trains and its parameter count.
#
# **Proposals.** The thesis's detector classifies DeepMask/SharpMask proposals
# {cite}`pinheiro2015deepmask,pinheiro2016sharpmask`: a separate
# network, trained on COCO masks, that slides over an image pyramid and scores class-agnostic
# segment candidates. We use a region proposal network {cite}`ren2015faster` instead (torchvision's): it too is a
# learned, class-agnostic objectness model slid over the image, but it regresses boxes from
# anchors on the shared trunk rather than predicting masks from 224x224 crops, so it needs no
# masks and no second network, and it trains jointly with the detector in minutes on a CPU.
# All four variants get proposals the same way, so the ablation compares the detector heads;
# unlike the thesis, each variant's proposals come from its own jointly trained RPN.

# %% tags=["hide-input"]
present.show_table(show.variants_table(exps[:len(study.VARIANTS)], test.num_classes),
                   caption="The four variants of the ablation")

# %% [markdown]
# The shapes for one test image through the full MultiPath network: the trunk's three stages,
# then, for three proposals, the pooled and reduced features of each region, the concatenated
# feature and the outputs.

# %% tags=["hide-input"]
present.show_table(show.shapes_table(full, image), caption="MultiPath shapes (one image, three proposals)")

# %% [markdown]
# ## The experiment
#
# One run per row of the ablation and seed, all with the same data and schedule. Each run
# trains the proposal network and the detector together (SGD with momentum 0.9, horizontal
# flips) and is evaluated by pycocotools on the test split. Under `standard` the baseline is also
# trained twice as long (three seeds), to check that it has converged (below), and four times as
# long, to show whether it still learns; the last step of the ablation (+ integral) has six seeds a
# side, three of them added after three left it undecided. A run whose record already exists is
# not trained again.

# %% tags=["hide-input"]
display(Markdown(show.recipe_sentence(exps[0], profile, study.SEEDS[profile])))
if changes := show.standard_changes(profile):
    display(Markdown(changes))

# %%
all_exps = study.experiments(profile)
progress = present.NotebookProgress(all_exps)
all_records = [experiment.run(e, log=progress) for e in all_exps]
progress.summary(all_records)

# %% tags=["hide-input"]
records = study.in_study(all_records, profile)  # the convergence check's own runs apart
labels = [v[0] for v in study.VARIANTS]
groups = study.by_label(records)  # every seed of each variant
runs = {lab: recs[0] for lab, recs in groups.items()}  # the first seed of each variant
fig = present.learning_curves(records, metrics=("train_loss", "AP"), label=lambda r: r.extra.get("label"),
                              title=f"Training loss and test AP ({profile} profile)",
                              ylabels={"train_loss": "training loss (RPN + classifiers + boxes)"})

# %% [markdown]
# ## Results
#
# COCO-style metrics of each variant on the test split (AP averaged over IoU 0.50:0.95, AP at
# 0.50 and 0.75, AP for small and medium objects, recall with 100 detections per image).

# %% tags=["hide-input"]
present.show_table(show.ablation_table(runs, labels),
                   caption=f"Ablation ({profile} profile, {records[0].config['dataset']}, seed {exps[0].seed})")
if len(study.SEEDS[profile]) > 1:
    present.show_table(show.seeds_table(records, labels),
                       caption=f"Every seed: mean ± s.d. over each variant's seeds ({profile} profile)")

# %% tags=["hide-input"]
fig = show.ap_curve_figure(groups, labels)

# %% [markdown]
# The curve falls with the threshold for every detector: a box that overlaps its object by half
# is easy, a box within 90% is hard. The integral loss is meant to raise the right-hand part of
# the curve (tight boxes), foveal regions and skip connections the whole curve.

# %% tags=["hide-input"]
tight = "; ".join(f"AP@{u} {mean_spread([r.final[f'AP@{u}'] for r in groups[labels[2]]])} without it, "
                  f"{mean_spread([r.final[f'AP@{u}'] for r in groups[labels[3]]])} with it"
                  for u in ("0.75", "0.85") if all(f"AP@{u}" in r.final for lab in labels[2:] for r in groups[lab]))
if tight:
    display(Markdown(f"On these scenes, for the integral loss added to foveal regions and skip connections (mean ± "
                     f"s.d. over each variant's seeds, {len(groups[labels[2]])} and {len(groups[labels[3]])}): "
                     f"{tight}."))

# %% [markdown]
# Below, the three best detections of the baseline and of the full MultiPath network on the first
# test scenes, recomputed from the weights stored with their records; a detection is right (solid
# green) when it overlaps an object of its class by at least half (IoU 0.5), wrong (dashed red)
# otherwise; each box carries its rank, and its class and score are listed under the scene.
# With the integral loss the score is the mean of six softmax outputs, and every head whose
# threshold is above a box's IoU was trained to call that box
# background (three of the six for a box at IoU 0.6), so its scores are lower than the others'
# on the same boxes; AP depends only on how they rank.

# %% tags=["hide-input"]
fig = show.detections_figure(runs, test, [labels[0], labels[-1]])

# %% [markdown]
# ### Where the IoU threshold bites
#
# Tick a variant's box to show or hide its AP curve, and move the IoU threshold: the dashed line
# moves along the curves and the table reads each shown variant's AP there, from its record. On the
# right, pick a test scene, a variant and a minimum score: the detections it keeps are drawn over the
# ground truth (dotted white), green when they overlap an object of their class by at least the IoU
# threshold, red otherwise. Raise the threshold and watch loose boxes turn red: that is the AP curve
# falling. Raise the minimum score: where the scores rank boxes well, the red ones go first.

# %% tags=["hide-input"]
widget = multipath_widget.show_ap_widget(runs, labels, live=live_widgets)

# %% [markdown]
# ## Thesis vs ours

# %% tags=["hide-input"]
present.show_table(show.thesis_vs_ours(runs, labels, profile),
                   caption="Thesis (COCO val5k) and ours: different data, read the gains, not the levels")

# %% [markdown]
# ## Has the baseline learned its task?
#
# Fast R-CNN, the ablation's baseline, trained once, twice and (at `standard`) four times this
# profile's length, one dot per seed: if twice the training moves its AP by more than the spread
# between seeds, the ablation compares half-trained detectors. The check compares once with twice;
# four times shows whether the baseline still learns after that.

# %% tags=["hide-input"]
convergence = present.show_convergence_check(all_records, study, profile, metric="AP", label="AP (%)",
                                             unit=study.UNIT)
if convergence is not None and convergence.verdict is Verdict.FAILS:
    spent = sum(r.wall_time_s for r in records) / 60
    ev = convergence.evidence
    display(Markdown(
        f"*How far from converged.* Twice the training moved the baseline's AP by {ev.diff:.2f} points, "
        f"{ev.diff / ev.margin:.1f} times the spread of its seeds ({ev.margin:.2f}), so the check fails: the verdicts "
        "below compare detectors that are still learning, and a step of the ablation smaller than that change "
        f"could still move. The {len(records)} runs of the ablation took {spent:.0f} minutes of training (wall "
        "clock, in their records); a design that passes would train every "
        "run longer still (at least double that time) and make its check at four times this length."))

# %% [markdown]
# At `standard`, the check covers the baseline, not the variants, and the integral loss's variant
# trains one head per step (as the official code does), so each of its heads sees a fraction of the
# steps and may need longer. A one-seed pilot (2026-12-08; not published records: its numbers are
# quoted from the design notes in `wpcore/studies/multipath.py`) trained the integral step's two
# variants of seed 0 for 96 epochs instead of 48: + foveal + skip went from 30.77 to 31.26 AP, +
# integral from 29.24 to 31.49, so on that seed the integral step went from −1.53 AP points to
# +0.23. One seed decides nothing, but the verdict below that the integral loss does not help is a
# verdict on 48-epoch detectors, whose integral variant was still learning; training that step's
# variants longer is the next change to this chapter's design.

# %% [markdown]
# ## Verdict

# %% tags=["hide-input"]
n_seeds = len(study.SEEDS[profile])
more = sorted({len(study.seeds(profile, v[0])) for v in study.VARIANTS} - {n_seeds})
more = f" ({', '.join(map(str, more))} for the integral step's two variants)" if more else ""
present.show_verdicts(study.claims(all_records, profile), profile, (
    f"a small trunk (widths {exps[0].model_kw['widths']}) trained from scratch for "
    f"{records[0].final['steps']} steps on {records[0].data.get('n_train', '?')} composed scenes, "
    f"{n_seeds} seed{'s' * (n_seeds != 1)} per variant{more}, each variant with its own jointly trained proposals, "
    f"{present.training_state(convergence, profile)}. "
    "The thesis fine-tuned an ImageNet VGG-16 on COCO for 320k iterations with DeepMask "
    "proposals; our verdicts speak about the direction of each step on these scenes, not about COCO's "
    "numbers. The `full` profile runs the thesis's recipe on COCO."))

# %% tags=["hide-input"]
present.provenance(all_records, profile, time.perf_counter() - t_page, chapter="multipath")
