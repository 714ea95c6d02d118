"""The Typer application object and the error policy every command shares."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import typer
from rich.console import Console

P = ParamSpec("P")
R = TypeVar("R")

app = typer.Typer(
    name="iadbench",
    help="Benchmark industrial anomaly detectors (MVTec-AD, VisA) and publish leaderboards.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
)
data_app = typer.Typer(
    help="Synthesise, check or split dataset trees (split: train/test for your own parts).",
    no_args_is_help=True,
)
# Commands are listed in --help by panel, in the order people use them.
EVALUATE = "Evaluate"
RESULTS = "Read results"
SETUP = "Methods, data and demo"
app.add_typer(data_app, name="data", rich_help_panel=SETUP)

console = Console()
error_console = Console(stderr=True)


def _print_version(value: bool) -> None:
    if value:
        from iadbench import __version__

        typer.echo(f"iadbench {__version__}")
        raise typer.Exit()


@app.callback()
def _global_options(
    version: bool = typer.Option(  # handled by its eager callback
        False,
        "--version",
        metavar="",
        callback=_print_version,
        is_eager=True,
        help="Print the version and exit.",
    ),
    verbose: bool = typer.Option(
        False,
        "--verbose",
        "-v",
        metavar="",  # a flag takes no value (typer would print <bool>)
        help="Show libraries' logs and warnings and full training dicts.",
    ),
) -> None:
    """Benchmark industrial anomaly detectors (MVTec-AD, VisA) and publish leaderboards."""
    from iadbench.contract.console_logging import configure

    configure(verbose=verbose)


EXIT_USER_ERROR = 2
EXIT_ENVIRONMENT = 75  # sysexits.h EX_TEMPFAIL: the machine failed; the same command can retry
EXIT_INTERRUPTED = 130


def handles_user_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Turn IADBenchError into a one-paragraph message and exit code 2, without a traceback.

    An :class:`~iadbench.contract.errors.EnvironmentFailure` (disk full, I/O error, out of memory)
    exits
    with 75 instead: nothing is wrong with the input, and the same command resumes.
    """

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        from iadbench.contract.errors import EnvironmentFailure, IADBenchError

        try:
            return command(*args, **kwargs)
        except EnvironmentFailure as exc:
            error_console.print(f"[bold red]Stopped:[/] {exc}", highlight=False, soft_wrap=True)
            raise typer.Exit(EXIT_ENVIRONMENT) from None
        except IADBenchError as exc:
            from rich.markup import escape

            # A message may name a folder or file ("[bold]x"): never read it as markup.
            error_console.print(
                f"[bold red]Error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True
            )
            raise typer.Exit(EXIT_USER_ERROR) from None
        except OSError as exc:  # a full disk outside the run loop (creating the run dir...)
            from iadbench.contract.errors import environment_cause, environment_failure

            if environment_cause(exc) is None:
                raise
            failure = environment_failure(exc, "working")
            error_console.print(f"[bold red]Stopped:[/] {failure}", highlight=False, soft_wrap=True)
            raise typer.Exit(EXIT_ENVIRONMENT) from None
        except KeyboardInterrupt:
            error_console.print(
                "[yellow]Interrupted.[/] Finished predictions are saved; run the same command "
                "again to resume."
            )
            raise typer.Exit(EXIT_INTERRUPTED) from None

    return wrapper
