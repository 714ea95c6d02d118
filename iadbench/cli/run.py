"""``iadbench run``, ``matrix`` and ``train``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

import iadbench.cli.options as opt  # one core module (a from-import names the package too)
from iadbench.cli.app import (
    EVALUATE,
    RUN_RESUMES,
    TRAINING_RESUMES,
    app,
    console,
    error_console,
    handles_user_errors,
)

if TYPE_CHECKING:
    from iadbench.execution.matrix import SkippedCell
    from iadbench.execution.runner import RunOutcome


@app.command(
    rich_help_panel=EVALUATE,
    epilog="Examples: iadbench run --method winclip --test mvtec --data mvtec=/data/mvtec  ·  "
    "iadbench run --method aprilgan --train visa --test mvtec --data mvtec=/data/mvtec "
    "--data visa=/data/visa",
)
@handles_user_errors(resumes=RUN_RESUMES)
def run(
    method: Annotated[
        str,
        typer.Option(
            help="Registered method name (see `iadbench list`).", rich_help_panel=opt.METHOD_PANEL
        ),
    ],
    test: Annotated[
        str,
        typer.Option(
            help=f"Test dataset name: {opt.RELEASES} or a --data name.",
            rich_help_panel=opt.DATA_PANEL,
        ),
    ],
    train: Annotated[
        str | None,
        typer.Option(
            help=f"Training dataset name ({opt.RELEASES} or a --data name). Only for methods that "
            "train or thresholds chosen on training data; a zero-shot run ignores it.",
            rich_help_panel=opt.DATA_PANEL,
        ),
    ] = None,
    train_split: opt.TrainSplit = None,
    test_split: opt.TestSplit = None,
    out: Annotated[
        Path | None,
        typer.Option(
            help="Run dir (default runs/<method>/<cell>_<hash8>).", rich_help_panel=opt.OUTPUT_PANEL
        ),
    ] = None,
    tiny: opt.Tiny = False,
    set_: opt.SetOptions = None,
    plugin: opt.Plugins = None,
    data: opt.DataRoots = None,
    threshold: opt.Threshold = None,
    calibration_ratio: opt.CalibrationRatio = None,
    seed: opt.Seed = 0,
    device: opt.Device = "auto",
    batch_size: opt.BatchSize = None,
    workers: opt.Workers = None,
    force_overlap: opt.ForceOverlap = False,
    overwrite: opt.Overwrite = False,
    cache_dir: opt.CacheDir = None,
    verify_content: opt.VerifyContent = False,
    limit: opt.Limit = None,
    categories: opt.Categories = None,
    far_targets: opt.FarTargets = None,
    recall_targets: opt.RecallTargets = None,
) -> None:
    """Evaluate one method on one train→test cell; re-running the same command resumes."""
    from iadbench.cli.display import RichProgress, summary_table
    from iadbench.execution.launch import launch_run
    from iadbench.execution.planning import RunRequest
    from iadbench.views.verdict import verdict_line

    opt.load_plugins(plugin)
    request = RunRequest(
        method=method, train=train, test=test, train_split=train_split, test_split=test_split,
        options=opt.parse_set(set_), tiny=tiny, seed=seed, threshold=threshold,
        data_roots=opt.parse_data_roots(data), out=out, device=device, batch_size=batch_size,
        workers=workers, force_overlap=force_overlap, overwrite=overwrite, cache_dir=cache_dir,
        command=sys.argv, verify_content=verify_content, limit=limit,
        categories=opt.categories(categories),
        far_targets=opt.targets(far_targets, "--far-targets"),
        recall_targets=opt.targets(recall_targets, "--recall-targets"),
        calibration_ratio=calibration_ratio,
    )  # fmt: skip
    outcome = launch_run(request, RichProgress())
    if outcome is None:
        return  # the first process of a sharded run reports for all
    console.print(summary_table(outcome.summary))
    _warn(outcome)
    # One sentence, wrapped at spaces to the console's width (a terminal's own wrap of a long
    # line would cut a p-value in two).
    console.print(verdict_line(outcome.summary), highlight=False, markup=False)
    how = (
        "already complete, nothing recomputed"
        if outcome.reused
        else (f"{outcome.computed} predicted, {outcome.resumed} resumed")
    )
    console.print(
        f"Run dir [bold]{outcome.out}[/] ({how}, {outcome.seconds:.1f} s)", highlight=False
    )
    if (provenance := outcome.summary.get("provenance") or {}).get("mixed"):
        console.print(
            f"[yellow]Mixed provenance:[/] predictions come from attempts "
            f"{provenance['contributing']} that differ — {'; '.join(provenance['differences'])}. "
            "Pass --overwrite to compute the whole run in one attempt.",
            highlight=False,
        )


@app.command(
    rich_help_panel=EVALUATE,
    epilog="Examples: iadbench matrix --methods 'always-*' --datasets mvtec,visa --out runs/matrix"
    "  ·  iadbench matrix --methods pixel-stats --datasets mpdd,btad,mvtec-loco --diagonal "
    "--data mpdd=/data/MPDD --data btad=/data/BTAD --data mvtec-loco=/data/loco --out runs/nxn",
)
@handles_user_errors(resumes=RUN_RESUMES)
def matrix(
    methods: Annotated[
        str,
        typer.Option(
            help="Comma-separated method names or wildcards (e.g. 'always-*').",
            rich_help_panel=opt.METHOD_PANEL,
        ),
    ],
    datasets: Annotated[
        str,
        typer.Option(
            help="Comma-separated datasets; every ordered pair of different ones is a cell "
            f"(releases: {opt.RELEASES}, or --data names; roots: --data NAME=PATH or "
            "$IADBENCH_<NAME>_ROOT for each).",
            rich_help_panel=opt.DATA_PANEL,
        ),
    ] = "mvtec,visa",
    directions: Annotated[
        str | None,
        typer.Option(
            metavar="TRAIN:TEST,...",
            help="Only these cells (datasets of --datasets; A:A is the diagonal), e.g. "
            "mvtec:visa,visa:visa.",
            rich_help_panel=opt.DATA_PANEL,
        ),
    ] = None,
    diagonal: Annotated[
        bool,
        typer.Option(
            "--diagonal",
            metavar=opt.FLAG,
            help="Also train and test on the same dataset (A→A; one-class methods get it "
            "anyway). A cell whose test images are training images is skipped, saying why.",
            rich_help_panel=opt.DATA_PANEL,
        ),
    ] = False,
    out: Annotated[
        Path,
        typer.Option(
            help="Directory of run dirs <method>/<train>_to_<test>/ and LEADERBOARD.md.",
            rich_help_panel=opt.OUTPUT_PANEL,
        ),
    ] = Path("runs/matrix"),
    train_split: opt.TrainSplit = None,
    test_split: opt.TestSplit = None,
    tiny: opt.Tiny = False,
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            metavar="[METHOD:]KEY=VALUE",
            help="Option override for every method that has KEY, or for METHOD only.",
            rich_help_panel=opt.METHOD_PANEL,
        ),
    ] = None,
    plugin: opt.Plugins = None,
    data: opt.DataRoots = None,
    threshold: opt.Threshold = None,
    calibration_ratio: opt.CalibrationRatio = None,
    seed: opt.Seed = 0,
    device: opt.Device = "auto",
    workers: opt.Workers = None,
    overwrite: opt.Overwrite = False,
    cache_dir: opt.CacheDir = None,
    verify_content: opt.VerifyContent = False,
    limit: opt.Limit = None,
    far_targets: opt.FarTargets = None,
    recall_targets: opt.RecallTargets = None,
) -> None:
    """Run methods over every ordered pair of different datasets, then write the leaderboard.

    Cells planning refuses (a protocol a method does not support) are skipped, each with why.
    """
    from iadbench.cli.display import RichProgress
    from iadbench.execution.matrix import MatrixRequest, parse_directions, run_matrix
    from iadbench.views.leaderboard import collect_runs, load_paper_reference, render_leaderboard

    opt.load_plugins(plugin)
    names = [d.strip() for d in datasets.split(",") if d.strip()]
    request = MatrixRequest(
        methods=[m.strip() for m in methods.split(",") if m.strip()],
        datasets=names,
        directions=None if directions is None else parse_directions(directions, names),
        diagonal=diagonal,
        out=out, train_split=train_split, test_split=test_split, tiny=tiny, overrides=set_ or [],
        data_roots=opt.parse_data_roots(data), threshold=threshold, seed=seed, device=device,
        workers=workers, overwrite=overwrite, cache_dir=cache_dir, command=sys.argv,
        verify_content=verify_content, limit=limit,
        far_targets=opt.targets(far_targets, "--far-targets"),
        recall_targets=opt.targets(recall_targets, "--recall-targets"),
        calibration_ratio=calibration_ratio,
    )  # fmt: skip
    skipped: list[SkippedCell] = []

    def skip(cell: SkippedCell) -> None:  # said before the cells run, and again at the end
        skipped.append(cell)
        _print_skipped(cell)

    outcomes = run_matrix(request, RichProgress(), on_cell=_print_cell, on_skipped=skip)
    markdown = render_leaderboard(collect_runs(out), load_paper_reference())
    (out / "LEADERBOARD.md").write_text(markdown, encoding="utf-8")
    for cell in skipped:  # the other cells' progress came between
        _print_skipped(cell)
    console.print(
        f"{len(outcomes)} runs in [bold]{out}[/]"
        + (f", {len(skipped)} cell(s) skipped (above)" if skipped else "")
        + f"; leaderboard [bold]{out / 'LEADERBOARD.md'}[/]",
        highlight=False,
    )


def _print_skipped(cell: SkippedCell) -> None:
    """One refused cell, in yellow: method, direction and planning's reason."""
    from rich.text import Text

    # A Text, not markup: names and the reason are text read from the user's data and plugins.
    error_console.print(
        Text.assemble(("Skipped: ", "bold yellow"), f"{cell.method} {cell.train}→{cell.test}: ",
                      cell.reason),
        soft_wrap=True,
    )  # fmt: skip


