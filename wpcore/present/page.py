"""The top of every chapter: check the profile, apply the theme, say how this page will run."""
from __future__ import annotations

import time


def start(profile: str, study=None) -> float:
    """Validate ``profile``, set the figure theme, print the profile, device and arithmetic that
    runs of this page will use; return the start time (for the provenance banner's page time).
    A chapter whose study (``study``, its ``wpcore.studies`` module) has no design of its own for
    the profile (``STANDARD_DESIGNED = False``: it runs quick's experiments) says so here."""
    from IPython.display import Markdown, display

    from .. import precision
    from ..experiment import default_device
    from ..profiles import DESCRIPTION, check_profile
    from .figures import theme

    check_profile(profile)
    theme()
    device = default_device()
    display(Markdown(f"Running under profile **{profile}**: {DESCRIPTION[profile]}. Runs that are not "
                     f"already recorded train on `{device.type}` in {precision.resolve(precision.policy(), device)}."))
    if profile == "standard" and study is not None and not study.STANDARD_DESIGNED:
        display(Markdown("**This chapter has no standard design yet**: under `standard` it runs the `quick` "
                         "profile's experiments, so its networks are as far from converged as at `quick` and "
                         "its verdicts carry no more weight than quick's."))
    return time.perf_counter()
