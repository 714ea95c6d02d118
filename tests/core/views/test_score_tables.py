"""Score methods' operating points and calibration in the leaderboard (issue 20 items 3, 4, 6)."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np

from iadbench.analysis.summary_figures import summary_figures
from iadbench.runs.reader import Outcome
from iadbench.runs.seal import seal_summary
from iadbench.views.leaderboard import collect_runs, render_leaderboard
from iadbench.views.leaderboard.score_tables import CALIBRATION_HEADERS, POINTS_HEADERS
from iadbench.views.model import Presentation
from iadbench.views.score_figures import score_views


def _outcomes(seed: int, scores: bool) -> list[Outcome]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(120):
        category = ("bottle", "cable")[i % 2]
        label = "defect" if rng.random() < 0.4 else "normal"
        score = float(np.clip(rng.normal(0.65 if label == "defect" else 0.35, 0.15), 0, 1))
        pred = ("defect" if score >= 0.5 else "normal") if scores else "normal"
        out.append(Outcome(f"{category}/{i}.png", category, label, pred,
                           score if scores else None))  # fmt: skip
    return out


def _write_run(runs: Path, method: str, outcomes: list[Outcome], *, blocks: bool = True) -> None:
    directory = runs / method
    directory.mkdir(parents=True)
    predictions = directory / "predictions.jsonl"
    lines = [{"id": o.id, "category": o.category, "label": o.label, "pred": o.pred,
              "score": o.score, "text": None, "error": None} for o in outcomes]  # fmt: skip
    predictions.write_text("".join(json.dumps(r) + "\n" for r in lines), encoding="utf-8")
    scored = outcomes[0].score is not None
    figures = summary_figures(outcomes, None, 0.5 if scored else None)
    if not blocks:  # a run written before the blocks existed
        figures.pop("score_calibration", None)
        figures.pop("operating_points", None)
    summary: dict[str, Any] = {
        "method": method, "train": None, "test": {"dataset": "mvtec", "split": "all"},
        "threshold": "fixed:0.5" if scored else None, "threshold_value": 0.5 if scored else None,
        "config_hash": f"{method}-hash", "tiny": False,
        "capabilities": {"trains": False, "gives_scores": scored, "gives_text": False},
        **figures,
    }  # fmt: skip
    sealed = seal_summary(summary, predictions)  # type: ignore[arg-type]
    (directory / "summary.json").write_text(json.dumps(sealed), encoding="utf-8")
    manifest = {"status": "complete", "config_hash": summary["config_hash"], "config": {}}
    (directory / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")


def _section(markdown: str, heading: str) -> list[str]:
    start = markdown.index(heading)
    end = markdown.find("\n## ", start + 1)
    return markdown[start : None if end < 0 else end].splitlines()


def test_score_runs_get_separate_operating_point_and_calibration_tables(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    _write_run(runs, "scorer", _outcomes(0, scores=True))
    _write_run(runs, "always-normal", _outcomes(0, scores=False))
    markdown = render_leaderboard(collect_runs(runs))
    points = _section(markdown, "## Operating points of score methods: ")
    calibration = _section(markdown, "## Calibration of score methods")
    header = next(line for line in points if line.startswith("| Method"))
    assert [cell.strip() for cell in header.strip("|").split("|")] == POINTS_HEADERS
    # Separate tables, each readable at 80 columns.
    for lines in (points, calibration):
        table = [line for line in lines if line.startswith("|")]
        assert table and all(len(line) <= 80 for line in table), table
    body = "\n".join(points)
    assert "recall at FAR ≤ 1 %" in body and "miss rate at FAR ≤ 5 %" in body
    assert "FAR at recall ≥ 99 %" in body
    assert "best macro-F1 over thresholds" in body and "always-normal" not in body
    header = next(line for line in calibration if line.startswith("| Method"))
    assert [cell.strip() for cell in header.strip("|").split("|")] == CALIBRATION_HEADERS
    # The cells are the stored figures in the catalogue's formats.
    model = Presentation(collect_runs(runs), None)
    (view,) = [v for views in score_views(model).values() for v in views]
    stored = json.loads((runs / "scorer" / "summary.json").read_text(encoding="utf-8"))
    ece = stored["score_calibration"]["overall"]["ece"]
    assert view.calibration["ece"][0] == f"{100 * ece:.2f}"
    recall = stored["operating_points"]["overall"]["recall_at_far"]["0.05"]["recall"]
    assert view.points[2].value == f"{100 * recall:.2f}"
    assert view.bins is not None and len(view.bins["count"]) == view.n_bins == 15


def test_runs_without_the_blocks_leave_the_leaderboard_as_it_was(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    _write_run(runs, "scorer", _outcomes(0, scores=True), blocks=False)
    markdown = render_leaderboard(collect_runs(runs))
    assert "Operating points" not in markdown and "Calibration of score" not in markdown


def test_the_report_shows_the_operating_points_and_a_reliability_diagram(tmp_path: Path) -> None:
    from iadbench.views.report import build_context, render_html

    runs = tmp_path / "runs"
    _write_run(runs, "scorer", _outcomes(0, scores=True))
    _write_run(runs, "always-normal", _outcomes(0, scores=False))
    context = build_context(collect_runs(runs))
    (section,) = context.scores
    assert section.reliability is not None and section.reliability.startswith("data:image/svg")
    assert [row[1] for row in section.points][:2] == [
        "recall at FAR ≤ 1 %",
        "miss rate at FAR ≤ 1 %",
    ]
    (calibration,) = section.calibration
    page = render_html(context)
    block = page[page.index('id="scores"') : page.index('id="results"')]
    assert "Reliability diagram on" in block and calibration[1] in block
    assert "best macro-F1 over thresholds" in block
    # Without score figures, no such section.
    bare = tmp_path / "bare"
    _write_run(bare, "always-normal", _outcomes(0, scores=False))
    assert 'id="scores"' not in render_html(build_context(collect_runs(bare)))


def test_the_terminal_shows_both_tables_within_80_columns(tmp_path: Path) -> None:
    from rich.console import Console

    from iadbench.views.leaderboard.terminal import render_terminal

    runs = tmp_path / "runs"
    _write_run(runs, "scorer", _outcomes(0, scores=True))
    _write_run(runs, "always-normal", _outcomes(0, scores=False))
    console = Console(width=80, record=True, file=io.StringIO())
    console.print(render_terminal(collect_runs(runs)))
    text = console.export_text()
    assert "#3 scorer: operating points (pooled)" in text and "Calibration (pooled" in text
    assert "recall at FAR ≤ 5 %" in text and "best macro-F1 over thresholds" in text
    assert all(len(line.rstrip()) <= 80 for line in text.splitlines())
    bare = tmp_path / "bare"
    _write_run(bare, "scorer", _outcomes(0, scores=True), blocks=False)
    console = Console(width=80, record=True, file=io.StringIO())
    console.print(render_terminal(collect_runs(bare)))
    assert "operating points" not in console.export_text()


def test_the_data_exports_carry_the_stored_score_figures(tmp_path: Path) -> None:
    from iadbench.analysis.operating_points import FAR_TARGETS, RECALL_TARGETS, target_key
    from iadbench.views.leaderboard.export import leaderboard_records
    from iadbench.views.score_figures import FAR_KEYS, RECALL_KEYS, SCORE_COLUMNS

    # The views repeat the analysis' default targets (to import no numpy): they must agree.
    assert tuple(map(target_key, FAR_TARGETS)) == FAR_KEYS
    assert tuple(map(target_key, RECALL_TARGETS)) == RECALL_KEYS
    runs = tmp_path / "runs"
    _write_run(runs, "scorer", _outcomes(0, scores=True))
    _write_run(runs, "always-normal", _outcomes(0, scores=False))
    records = leaderboard_records(collect_runs(runs))
    stored = json.loads((runs / "scorer" / "summary.json").read_text(encoding="utf-8"))
    by = {(r["method"], r["group"], r["category"]): r for r in records}
    pooled, cable = by[("scorer", "pooled", None)], by[("scorer", "category", "cable")]
    points = stored["operating_points"]
    assert pooled["recall_at_far_0.01"] == points["overall"]["recall_at_far"]["0.01"]["recall"]
    assert (
        cable["far_at_recall_0.99"] == points["per_class"]["cable"]["far_at_recall"]["0.99"]["far"]
    )
    assert (
        by[("scorer", "class_mean", None)]["ece"]
        == stored["score_calibration"]["class_mean"]["ece"]
    )
    assert all(by[("always-normal", "pooled", None)][key] is None for key in SCORE_COLUMNS)
