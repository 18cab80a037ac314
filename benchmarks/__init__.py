"""Benchmarks of the training engine against the plain reference (``python -m benchmarks``)."""
