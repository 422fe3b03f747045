"""``python -m vigil.cli``."""

from vigil.cli import run

run()
