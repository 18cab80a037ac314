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
# Every claim the chapters test, side by side: what the thesis reports (with its table and the
# source tag of the number), what we measured (with profile, data and seeds) and the verdict,
# computed from the run records when this page was executed. No number on this page is typed by
# hand; re-executing the chapters at another profile changes it.

# %% tags=["parameters"]
profile = "quick"  # smoke | quick | full

# %% tags=["hide-input"]
import pandas as pd
from IPython.display import Markdown, display

from wpcore import present, scorecard
from wpcore.profiles import DESCRIPTION, check_profile

check_profile(profile)
claims, runs = scorecard.collect(profile)
display(Markdown(f"Profile **{profile}**: {DESCRIPTION[profile]}."))
verdicts = pd.Series([c.verdict for c in claims]).value_counts()
present.show_table(verdicts.rename_axis("verdict").reset_index(name="claims"), caption="Verdicts at a glance")

# %% tags=["hide-input"]
present.show_table(pd.DataFrame([{"chapter": c.chapter.replace("_", " "), "claim": c.claim, "thesis": c.thesis,
                                  "ours": c.ours, "verdict": c.verdict, "how": c.detail} for c in claims]),
                   caption="Thesis vs ours, claim by claim")

# %% tags=["hide-input"]
present.show_table(pd.DataFrame(runs), caption="Records found per chapter")
