"""``python -m wpcore``: the command line (``wpcore.cli``)."""
import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
