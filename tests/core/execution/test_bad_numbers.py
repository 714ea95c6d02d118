"""Bad numbers at the command line: exit 2 with one sentence, never a wrong result or a traceback
(issue 9, item 4)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from iadbench.cli import app


def _run(*args: str):
    return CliRunner().invoke(app, list(args))


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--batch-size", "-3"], "--batch-size must be at least 1"),
        (["--batch-size", "0"], "--batch-size must be at least 1"),
        (["--workers", "-1"], "--workers must be 0 or more"),
    ],
)
def test_run_refuses_bad_counts(data_args, tmp_path, extra, message):
    result = _run("run", "--method", "always-defect", "--train", "visa", "--test", "mvtec",
                  *data_args, "--out", str(tmp_path / "out"), *extra)  # fmt: skip
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert not (tmp_path / "out").exists()  # refused before anything was written


def test_run_refuses_an_out_that_is_a_file(data_args, tmp_path):
    target = tmp_path / "taken.txt"
    target.write_text("not a run dir")
    result = _run("run", "--method", "always-defect", "--train", "visa", "--test", "mvtec",
                  *data_args, "--out", str(target))  # fmt: skip
    assert result.exit_code == 2 and "is a file" in result.output
    assert target.read_text() == "not a run dir"


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_set_refuses_non_finite_numbers(data_args, tmp_path, value):
    result = _run("run", "--method", "aprilgan", "--tiny", "--train", "visa", "--test", "mvtec",
                  *data_args, "--out", str(tmp_path / "out"), "--set", f"lr={value}")  # fmt: skip
    assert result.exit_code == 2, result.output
    assert "finite number" in result.output and "Traceback" not in result.output


def test_leaderboard_refuses_an_output_that_is_a_directory(tmp_path):
    result = _run("leaderboard", str(tmp_path), "--output", str(tmp_path))
    assert result.exit_code == 2, result.output
    assert "is a directory" in result.output and "Traceback" not in result.output
