"""Hostile names in the CSV export and the HTML report (issue 18 items 11 and 12).

A category ``=cmd|' -C calc'!A0`` was written raw into ``leaderboard --format csv`` (a
spreadsheet evaluates it), and a bidirectional override (U+202E) reached the CSV and the HTML page
raw (it shows the rest of a cell reversed). JSON keeps the text as stored: it is data.
"""

from __future__ import annotations

import base64
import csv
import io
import json
from pathlib import Path

import pytest
from test_leaderboard import SMALL, write_run

from iadbench.views.leaderboard import collect_runs
from iadbench.views.leaderboard.export import leaderboard_csv, leaderboard_json
from iadbench.views.report import build_context, render_html

FORMULA = "=cmd|' -C calc'!A0"
BIDI = "bottle\u202egnp.exe"
METHOD = "@sum\u202eevil"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@pytest.fixture
def hostile(tmp_path: Path) -> Path:
    write_run(tmp_path, "h", METHOD, {FORMULA: SMALL["bottle"], BIDI: SMALL["cable"]})
    return tmp_path


def test_csv_cells_are_never_formulas_and_show_bidi_controls(hostile: Path) -> None:
    text = leaderboard_csv(collect_runs(hostile))
    assert "\u202e" not in text
    records = list(csv.DictReader(io.StringIO(text)))
    assert {r["category"] for r in records} == {"", "'" + FORMULA, "bottle<U+202E>gnp.exe"}
    assert {r["method"] for r in records if r["derived"] == "false"} == {"'@sum<U+202E>evil"}
    for record in records:
        assert not any(str(v).startswith(FORMULA_STARTS) for v in record.values()), record
        float(record["accuracy"])  # numbers stay numbers (no quote prefix)
        int(record["n"])


def test_json_keeps_the_text_as_stored(hostile: Path) -> None:
    records = json.loads(leaderboard_json(collect_runs(hostile)))["records"]
    assert {r["category"] for r in records} == {None, FORMULA, BIDI}
    assert {r["method"] for r in records if not r["derived"]} == {METHOD}


def test_html_report_shows_bidi_controls_as_a_code(hostile: Path) -> None:
    context = build_context(collect_runs(hostile))
    page = render_html(context)
    assert "\u202e" not in page
    assert "bottle&lt;U+202E&gt;gnp.exe" in page and "@sum&lt;U+202E&gt;evil" in page
    (test_set,) = context.test_sets
    chart = base64.b64decode(test_set.bars.split(",", 1)[1]).decode("utf-8")
    assert "\u202e" not in chart and "U+202E" in chart
