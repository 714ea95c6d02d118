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


@pytest.mark.parametrize("value", ["-1", "two", "1.5"])
def test_run_refuses_a_malformed_workers_variable_before_anything_runs(
    data_args, tmp_path, monkeypatch, value
):
    monkeypatch.setenv("IADBENCH_WORKERS", value)
    result = _run("run", "--method", "always-defect", "--train", "visa", "--test", "mvtec",
                  *data_args, "--out", str(tmp_path / "out"))  # fmt: skip
    assert result.exit_code == 2, result.output
    assert f"IADBENCH_WORKERS must be a whole number 0 or more, got {value!r}" in result.output
    assert not (tmp_path / "out").exists()
    # --workers given: the variable is not read.
    ok = _run("run", "--method", "always-defect", "--train", "visa", "--test", "mvtec",
              *data_args, "--out", str(tmp_path / "out"), "--workers", "0")  # fmt: skip
    assert ok.exit_code == 0, ok.output


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


# Every numeric option (and --device) of run, train and matrix goes through one owner
# (iadbench.contract.numbers): exit 2, one sentence naming the flag, nothing written (issue 18
# item 1). Before, --seed -1 and --device tpu were recorded for a baseline, and matrix --limit 0
# or --workers -1 reached planning unchecked.
_COMMANDS = {
    "run": ["run", "--method", "always-defect", "--test", "mvtec"],
    "train": ["train", "--method", "aprilgan", "--tiny", "--train", "visa"],
    "matrix": ["matrix", "--methods", "always-*", "--datasets", "mvtec,visa"],
}
_BAD = [
    (["--seed", "-1"], "--seed must be"), (["--seed", str(2**32)], "--seed must be"),
    (["--device", "tpu"], "--device must be one of"),
    (["--device", "cuda:x"], "--device must be one of"),
]  # fmt: skip
_BAD_RUN_MATRIX = [(["--limit", "0"], "--limit must be at least 1"),
                   (["--workers", "-2"], "--workers must be 0 or more")]  # fmt: skip


@pytest.mark.parametrize(
    ("command", "extra", "message"),
    [(c, e, m) for c in _COMMANDS for e, m in _BAD]
    + [(c, e, m) for c in ("run", "matrix") for e, m in _BAD_RUN_MATRIX],
)
def test_every_command_refuses_bad_numbers_and_devices(data_args, tmp_path, command, extra,
                                                       message):  # fmt: skip
    out = ["--cache-dir", str(tmp_path / "cache")]
    if command != "train":
        out += ["--out", str(tmp_path / "out")]
    result = _run(*_COMMANDS[command], *data_args, *out, *extra)
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert not (tmp_path / "out").exists() and not (tmp_path / "cache").exists()


def test_a_negative_training_cap_is_refused_not_read_as_all():
    from iadbench.contract.errors import ArgumentError
    from iadbench.contract.records import Sample
    from iadbench.contract.sampling import select_samples

    pool = [Sample(f"c/{i}.png", "d", "c", "train", "normal", f"/{i}.png") for i in range(4)]
    assert len(select_samples(pool, 0, seed=0)) == 4 and len(select_samples(pool, 2, seed=0)) == 2
    for cap in (-1, 2.5, True):
        with pytest.raises(ArgumentError, match="max_train_samples must be"):
            select_samples(pool, cap, seed=0)  # type: ignore[arg-type]
