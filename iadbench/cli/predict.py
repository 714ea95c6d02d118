"""``iadbench predict``: a method on unlabeled images (see :mod:`iadbench.execution.predict`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from iadbench.cli import options as opt
from iadbench.cli.app import EVALUATE, app, console, handles_user_errors


@app.command(
    rich_help_panel=EVALUATE,
    epilog="Examples: iadbench predict new_parts/ --from-run runs/anomalygpt/parts-train_to_"
    "parts-test_1a2b3c4d --output labels.csv  ·  iadbench predict img1.png img2.png --method "
    "winclip --output labels.jsonl"
)
@handles_user_errors
def predict(
    inputs: Annotated[
        list[Path], typer.Argument(help="Image files and folders (searched recursively).")
    ],
    output: Annotated[
        Path,
        typer.Option(
            "--output", "-o", help="Rows per image: .jsonl or .csv.",
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
            help="Category told to the method (default: each image's folder name).",
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
    seed: opt.Seed = 0,
    device: opt.Device = "auto",
    batch_size: opt.BatchSize = None,
    cache_dir: opt.CacheDir = None,
) -> None:
    """Label unlabeled images with a method; the run's threshold policy applies (--from-run)."""
    from iadbench.cli.display import RichProgress
    from iadbench.contract.options import parse_assignments
    from iadbench.execution.predict import PredictRequest, predict_images

    opt.load_plugins(plugin)
    request = PredictRequest(
        inputs=inputs, output=output, method=method, from_run=from_run, train=train,
        train_split=train_split, options=parse_assignments(set_ or []), tiny=tiny, seed=seed,
        threshold=threshold, data_roots=opt.parse_data_roots(data), category=category,
        dataset=dataset, device=device, batch_size=batch_size, cache_dir=cache_dir,
    )  # fmt: skip
    outcome = predict_images(request, RichProgress())
    counts = ", ".join(f"{n} {label}" for label, n in sorted(outcome.counts.items()))
    threshold_text = (
        "" if outcome.predictor.threshold_value is None
        else f"; threshold {outcome.predictor.threshold_value:.4g} ({outcome.predictor.threshold})"
    )  # fmt: skip
    console.print(
        f"{outcome.predictor.method} ({outcome.predictor.source}): {counts}{threshold_text}. "
        f"Wrote [bold]{outcome.output}[/]",
        highlight=False,
    )
