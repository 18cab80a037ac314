"""Metrics of the thesis's chapters: small pure functions, one file per kind of task."""
