"""``iadbench data synth`` and ``iadbench data check``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from iadbench.cli import options as opt
from iadbench.cli.app import console, data_app, handles_user_errors

if TYPE_CHECKING:
    from iadbench.datasets.base import CategoryCounts


@data_app.command(epilog="Example: iadbench data synth mvtec /tmp/mvtec --scale 0.02")
@handles_user_errors
def synth(
    dataset: Annotated[str, typer.Argument(help="mvtec or visa.")],
    root: Annotated[Path, typer.Argument(help="Directory to write the tree into (new or empty).")],
    scale: Annotated[
        float, typer.Option(help="Fraction of the official per-category counts (1.0 = official).")
    ] = 0.02,
    image_size: Annotated[int, typer.Option(help="Side of the square images in pixels.")] = 64,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
) -> None:
    """Write a synthetic tree in the official layout, category names and (scaled) counts."""
    from iadbench.cli.display import RichProgress
    from iadbench.datasets.synth import planned_counts, synthesize

    progress = RichProgress()
    progress.start(
        f"synthesising {dataset}",
        sum(c.total for c in planned_counts(dataset, scale=scale).values()),
    )
    try:
        report = synthesize(
            dataset, root, scale=scale, image_size=image_size, seed=seed, progress=progress.advance
        )
    finally:
        progress.finish()
    console.print(
        f"Wrote {report.n_images} images of {dataset} to [bold]{report.root}[/]", highlight=False
    )


@data_app.command(epilog="Example: iadbench data check visa --data visa=/data/VisA")
@handles_user_errors
def check(
    dataset: Annotated[str, typer.Argument(help="Dataset name: mvtec, visa or a --data name.")],
    data: opt.DataRoots = None,
    scale: Annotated[
        float, typer.Option(help="Expect official counts scaled like `data synth --scale`.")
    ] = 1.0,
    decode: Annotated[
        bool, typer.Option(help="Decode every image and mask (slower, finds corrupt files).")
    ] = True,
) -> None:
    """Compare a local copy with the official counts and decode every image; non-zero if off."""
    from rich.table import Table

    from iadbench.cli.display import RichProgress
    from iadbench.datasets import open_dataset, resolve_root
    from iadbench.datasets.check import check_dataset

    root = resolve_root(dataset, opt.parse_data_roots(data))
    progress = RichProgress()
    samples = open_dataset(dataset, root).samples("all")
    n_files = len(samples) + sum(s.mask_path is not None for s in samples)
    progress.start(f"checking {dataset}", n_files if decode else 0)
    try:
        report = check_dataset(dataset, root, scale=scale, decode=decode, progress=progress.advance)
    finally:
        progress.finish()
    table = Table(title=f"{dataset} at {root}", title_justify="left")
    for column in ("category", "expected train/test normal/test defect", "found", "status"):
        table.add_column(column)
    for row in report.rows:
        style = "green" if row.status == "ok" else "red"
        table.add_row(
            row.category, _counts(row.expected), _counts(row.found), f"[{style}]{row.status}[/]"
        )
    console.print(table)
    for note in report.notes:
        console.print(f"[yellow]Note:[/] {note}", highlight=False)
    if report.synthetic_marker:
        marker = report.synthetic_marker
        console.print(
            f"[yellow]Note:[/] a synthetic tree written by `iadbench data synth` "
            f"(scale {marker.get('scale')}, "
            f"seed {marker.get('seed')}), not the real release.",
            highlight=False,
        )
    for problem in report.problems:
        console.print(f"[red]✗[/] {problem}", highlight=False)
    if not report.ok:
        raise typer.Exit(1)
    from iadbench.datasets import DATASET_READERS

    # A user's folder dataset has no official counts: say what was checked, not more.
    what = (
        "matches the official layout and counts"
        if dataset in DATASET_READERS
        else "every category has normal and defect images"
    )
    console.print(f"[green]✓[/] {what}; every image decodes." if decode else f"[green]✓[/] {what}.")


def _counts(counts: CategoryCounts | None) -> str:
    if counts is None:
        return "—"
    return f"{counts.train_normal}/{counts.test_normal}/{counts.test_defect}"
