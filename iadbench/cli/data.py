"""``iadbench data synth``, ``iadbench data split`` and ``iadbench data check``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.text import Text

from iadbench.cli import options as opt
from iadbench.cli.app import console, data_app, handles_user_errors
from iadbench.contract.text import terminal_text

if TYPE_CHECKING:
    from iadbench.data import CategoryCounts
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
    from iadbench.data.synth import check_synth_arguments, synthesize

    # Every number checked before anything is written (``--scale inf`` was a traceback,
    # ``--scale 100000`` started on 16 billion images).
    n_images = check_synth_arguments(
        dataset, scale=scale, image_size=image_size, seed=seed, option_names=True
    )
    progress = RichProgress()
    progress.start(f"synthesising {escape(dataset)}", n_images)
    try:
        report = synthesize(
            dataset, root, scale=scale, image_size=image_size, seed=seed, progress=progress.advance
        )
    finally:
        progress.finish()
    console.print(
        Text.assemble(f"Wrote {report.n_images} images of {dataset} to ",
                      (terminal_text(str(report.root)), "bold"))
    )  # fmt: skip


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
    output: Annotated[
        Path | None,
        typer.Option(
            help="Write the split here instead of <root>/split.csv (outside the dataset root; "
            "read it with FolderDataset(root, split_file=PATH)).",
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", metavar=opt.FLAG, help="Replace an existing split file.")
    ] = False,
) -> None:
    """Draw a seeded train/test split of your own folder dataset into <root>/split.csv.

    Normal-only training by default: a share of each category's normal images trains, defects test.
    Every category's test subset keeps at least one normal and one defect image.

    The labels go into the file too: later commands read them from there, not from folder names.
    """
    from iadbench.data import DATASET_READERS, FolderDataset, resolve_root
    from iadbench.data.split_file import (
        SplitDrawError,
        check_split_arguments,
        draw_split,
        split_file_path,
        write_split_file,
    )
    from iadbench.runs.output_guard import check_output_file

    if dataset in DATASET_READERS:
        raise SplitDrawError(
            f"{dataset} has its official split; `data split` draws one for your own folder "
            "datasets (any other --data NAME=PATH)."
        )
    check_split_arguments(train_normal_ratio, train_defect_ratio, seed, option_names=True)
    names = [n.strip() for n in (normal_folders or "").split(",") if n.strip()]
    if normal_folders is not None and not names:
        raise SplitDrawError(
            f"--normal-folders must name at least one folder, got {normal_folders!r}"
        )
    root = resolve_root(dataset, opt.parse_data_roots(data))
    reader = FolderDataset(root, name=dataset, normal_folders=names or None)
    default = split_file_path(reader.root)
    if output is None or output.expanduser().resolve() == default:
        # <root>/split.csv is the one place inside a dataset root that iadbench writes: the
        # reader looks for the split there (docs/data.md).
        if default.exists() and not force:
            raise SplitDrawError(
                f"{default} exists already; pass --force to draw a new split (every image is "
                "assigned again, so earlier runs on this dataset will not be reused)."
            )
        target = check_output_file(default, force=True, flag="the split file")
    else:
        target = check_output_file(output, force=force, dataset_roots=[reader.root])
    samples = reader.folder_samples()
    if not samples:
        raise SplitDrawError(
            reader.depth_hint()  # a root one folder off names the right one (docs/data.md)
            or f"{reader.display_name} at {reader.root} holds no image to split. Expected "
            f"layout: {reader.layout_help}"
        )
    rows = draw_split(
        samples, reader.root, train_normal_ratio=train_normal_ratio,
        train_defect_ratio=train_defect_ratio, seed=seed,
    )  # fmt: skip
    target.parent.mkdir(parents=True, exist_ok=True)
    write_split_file(target, rows)
    console.print(_split_table(rows, f"{dataset}: split drawn with seed {seed}"))
    # A category without normal or defect images was refused by draw_split; what is left to say
    # is which images the layout does not read.
    for problem in reader.ignored_problems():
        console.print(_marked("Warning:", "yellow", problem))
    console.print(Text.assemble("Wrote ", (terminal_text(str(target)), "bold")))


def _inert(text: str) -> str:
    r"""Text from the disk made safe to print: undecodable bytes as ``\xNN``, controls inert."""
    shown = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return terminal_text(shown)


def _marked(mark: str, style: str, line: str) -> Text:
    """``mark`` in ``style``, then ``line`` as plain text: a name in it is never markup."""
    return Text.assemble((mark, style), " ", _inert(line))


def _name(text: str) -> Text:
    """A folder or file name as a table cell: control characters inert, no markup read."""
    return Text(_inert(text))


def _split_table(rows: list[SplitRow], title: str) -> Any:
    from collections import Counter

    from rich.table import Table

    counts: dict[str, Counter[tuple[str, str]]] = {}
    for row in rows:
        counts.setdefault(row.category, Counter())[(row.subset, row.label)] += 1
    table = Table(title=_name(title), title_justify="left")
    for column in ("category", *(f"{sub} {lab}" for sub, lab in _SPLIT_GROUPS)):
        table.add_column(column, justify="left" if column == "category" else "right")
    for category, c in sorted(counts.items()):
        table.add_row(_name(category), *(str(c[group]) for group in _SPLIT_GROUPS))
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
    from iadbench.data.synth import positive_scale

    positive_scale(scale, "--scale")
    root = resolve_root(dataset, opt.parse_data_roots(data))
    progress = RichProgress()
    samples = open_dataset(dataset, root).samples("all")
    n_files = len(samples) + sum(s.mask_path is not None for s in samples)
    progress.start(f"checking {escape(dataset)}", n_files if decode else 0)
    try:
        report = check_dataset(dataset, root, scale=scale, decode=decode, progress=progress.advance)
    finally:
        progress.finish()
    # Every name below comes from the disk: printed as plain Text, never as markup, with control
    # characters made inert (an ESC in a folder name would drive the terminal).
    console.print(_check_table(report, f"{dataset} at {root}"))
    for note in report.notes:
        console.print(_marked("Note:", "yellow", note))
    if report.synthetic_marker:
        marker = report.synthetic_marker
        console.print(
            _marked(
                "Note:",
                "yellow",
                f"a synthetic tree written by `iadbench data synth` (scale {marker.get('scale')}, "
                f"seed {marker.get('seed')}), not the real release.",
            )
        )
    for problem in report.problems:
        console.print(_marked("✗", "red", problem))
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
    console.print(_marked("✓", "green", f"{what}; every image decodes." if decode else f"{what}."))


def _check_table(report: CheckReport, title: str) -> Any:
    """Expected vs found counts; per split (train/test × normal/defect) with a split file."""
    from rich.table import Table

    table = Table(title=_name(title), title_justify="left")
    if report.split_file is not None:
        table.caption = _name(f"subsets and labels from {report.split_file}")
        table.add_column("category")
        for sub, lab in _SPLIT_GROUPS:
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
            table.add_row(_name(row.category), *(str(n) for n in numbers), status)
        else:
            table.add_row(_name(row.category), _counts(row.expected), _counts(row.found), status)
    return table


def _counts(counts: CategoryCounts | None) -> str:
    if counts is None:
        return "—"
    return f"{counts.train_normal}/{counts.test_normal}/{counts.test_defect}"
