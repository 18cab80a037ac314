"""Datasets: files and checksums (store), image sets and the on-device loader (images), and the
data this package generates (patch pairs, composed scenes), named with their generator's version."""
from .images import DATASETS, DeviceLoader, ImageSet, load
from .patches import GENERATOR_VERSION as _PAIRS_VERSION
from .scenes import GENERATOR_VERSION as _SCENES_VERSION
from .store import DataError

# generated datasets -> the version of their generator (part of every record key on them)
GENERATED = {"stereo": _PAIRS_VERSION, "warped": _PAIRS_VERSION, "photos": _PAIRS_VERSION, "mixed": _PAIRS_VERSION, "fashion-scenes": _SCENES_VERSION}

__all__ = ["DATASETS", "GENERATED", "DataError", "DeviceLoader", "ImageSet", "load"]
