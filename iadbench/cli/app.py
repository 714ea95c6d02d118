"""The Typer application object and the error policy every command shares."""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, Final, ParamSpec, TypeVar, overload

import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperCommand, TyperGroup

if TYPE_CHECKING:  # typer 0.29 vendors click: its classes, not the click package's
    from typer._click.core import Command, Context
    from typer.core import TyperOption as Option
    from typer.models import CommandInfo

P = ParamSpec("P")
R = TypeVar("R")
F = TypeVar("F", bound=Callable[..., Any])


class _FlagHelpGroup(TyperGroup):
    """A command group whose ``--help`` (its own and its commands') reads as a flag.

    typer lists the help option as ``--help <bool>``, as if it took a value; the other flags get
    ``metavar=""`` where they are declared, but click creates the help option itself, so its
    metavar is set here, through click's public ``get_help_option``, for the group and for each
    command it hands out (a nested group of this class does the same for its own commands).
    """

    def get_help_option(self, ctx: Context) -> Option | None:
        return _as_flag(super().get_help_option(ctx))

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            _as_flag(command.get_help_option(ctx))
        return command

    def format_help(self, ctx: Context, formatter: object) -> None:
        from iadbench.cli.help_render import print_help  # only when help is asked for

        print_help(self, ctx)


class _Command(TyperCommand):
    """A command whose ``--help`` is drawn by :mod:`iadbench.cli.help_render` (fast start)."""

    def format_help(self, ctx: Context, formatter: object) -> None:
        from iadbench.cli.help_render import print_help

        print_help(self, ctx)


class _Typer(typer.Typer):
    """A Typer application whose commands default to :class:`_Command` and load on first need.

    The modules that define its commands (``command_modules``) are imported when typer first
    reads :attr:`registered_commands` — when it builds the click group to run or test a command —
    not when ``iadbench.cli`` is imported: the top-level ``--help`` page is drawn from
    :mod:`iadbench.cli.top_help`'s index without them (issue 17: ``--help`` within 2x a bare
    start). ``listing_only`` builds the group without loading them, for that page.
    """

    listing_only: ClassVar[bool] = False

    def __init__(self, *args: Any, command_modules: tuple[str, ...] = (), **kwargs: Any) -> None:
        self._pending_modules = command_modules  # read by the setter typer's __init__ calls
        super().__init__(*args, **kwargs)

    @property
    def registered_commands(self) -> list[CommandInfo]:
        """The registered commands, after importing the modules that register them."""
        if self._pending_modules and not _Typer.listing_only:
            modules, self._pending_modules = self._pending_modules, ()
            for module in modules:  # each decorates its functions with this app's .command()
                importlib.import_module(module)
        return self._registered_commands

    @registered_commands.setter
    def registered_commands(self, commands: list[CommandInfo]) -> None:
        self._registered_commands = commands

    def command(  # same call as typer's, one default changed
        self, *args: Any, cls: type[TyperCommand] | None = None, **kwargs: Any
    ) -> Callable[[F], F]:
        decorate: Callable[[F], F] = super().command(*args, cls=cls or _Command, **kwargs)
        return decorate


def _as_flag(option: Option | None) -> Option | None:
    if option is not None:
        option.metavar = ""  # click caches the option: set once, every later help reads it
    return option


app = _Typer(
    cls=_FlagHelpGroup,
    # Imported in this order, they list their commands in --help in this order.
    command_modules=tuple(
        f"iadbench.cli.{module}"
        for module in ("run", "predict", "report", "html_report", "compare", "demo")
    ),
    name="iadbench",
    help="Benchmark industrial anomaly detectors (MVTec-AD, VisA) and publish leaderboards.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
)
data_app = _Typer(
    cls=_FlagHelpGroup,
    command_modules=("iadbench.cli.data", "iadbench.cli.data_check"),
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
EXIT_METHOD_CRASH = 70  # sysexits.h EX_SOFTWARE: the method's code raised (fit or predict)
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
    exits with 75 instead, Ctrl-C (or SIGTERM/SIGHUP) with 130, a method's crash in training or
    predicting (:class:`~iadbench.execution.crash.MethodCrash`) with 70 and one line naming
    method, stage and exception (the traceback with ``iadbench --verbose``); 75 and 130 end with
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
        # Before `except Exception`, which would swallow it (it did, after a merge).
        except OSError as exc:  # a full disk outside the run loop (creating the run dir...)
            from iadbench.contract.errors import environment_cause, environment_failure

            if environment_cause(exc) is None:
                raise
            _stopped(f"{environment_failure(exc, 'working', images=False)} {resumes}")
            raise typer.Exit(EXIT_ENVIRONMENT) from None
        except Exception as exc:
            from iadbench.execution.crash import MethodCrash  # here: `list` stays light

            if not isinstance(exc, MethodCrash):
                raise
            _crashed(exc)
            raise typer.Exit(EXIT_METHOD_CRASH) from None
        except KeyboardInterrupt:
            error_console.print(
                f"[yellow]Interrupted.[/] {escape(resumes)}", highlight=False, soft_wrap=True
            )
            raise typer.Exit(EXIT_INTERRUPTED) from None

    return wrapper


def _crashed(crash: Exception) -> None:
    """One line for a method's crash; its traceback first when the user asked for everything.

    No resume sentence: the same command would crash the same way until the method is fixed.
    """
    import traceback

    from iadbench.contract.console_logging import verbose

    if verbose() and crash.__cause__ is not None:
        lines = traceback.format_exception(crash.__cause__)
        error_console.print(escape("".join(lines)), highlight=False, soft_wrap=True, end="")
    hint = "" if verbose() else " Run with `iadbench --verbose ...` for the traceback."
    error_console.print(
        f"[bold red]Error:[/] {_inert(str(crash).rstrip('.'))}.{escape(hint)}",
        highlight=False, soft_wrap=True,
    )  # fmt: skip


def _stopped(message: str) -> None:
    error_console.print(f"[bold red]Stopped:[/] {_inert(message)}", highlight=False, soft_wrap=True)


def _inert(message: str) -> str:
    """``message`` printable as markup: control codes blanked, ``[`` escaped."""
    from iadbench.contract.text import terminal_text

    return escape(terminal_text(message))
