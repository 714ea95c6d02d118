"""The top-level ``--help`` page comes from an index, not the command modules (issue 17).

``iadbench.cli.top_help`` lists the commands from :data:`~iadbench.cli.top_help.COMMANDS` so
that ``iadbench --help`` imports none of the modules defining them. These tests fail when the
index drifts from the commands' own help (a command added, renamed, moved to another panel or
given a new first paragraph) or when ``--help`` imports a command module again.
"""

from __future__ import annotations

import inspect
import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from iadbench.cli import app
from iadbench.cli.top_help import COMMANDS

WIDTHS = ("60", "80", "132")


_FAST = "import sys\nsys.argv = ['iadbench', '--help']\nfrom iadbench.cli import main\nmain()"
_FULL = "import sys\nsys.argv = ['iadbench', '--help']\nfrom iadbench.cli import app\napp()"


def _page(code: str, width: str, cwd: Path) -> str:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "COLUMNS": width}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=cwd,
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize("width", WIDTHS)
def test_index_page_is_the_full_applications_page(width: str, tmp_path: Path) -> None:
    fast = _page(_FAST, width, tmp_path)
    assert "╭─ Evaluate" in fast and "matrix" in fast
    assert fast == _page(_FULL, width, tmp_path)


def test_index_names_every_command_with_its_panel_and_first_paragraph() -> None:
    group = typer.main.get_command(app)
    assert isinstance(group, typer.core.TyperGroup)
    actual = [
        (name, getattr(command, "rich_help_panel", None),
         inspect.cleandoc(command.short_help or command.help or "").split("\n\n")[0])
        for name, command in group.commands.items()
    ]  # fmt: skip
    expected = [(c.name, c.panel, c.summary) for c in COMMANDS]
    assert expected == actual, (
        "iadbench/cli/top_help.py's COMMANDS must list, in order, every command's name, "
        f"panel and first help paragraph: {actual}"
    )


def test_the_page_is_drawn_from_the_index(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A summary changed in the index shows on the page: nothing is read from the commands."""
    from iadbench.cli import top_help

    changed = [c._replace(summary="INDEXED") if c.name == "run" else c for c in COMMANDS]
    monkeypatch.setattr(top_help, "COMMANDS", tuple(changed))
    monkeypatch.setenv("COLUMNS", "132")
    with pytest.raises(SystemExit) as stop:
        top_help.listing_group().main(["--help"], prog_name="iadbench")
    assert stop.value.code == 0
    assert "INDEXED" in capsys.readouterr().out


def test_help_imports_no_command_module(tmp_path: Path) -> None:
    probe = (
        "import sys\nsys.argv = ['iadbench', '--help']\nfrom iadbench.cli import main\n"
        "try:\n    main()\nexcept SystemExit as stop:\n    assert stop.code in (0, None)\n"
        "print(sorted(m for m in sys.modules if m.startswith('iadbench.')))"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "COLUMNS": "100"}
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, cwd=tmp_path,
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "╭─ Evaluate" in done.stdout
    loaded = done.stdout.strip().splitlines()[-1]
    for module in ("run", "predict", "report", "html_report", "compare", "data", "demo"):
        assert f"'iadbench.cli.{module}'" not in loaded, loaded


def test_a_command_still_runs_after_import_alone() -> None:
    """Importing ``iadbench.cli`` registers nothing; the first command run loads them all."""
    result = CliRunner().invoke(app, ["data", "--help"], env={"COLUMNS": "100"})
    assert result.exit_code == 0, result.output
    assert "synth" in result.output and "check" in result.output
