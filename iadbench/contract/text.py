"""Untrusted text (folder and file names, categories, model answers) made inert for its reader.

The one place that knows which characters are dangerous where: control characters and
bidirectional controls on a terminal or in HTML, formula prefixes in a spreadsheet cell. Markdown
escaping (which adds its own rules) lives in :mod:`iadbench.views.leaderboard.escape` and uses the
bidi set defined here.
"""

from __future__ import annotations

from typing import Final

#: Bidirectional controls (embeddings, overrides, isolates, marks): U+202E in a category name
#: would display a table's text reversed ("Trojan Source"); every view shows them as a code.
BIDI_CONTROLS: Final = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
# A spreadsheet evaluates a cell that starts with one of these as a formula ("CSV injection":
# ``=cmd|' /C calc'!A0``, ``=HYPERLINK(…)``). OWASP ASVS 5.0 requirement 1.2.10 lists
# = + - @ tab and NUL; CR is added as other spreadsheet-safe exporters do.
_FORMULA_STARTS: Final = ("=", "+", "-", "@", "\t", "\r", "\0")


def is_control(char: str) -> bool:
    """Whether ``char`` is a C0/C1 control or a line/paragraph separator (it breaks a row)."""
    return char < " " or "\x7f" <= char <= "\x9f" or char in "\u2028\u2029"


def terminal_text(text: str) -> str:
    r"""Make untrusted text inert on a terminal: control characters and bidi controls made visible.

    An ESC (``\x1b``) in a category name would start an ANSI sequence that recolours, moves the
    cursor or retitles the terminal; a newline would break a table row. Both become spaces, and
    bidirectional controls a visible ``<U+202E>``. The result is plain text: print it as rich
    ``Text`` (or escape it) so ``[link=…]`` is not read as markup.

    Example:
        >>> terminal_text("bottle\x1b[2Jx\u202e")
        'bottle [2Jx<U+202E>'
    """
    out = []
    for char in str(text):
        if is_control(char):
            out.append(" ")
        elif char in BIDI_CONTROLS:
            out.append(f"<U+{ord(char):04X}>")
        else:
            out.append(char)
    return "".join(out)


def visible_bidi(text: str) -> str:
    """``text`` with bidi controls replaced by a visible ``<U+202E>`` (for HTML and CSV cells).

    Example:
        >>> visible_bidi("abc\u202edef")
        'abc<U+202E>def'
    """
    return "".join(f"<U+{ord(c):04X}>" if c in BIDI_CONTROLS else c for c in str(text))


def visible_controls(text: str) -> str:
    r"""``text`` for an HTML page or a CSV cell: bidi and control codes shown as ``<U+XXXX>``.

    Line breaks and tabs stay (a model's reasoning keeps its lines); ESC, BEL and the rest would
    act when the file is printed with ``cat`` (the issue-18 attack re-run retitled a terminal
    with a report holding a folder name).

    Example:
        >>> visible_controls("a\x1b]0;t\x07\u202eb\nc")
        'a<U+001B>]0;t<U+0007><U+202E>b\nc'
    """
    return "".join(f"<U+{ord(c):04X}>" if is_coded(c) else c for c in str(text))


def is_coded(char: str) -> bool:
    """Whether visible_controls shows ``char`` as a code: bidi, or a control but LF or tab."""
    return char in BIDI_CONTROLS or (is_control(char) and char not in "\n\t")


def spreadsheet_cell(value: object) -> object:
    r"""A CSV cell that a spreadsheet shows as text, never evaluates.

    Strings starting with ``= + - @``, a tab, a carriage return or NUL are prefixed with ``'``,
    the escape OWASP ASVS 5.0 requirement 1.2.10 asks for (spreadsheets show the cell as text);
    bidi and control codes become visible (:func:`visible_controls`). Numbers pass unchanged,
    so a negative score stays a number.

    Example:
        >>> spreadsheet_cell("=HYPERLINK(1)")
        "'=HYPERLINK(1)"
        >>> spreadsheet_cell(-0.5)
        -0.5
    """
    if not isinstance(value, str):
        return value
    quote = "'" if value.startswith(_FORMULA_STARTS) else ""  # judged on the raw text
    return quote + visible_controls(value)
