"""Text read from runs made safe for markdown or a terminal, and the display names of the tables.

Every piece of text read from a run (method names, categories, datasets, splits, hashes, paths)
goes through :func:`escape_markdown`; tabulate is called with ``disable_numparse`` and adds no
escaping of its own, so nothing is escaped twice. The terminal tables take the raw text through
:func:`iadbench.contract.text.terminal_text` instead (they print rich ``Text``, never markup).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from iadbench.contract.text import BIDI_CONTROLS, is_control, terminal_text

if TYPE_CHECKING:  # annotations only: the run summary imports this module, not the row model
    from iadbench.views.leaderboard.rows import Direction, LeaderboardRow

DATASET_NAMES: dict[str, str] = {"mvtec": "MVTec-AD", "visa": "VisA"}
_BACKSLASHED = set("\\|`*_[]#~")
_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}


def escape_markdown(text: str) -> str:
    """Make untrusted text inert inside a markdown table cell.

    Pipes, backslashes, backticks, emphasis, link, heading and strike characters are
    backslash-escaped; ``&``, ``<`` and ``>`` become entities (no HTML injection); newlines and
    other control characters become spaces so a value cannot end a table row; bidirectional
    controls (U+202E …) become a visible ``<U+202E>`` so they cannot reorder what is displayed.

    Args:
        text: Any text; non-strings are converted with ``str``.

    Returns:
        The escaped text.
    """
    out = []
    for char in str(text):
        if char in _BACKSLASHED:
            out.append("\\" + char)
        elif char in _ENTITIES:
            out.append(_ENTITIES[char])
        elif is_control(char):
            out.append(" ")
        elif char in BIDI_CONTROLS:
            out.append(f"&lt;U+{ord(char):04X}&gt;")
        else:
            out.append(char)
    return "".join(out)


def plain_dataset_name(name: str) -> str:
    """Display name of a dataset for a terminal (``mvtec`` → ``MVTec-AD``)."""
    return DATASET_NAMES.get(name) or terminal_text(name)


def plain_direction_title(direction: Direction) -> str:
    """:func:`direction_title` for a terminal (unescaped, control characters made visible)."""
    title = f"{plain_dataset_name(direction.train_dataset)}→"
    title += plain_dataset_name(direction.test_dataset)
    if direction.test_split != "all":
        title += f" ({terminal_text(direction.test_split)} split)"
    return title


def plain_row_label(row: LeaderboardRow) -> str:
    """:func:`row_label` for a terminal (unescaped, control characters made visible)."""
    return terminal_text(row.label) + " (derived)" * row.derived + " (tiny)" * row.tiny


def dataset_name(name: str) -> str:
    """Display name of a dataset (``mvtec`` → ``MVTec-AD``), escaped."""
    return DATASET_NAMES.get(name) or escape_markdown(name)


def direction_title(direction: Direction) -> str:
    """``VisA→MVTec-AD``, with the test split named when it is not All (escaped)."""
    title = f"{dataset_name(direction.train_dataset)}→{dataset_name(direction.test_dataset)}"
    if direction.test_split != "all":
        title += f" ({escape_markdown(direction.test_split)} split)"
    return title


def row_label(row: LeaderboardRow) -> str:
    """A row's escaped label, marked ``(derived)`` and ``(tiny)`` where that applies.

    ``(tiny)`` follows :attr:`LeaderboardRow.tiny`, i.e. the run's ``summary["tiny"]`` alone.
    """
    return escape_markdown(row.label) + " (derived)" * row.derived + " (tiny)" * row.tiny
