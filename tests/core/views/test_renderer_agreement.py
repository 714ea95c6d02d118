"""Every renderer lays out one presentation model: the same cells, markers and labels in each.

One set of runs (visa→mvtec): lr-iad; winclip three times, differing by threshold policy and by
one option, one of them with an oracle threshold; no stored baseline (both are derived). The
markdown, the terminal, CSV, JSON and the HTML report must show the same pooled accuracy and
F1 of every row (the derived baselines included), mark the oracle run ‡ and never count it as
beating a baseline, and name the three winclip runs apart. The expectations come from the
runs' summaries and the label counts, not from the model.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from test_leaderboard import SMALL, cells_of, row_of, summary_row, tables, write_run

from iadbench.views.leaderboard import collect_runs, load_paper_reference, render_leaderboard
from iadbench.views.leaderboard.escape import escape_markdown
from iadbench.views.leaderboard.export import leaderboard_csv, leaderboard_json
from iadbench.views.leaderboard.terminal import render_terminal
from iadbench.views.report import build_context, render_html

DIRECTION = "VisA→MVTec-AD"
ORACLE = "‡"
NOT_COUNTED = "not counted‡"
SWAPPED = {**SMALL, "cable": [(label, "normal") for label, _ in SMALL["cable"]]}
PERFECT = {c: [(label, label) for label, _ in pairs] for c, pairs in SMALL.items()}


def percent(value: float) -> str:
    return f"{100 * value:.2f}"


def _constant_row(name: str, defects: int, normals: int) -> dict[str, Any]:
    """A derived baseline's expected pooled Acc (collapsed: †) and F1 (0 for the unused label)."""
    right = normals if name == "always-normal" else defects
    share = right / (defects + normals)
    return {"markdown": f"{name} (derived)", "shown": name, "derived": True, "threshold": "—",
            "acc": percent(share) + "†", "f1": percent(share / (1 + share))}  # fmt: skip


@pytest.fixture
def runs(tmp_path: Path) -> tuple[Path, list[dict[str, Any]]]:
    """The runs, and what every renderer must show of each row."""

    def winclip(name: str, cells: dict, threshold: str, image_size: int) -> Path:
        run_dir = write_run(tmp_path, name, "winclip", cells, threshold=threshold)
        manifest = json.loads((run_dir / "manifest.json").read_text())
        manifest["config"] = {"options": {"image_size": image_size}, "seed": 0,
                              "train": None, "test": {"name": "mvtec"}}  # fmt: skip
        (run_dir / "manifest.json").write_text(json.dumps(manifest))
        return run_dir

    rows = [
        (write_run(tmp_path, "lr", "lr-iad", SMALL), "lr-iad", "lr-iad", "—"),
        (winclip("w240", SMALL, "fixed:0.5", 240), "winclip [image_size=240]",
         "winclip [image_size=240, threshold=fixed:0.5]", "fixed:0.5"),
        (winclip("w336", SWAPPED, "fixed:0.5", 336), "winclip [image_size=336]",
         "winclip [image_size=336, threshold=fixed:0.5]", "fixed:0.5"),
        (winclip("worc", PERFECT, "oracle", 240), "winclip", "winclip [threshold=oracle]",
         "oracle‡"),
    ]  # fmt: skip
    expected = []
    for run_dir, markdown_label, shown, threshold in rows:
        overall = json.loads((run_dir / "summary.json").read_text())["overall"]
        expected.append({"markdown": markdown_label, "shown": shown, "derived": False,
                         "threshold": threshold, "acc": percent(overall["accuracy"]),
                         "f1": percent(overall["f1_macro"]), "run": run_dir.name})  # fmt: skip
    labels = [label for pairs in SMALL.values() for label, _ in pairs]
    defects, normals = labels.count("defect"), labels.count("normal")
    expected += [_constant_row(name, defects, normals)
                 for name in ("always-normal", "always-defect")]  # fmt: skip
    return tmp_path, expected


def test_markdown_shows_the_rows_cells_and_oracle_marker(runs: tuple[Path, list]) -> None:
    root, expected = runs
    markdown = render_leaderboard(collect_runs(root), load_paper_reference())
    pooled = tables(markdown)[0]
    for row in expected:
        cells = summary_row(pooled, escape_markdown(row["markdown"]), DIRECTION)
        assert (cells["Threshold"], cells["Acc"], cells["F1"]) == (
            row["threshold"], row["acc"], row["f1"]
        ), row
    statistics = tables(markdown)[-1]
    oracle = next(cells_of(line) for line in statistics[2:] if cells_of(line)[1] == "oracle‡")
    assert NOT_COUNTED in oracle and "both" not in oracle


