"""The help texts and the docs name every release a reader reads, not only MVTec-AD and VisA."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from iadbench.cli import app
from iadbench.cli.options import RELEASE_NAMES
from iadbench.data.releases import DATASET_READERS

ROOT = Path(__file__).resolve().parents[3]


def test_the_help_list_is_the_readers_table() -> None:
    # Written out so that --help does not import the readers; it must follow the table.
    assert tuple(sorted(DATASET_READERS)) == RELEASE_NAMES


@pytest.mark.parametrize(
    ("command", "flag"),
    [(["run"], "--test"), (["run"], "--train"), (["run"], "--data"), (["matrix"], "--datasets"),
     (["data", "synth"], " dataset "), (["data", "check"], " dataset ")],
)  # fmt: skip
def test_the_help_names_every_release(command: list[str], flag: str) -> None:
    result = CliRunner().invoke(app, [*command, "--help"], env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    line = next(t for t in result.output.splitlines() if flag in t)
    # The option's own line names them all (not a mention elsewhere on the page).
    missing = [name for name in DATASET_READERS if not re.search(rf"\b{name}\b(?!-)", line)]
    assert not missing, (flag, missing, line)


def test_the_docs_name_every_release() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert all(f"`{name}`" in readme for name in DATASET_READERS)
    architecture = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    for reader in DATASET_READERS.values():
        module = reader.__module__.rsplit(".", 1)[-1]
        assert f"{module}.py" in architecture, module
    cli = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    assert "Any name but `mvtec` / `visa`" not in cli  # what it said before the releases
    assert all(f"`{name}`" in cli for name in DATASET_READERS)
