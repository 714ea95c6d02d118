"""Command-line interface. Heavy imports live inside commands so ``iadbench --help`` stays fast.

Commands are grouped by module: ``run.py`` (run, matrix, train), ``report.py`` (leaderboard,
list), ``data.py`` (data synth, data check) and ``demo.py``.
"""

from __future__ import annotations

from iadbench.cli import data, demo, report, run  # noqa: F401  (registers the commands)
from iadbench.cli.app import app


def main() -> None:
    """Console-script entry point."""
    app()


__all__ = ["app", "main"]