def test_terminal_shows_the_same_cells_labels_and_verdict(runs: tuple[Path, list]) -> None:
    root, expected = runs
    out = io.StringIO()
    console = Console(file=out, width=250, force_terminal=False, color_system=None)
    console.print(render_terminal(collect_runs(root), load_paper_reference(), width=250))
    text = out.getvalue()
    for row in expected:
        label = row["markdown"]
        assert re.search(rf"{re.escape(label)}\s+17\s+{row['acc']}\s+{row['f1']}\s", text), row
        if not row["derived"]:  # the statistics table names runs apart, threshold included
            mark = ORACLE if row["threshold"] == "oracle‡" else ""
            lines = [x for x in text.splitlines() if f" {row['shown']}{mark} " in x]
            assert lines and any(NOT_COUNTED in x for x in lines) == bool(mark), lines
    assert "oracle‡" in text


@pytest.mark.parametrize("form", ["csv", "json"])
def test_exports_carry_the_same_labels_numbers_and_verdict(
    runs: tuple[Path, list], form: str
) -> None:
    root, expected = runs
    collected = collect_runs(root)
    if form == "csv":
        text = leaderboard_csv(collected)
        records: list[dict[str, Any]] = list(csv.DictReader(io.StringIO(text)))
    else:
        records = json.loads(leaderboard_json(collected))["records"]
    pooled = {r["shown_label"]: r for r in records if r["group"] == "pooled"}
    assert set(pooled) == {row["shown"] for row in expected}
    for row in expected:
        record = pooled[row["shown"]]
        collapsed = record["collapsed"] in (True, "true")  # the † of the tables
        accuracy = percent(float(record["accuracy"])) + "†" * collapsed
        numbers = (accuracy, percent(float(record["f1_macro"])))
        assert numbers == (row["acc"], row["f1"]), record
        oracle = row["threshold"] == "oracle‡"
        assert record["threshold_marker"] == (ORACLE if oracle else ""), record
        assert (record["beats"] == NOT_COUNTED) == oracle, record


def test_html_report_shows_the_same_rows_labels_and_verdict(runs: tuple[Path, list]) -> None:
    root, expected = runs
    collected = collect_runs(root)
    context = build_context(collected, reference=load_paper_reference())
    page = render_html(context)
    board = page[page.index('id="leaderboard"') : page.index('id="results"')]
    markdown = tables(render_leaderboard(collected, load_paper_reference()))[0]
    for row in expected:
        name = html.escape(row["shown"] + " (derived)" * row["derived"])
        cells = re.escape(f'<td class="name">{name}</td><td class="name">{row["threshold"]}</td>')
        cells += r'<td class="name">[^<]*</td><td>17</td>'
        cells += re.escape(f"<td>{row['acc']}</td><td>{row['f1']}</td>")
        assert re.search(cells, board), row
        # The paper's number beside it, placed as in the markdown.
        paper = summary_row(markdown, escape_markdown(row["markdown"]), DIRECTION)
        line = next(x for x in board.splitlines() if f'<td class="name">{name}</td>' in x)
        assert f"<td>{html.escape(paper['Paper Acc / F1'])}</td></tr>" in line, line
    assert "oracle threshold: fitted on the test labels" in board  # the legend of ‡
    verdict = page[page.index('id="verdict"') : page.index('id="leaderboard"')]
    results = page[page.index('id="results"') :]
    for row in expected[1:4]:  # the three winclip runs, named apart everywhere
        assert html.escape(row["shown"]) in verdict and html.escape(row["shown"]) in results
    oracle_row = next(x for x in verdict.split("<tr") if "winclip [threshold=oracle]" in x)
    assert 'class="oracle"' in oracle_row and NOT_COUNTED in oracle_row
    assert "beats both baselines" not in oracle_row
    (test_set,) = context.test_sets
    legend = base64.b64decode(test_set.bars.split(",", 1)[1]).decode("utf-8")
    assert all(row["shown"] in legend for row in expected[1:4])


ONE_LABEL = "∅"
CAPSULE = [("normal", "normal")] * 2 + [("normal", "defect")]  # no defect image: one label
MVTEC_TO_VISA = "MVTec-AD→VisA"


