"""``iadbench predict``: a method on unlabeled images (see :mod:`iadbench.execution.predict`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from iadbench.cli import options as opt
from iadbench.cli.app import EVALUATE, PREDICT_RESUMES, app, console, handles_user_errors


@app.command(
    rich_help_panel=EVALUATE,
    epilog="Examples: iadbench predict new_parts/ --from-run runs/anomalygpt/parts-train_to_"
    "parts-test_1a2b3c4d --output labels.csv  ·  iadbench predict img1.png img2.png --method "
    "winclip --output labels.jsonl",
)
@handles_user_errors(resumes=PREDICT_RESUMES)
def predict(
    inputs: Annotated[
        list[Path], typer.Argument(help="Image files and folders (searched recursively).")
    ],
    output: Annotated[
        Path,
        typer.Option(
            "--output",
            "-o",
            help="Rows per image: .jsonl or .csv.",
            rich_help_panel=opt.OUTPUT_PANEL,
        ),
    ],  # fmt: skip
    from_run: Annotated[
        Path | None,
        typer.Option(
            help="A complete run dir: its method, options, training and chosen threshold.",
            rich_help_panel=opt.METHOD_PANEL,
        ),
    ] = None,
    method: Annotated[
        str | None,
        typer.Option(help="Method name (instead of --from-run).", rich_help_panel=opt.METHOD_PANEL),
    ] = None,
    train: Annotated[
        str | None,
        typer.Option(
            help="Training dataset of a method that trains: its training hash finds the stored "
            "training (made by `iadbench train` or `run` with the same flags).",
            rich_help_panel=opt.DATA_PANEL,
        ),
    ] = None,
    train_split: opt.TrainSplit = None,
    category: Annotated[
        str | None,
        typer.Option(
            help="Category told to the method (default: the run's or training's category when it "
            "has one, else each image's folder name, which must be one of its categories).",
            rich_help_panel=opt.DATA_PANEL,
        ),
    ] = None,
    dataset: Annotated[
        str | None,
        typer.Option(
            help="Dataset name told to the method (default: the run's test dataset).",
            rich_help_panel=opt.DATA_PANEL,
        ),
    ] = None,
    tiny: opt.Tiny = False,
    set_: opt.SetOptions = None,
    plugin: opt.Plugins = None,
    data: opt.DataRoots = None,
    threshold: opt.Threshold = None,
    seed: Annotated[
        int | None,
        typer.Option(
            help="Random seed (part of the configuration hash; default 0).",
            rich_help_panel=opt.METHOD_PANEL,
        ),
    ] = None,
    device: opt.Device = "auto",
    batch_size: opt.BatchSize = None,
    cache_dir: opt.CacheDir = None,
    submission: Annotated[
        Path | None,
        typer.Option(
            help="MVTec AD 2's test_private / test_private_mixed: also write each map where the "
            "authors' evaluation server takes it (DIR/anomaly_images/<category>/<set>/<name>."
            "tiff, float16).",
            rich_help_panel=opt.OUTPUT_PANEL,
        ),
    ] = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            metavar=opt.FLAG,
            help="Replace an existing output file, and start over instead of resuming the rows "
            "an interrupted attempt left (<output>.partial).",
            rich_help_panel=opt.OUTPUT_PANEL,
        ),
    ] = False,
) -> None:
    """Label unlabeled images with a method; the run's threshold policy applies (--from-run).

    Rows are appended as images are predicted: an interrupted predict resumes when the same
    command runs again, and the output file appears once every image has its row.
    """
    from rich.markup import escape

    from iadbench.cli.display import RichProgress
    from iadbench.contract.errors import IADBenchError
    from iadbench.contract.numbers import optional_whole_number
    from iadbench.contract.text import terminal_text
    from iadbench.execution.planning import RunRequest
    from iadbench.execution.predict import predict_images
    from iadbench.execution.unlabeled_images import UNLABELED

    batch_size = optional_whole_number(batch_size, name="--batch-size", minimum=1)
    opt.load_plugins(plugin)
    source: RunRequest | Path
    if from_run is not None and method is None:
        # The stored run fixes its configuration: a flag that would change it is refused, never
        # silently ignored (a --threshold beside --from-run used to be dropped, exit 0).
        fixed = {
            "--threshold": (threshold is not None, "the run's own threshold is used"),
            "--set": (bool(set_), "the run's own options are used"),
            "--tiny": (tiny, "the run's own models are used"),
            "--seed": (seed is not None, "the run's own seed is used"),
            "--train": (train is not None, "the run's own training is used"),
            "--train-split": (train_split is not None, "the run's own training is used"),
            "--data": (bool(data), "the run's recorded dataset roots are used"),
            "--cache-dir": (cache_dir is not None, "the run's own training is used"),
        }
        for flag, (given, why) in fixed.items():
            if given:
                raise IADBenchError(f"{flag} cannot be combined with --from-run: {why}")
        source = from_run
    elif method is not None and from_run is None:
        # The flags are planned as `run` plans them; the images are presented as `test`.
        source = RunRequest(
            method=method, train=train, test=dataset or UNLABELED, train_split=train_split,
            options=opt.parse_set(set_), tiny=tiny, seed=0 if seed is None else seed,
            threshold=threshold, data_roots=opt.parse_data_roots(data), cache_dir=cache_dir,
        )  # fmt: skip
    else:
        raise IADBenchError("name either --method or --from-run DIR (exactly one)")
    outcome = predict_images(
        source, inputs, output, category=category, dataset=dataset, device=device,
        batch_size=batch_size, force=force, progress=RichProgress(), submission=submission,
    )  # fmt: skip
    counts = ", ".join(f"{n} {label}" for label, n in sorted(outcome.counts.items()))
    threshold_text = (
        "" if outcome.predictor.threshold_value is None
        else f"; threshold {outcome.predictor.threshold_value:.4g} ({outcome.predictor.threshold})"
    )  # fmt: skip
    resumed = (
        f" ({outcome.resumed} rows kept from the interrupted attempt)" if outcome.resumed else ""
    )
    console.print(escape(terminal_text(outcome.category_note)), highlight=False)
    console.print(
        f"{escape(outcome.predictor.method)} ({escape(outcome.predictor.source)}): "
        f"{counts}{threshold_text}. "
        f"Wrote [bold]{escape(str(outcome.output))}[/]{resumed}",
        highlight=False,
    )
