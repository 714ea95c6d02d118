"""An in-sample threshold is marked ° by every renderer (issue 20, item 5).

Three runs of one method, visa→mvtec: a threshold chosen on images it was fitted on
(``calibration.held_out`` false), one chosen on held-out images, and one stored before the key
existed (unmarked, as before). Markdown, terminal, CSV / JSON and the HTML report mark the first
one alone, and write the legend.
"""

from __future__ import annotations

import csv
import html
import io
import json
from pathlib import Path

import pytest
from rich.console import Console
from test_leaderboard import SMALL, write_run, write_sealed_summary

from iadbench.views.catalogue import IN_SAMPLE
from iadbench.views.leaderboard import collect_runs, load_paper_reference, render_leaderboard
from iadbench.views.leaderboard.export import leaderboard_csv, leaderboard_json
from iadbench.views.leaderboard.terminal import render_terminal
from iadbench.views.report import build_context, render_html

LEGEND = f"{IN_SAMPLE} in-sample threshold: chosen on images the method was fitted on"
IN, HELD, OLD = "normal-quantile:0.95", "normal-quantile:0.9", "calibrated"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    for name, threshold, held_out in (("in", IN, False), ("held", HELD, True), ("old", OLD, None)):
        run_dir = write_run(tmp_path, name, "nearest", SMALL, threshold=threshold)
        summary = json.loads((run_dir / "summary.json").read_text())
        if held_out is not None:
            source = "held-out share 0.2" if held_out else "in-sample"
            summary["calibration"] = {"held_out": held_out, "source": source,
                                      "n_per_label": {"normal": 5}}  # fmt: skip
            write_sealed_summary(run_dir, summary)
    return tmp_path


def test_every_renderer_marks_the_in_sample_threshold_alone(root: Path) -> None:
    collected = collect_runs(root)
    markdown = render_leaderboard(collected, load_paper_reference())
    assert f"| {IN}{IN_SAMPLE} |" in markdown and LEGEND in markdown
    assert f"{HELD}{IN_SAMPLE}" not in markdown and f"{OLD}{IN_SAMPLE}" not in markdown

    out = io.StringIO()
    Console(file=out, width=250, force_terminal=False, color_system=None).print(
        render_terminal(collected, load_paper_reference(), width=250)
    )
    text = out.getvalue()
    assert LEGEND in text
    assert text.replace(LEGEND, "").count(IN_SAMPLE) >= 1

    for records in (
        list(csv.DictReader(io.StringIO(leaderboard_csv(collected)))),
        json.loads(leaderboard_json(collected))["records"],
    ):
        markers = {
            r["threshold"]: r["threshold_marker"] for r in records if r["method"] == "nearest"
        }
        assert markers == {IN: IN_SAMPLE, HELD: "", OLD: ""}

    page = render_html(build_context(collected, reference=load_paper_reference()))
    assert f"{IN}{IN_SAMPLE}" in page and html.escape(LEGEND) in page
    assert f"{HELD}{IN_SAMPLE}" not in page and f"{OLD}{IN_SAMPLE}" not in page


def test_without_an_in_sample_run_there_is_no_marker_nor_legend(root: Path) -> None:
    import shutil

    shutil.rmtree(root / "in")
    markdown = render_leaderboard(collect_runs(root), load_paper_reference())
    assert IN_SAMPLE not in markdown