@pytest.fixture
def one_label_runs(tmp_path: Path) -> tuple[Path, dict[str, Any], dict[str, Any]]:
    """A run with one normal-only category (visa→mvtec), and one whose every image is normal.

    Returns the root and the two summaries (the expectations come from them).
    """
    mixed = write_run(tmp_path, "lr", "lr-iad", {**SMALL, "capsule": CAPSULE})
    first = write_run(tmp_path, "first1", "lr-iad",
                      {"candle": [("normal", "normal")], "pcb1": [("normal", "defect")]},
                      train=("mvtec", "all"), test=("visa", "all"))  # fmt: skip
    summaries = [json.loads((d / "summary.json").read_text()) for d in (mixed, first)]
    return tmp_path, summaries[0], summaries[1]


def _marked(metrics: dict[str, Any], single: bool, collapse: bool = False) -> str:
    """The accuracy cell the tables must show (two decimals, † then ∅)."""
    mark = "†" * (collapse and bool(metrics["collapsed"])) + ONE_LABEL * single
    return percent(metrics["accuracy"]) + mark


def test_every_renderer_marks_one_label_test_sets(one_label_runs: tuple) -> None:
    root, mixed, first = one_label_runs
    collected = collect_runs(root)
    capsule = _marked(mixed["per_class"]["capsule"], True, collapse=True)
    expected = {  # (direction, group or category) -> the lr-iad accuracy cell
        (DIRECTION, "pooled"): _marked(mixed["overall"], False, collapse=True),
        (DIRECTION, "class_mean"): _marked(mixed["class_mean"], True),
        (DIRECTION, "capsule"): capsule,
        (DIRECTION, "bottle"): _marked(mixed["per_class"]["bottle"], False, collapse=True),
        (MVTEC_TO_VISA, "pooled"): _marked(first["overall"], True, collapse=True),
        (MVTEC_TO_VISA, "class_mean"): _marked(first["class_mean"], True),
    }
    # markdown
    markdown = render_leaderboard(collected, load_paper_reference())
    found = tables(markdown)
    for direction in (DIRECTION, MVTEC_TO_VISA):
        for table, group in ((found[0], "pooled"), (found[1], "class_mean")):
            cells = summary_row(table, "lr-iad", direction)
            assert cells["Acc"] == expected[(direction, group)], (direction, group)
    per_category = next(t for t in found if "| capsule " in "\n".join(t))
    for category in ("capsule", "bottle"):
        assert row_of(per_category, category)["lr-iad Acc"] == expected[(DIRECTION, category)]
    legend = "∅ one label: the test images of a category"
    assert legend in markdown and "capsule (normal only)" in markdown
    # terminal
    out = io.StringIO()
    Console(file=out, width=250, force_terminal=False, color_system=None).print(
        render_terminal(collected, load_paper_reference(), width=250)
    )
    text = out.getvalue()
    assert legend in text
    assert all(f" {cell} " in f" {text} ".replace("\n", " ") for cell in expected.values())
    # CSV and JSON: the one_label column
    for records in (
        [{**r, "one_label": r["one_label"] == "true"}
         for r in csv.DictReader(io.StringIO(leaderboard_csv(collected)))],
        json.loads(leaderboard_json(collected))["records"],
    ):  # fmt: skip
        ours = [r for r in records if r["method"] == "lr-iad"]
        marked = {(r["test_dataset"], r["group"], r["category"] or None)
                  for r in ours if r["one_label"]}  # fmt: skip
        assert marked == {
            ("mvtec", "class_mean", None), ("mvtec", "category", "capsule"),
            ("visa", "pooled", None), ("visa", "class_mean", None),
            ("visa", "category", "candle"), ("visa", "category", "pcb1"),
        }  # fmt: skip
    # HTML: the leaderboard tables, the per-category table and the legend
    page = render_html(build_context(collected, reference=load_paper_reference()))
    board = page[page.index('id="leaderboard"') : page.index('id="results"')]
    for key in [(DIRECTION, "class_mean"), (MVTEC_TO_VISA, "pooled")]:
        assert f"<td>{expected[key]}</td>" in board, key
    assert html.escape(legend) in board
    results = page[page.index('id="results"') :]
    capsule_row = next(r for r in results.split("<tr>") if '<td class="name">capsule</td>' in r)
    assert ONE_LABEL in capsule_row
    bottle_row = next(r for r in results.split("<tr>") if '<td class="name">bottle</td>' in r)
    assert ONE_LABEL not in bottle_row
