"""Networks of the thesis, one file per family, all built through one registry."""
from .contract import GroupNet
from .registry import create, example_kwargs, families, list_models, register
from . import wrn  # noqa: F401  (registers its family)

__all__ = ["GroupNet", "create", "example_kwargs", "families", "list_models", "register"]
