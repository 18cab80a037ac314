"""Networks of the thesis, one file per family, all built through one registry.

Every module in this package registers its family on import; importing ``wpcore.nets`` imports
them all, so a new family needs no edit here.
"""
import importlib
import pkgutil

from .contract import GroupNet
from .registry import create, example_kwargs, families, list_models, register

for _m in pkgutil.iter_modules(__path__):
    if _m.name not in ("contract", "registry"):
        importlib.import_module(f"{__name__}.{_m.name}")

__all__ = ["GroupNet", "create", "example_kwargs", "families", "list_models", "register"]
