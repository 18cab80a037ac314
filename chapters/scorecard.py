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
from wpcore.present.verdicts import explain, label
from wpcore.profiles import DESCRIPTION, check_profile
from wpcore.studies.verdict import Kind, spurious_expected

check_profile(profile)
claims, runs = scorecard.collect(profile)
thesis_claims = [c for c in claims if c.kind is Kind.CLAIM]
checks = [c for c in claims if c.kind is Kind.CHECK]
judged, spurious = spurious_expected(claims)
decided = sum(c.verdict.decided for c in thesis_claims)
display(Markdown(
    f"Profile **{profile}**: {DESCRIPTION[profile]}. {len(thesis_claims)} claims of the thesis, {decided} of them "
    f"decided (holds or does not hold); {len(checks)} implementation checks listed apart. {judged} claims are "
    f"judged by a statistical rule with a 5% error rate (a 95% interval): even if none of their differences "
    f"were real, about {spurious:.1f} of them would come out decided by chance."))
verdicts = pd.Series([label(c) for c in thesis_claims]).value_counts()
present.show_table(verdicts.rename_axis("verdict").reset_index(name="claims"), caption="Verdicts at a glance")

# %% tags=["hide-input"]
present.show_table(pd.DataFrame([{"chapter": c.chapter.replace("_", " "), "claim": c.claim, "thesis": c.thesis,
                                  "ours": c.ours, "verdict": label(c), "how": explain(c)} for c in thesis_claims]),
                   caption="Thesis vs ours, claim by claim")
present.show_table(pd.DataFrame([{"chapter": c.chapter.replace("_", " "), "check": c.claim, "ours": c.ours,
                                  "result": label(c), "how": explain(c)} for c in checks]),
                   caption="Implementation checks (not claims of the thesis)")

# %% tags=["hide-input"]
present.show_table(pd.DataFrame(runs), caption="Records found per chapter")
