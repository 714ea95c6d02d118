"""``iadbench report``: one static HTML page from stored runs (verdict, tables, charts, gallery).

Example:
    >>> from pathlib import Path
    >>> from iadbench.views.report import write_report
    >>> write_report(Path("runs/matrix"))  # doctest: +SKIP
    PosixPath('runs/matrix/report.html')
"""

from __future__ import annotations

from iadbench.views.report.context import ReportContext, build_context
from iadbench.views.report.render import render_html, write_report

__all__ = ["ReportContext", "build_context", "render_html", "write_report"]
