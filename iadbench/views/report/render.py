"""Rendering the report context into one self-contained HTML file with Jinja2.

Autoescaping is on for every template (not only ``.html`` names) and undefined names are
errors: a method name, category, model text or path can never reach the page as markup, and a
template typo fails the report instead of leaving a hole in it. Every value printed also has its
bidirectional controls and control codes made visible (``<U+202E>``, ``<U+001B>``;
:func:`~iadbench.contract.text.visible_controls`): escaping leaves them, U+202E in a category
name would show the rest of a cell reversed, and ESC would act when the file is printed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from iadbench.contract.errors import IADBenchError
from iadbench.contract.text import is_coded, visible_controls
from iadbench.views.report.context import ReportContext, build_context

TEMPLATE = "report.html.j2"


def render_html(context: ReportContext) -> str:
    """The page for ``context`` (a complete HTML document)."""
    from jinja2 import Environment, PackageLoader, StrictUndefined

    environment = Environment(
        loader=PackageLoader("iadbench.views.report", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=_visible_codes,
    )
    return environment.get_template(TEMPLATE).render(report=context)


def _visible_codes(value: Any) -> Any:
    """A printed value with bidi and control codes shown as ``<U+202E>`` (the page's ``finalize``).

    Runs before autoescaping on plain text; text a filter already escaped (``Markup``, e.g. from
    ``join``) gets the escaped spelling, so the code is text, never a tag.
    """
    from markupsafe import Markup

    if isinstance(value, Markup):
        shown = (f"&lt;U+{ord(c):04X}&gt;" if is_coded(c) else c for c in value)
        return Markup("".join(shown))
    return visible_controls(value) if isinstance(value, str) else value


def write_report(
    directory: Path, output: Path | None = None, title: str | None = None, *, force: bool = False
) -> Path:
    """Collect the complete runs under ``directory`` and write the HTML report.

    The output is checked before any work (:func:`~iadbench.views.outputs.check_view_output`):
    an ``.html`` / ``.htm`` name, outside every run dir and dataset root, not replacing a file
    unless ``force``.

    Args:
        directory: Searched recursively for run dirs (see ``collect_runs``).
        output: The HTML file; default ``directory / "report.html"``.
        title: Page title; default names the directory.
        force: Replace ``output`` if it exists (``--force``).

    Returns:
        The path written.

    Raises:
        IADBenchError: No complete run under ``directory``, a run that does not match its
            seal, or ``output`` is a directory, of another suffix, inside a run dir or a dataset
            root, exists without ``force``, or cannot be written.
    """
    from iadbench.views.leaderboard.collect import collect_runs
    from iadbench.views.leaderboard.reference import load_paper_reference
    from iadbench.views.outputs import check_outside_datasets, check_view_output, write_output

    flag = "--output" if output is not None else "The default --output"
    output = directory / "report.html" if output is None else output
    if output.is_dir():
        raise IADBenchError(f"--output {output} is a directory; give a file name such as "
                            f"{output}/report.html")  # fmt: skip
    check_view_output(output, kind="html", force=force, flag=flag)
    collected = collect_runs(directory)
    check_outside_datasets(output, collected, flag=flag)
    context = build_context(
        collected, title or f"iadbench report: {directory}", load_paper_reference()
    )
    write_output(output, render_html(context))
    return output
