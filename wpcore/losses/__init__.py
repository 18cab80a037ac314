"""Losses of the thesis as small pure functions, one file per chapter (attention.py: ch. 4)."""
