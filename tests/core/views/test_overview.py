"""The N × N overview (issue 22 item 5): one builder, three layouts, shown only for > 2 datasets.

Its cells must be the per-direction tables' figures (read here from the runs' summary.json and the
markdown's statistics table, not from the model that builds both), and it must leave a leaderboard
of two datasets exactly as it was.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from rich.console import Console

from iadbench.execution.matrix import MatrixRequest, run_matrix
from iadbench.execution.registry import METHODS
from iadbench.views.catalogue import interval_text, percent
from iadbench.views.leaderboard import collect_runs, load_paper_reference, render_leaderboard
from iadbench.views.leaderboard.escape import direction_title
from iadbench.views.leaderboard.rows import Direction
from iadbench.views.leaderboard.terminal import render_terminal
from iadbench.views.model import Presentation
from iadbench.views.overview import build_overview, shows_overview
from iadbench.views.report import build_context, render_html

HEADING = "Overview: trained on (rows) × tested on (columns)"


def _parts(root: Path) -> Path:
    """A split folder dataset of drawn parts (3 train normals per category)."""
    from iadbench.data.folder import FolderDataset
    from iadbench.data.split_file import draw_split, split_file_path, write_split_file
    from iadbench.data.synth_drawing import Painter

    for category, defect in (("bracket", "scratch"), ("hinge", "bent")):
        painter = Painter("bottle", 32, False, np.random.default_rng(1))
        for folder, n in (("good", 6), (defect, 3)):
            (root / category / folder).mkdir(parents=True)
            for i in range(n):
                pixels = painter.normal() if folder == "good" else painter.defect()[0]
                Image.fromarray(pixels).save(root / category / folder / f"{i:02d}.png")
    # As `iadbench data split parts --train-normal-ratio 0.5` draws it.
    samples = FolderDataset(root, name="parts").samples("all")
    write_split_file(split_file_path(root), draw_split(samples, root, train_normal_ratio=0.5))
    return root


@pytest.fixture(scope="module")
def matrices(synth_mvtec, synth_visa, plugin_file, tmp_path_factory) -> dict[int, Path]:
    """Stored matrices over 3 datasets and over 2: baselines, pixel-stats, a training plugin."""
    METHODS.load_plugin_file(plugin_file)  # brightness: trains, gives scores (kept for the module)
    base = tmp_path_factory.mktemp("overview")
    roots = {"mvtec": str(synth_mvtec), "visa": str(synth_visa),
             "parts": str(_parts(base / "parts"))}  # fmt: skip
    outs = {}
    for n, datasets in ((3, ["mvtec", "visa", "parts"]), (2, ["mvtec", "visa"])):
        outs[n] = base / f"m{n}"
        run_matrix(MatrixRequest(
            # pixel-stats: a figure that differs between pooled and class mean (the synthetic
            # test sets are balanced, so a constant answer scores 50 % in both).
            methods=["always-normal", "always-defect", "pixel-stats", "brightness"],
            datasets=datasets, overrides=["pixel-stats:shots=2"],
            out=outs[n], data_roots=roots, test_split="test", limit=2,
            cache_dir=base / "cache",
        ))  # fmt: skip
    return outs


def _summaries(root: Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted(root.rglob("summary.json"))]


def _terminal(root: Path, width: int = 100) -> str:
    out = io.StringIO()
    console = Console(file=out, width=width, force_terminal=False, color_system=None)
    console.print(render_terminal(collect_runs(root), load_paper_reference(), width=width))
    return out.getvalue()


def test_the_overview_cells_are_the_per_direction_figures(matrices):
    root = matrices[3]
    runs = collect_runs(root)
    model = Presentation(runs, load_paper_reference())
    overview = build_overview(model)
    assert overview is not None
    assert overview.trains == overview.tests == ("mvtec", "parts", "visa")
    assert overview.split == "test"
    grids = {grid.first.row.method: grid for grid in overview.grids}
    markdown = render_leaderboard(runs, load_paper_reference())
    statistics = markdown[markdown.index("## Statistics") :]
    checked = 0
    for summary in _summaries(root):
        method, test = summary["method"], summary["test"]["dataset"]
        figure = percent(summary["overall"]["accuracy"])
        interval = interval_text(summary["statistics"]["bootstrap"]["overall"]["accuracy"])
        # A trained run is its own direction's cell; a zero-shot one every row of its column.
        # (each direction that tests on its test set: no diagonal was asked for).
        trains = (
            [summary["train"]["dataset"]]
            if summary["train"]
            else [train for train in overview.trains if train != test]
        )
        for train in trains:
            (cell,) = grids[method].at(train, test)
            assert cell.figure.rstrip("†∅") == figure and cell.interval == interval, (
                method,
                train,
                test,
            )
            assert cell.value == summary["overall"]["accuracy"]
            # The same interval stands in the statistics table's line of that direction.
            title = direction_title(Direction(train, test, "test"))
            line = rf"\| {re.escape(title)}\s+\|\s+{re.escape(interval)} \|"
            assert re.search(line, statistics), (method, title)
            checked += 1
    assert checked == 4 * 6  # the off-diagonal cells of four configurations
    assert grids["brightness"].at("visa", "visa") == ()  # no diagonal asked for


def test_every_layout_shows_the_same_cells_before_the_per_direction_tables(matrices):
    root = matrices[3]
    runs = collect_runs(root)
    overview = build_overview(Presentation(runs, load_paper_reference()))
    assert overview is not None
    markdown = render_leaderboard(runs, load_paper_reference())
    terminal = _terminal(root)
    page = render_html(build_context(runs, reference=load_paper_reference()))
    assert markdown.index(f"## {HEADING}, test split") < markdown.index("## Pooled")
    assert terminal.index(HEADING) < terminal.index("━━ MVTec-AD→parts (test split)")
    assert page.index('<h2 id="overview">') < page.index('<h2 id="leaderboard">')
    section = page[page.index('<h2 id="overview">') : page.index('<h2 id="verdict">')]
    assert 'src="data:image/svg+xml;base64,' in section  # the heat map
    for grid in overview.grids:
        for train in overview.trains:
            for test in overview.tests:
                for cell in grid.at(train, test):
                    shown = f"{cell.figure} ({cell.interval})"
                    assert shown in markdown
                    assert cell.figure in terminal and cell.interval in terminal
                    assert f"{cell.figure}<br>{cell.interval}" in section


def test_a_narrow_terminal_gets_every_column_uncut(matrices):
    narrow = _terminal(matrices[3], width=44)
    overview = narrow[narrow.index(HEADING[:20]) : narrow.index("━━ MVTec-AD→parts")]
    assert max(len(line) for line in overview.splitlines()) <= 44
    for name in ("MVTec-AD", "parts", "VisA"):  # each column heads a table, none is cut
        assert f" {name}" in overview
    assert "…" not in overview


def test_the_heat_map_draws_the_cells_values(matrices):
    context = build_context(collect_runs(matrices[3]))
    assert context.overview is not None
    by_title = {panel.title.split(" ")[0]: panel for panel in context.overview.panels}
    for summary in _summaries(matrices[3]):
        if summary["train"] is None:
            continue
        panel = by_title[summary["method"]]
        i = panel.rows.index({"mvtec": "MVTec-AD", "visa": "VisA"}.get(
            summary["train"]["dataset"], summary["train"]["dataset"]))  # fmt: skip
        j = panel.columns.index({"mvtec": "MVTec-AD", "visa": "VisA"}.get(
            summary["test"]["dataset"], summary["test"]["dataset"]))  # fmt: skip
        assert panel.values[i][j] == summary["overall"]["accuracy"]
    diagonal = by_title["brightness"]
    assert all(diagonal.values[k][k] is None for k in range(3))


def test_two_datasets_show_no_overview(matrices):
    runs = collect_runs(matrices[2])
    assert build_overview(Presentation(runs, load_paper_reference())) is None
    assert "Overview" not in render_leaderboard(runs, load_paper_reference())
    assert "Overview" not in _terminal(matrices[2])
    page = render_html(build_context(runs, reference=load_paper_reference()))
    assert 'id="overview"' not in page and 'href="#overview"' not in page


def test_when_the_overview_is_shown():
    cross = [Direction("mvtec", "visa", "all"), Direction("visa", "mvtec", "all")]
    # The demo: the paper's two directions plus few-shot rows on the Test split.
    demo = [*cross, Direction("zero-shot", "mvtec", "test"), Direction("zero-shot", "visa", "test")]
    assert not shows_overview(cross) and not shows_overview(demo)
    assert not shows_overview([Direction("zero-shot", "mvtec", "all")])
    assert shows_overview([*cross, Direction("mvtec", "mvtec", "test")])  # a diagonal
    assert shows_overview([Direction("zero-shot", d, "all") for d in ("mvtec", "visa", "parts")])
    assert shows_overview([Direction("mvtec", "parts", "all"), Direction("visa", "mvtec", "all")])
