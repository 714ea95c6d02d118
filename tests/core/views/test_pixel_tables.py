"""Map methods' pixel AUROC / AUPRO in every renderer (issue 20 items 1 and 6).

A real tiny pixel-stats run (it stores maps; its summary holds ``pixel_metrics``) beside a run of
a method without maps: the cells built once by ``views.pixel_figures`` appear, the same, in the
markdown, the terminal, the CSV / JSON exports and the HTML report, in separate tables readable
at 80 columns; a run without maps has no pixel table anywhere.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import pytest

from iadbench.execution.planning import RunRequest, plan_run
from iadbench.execution.runner import execute_run
from iadbench.views.catalogue import figure_text
from iadbench.views.leaderboard import collect_runs, render_leaderboard
from iadbench.views.leaderboard.escape import escape_markdown
from iadbench.views.leaderboard.export import leaderboard_csv, leaderboard_json
from iadbench.views.model import Presentation
from iadbench.views.pixel_figures import PixelView, pixel_views


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, synth_mvtec: Path) -> Path:
    root = tmp_path_factory.mktemp("pixel-runs")
    for method in ("pixel-stats", "always-normal"):
        request = RunRequest(
            method=method, train=None, test="mvtec", test_split="test",
            data_roots={"mvtec": str(synth_mvtec)}, out=root / "runs" / method,
            cache_dir=root / "cache",
        )  # fmt: skip
        execute_run(plan_run(request))
    return root / "runs"


def _view(runs: Path) -> PixelView:
    model = Presentation(collect_runs(runs), None)
    (view,) = [v for views in pixel_views(model).values() for v in views]
    return view


def _cells_in_order(text: str, cells: list[str]) -> bool:
    """Some line of ``text`` holds ``cells`` left to right."""
    for line in text.splitlines():
        at = 0
        for cell in cells:
            at = line.find(cell, at)
            if at < 0:
                break
            at += len(cell)
        else:
            return True
    return False


def test_the_cells_are_the_stored_figures(runs: Path) -> None:
    view = _view(runs)
    block = json.loads((runs / "pixel-stats" / "summary.json").read_text())["pixel_metrics"]
    assert view.row.method == "pixel-stats"
    pooled, mean = view.lines[0], view.lines[1]
    assert (pooled.group, mean.group) == ("pooled", "class mean")
    assert pooled.auroc == figure_text("pixel_auroc", block["pooled"]["auroc"])
    assert mean.aupro == figure_text("aupro", block["class_mean"]["aupro"])
    assert [line.group for line in view.lines[2:]] == sorted(block["per_category"])
    assert view.types and "images with a map and mask" in view.note


def test_every_renderer_shows_the_same_cells(runs: Path) -> None:
    from rich.console import Console

    from iadbench.views.leaderboard.terminal import render_terminal
    from iadbench.views.report import build_context, render_html

    view = _view(runs)
    rows = [[line.group, line.auroc, line.aupro, line.images] for line in view.lines]
    types = [[t.category, t.defect_type, t.auroc, t.aupro] for t in view.types]
    # The leaderboard (markdown, terminal) shows each run's pooled and class-mean lines; the
    # report shows every category and defect type too.
    headline = rows[:2]
    assert [row[0] for row in headline] == ["pooled", "class mean"]

    markdown = render_leaderboard(collect_runs(runs))
    section = markdown[markdown.index("## Pixel metrics of map methods") :]
    section = section[: section.find("\n## Notes")] if "\n## Notes" in section else section
    tables = [line for line in section.splitlines() if line.startswith("|")]
    assert tables and all(len(line) <= 80 for line in tables), tables
    escaped = [[escape_markdown(cell) for cell in row] for row in headline]
    assert all(_cells_in_order(section, row) for row in escaped)
    assert "Per category and per defect type: the HTML report" in section
    assert "Per defect type" not in section and len(tables) == 2 + len(headline)

    console = Console(width=80, record=True, file=io.StringIO())
    console.print(render_terminal(collect_runs(runs)))
    terminal = console.export_text()
    assert "pixel-stats: pixel metrics" in terminal
    assert all(len(line.rstrip()) <= 80 for line in terminal.splitlines())
    assert all(_cells_in_order(terminal, row) for row in headline)
    assert "pixel metrics per defect type" not in terminal

    page = render_html(build_context(collect_runs(runs)))
    block = page[page.index('id="pixels"') : page.index('id="results"')]
    for row in rows + types:
        assert _cells_in_order(block.replace("</td><td>", " ").replace(
            '</td><td class="name">', " "), row)  # fmt: skip

    records = list(csv.DictReader(io.StringIO(leaderboard_csv(collect_runs(runs)))))
    mine = {(r["group"], r["category"]): r for r in records if r["method"] == "pixel-stats"}
    exported = {"pooled": mine[("pooled", "")], "class mean": mine[("class_mean", "")]}
    exported |= {line.group: mine[("category", line.group)] for line in view.lines[2:]}
    for line in view.lines:
        record = exported[line.group]
        assert figure_text("pixel_auroc", float(record["pixel_auroc"])) == line.auroc
        assert figure_text("aupro", float(record["aupro"])) == line.aupro
    document = json.loads(leaderboard_json(collect_runs(runs)))
    (pooled,) = [r for r in document["records"]
                 if r["method"] == "pixel-stats" and r["group"] == "pooled"]  # fmt: skip
    assert figure_text("pixel_auroc", pooled["pixel_auroc"]) == view.lines[0].auroc
    # The run without maps has no pixel figures in the exports.
    assert all(r["pixel_auroc"] is None for r in document["records"]
               if r["method"] == "always-normal")  # fmt: skip


def test_a_run_without_maps_has_no_pixel_table(runs: Path, tmp_path: Path) -> None:
    from rich.console import Console

    from iadbench.views.leaderboard.terminal import render_terminal
    from iadbench.views.report import build_context, render_html

    bare = tmp_path / "runs"
    shutil.copytree(runs / "always-normal", bare / "always-normal")
    collected = collect_runs(bare)
    assert "Pixel metrics" not in render_leaderboard(collected)
    console = Console(width=80, record=True, file=io.StringIO())
    console.print(render_terminal(collected))
    assert "pixel metrics" not in console.export_text()
    assert 'id="pixels"' not in render_html(build_context(collected))


def test_the_report_overlays_the_stored_maps(runs: Path) -> None:
    from iadbench.views.report import build_context, render_html

    context = build_context(collect_runs(runs))
    (overlays,) = context.overlays  # the map run only; before: PNG maps only, none here
    assert overlays.name.startswith("pixel-stats") and 0 < len(overlays.items) <= overlays.cap
    assert overlays.total == 90 and "stored map values" in overlays.scale
    assert all(item.picture.startswith("data:image/jpeg;base64,") for item in overlays.items)
    page = render_html(context)
    assert 'id="maps"' in page and overlays.items[0].picture in page


def test_a_map_overlay_is_bright_where_the_map_is_high(tmp_path: Path) -> None:
    import base64

    import numpy as np
    from PIL import Image

    from iadbench.views.report.pictures import map_overlay

    grey = tmp_path / "grey.png"
    Image.new("RGB", (64, 64), (128, 128, 128)).save(grey)
    values = np.zeros((16, 16), np.float32)
    values[:, :8] = 50.0  # any scale: read on the run's (low, high)
    for image in (grey, None):
        uri = map_overlay(image, values, (0.0, 50.0))
        data = base64.b64decode(uri.split(",", 1)[1])
        picture = np.asarray(Image.open(io.BytesIO(data)).convert("L"), dtype=float)
        half = picture.shape[1] // 2
        assert picture[:, : half - 2].mean() > picture[:, half + 2 :].mean() + 60


def test_the_run_summary_names_the_pixel_figures(runs: Path) -> None:
    from rich.console import Console

    from iadbench.cli.display import summary_table

    view = _view(runs)
    for method, shown in (("pixel-stats", True), ("always-normal", False)):
        summary = json.loads((runs / method / "summary.json").read_text())
        console = Console(width=200, record=True, file=io.StringIO())
        console.print(summary_table(summary, 200))
        text = console.export_text()
        expected = f"pixel AUROC {view.lines[0].auroc}, AUPRO {view.lines[0].aupro} pooled"
        assert (expected in text) is shown
