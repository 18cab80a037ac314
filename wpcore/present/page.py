"""The top of every chapter: check the profile, apply the theme, say how this page will run."""
from __future__ import annotations

import time


def start(profile: str) -> float:
    """Validate ``profile``, set the figure theme, print the profile, device and arithmetic that
    runs of this page will use; return the start time (for the provenance banner's page time)."""
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
    return time.perf_counter()
