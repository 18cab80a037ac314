"""What chapters show: one theme, progress that renders in static HTML, tables, provenance.

``present`` reads records and never trains.
"""
from .figures import curves, theme
from .page import start
from .progress import NotebookProgress, TerminalProgress
from .tables import fmt, provenance, show_table
from .verdicts import show_verdicts

__all__ = ["NotebookProgress", "TerminalProgress", "curves", "fmt", "provenance", "show_table", "show_verdicts", "start", "theme"]
