"""`iadbench leaderboard --format csv|json`: records that read back equal to summary.json."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from test_leaderboard import SMALL, constant, write_run
from typer.testing import CliRunner

from iadbench.cli import app
from iadbench.views.leaderboard import collect_runs
from iadbench.views.leaderboard.export import (
    COLUMNS,
    METRIC_COLUMNS,
    leaderboard_csv,
    leaderboard_json,
)

FLOATS = ("accuracy", "f1_macro", "balanced_accuracy", "invalid_rate", "auroc", "ap")


@pytest.fixture
def runs_dir(tmp_path: Path) -> Path:
    """lr-iad in both directions, a stored always-defect in one (the others derived)."""
    write_run(tmp_path, "lr-v", "lr-iad", SMALL, train=("visa", "all"), test=("mvtec", "all"))
    write_run(tmp_path, "lr-m", "lr-iad", SMALL, train=("mvtec", "all"), test=("visa", "all"))
    write_run(tmp_path, "ad-v", "always-defect", constant(SMALL, "defect"))
    return tmp_path


def from_csv(text: str) -> list[dict[str, object]]:
    """CSV records with numbers, booleans and empty fields turned back into values."""

    def value(key: str, field: str) -> object:
        if field == "":
            return None
        if field in ("true", "false"):
            return field == "true"
        if key in ("n", "errors"):
            return int(field)
        return float(field) if key in FLOATS else field

    return [{k: value(k, v) for k, v in row.items()} for row in csv.DictReader(io.StringIO(text))]


def summary_of(root: Path, name: str) -> dict:
    return json.loads((root / name / "summary.json").read_text())


def check_records_equal_summaries(records: list[dict], root: Path) -> None:
    stored = [r for r in records if not r["derived"]]
    assert {r["run_dir"] for r in stored} == {"lr-v", "lr-m", "ad-v"}
    for record in stored:
        summary = summary_of(root, record["run_dir"])
        metrics = {
            "pooled": summary["overall"],
            "class_mean": summary["class_mean"],
            "category": summary["per_class"].get(record["category"] or ""),
        }[record["group"]]
        expected = {key: metrics.get(key) for key in METRIC_COLUMNS}
        expected["collapsed"] = bool(expected["collapsed"])
        assert {key: record[key] for key in METRIC_COLUMNS} == expected, record
        assert record["config_hash"] == summary["config_hash"]
        assert record["method"] == summary["method"]


def test_csv_reads_back_equal_to_the_summaries(runs_dir: Path) -> None:
    text = leaderboard_csv(collect_runs(runs_dir))
    assert text.splitlines()[0].split(",") == list(COLUMNS)
    records = from_csv(text)
    check_records_equal_summaries(records, runs_dir)
    # Two directions × (lr-iad + two baselines) × (pooled + class mean + 2 categories).
    assert len(records) == 2 * 3 * 4


def test_json_reads_back_equal_to_the_summaries(runs_dir: Path) -> None:
    document = json.loads(leaderboard_json(collect_runs(runs_dir)))
    assert document["format"] == 1 and document["columns"] == list(COLUMNS)
    check_records_equal_summaries(document["records"], runs_dir)
    assert [list(r) for r in document["records"]] == [list(COLUMNS)] * len(document["records"])


def test_derived_baselines_are_marked_and_name_their_source(runs_dir: Path) -> None:
    records = json.loads(leaderboard_json(collect_runs(runs_dir)))["records"]
    derived = [r for r in records if r["derived"] and r["group"] == "pooled"]
    assert {(r["method"], r["test_dataset"]) for r in derived} == {
        ("always-normal", "mvtec"), ("always-defect", "visa"), ("always-normal", "visa"),
    }  # fmt: skip
    assert all(r["config_hash"] is None for r in derived)
    # always-normal's accuracy on MVTec-AD is the share of normal images there.
    normal = next(
        r for r in derived if (r["method"], r["test_dataset"]) == ("always-normal", "mvtec")
    )
    images = [label for pairs in SMALL.values() for label, _ in pairs]
    assert normal["accuracy"] == images.count("normal") / len(images)


def test_text_is_written_as_stored(tmp_path: Path) -> None:
    cells = {'bo,"tt\nle': SMALL["bottle"]}
    write_run(tmp_path, "x", "m|x", cells)
    records = from_csv(leaderboard_csv(collect_runs(tmp_path)))
    assert {r["category"] for r in records} == {None, 'bo,"tt\nle'}
    assert {r["method"] for r in records if not r["derived"]} == {"m|x"}


runner = CliRunner()


def test_cli_format_csv_prints_and_output_suffix_chooses_json(runs_dir: Path, tmp_path: Path):
    printed = runner.invoke(app, ["leaderboard", str(runs_dir), "--format", "csv"])
    assert printed.exit_code == 0, printed.output
    assert printed.stdout == leaderboard_csv(collect_runs(runs_dir))
    target = tmp_path / "out" / "board.json"
    written = runner.invoke(app, ["leaderboard", str(runs_dir), "--output", str(target)])
    assert written.exit_code == 0, written.output
    assert json.loads(target.read_text())["records"]


def test_cli_prints_terminal_tables_by_default_and_markdown_on_request(runs_dir: Path) -> None:
    tables = runner.invoke(app, ["leaderboard", str(runs_dir)], env={"COLUMNS": "80"})
    assert tables.exit_code == 0, tables.output
    assert "Pooled over all test images" in tables.stdout and "|" not in tables.stdout
    assert max(len(line.rstrip()) for line in tables.stdout.splitlines()) <= 80
    markdown = runner.invoke(app, ["leaderboard", str(runs_dir), "--format", "md"])
    assert markdown.stdout.startswith("# iadbench leaderboard") and "| Method" in markdown.stdout
