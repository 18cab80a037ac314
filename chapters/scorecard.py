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
from IPython.display import HTML
from myst_nb import glue

from wpcore import present, scorecard
from wpcore.present import scorecard as card
from wpcore.profiles import check_profile

check_profile(profile)
claims, runs = scorecard.collect(profile)
found = card.records_of(profile)
card.show(claims, profile, found)

# %% tags=["remove-cell"]
# pasted into the introduction (book/intro.md) with {glue}: the same objects, not a copy
glue("scorecard_headline", HTML(card.headline_html(claims, profile)), display=False)
glue("scorecard_summary", HTML(card.summary_html(claims)), display=False)
glue("scorecard_figure", HTML(card.figure_html(claims)), display=False)

# %% [markdown]
# ## Records

# %% tags=["hide-input"]
present.show_table(pd.DataFrame(runs), caption="Records found per chapter")
