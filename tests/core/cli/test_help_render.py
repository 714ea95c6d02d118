"""iadbench's own help renderer draws the page typer's rich renderer draws (issue 17, item 5).

``iadbench.cli.help_render`` replaces ``typer.rich_utils`` for ``--help`` only to keep start-up
fast; these tests render every command's help both ways, at three widths, and require the same
text, so a panel, an option, a default or a note the replacement forgot fails here.
"""

from __future__ import annotations

import pytest
import typer
from typer.testing import CliRunner

from iadbench.cli import app, help_render

WIDTHS = ("60", "80", "132")


def _commands(group: object, prefix: str = "") -> list[str]:
    names = [prefix.strip()]
    for name, command in getattr(group, "commands", {}).items():
        names += _commands(command, f"{prefix} {name}")
    return names


def _help(args: list[str], width: str) -> str:
    result = CliRunner().invoke(app, [*args, "--help"], env={"COLUMNS": width})
    assert result.exit_code == 0, result.output
    return result.output


def _typer_rendering(command: object, ctx: object) -> None:
    from typer import rich_utils

    rich_utils.rich_format_help(obj=command, ctx=ctx, markup_mode="rich")  # type: ignore[arg-type]


COMMANDS = _commands(typer.main.get_command(app))


@pytest.mark.parametrize("width", WIDTHS)
def test_every_help_page_matches_typers_own_rendering(
    width: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert len(COMMANDS) >= 13  # the root, ten commands, data and its three
    ours = {name: _help(name.split(), width) for name in COMMANDS}
    monkeypatch.setattr(help_render, "print_help", _typer_rendering)
    for name in COMMANDS:
        assert _help(name.split(), width) == ours[name], f"iadbench {name} --help at {width}"


def test_help_lists_panels_options_defaults_and_required_marks() -> None:
    text = _help(["run"], "132")
    for expected in ("Usage: iadbench run", "╭─ Method", "╭─ Data", "--threshold", "[required]",
                     "[default: 0]", "*  --method"):  # fmt: skip
        assert expected in text, expected
