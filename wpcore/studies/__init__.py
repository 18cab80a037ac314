"""The science of each chapter: what it trains under each profile, the thesis's numbers, and
the verdict on each claim, computed from records. One module per chapter; chapters call these and
the scorecard collects every module's ``claims``.

A study module provides (helper modules such as ``verdict`` name no CHAPTER):
    CHAPTER                                    the chapter's notebook name
    experiments(profile) -> list[Experiment]   what the chapter trains
    THESIS                                     the thesis's numbers, each with its source
    claims(records, profile) -> list[Claim]    thesis vs ours, and a verdict
"""
