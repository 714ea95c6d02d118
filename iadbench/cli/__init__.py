"""Command-line interface. Heavy imports live inside commands so ``iadbench --help`` stays fast.

Commands are grouped by module: ``run.py`` (run, matrix, train), ``predict.py``, ``report.py``
(leaderboard, list), ``html_report.py`` (report), ``compare.py``, ``data.py`` (data synth,
split), ``data_check.py`` (data check) and ``demo.py``; ``app.py`` holds the application, its help
panels and the error policy.
"""

from __future__ import annotations

import importlib

from iadbench.cli.app import app

# Importing a command module registers its commands; --help lists them in this order.
for _module in ("run", "predict", "report", "html_report", "compare", "data", "data_check", "demo"):
    importlib.import_module(f"iadbench.cli.{_module}")


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
