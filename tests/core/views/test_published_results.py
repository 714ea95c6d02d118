"""The published leaderboard is exactly what `iadbench leaderboard` makes of the stored runs."""

from __future__ import annotations

from pathlib import Path

from iadbench.views.leaderboard import collect_runs, load_paper_reference, render_leaderboard

RESULTS = Path(__file__).resolve().parents[3] / "results"


def test_published_leaderboard_is_regenerated_from_the_committed_runs():
    runs = collect_runs(RESULTS / "runs")
    assert runs, "results/runs holds no run dirs (ignored by .gitignore?)"
    markdown = render_leaderboard(runs, load_paper_reference(), title="iadbench published results")
    assert markdown == (RESULTS / "LEADERBOARD.md").read_text(encoding="utf-8")
