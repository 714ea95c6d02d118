"""``iadbench report``: one static HTML page from the stored runs under a directory."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from iadbench.cli import options as opt
from iadbench.cli.app import RESULTS, app, console, handles_user_errors


@app.command(
    rich_help_panel=RESULTS,
    epilog="Examples: iadbench report runs/matrix | "
    "iadbench report runs/matrix --output results/report.html",
)
@handles_user_errors
def report(
    directory: Annotated[Path, typer.Argument(help="Directory searched recursively for run dirs.")],
    output: Annotated[
        Path | None, typer.Option(help="Write the HTML here (default: DIRECTORY/report.html).")
    ] = None,
    title: Annotated[
        str | None, typer.Option(help="Page title (default names the directory).")
    ] = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force", metavar=opt.FLAG, help="Replace the output file (a page written before)."
        ),
    ] = False,
) -> None:
    """Write one self-contained HTML page: verdict, tables, charts, reasoning gallery.

    The page opens from disk and loads nothing from the network. It reads the complete runs
    under DIRECTORY (as `iadbench leaderboard` does), their predictions, and for thumbnails
    the test images at the dataset roots recorded in each manifest. It never writes into a
    run dir or a dataset, nor replaces a file without --force.
    """
    from iadbench.views.report import write_report

    written = write_report(directory, output, title, force=force)
    console.print(f"Report written to [bold]{written}[/]", highlight=False, soft_wrap=True)
