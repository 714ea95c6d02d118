"""Command-line interface. Heavy imports live inside commands so ``iadbench --help`` stays fast.

Commands are grouped by module: ``run.py`` (run, matrix, train), ``report.py`` (leaderboard,
list), ``data.py`` (data synth, data check), ``html_report.py`` (report) and ``demo.py``.
"""

from __future__ import annotations

import iadbench.cli.compare  # noqa: F401  (registers the command)
from iadbench.cli import data, demo, html_report, predict, report, run  # noqa: F401  (registers)
from iadbench.cli.app import app


def main() -> None:
    """Console-script entry point.

    SIGTERM (a scheduler's or torchrun's stop) and SIGHUP (a closed terminal) end a run like
    Ctrl-C does: the manifest says ``interrupted`` and the same command resumes.
    """
    import signal

    def _interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(signal.Signals(signum).name)

    for name in ("SIGTERM", "SIGHUP"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), _interrupt)
    app()


__all__ = ["app", "main"]
