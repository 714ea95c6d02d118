"""The Typer application object and the error policy every command shares."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Final, ParamSpec, TypeVar, overload

import typer
from rich.console import Console
from rich.markup import escape

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


#: What the run path keeps when it stops (``run``, ``matrix``, ``demo``): every finished
#: prediction is on disk, and the same command predicts only the rest.
RUN_RESUMES: Final = (
    "Finished predictions are saved; run the same command again to resume with the rest."
)
#: What ``train`` keeps: the training is marked finished only when ``fit`` returned.
TRAINING_RESUMES: Final = (
    "The training is not marked finished; run the same command again to train it (a method "
    "that keeps checkpoints, as LR-IAD does, resumes from its last one)."
)
#: What ``predict`` keeps: rows are appended per batch beside the output (``.partial``).
PREDICT_RESUMES: Final = (
    "The rows predicted so far are kept in the output's .partial file; run the same command "
    "again to predict only the rest."
)
#: Every other command keeps nothing: it starts over, and says so.
NOT_RESUMED: Final = (
    "This command does not resume: run it again to start over (a file it was writing may be "
    "incomplete)."
)


@overload
def handles_user_errors(command: Callable[P, R], /) -> Callable[P, R]: ...
@overload
def handles_user_errors(
    *, resumes: str = NOT_RESUMED
) -> Callable[[Callable[P, R]], Callable[P, R]]: ...
def handles_user_errors(
    command: Callable[P, R] | None = None, /, *, resumes: str = NOT_RESUMED
) -> Callable[P, R] | Callable[[Callable[P, R]], Callable[P, R]]:
    """Turn IADBenchError into a one-paragraph message and exit code 2, without a traceback.

    An :class:`~iadbench.contract.errors.EnvironmentFailure` (disk full, I/O error, out of memory)
    exits with 75 instead, Ctrl-C (or SIGTERM/SIGHUP) with 130; both messages end with
    ``resumes``, what this command keeps of its work and what running it again does, so no
    command promises a resume it does not make (``@handles_user_errors`` alone: it starts over;
    ``@handles_user_errors(resumes=RUN_RESUMES)`` for the run path).
    """
    if command is None:
        return functools.partial(_wrapped, resumes=resumes)
    return _wrapped(command, resumes=resumes)


def _wrapped(command: Callable[P, R], *, resumes: str) -> Callable[P, R]:
    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        from iadbench.contract.errors import EnvironmentFailure, IADBenchError

        try:
            return command(*args, **kwargs)
        except EnvironmentFailure as exc:
            _stopped(f"{exc} {resumes}")
            raise typer.Exit(EXIT_ENVIRONMENT) from None
        except IADBenchError as exc:
            # A message may name a folder or file ("[bold]x", an ESC sequence): never read it
            # as markup, never let it reach the terminal's control codes.
            error_console.print(
                f"[bold red]Error:[/] {_inert(str(exc))}", highlight=False, soft_wrap=True
            )
            raise typer.Exit(EXIT_USER_ERROR) from None
        except OSError as exc:  # a full disk outside the run loop (creating the run dir...)
            from iadbench.contract.errors import environment_cause, environment_failure

            if environment_cause(exc) is None:
                raise
            _stopped(f"{environment_failure(exc, 'working', images=False)} {resumes}")
            raise typer.Exit(EXIT_ENVIRONMENT) from None
        except KeyboardInterrupt:
            error_console.print(
                f"[yellow]Interrupted.[/] {escape(resumes)}", highlight=False, soft_wrap=True
            )
            raise typer.Exit(EXIT_INTERRUPTED) from None

    return wrapper


def _stopped(message: str) -> None:
    error_console.print(f"[bold red]Stopped:[/] {_inert(message)}", highlight=False, soft_wrap=True)


def _inert(message: str) -> str:
    """``message`` printable as markup: control codes blanked, ``[`` escaped."""
    from iadbench.contract.text import terminal_text

    return escape(terminal_text(message))
