"""Cells and marks shared by the ``data`` commands' output (``data.py``, ``data_check.py``).

Their own module: ``data_check.py`` importing them from ``data.py`` made a cycle (importing
``iadbench.cli.data`` first registers its commands, which loads ``data_check``, which needed
names ``data`` had not defined yet).
"""

from __future__ import annotations

from rich.text import Text

from iadbench.contract.text import terminal_text

SPLIT_GROUPS: tuple[tuple[str, str], ...] = (
    ("train", "normal"), ("train", "defect"), ("test", "normal"), ("test", "defect"),
)  # fmt: skip


def inert(text: str) -> str:
    r"""Text from the disk made safe to print: undecodable bytes as ``\xNN``, controls inert."""
    shown = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return terminal_text(shown)


def marked(mark: str, style: str, line: str) -> Text:
    """``mark`` in ``style``, then ``line`` as plain text: a name in it is never markup."""
    return Text.assemble((mark, style), " ", inert(line))


def name_cell(text: str) -> Text:
    """A folder or file name as a table cell: control characters inert, no markup read."""
    return Text(inert(text))


def wrote(target: object, lead: str = "Wrote ") -> Text:
    """``lead`` then the written path, in bold, its control characters inert."""
    return Text.assemble(lead, (terminal_text(str(target)), "bold"))
