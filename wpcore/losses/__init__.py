"""Losses of the thesis, one small file per idea, each a pure function with shapes in its docstring."""
