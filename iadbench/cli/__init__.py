"""Command-line interface. Heavy imports live inside commands so ``iadbench --help`` stays fast.

Commands are grouped by module: ``run.py`` (run, matrix, train), ``predict.py``, ``report.py``
(leaderboard, list), ``html_report.py`` (report), ``compare.py``, ``data.py`` (data synth,
split), ``data_check.py`` (data check) and ``demo.py``; ``app.py`` holds the application, its help
panels and the error policy, and imports those modules only when a command runs;
``top_help.py`` draws the top-level ``--help`` page from an index, importing none of them.
"""

from __future__ import annotations

import sys

from iadbench.cli.app import app  # the commands' modules load when a command runs (app.py)


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
    if sys.argv[1:] == ["--help"]:  # the top-level page needs no command module
        from iadbench.cli.top_help import listing_group

        listing_group()()
    app()


__all__ = ["app", "main"]
