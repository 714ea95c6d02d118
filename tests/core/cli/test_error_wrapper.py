"""The command wrapper: Ctrl-C and user errors end in one inert sentence and their exit code."""

from __future__ import annotations

import pytest
import typer
from typer.testing import CliRunner

from iadbench.cli.app import EXIT_INTERRUPTED, EXIT_USER_ERROR, handles_user_errors
from iadbench.contract.errors import IADBenchError


def _app(raised: BaseException) -> typer.Typer:
    app = typer.Typer()

    @app.command()
    @handles_user_errors
    def boom() -> None:
        raise raised

    return app


def test_ctrl_c_prints_interrupted_and_exits_130_without_a_traceback():
    # Broke once: a local import in another except branch made `escape` unbound here.
    result = CliRunner().invoke(_app(KeyboardInterrupt()), [])
    assert result.exit_code == EXIT_INTERRUPTED, result.output
    assert "Interrupted." in result.output and "Traceback" not in result.output
    assert not isinstance(result.exception, UnboundLocalError)


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("\x1b]0;PWNED\x07[bold]t\u202e", " ]0;PWNED [bold]t<U+202E>"),
        ("[link=file:///etc]x", "[link=file:///etc]x"),
    ],
)
def test_a_user_error_naming_a_hostile_folder_prints_it_inert(name, shown):
    result = CliRunner().invoke(_app(IADBenchError(f"no images in {name}")), [])
    assert result.exit_code == EXIT_USER_ERROR
    assert f"no images in {shown}" in result.output  # markup shown as text, controls blanked
    assert not {"\x1b", "\x07", "\u202e"} & set(result.output)
