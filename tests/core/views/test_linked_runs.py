"""Linked run dirs: followed as datasets are, each real run counted once (issue 18 item 5).

`leaderboard` and `report` used to skip a symlinked run dir without listing it under skipped.
The project's rule (``iadbench/data/traversal.py``) follows links wherever they point; the same
run reached twice (a link and its target) counts once and the other path is listed as skipped.
"""

from __future__ import annotations

import json
from pathlib import Path

from test_leaderboard import SMALL, constant, write_run
from typer.testing import CliRunner

from iadbench.cli import app
from iadbench.views.leaderboard import collect_runs
from iadbench.views.report import build_context


def board(root: Path) -> dict:
    result = CliRunner().invoke(app, ["leaderboard", str(root), "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_a_linked_run_dir_is_read_by_leaderboard_and_report(tmp_path: Path) -> None:
    elsewhere = write_run(tmp_path / "disk2", "lr", "lr-iad", SMALL)
    root = tmp_path / "runs"
    write_run(root, "ad", "always-defect", constant(SMALL, "defect"))
    (root / "lr-link").symlink_to(elsewhere, target_is_directory=True)
    document = board(root)
    assert {r["run_dir"] for r in document["records"] if not r["derived"]} == {"ad", "lr-link"}
    assert document["skipped"] == []
    context = build_context(collect_runs(root))
    assert {run.method for run in context.runs} == {"always-defect", "lr-iad"}


def test_a_run_reached_twice_counts_once_and_the_link_is_listed(tmp_path: Path) -> None:
    root = tmp_path / "runs"
    write_run(root / "matrix", "lr", "lr-iad", SMALL)
    # "a-copy" sorts (and is walked) before "matrix": the path without a link is still kept.
    (root / "a-copy").symlink_to(root / "matrix", target_is_directory=True)
    (root / "matrix" / "lr-again").symlink_to(root / "matrix" / "lr", target_is_directory=True)
    collected = collect_runs(root)
    assert [collected.relative(run.path) for run in collected.runs] == ["matrix/lr"]
    skipped = {collected.relative(s.path): s.reason for s in collected.skipped}
    assert set(skipped) == {"a-copy/lr", "a-copy/lr-again", "matrix/lr-again"}
    assert all(reason.startswith("same run as matrix/lr") for reason in skipped.values())
    document = board(root)
    assert {r["run_dir"] for r in document["records"] if not r["derived"]} == {"matrix/lr"}
    assert {s["path"] for s in document["skipped"]} == set(skipped)


def test_a_link_loop_ends(tmp_path: Path) -> None:
    root = tmp_path / "runs"
    run_dir = write_run(root, "lr", "lr-iad", SMALL)
    (run_dir / "artifacts").mkdir()
    (run_dir / "artifacts" / "up").symlink_to(root, target_is_directory=True)
    collected = collect_runs(root)
    assert [collected.relative(run.path) for run in collected.runs] == ["lr"]
    assert collected.skipped == []  # a loop is no second run to list
