"""``iadbench data synth``, ``iadbench data split`` and ``iadbench data check``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from iadbench.cli import options as opt
from iadbench.cli.app import console, data_app, handles_user_errors

if TYPE_CHECKING:
    from iadbench.data.base import CategoryCounts
    from iadbench.data.check import CheckReport
    from iadbench.data.split_file import SplitRow


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
    from iadbench.data.synth import planned_counts, synthesize

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


@data_app.command(
    epilog="Example: iadbench data split parts --data parts=/data/parts --train-normal-ratio 0.8 "
    "--seed 0 --normal-folders good,pass"
)
@handles_user_errors
def split(
    dataset: Annotated[str, typer.Argument(help="A folder dataset's name (--data NAME=PATH).")],
    data: opt.DataRoots = None,
    train_normal_ratio: Annotated[
        float, typer.Option(help="Share of each category's normal images that trains (0-1).")
    ] = 0.8,
    train_defect_ratio: Annotated[
        float,
        typer.Option(help="Share of each category's defect images that trains (0-1); 0 = none."),
    ] = 0.0,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed draws the same split.")] = 0,
    normal_folders: Annotated[
        str | None,
        typer.Option(
            metavar="A,B",
            help="Folders that hold normal images, comma-separated (default: good, normal, "
            "nominal, ok in any case); every other folder is a defect type.",
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", metavar=opt.FLAG, help="Replace an existing split file.")
    ] = False,
) -> None:
    """Draw a seeded train/test split of your own folder dataset into <root>/split.csv.

    Normal-only training by default: a share of each category's normal images trains, defects test.

    The labels go into the file too: later commands read them from there, not from folder names.
    """
    from iadbench.contract.errors import IADBenchError
    from iadbench.data import DATASET_READERS, FolderDataset, resolve_root
    from iadbench.data.split_file import draw_split, split_file_path, write_split_file

    if dataset in DATASET_READERS:
        raise IADBenchError(
            f"{dataset} has its official split; `data split` draws one for your own folder "
            "datasets (any other --data NAME=PATH)."
        )
    for flag, ratio in (("--train-normal-ratio", train_normal_ratio),
                        ("--train-defect-ratio", train_defect_ratio)):  # fmt: skip
        if not 0.0 <= ratio <= 1.0:
            raise IADBenchError(f"{flag} must be between 0 and 1, got {ratio}")
    names = [n.strip() for n in (normal_folders or "").split(",") if n.strip()]
    if normal_folders is not None and not names:
        raise IADBenchError(
            f"--normal-folders must name at least one folder, got {normal_folders!r}"
        )
    root = resolve_root(dataset, opt.parse_data_roots(data))
    reader = FolderDataset(root, name=dataset, normal_folders=names or None)
    target = split_file_path(reader.root)
    if target.exists() and not force:
        raise IADBenchError(
            f"{target} exists already; pass --force to draw a new split (every image is assigned "
            "again, so earlier runs on this dataset will not be reused)."
        )
    samples = reader.folder_samples()
    if not samples:
        raise IADBenchError(
            f"{reader.display_name} at {reader.root} holds no image to split. Expected layout: "
            f"{reader.layout_help}"
        )
    rows = draw_split(
        samples, reader.root, train_normal_ratio=train_normal_ratio,
        train_defect_ratio=train_defect_ratio, seed=seed,
    )  # fmt: skip
    write_split_file(target, rows)
    console.print(_split_table(rows, f"{dataset}: split drawn with seed {seed}"))
    for problem in reader.balance_problems():
        console.print(f"[yellow]Warning:[/] {problem}", highlight=False)
    console.print(f"Wrote [bold]{target}[/]", highlight=False)


def _split_table(rows: list[SplitRow], title: str) -> Any:
    from collections import Counter

    from rich.table import Table

    counts: dict[str, Counter[tuple[str, str]]] = {}
    for row in rows:
        counts.setdefault(row.category, Counter())[(row.subset, row.label)] += 1
    table = Table(title=title, title_justify="left")
    for column in ("category", *(f"{sub} {lab}" for sub, lab in _SPLIT_GROUPS)):
        table.add_column(column, justify="left" if column == "category" else "right")
    for category, c in sorted(counts.items()):
        table.add_row(category, *(str(c[group]) for group in _SPLIT_GROUPS))
    return table


_SPLIT_GROUPS: tuple[tuple[str, str], ...] = (
    ("train", "normal"), ("train", "defect"), ("test", "normal"), ("test", "defect"),
)  # fmt: skip


@data_app.command(epilog="Example: iadbench data check visa --data visa=/data/VisA")
@handles_user_errors
def check(
    dataset: Annotated[str, typer.Argument(help="Dataset name: mvtec, visa or a --data name.")],
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

    root = resolve_root(dataset, opt.parse_data_roots(data))
    progress = RichProgress()
    samples = open_dataset(dataset, root).samples("all")
    n_files = len(samples) + sum(s.mask_path is not None for s in samples)
    progress.start(f"checking {dataset}", n_files if decode else 0)
    try:
        report = check_dataset(dataset, root, scale=scale, decode=decode, progress=progress.advance)
    finally:
        progress.finish()
    console.print(_check_table(report, f"{dataset} at {root}"))
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
    from iadbench.data import DATASET_READERS

    # A user's folder dataset has no official counts: say what was checked, not more.
    what = (
        "matches the official layout and counts"
        if dataset in DATASET_READERS
        else "every category has normal and defect images"
    )
    if report.split_file is not None:
        what += f", and {report.split_file} lists every image"
    console.print(f"[green]✓[/] {what}; every image decodes." if decode else f"[green]✓[/] {what}.")


def _check_table(report: CheckReport, title: str) -> Any:
    """Expected vs found counts; per split (train/test × normal/defect) with a split file."""
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    if report.split_file is not None:
        table.caption = f"subsets and labels from {report.split_file}"
        table.add_column("category")
        for sub, lab in _SPLIT_GROUPS:
            table.add_column(f"{sub} {lab}", justify="right")
        table.add_column("status")
    else:
        for column in ("category", "expected train/test normal/test defect", "found", "status"):
            table.add_column(column)
    for row in report.rows:
        style = "green" if row.status == "ok" else "red"
        status = f"[{style}]{row.status}[/]"
        if report.split_file is not None:
            f = row.found
            numbers = (f.train_normal, row.train_defect, f.test_normal, f.test_defect)
            table.add_row(row.category, *(str(n) for n in numbers), status)
        else:
            table.add_row(row.category, _counts(row.expected), _counts(row.found), status)
    return table


def _counts(counts: CategoryCounts | None) -> str:
    if counts is None:
        return "—"
    return f"{counts.train_normal}/{counts.test_normal}/{counts.test_defect}"
