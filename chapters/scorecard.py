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
# # Reproduction scorecard
#
# Every claim the chapters test, at a glance: the verdict of each, computed from the run records
# when this page was executed, coloured by what it says, and linked to its section in its chapter,
# where the thesis's number, ours and the rule that decided are spelled out. No number on this
# page is typed by hand; re-executing the chapters at another profile changes it.

# %% tags=["parameters"]
profile = "quick"  # smoke | quick | standard | full
live_widgets = True  # the book build sets False: its static pages have no kernel for a live widget

# %% tags=["hide-input"]
import pandas as pd
from IPython.display import HTML, Markdown, display
from myst_nb import glue

from wpcore import present, scorecard
from wpcore.present import scorecard as card
from wpcore.profiles import check_profile
from wpcore.studies.claim import Kind

check_profile(profile)
claims, runs = scorecard.collect(profile)
found = card.records_of(profile)
thesis = [c for c in claims if c.kind is Kind.CLAIM]
checks = [c for c in claims if c.kind is Kind.CHECK]
display(HTML(card.headline_html(claims, profile)))
display(HTML(card.figure_html(claims)))
display(HTML(card.summary_html(claims)))

# %% [markdown]
# ## Claim by claim
#
# Each claim links to its section in its chapter; unfold a row for the thesis's number, ours and
# how the verdict was reached.

# %% tags=["hide-input"]
display(HTML(card.claims_html(thesis)))

# %% [markdown]
# ## Effect sizes and power
#
# For every claim a statistical rule judged: our difference (as the claim's section on its chapter
# page defines it, in the claim's unit), its 95% interval, the smallest true difference our seeds
# would detect 80% of the time, and the thesis's own difference where our reference sheet gives one
# (measured on the thesis's data: compare sizes loosely). Where the detectable difference exceeds
# the thesis's, our seeds could not have decided an effect of the thesis's size.

# %% tags=["hide-input"]
display(HTML(card.power_html(thesis)))

# %% [markdown]
# ## Checks
#
# Not claims of the thesis: they test that our code does what it should and whether each chapter's
# baseline has learned its task (its convergence check), and are not counted above.

# %% tags=["hide-input"]
display(HTML(card.claims_html(checks)))

# %% [markdown]
# ## If the baselines had trained longer
#
# Where a convergence check trained the baseline longer, its chapter judges its claims again with
# those longer runs in place of the baseline's (its convergence section has the table). Only the
# baseline trains longer, so this tests only the claims where the baseline is the side the claim
# says is worse; the verdicts above stay those of the runs as trained.

# %% tags=["hide-input"]
if longer := card.longer_rows(profile):
    present.show_table(pd.DataFrame(longer), caption="The claims judged again with each baseline trained longer")
else:
    display(Markdown(f"*No baseline of the `{profile}` profile was trained longer than its chapter's runs.*"))
display(Markdown(card.built_from(profile, found)))

# %% tags=["remove-cell"]
# pasted into the introduction (book/intro.md) with {glue}: the same objects, not a copy
glue("scorecard_headline", HTML(card.headline_html(claims, profile)), display=False)
glue("scorecard_summary", HTML(card.summary_html(claims)), display=False)
glue("scorecard_figure", HTML(card.figure_html(claims)), display=False)

# %% [markdown]
# ## Records

# %% tags=["hide-input"]
present.show_table(pd.DataFrame(runs), caption="Records found per chapter")
