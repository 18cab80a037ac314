"""Evaluation metrics of the thesis's chapters, one file per task (e.g. ``matching``: FPR95, ROC)."""
