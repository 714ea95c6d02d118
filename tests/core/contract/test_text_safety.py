"""contract/text.py: untrusted names made inert on a terminal,, in HTML, CSV."""

from __future__ import annotations

import csv
import io

import pytest

from iadbench.contract.text import spreadsheet_cell, terminal_text, visible_bidi


@pytest.mark.parametrize(
    "hostile",
    ["=cmd|' /C calc'!A0", "+1+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1", "\0=1",
     '=HYPERLINK("http://x","y")'],
)  # fmt: skip
def test_spreadsheet_cell_quotes_every_formula_start(hostile):
    cell = spreadsheet_cell(hostile)
    assert isinstance(cell, str) and cell.startswith("'")
    assert cell[1:] == hostile.replace("\r", "<U+000D>").replace("\0", "<U+0000>")


@pytest.mark.parametrize("harmless", ["bottle", "café", "a=b", "1e-3 text", ""])
def test_spreadsheet_cell_leaves_plain_text_alone(harmless):
    assert spreadsheet_cell(harmless) == harmless


def test_spreadsheet_cell_keeps_numbers_numbers_and_survives_csv():
    assert spreadsheet_cell(-0.25) == -0.25 and spreadsheet_cell(3) == 3
    buffer = io.StringIO()
    csv.writer(buffer).writerow([spreadsheet_cell("=1+1"), spreadsheet_cell(-1)])
    assert buffer.getvalue() == "'=1+1,-1\r\n"


def test_bidi_controls_become_visible_everywhere():
    name = "abc\u202edcba\u2066x"
    assert visible_bidi(name) == "abc<U+202E>dcba<U+2066>x"
    assert terminal_text(name) == "abc<U+202E>dcba<U+2066>x"
    assert spreadsheet_cell("\u202e=1") == "<U+202E>=1"  # visible code first: not a formula start


@pytest.mark.parametrize("control", ["\x1b", "\x07", "\n", "\r", "\x85", "\x9b", "\u2028", "\x7f"])
def test_terminal_text_blanks_every_control(control):
    assert terminal_text(f"a{control}]0;title") == "a ]0;title"


def test_html_and_csv_text_shows_control_codes_but_keeps_lines():
    from iadbench.contract.text import visible_controls

    assert visible_controls("a\x1b]0;t\x07b\nc\td") == "a<U+001B>]0;t<U+0007>b\nc\td"
    assert spreadsheet_cell("x\x1by") == "x<U+001B>y"