def _warn(outcome: RunOutcome) -> None:
    """The run's one-label warning, once, in yellow."""
    if outcome.warning is not None:
        from rich.text import Text

        # A Text, not markup: the (already terminal-safe) category names are not rich markup.
        error_console.print(
            Text.assemble(("Warning: ", "bold yellow"), outcome.warning), soft_wrap=True
        )


def _print_cell(outcome: RunOutcome) -> None:
    from iadbench.runs.schema import train_source

    summary = outcome.summary
    overall = summary["overall"]
    console.print(
        f"  {summary['method']:<16} {train_source(summary)}→{summary['test']['dataset']}  "
        f"acc {100 * overall['accuracy']:6.2f}  F1 {100 * overall['f1_macro']:6.2f}  "
        f"n {overall['n']}{'  (reused)' if outcome.reused else ''}",
        highlight=False,
        markup=False,  # a plugin's method name is text, not rich markup
    )
    _warn(outcome)


@app.command(
    rich_help_panel=EVALUATE,
    epilog="Example: iadbench train --method lr-iad --train visa --data visa=/data/visa",
)
@handles_user_errors(resumes=TRAINING_RESUMES)
def train(
    method: Annotated[
        str,
        typer.Option(
            help="Registered method with a training stage.", rich_help_panel=opt.METHOD_PANEL
        ),
    ],
    train: Annotated[
        str, typer.Option(help="Training dataset name.", rich_help_panel=opt.DATA_PANEL)
    ],
    train_split: opt.TrainSplit = None,
    tiny: opt.Tiny = False,
    set_: opt.SetOptions = None,
    plugin: opt.Plugins = None,
    data: opt.DataRoots = None,
    seed: opt.Seed = 0,
    device: opt.Device = "auto",
    cache_dir: opt.CacheDir = None,
    verify_content: opt.VerifyContent = False,
    categories: opt.Categories = None,
) -> None:
    """Run only the training stage; `run` with the same settings reuses what it stores."""
    from iadbench.execution.launch import launch_training
    from iadbench.execution.planning import RunRequest

    opt.load_plugins(plugin)
    request = RunRequest(
        method=method, train=train, test=train, train_split=train_split,
        options=opt.parse_set(set_), tiny=tiny, seed=seed,
        data_roots=opt.parse_data_roots(data), device=device, cache_dir=cache_dir, command=sys.argv,
        verify_content=verify_content, categories=opt.categories(categories),
    )  # fmt: skip
    workdir = launch_training(request)
    if workdir is not None:
        console.print(f"Trained artefacts in [bold]{workdir}[/]", highlight=False)
