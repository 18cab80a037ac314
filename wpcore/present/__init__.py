"""What chapters show: one theme, progress that renders in static HTML, tables, provenance, the
source of the code a page teaches, and each chapter's figures (``present.<chapter>``).
``present`` reads records and never trains.
"""
from .code import show_source
from .convergence import show_convergence_check, show_linear_floor, training_state
from .figures import curves, learning_curves, theme
from .page import start
from .progress import NotebookProgress, TerminalProgress
from .tables import fmt, provenance, show_table
from .verdicts import show_verdicts

__all__ = [
           "NotebookProgress",
           "TerminalProgress",
           "curves",
           "fmt",
           "learning_curves",
           "provenance",
           "show_convergence_check",
           "show_linear_floor",
           "show_source",
           "show_table",
           "show_verdicts",
           "start",
           "theme",
           "training_state",
]
