"""``iadbench data check``: a local copy against the official counts, every image decoded."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.text import Text

from iadbench.cli import options as opt
from iadbench.cli.app import console, data_app, handles_user_errors
from iadbench.cli.data_cells import SPLIT_GROUPS, marked, name_cell

if TYPE_CHECKING:
    from iadbench.data import CategoryCounts
    from iadbench.data.check import CheckReport


@data_app.command(epilog="Example: iadbench data check visa --data visa=/data/VisA")
@handles_user_errors
def check(
    dataset: Annotated[
        str,
        typer.Argument(help=f"Dataset name: {opt.RELEASES} or a --data name."),
    ],
    data: opt.DataRoots = None,
    scale: Annotated[
        float, typer.Option(help="Expect official counts scaled like `data synth --scale`.")
    ] = 1.0,
    decode: Annotated[
        bool,
        typer.Option(
            metavar=opt.FLAG, help="Decode every image and mask (slower, finds corrupt files)."
        ),
    ] = True,
) -> None:
    """Compare a local copy with the official counts and decode every image; non-zero if off."""
    from iadbench.cli.display import RichProgress
    from iadbench.data import open_dataset, resolve_root
    from iadbench.data.check import check_dataset
    from iadbench.data.synth import positive_scale

    positive_scale(scale, "--scale")
    root = resolve_root(dataset, opt.parse_data_roots(data))
    progress = RichProgress()
    samples = open_dataset(dataset, root).samples("all")
    from iadbench.contract.images import mask_files

    # A mask folder (MVTec LOCO) holds one file per defect: each is decoded.
    n_files = len(samples) + sum(len(mask_files(s.mask_path)) for s in samples if s.mask_path)
    progress.start(f"checking {escape(dataset)}", n_files if decode else 0)
    try:
        report = check_dataset(dataset, root, scale=scale, decode=decode, progress=progress.advance)
    finally:
        progress.finish()
    # Every name below comes from the disk: printed as plain Text, never as markup, with control
    # characters made inert (an ESC in a folder name would drive the terminal).
    console.print(_check_table(report, f"{dataset} at {root}"))
    if report.licence:
        console.print(marked("Licence:", "cyan", report.licence))
    for note in report.notes:
        console.print(marked("Note:", "yellow", note))
    if report.synthetic_marker:
        marker = report.synthetic_marker
        console.print(
            marked(
                "Note:",
                "yellow",
                f"a synthetic tree written by `iadbench data synth` (scale {marker.get('scale')}, "
                f"seed {marker.get('seed')}), not the real release.",
            )
        )
    for problem in report.problems:
        console.print(marked("✗", "red", problem))
    if not report.ok:
        raise typer.Exit(1)
    what = _what_matched(report)
    if report.split_file is not None:
        what += f", and {report.split_file} lists every image"
    console.print(marked("✓", "green", f"{what}; every image decodes." if decode else f"{what}."))


def _what_matched(report: CheckReport) -> str:
    """What the closing line may claim: only what the counts were found to be.

    A copy whose count differences were notes (a release whose per-category counts are not the
    authors', Real-IAD's) did not match them; a split variant's counts were not compared; a
    user's folder dataset has no official counts.
    """
    from iadbench.data import DATASET_READERS
    from iadbench.data.check import COUNTS_MATCHED, COUNTS_MATCHED_UNCONFIRMED, COUNTS_NOTED

    if report.dataset not in DATASET_READERS:
        return "every category has normal and defect images"
    if report.counts == COUNTS_MATCHED:
        return "matches the official layout and counts"
    if report.counts == COUNTS_MATCHED_UNCONFIRMED:
        return "matches the official layout and the expected counts (unconfirmed: see the docs)"
    if report.counts == COUNTS_NOTED:
        return (
            "matches the official layout; its per-category counts differ from the unconfirmed "
            "expected ones (notes above)"
        )
    return "matches the official layout (counts not compared: see the notes)"


def _check_table(report: CheckReport, title: str) -> Any:
    """Expected vs found counts; per split (train/test × normal/defect) with a split file."""
    from rich.table import Table

    table = Table(title=name_cell(title), title_justify="left")
    if report.split_file is not None:
        table.caption = name_cell(f"subsets and labels from {report.split_file}")
        table.add_column("category")
        for sub, lab in SPLIT_GROUPS:
            table.add_column(f"{sub} {lab}", justify="right")
        table.add_column("status")
    else:
        for column in ("category", "expected train/test normal/test defect", "found", "status"):
            table.add_column(column)
    for row in report.rows:
        status = Text(row.status, style="green" if row.status == "ok" else "red")
        if report.split_file is not None:
            f = row.found
            numbers = (f.train_normal, row.train_defect, f.test_normal, f.test_defect)
            table.add_row(name_cell(row.category), *(str(n) for n in numbers), status)
        else:
            table.add_row(
                name_cell(row.category), _counts(row.expected), _counts(row.found), status
            )
    return table


def _counts(counts: CategoryCounts | None) -> str:
    if counts is None:
        return "—"
    text = f"{counts.train_normal}/{counts.test_normal}/{counts.test_defect}"
    # Only a release whose train split holds defects (KolektorSDD2) shows them.
    return f"{text} +{counts.train_defect} train defect" if counts.train_defect else text
