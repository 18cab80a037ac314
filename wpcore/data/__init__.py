"""Datasets: files and checksums (store), image sets and the on-device loader (images)."""
from .images import DATASETS, DeviceLoader, ImageSet, load
from .store import DataError

__all__ = ["DATASETS", "DataError", "DeviceLoader", "ImageSet", "load"]
