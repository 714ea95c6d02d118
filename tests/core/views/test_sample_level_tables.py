"""Real-IAD's sample-level figures in the leaderboard (markdown, terminal) and the HTML report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from iadbench.cli.app import app
from iadbench.data.synth import synthesize
from iadbench.views.catalogue import percent


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A pixel-stats run scored on a small synthetic Real-IAD test set (views grouped)."""
    base = tmp_path_factory.mktemp("sample_level")
    tree = base / "Real-IAD"
    synthesize("real-iad", tree, scale=0.01, image_size=16, categories=("audiojack", "pcb"))
    out = base / "runs" / "run"
    made = CliRunner().invoke(app, ["run", "--method", "pixel-stats", "--test", "real-iad",
                                    "--test-split", "test", "--data", f"real-iad={tree}",
                                    "--out", str(out)])  # fmt: skip
    assert made.exit_code == 0, made.output
    return out


def _pooled(run: Path) -> tuple[str, str, str]:
    """The sample-level AUROC and accuracy cells and sample count, from summary.json."""
    block = json.loads((run / "summary.json").read_text())["sample_level"]
    overall = block["overall"]
    return percent(overall["auroc"]), percent(overall["accuracy"]), str(overall["n"])


def test_the_markdown_leaderboard_shows_the_sample_level_line(run: Path) -> None:
    board = CliRunner().invoke(app, ["leaderboard", str(run), "--format", "md"])
    assert board.exit_code == 0, board.output
    assert "## Per sample, views grouped:" in board.output
    section = board.output.split("## Per sample, views grouped:")[1]
    auroc, accuracy, samples = _pooled(run)
    line = next(t for t in section.splitlines() if t.startswith("| pixel-stats"))
    cells = [c.strip() for c in line.strip("|").split("|")]
    assert cells[1] == auroc and cells[3] == accuracy and cells[-1] == samples
    # Fewer samples than images: the views were grouped (5 per part).
    summary = json.loads((run / "summary.json").read_text())
    assert int(samples) < summary["overall"]["n"]


def test_the_terminal_leaderboard_shows_the_sample_level_table(run: Path) -> None:
    board = CliRunner().invoke(app, ["leaderboard", str(run)], env={"COLUMNS": "160"})
    assert board.exit_code == 0, board.output
    assert "Per sample, views grouped" in board.output
    auroc, accuracy, samples = _pooled(run)
    table = board.output.split("Per sample, views grouped")[1]
    assert auroc in table and accuracy in table and samples in table


def test_the_html_report_shows_the_sample_level_table(run: Path) -> None:
    made = CliRunner().invoke(app, ["report", str(run.parent)], env={"COLUMNS": "200"})
    assert made.exit_code == 0, made.output
    page = (run.parent / "report.html").read_text(encoding="utf-8")
    assert "Per sample, views grouped (Real-IAD)" in page
    auroc, accuracy, samples = _pooled(run)
    table = page.split("Per sample, views grouped (Real-IAD)")[1].split("</table>")[0]
    assert f"<td>{auroc}</td>" in table and f"<td>{samples}</td>" in table
