"""``iadbench data synth`` and ``iadbench data split`` (``data check`` is in ``data_check.py``)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from iadbench.cli import options as opt
from iadbench.cli.app import console, data_app, handles_user_errors
from iadbench.cli.data_cells import SPLIT_GROUPS, marked, name_cell, wrote

if TYPE_CHECKING:
    from iadbench.data import FolderDataset
    from iadbench.data.split_file import SplitRow


@data_app.command(epilog="Example: iadbench data synth mvtec /tmp/mvtec --scale 0.02")
@handles_user_errors
def synth(
    dataset: Annotated[
        str,
        typer.Argument(help=f"The release: {opt.RELEASES}."),
    ],
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
    console.print(wrote(report.root, f"Wrote {report.n_images} images of {dataset} to "))


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
        list[str] | None,  # repeated: every value counts (typer kept only the last)
        typer.Option(
            metavar="A,B",
            help="Folders that hold normal images, comma-separated or repeated (default: good, "
            "normal, nominal, ok in any case); every other folder is a defect type.",
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            help="Write the split here instead of <root>/split.csv (outside the dataset root; "
            "read it with FolderDataset(root, split_file=PATH)).",
        ),
    ] = None,
    calibration_ratio: Annotated[
        float,
        typer.Option(
            help="Share of each category's training images (per label) held out as "
            "'calibration' rows, never trained on, to choose a calibrated / normal-quantile "
            "threshold on (0-0.9; 0 = none).",
        ),
    ] = 0.0,
    force: Annotated[
        bool, typer.Option("--force", metavar=opt.FLAG, help="Replace an existing split file.")
    ] = False,
    append: Annotated[
        bool,
        typer.Option(
            "--append",
            metavar=opt.FLAG,
            help="Assign only the images the split file does not list, keeping every listed line; "
            "pass the --seed, ratios and --normal-folders the split was drawn with.",
        ),
    ] = False,
    prune: Annotated[
        bool,
        typer.Option(
            "--prune",
            metavar=opt.FLAG,
            help="With --append: drop the lines of images gone from disk (else refused).",
        ),
    ] = False,
) -> None:
    """Draw a seeded train/test split of your own folder dataset into <root>/split.csv.

    Normal-only training by default: a share of each category's normal images trains, defects test.
    Every category's test subset keeps at least one normal and one defect image.

    The labels go into the file too: later commands read them from there, not from folder names.
    --append assigns only images the file does not list: listed ones never move.
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
    check_split_arguments(
        train_normal_ratio, train_defect_ratio, seed, option_names=True,
        calibration_ratio=calibration_ratio,
    )  # fmt: skip
    listed = opt.joined(normal_folders)
    names = [n.strip() for n in (listed or "").split(",") if n.strip()]
    if listed is not None and not names:
        raise SplitDrawError(f"--normal-folders must name at least one folder, got {listed!r}")
    if append and force:
        raise SplitDrawError(
            "--append keeps every assignment of the split file and --force draws them all again: "
            "pass one of the two."
        )
    if append and calibration_ratio:
        raise SplitDrawError(
            "--append never moves a calibration row nor makes a new image one (new images go "
            "to train or test): drop --calibration-ratio."
        )
    if prune and not append:
        raise SplitDrawError("--prune drops lines of a split file being appended to: add --append.")
    root = resolve_root(dataset, opt.parse_data_roots(data))
    reader = FolderDataset(root, name=dataset, normal_folders=names or None)
    default = split_file_path(reader.root)
    if append:
        ratios = (train_normal_ratio, train_defect_ratio)
        _append_split(dataset, reader, output, ratios, seed=seed, prune=prune)
        return
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
        train_defect_ratio=train_defect_ratio, seed=seed, calibration_ratio=calibration_ratio,
    )  # fmt: skip
    target.parent.mkdir(parents=True, exist_ok=True)
    write_split_file(target, rows)
    console.print(_split_table(rows, f"{dataset}: split drawn with seed {seed}"))
    # A category without normal or defect images was refused by draw_split; what is left to say
    # is which images the layout does not read.
    for problem in reader.ignored_problems():
        console.print(marked("Warning:", "yellow", problem))
    console.print(wrote(target))


def _append_split(
    dataset: str,
    reader: FolderDataset,
    output: Path | None,
    ratios: tuple[float, float],
    *,
    seed: int,
    prune: bool,
) -> None:
    """``data split --append``: assign the unlisted images, keep every listed line as it is."""
    from iadbench.data.split_append import plan_append, write_append
    from iadbench.data.split_file import SplitDrawError, split_file_path
    from iadbench.runs.output_guard import check_output_file

    default = split_file_path(reader.root)
    if output is None or output.expanduser().resolve() == default:
        target = check_output_file(default, force=True, flag="the split file")
    else:
        target = check_output_file(output, force=True, dataset_roots=[reader.root])
    if not target.is_file():
        # Refused, not drawn afresh: a user appending counts on earlier assignments staying,
        # and a missing file is more likely a wrong path than a first split.
        elsewhere = "" if target == default else f" --output {target}"
        raise SplitDrawError(
            f"{target} does not exist, so there is nothing to append to; draw the first split "
            f"with `iadbench data split {dataset} --data {dataset}={reader.root}{elsewhere}` "
            "(without --append)."
        )
    change = plan_append(
        target, reader.folder_samples(), reader.root, train_normal_ratio=ratios[0],
        train_defect_ratio=ratios[1], seed=seed, prune=prune,
    )  # fmt: skip
    if not change.changes:
        console.print(
            marked("✓", "green", f"{target} lists every image of {dataset} already; nothing "
                    "written.")
        )  # fmt: skip
        return
    write_append(target, change)
    title = f"{dataset}: {len(change.added)} new image(s) assigned with seed {seed}"
    console.print(_split_table(change.rows(), title))
    n_train = sum(row.subset == "train" for row in change.added)
    console.print(
        marked(
            "✓", "green", f"{len(change.kept)} line(s) kept as they were; {n_train} new image(s) "
            f"to train, {len(change.added) - n_train} to test.",
        )
    )  # fmt: skip
    if change.pruned:
        console.print(
            marked("Note:", "yellow", f"dropped {len(change.pruned)} line(s) of images gone "
                    f"from disk (e.g. {change.pruned[0].image}).")
        )  # fmt: skip
    for problem in reader.ignored_problems():
        console.print(marked("Warning:", "yellow", problem))
    console.print(wrote(target))


def _split_table(rows: list[SplitRow], title: str) -> Any:
    from collections import Counter

    from rich.table import Table

    counts: dict[str, Counter[tuple[str, str]]] = {}
    for row in rows:
        counts.setdefault(row.category, Counter())[(row.subset, row.label)] += 1
    table = Table(title=name_cell(title), title_justify="left")
    # Calibration columns only where the file has such rows: other tables stay as they were.
    held = [g for g in CALIBRATION_GROUPS if any(g in c for c in counts.values())]
    groups = (*SPLIT_GROUPS[:2], *held, *SPLIT_GROUPS[2:])
    for column in ("category", *(f"{sub} {lab}" for sub, lab in groups)):
        table.add_column(column, justify="left" if column == "category" else "right")
    for category, c in sorted(counts.items()):
        table.add_row(name_cell(category), *(str(c[group]) for group in groups))
    return table


CALIBRATION_GROUPS: tuple[tuple[str, str], ...] = (
    ("calibration", "normal"), ("calibration", "defect"),
)  # fmt: skip
