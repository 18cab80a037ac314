"""``python -m benchmarks [--device cpu|cuda] [--tiny] [--models ...]``: print the table."""
import sys

from .harness import main

sys.exit(main())
