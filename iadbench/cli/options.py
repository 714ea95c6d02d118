"""Option definitions shared by several commands, so flags read the same everywhere."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

# Metavar of on/off flags: typer prints "<bool>" beside a flag, as if it took a value.
FLAG = ""
DATA_PANEL = "Data"
METHOD_PANEL = "Method"
OUTPUT_PANEL = "Output"
#: The releases read in their official layout (``iadbench.data.releases.DATASET_READERS``'s keys,
#: written out: the help must not import the readers; tests/core/cli/test_release_help.py checks
#: the two agree).
RELEASE_NAMES: tuple[str, ...] = ("btad", "ksdd2", "mpdd", "mvtec", "mvtec-ad2", "mvtec-loco",
                                  "real-iad", "visa")  # fmt: skip
RELEASES = ", ".join(RELEASE_NAMES)

DataRoots = Annotated[
    list[str] | None,
    typer.Option(
        "--data",
        metavar="NAME=PATH",
        help="Dataset root, e.g. mvtec=/data/mvtec_ad (else $IADBENCH_<NAME>_ROOT, e.g. "
        f"$IADBENCH_MVTEC_LOCO_ROOT). Official layouts: {RELEASES}; any other NAME reads a "
        "<cat>/good, <cat>/<defect> folder tree.",
        rich_help_panel=DATA_PANEL,
    ),
]
TrainSplit = Annotated[
    str | None,
    typer.Option(
        help="Training subset: train, test or all (default: Table II of the paper).",
        rich_help_panel=DATA_PANEL,
    ),
]
TestSplit = Annotated[
    str | None,
    typer.Option(
        help="Inference subset: train, test or all (default: all, as the paper).",
        rich_help_panel=DATA_PANEL,
    ),
]
Tiny = Annotated[
    bool,
    typer.Option(
        "--tiny",
        metavar=FLAG,
        help="Tiny random-weight models built locally (no download): for demos and tests.",
        rich_help_panel=METHOD_PANEL,
    ),
]
SetOptions = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        metavar="KEY=VALUE",
        help="Method option override (repeatable); see `iadbench list --options`.",
        rich_help_panel=METHOD_PANEL,
    ),
]
Plugins = Annotated[
    list[Path] | None,
    typer.Option(
        "--plugin",
        metavar="PATH",
        help="Python file that registers extra methods (repeatable).",
        rich_help_panel=METHOD_PANEL,
    ),
]
Threshold = Annotated[
    str | None,
    typer.Option(
        help="Threshold policy for score methods: fixed:T (default fixed:0.5), calibrated "
        "(F1-best on the training dataset), normal-quantile:q (the q-quantile of the training "
        "normals' scores: training data without defects) or oracle (F1-best on the test set; "
        "marked as such).",
        rich_help_panel=METHOD_PANEL,
    ),
]
CalibrationRatio = Annotated[
    float | None,
    typer.Option(
        help="Under calibrated / normal-quantile: the share of the training images (per "
        "category and label) held out of training to choose the threshold on, when the "
        "training dataset has no calibration split and no unused image serves (default 0.2; 0: "
        "the images trained on, marked in-sample).",
        rich_help_panel=METHOD_PANEL,
    ),
]
Seed = Annotated[
    int,
    typer.Option(
        help="Random seed (part of the configuration hash).", rich_help_panel=METHOD_PANEL
    ),
]
Device = Annotated[
    str, typer.Option(help="auto, cpu, cuda or cuda:N.", rich_help_panel=METHOD_PANEL)
]
BatchSize = Annotated[
    int | None,
    typer.Option(
        help="Images per predict call (default: the method's).", rich_help_panel=METHOD_PANEL
    ),
]
Workers = Annotated[
    int | None,
    typer.Option(
        help=(
            "DataLoader processes decoding images ahead of the model (default: "
            "$IADBENCH_WORKERS, else cores - 1, ≤ 4)."
        ),
        rich_help_panel=METHOD_PANEL,
    ),
]
Overwrite = Annotated[
    bool,
    typer.Option(
        "--overwrite",
        metavar=FLAG,
        help="Replace a run of another configuration in the output dir.",
        rich_help_panel=OUTPUT_PANEL,
    ),
]
ForceOverlap = Annotated[
    bool,
    typer.Option(
        "--force-overlap",
        metavar=FLAG,
        help="Allow training and testing on overlapping images.",
        rich_help_panel=DATA_PANEL,
    ),
]
VerifyContent = Annotated[
    bool,
    typer.Option(
        "--verify-content",
        metavar=FLAG,
        help="Also hash every image's bytes (reads the whole dataset): catches an edit that kept "
        "size and modification time, which the default fingerprint cannot see.",
        rich_help_panel=DATA_PANEL,
    ),
]
Limit = Annotated[
    int | None,
    typer.Option(
        help="Only the first N test images of every category (alternating normal and defect "
        "images, its defect types in turn; N ≥ 2 holds both labels): a quick, partial run, "
        "marked as such in its files and tables.",
        rich_help_panel=DATA_PANEL,
    ),
]
Categories = Annotated[
    list[str] | None,  # repeated: every value counts (typer kept only the last)
    typer.Option(
        metavar="A,B",
        help="Only these categories of the test dataset (comma-separated, or the option "
        "repeated): the run tests them, "
        "and a one-class method trains on their normal images only.",
        rich_help_panel=DATA_PANEL,
    ),
]
FarTargets = Annotated[
    list[str] | None,  # repeated: every value counts (typer kept only the last)
    typer.Option(
        metavar="A,B",
        help="False-alarm budgets of the operating points (recall at FAR ≤ each), fractions "
        "(default 0.01,0.05). Changes the summary only: a finished run is re-summarised from its "
        "predictions.",
        rich_help_panel=OUTPUT_PANEL,
    ),
]
RecallTargets = Annotated[
    list[str] | None,  # repeated: every value counts (typer kept only the last)
    typer.Option(
        metavar="A,B",
        help="Recall targets of the operating points (FAR at recall ≥ each), fractions "
        "(default 0.95,0.99). Changes the summary only, as --far-targets.",
        rich_help_panel=OUTPUT_PANEL,
    ),
]
CacheDir = Annotated[
    Path | None,
    typer.Option(
        help="Trained artefacts and demo data (default $IADBENCH_CACHE_DIR or ~/.cache/iadbench).",
        rich_help_panel=OUTPUT_PANEL,
    ),
]


def parse_set(items: list[str] | None) -> dict[str, str]:
    """``--set`` values: ``["k=v"]`` → ``{"k": "v"}``; raises OptionError on a malformed item."""
    from iadbench.contract.options import parse_assignments

    return parse_assignments(items or [])


def parse_data_roots(items: list[str] | None) -> dict[str, str]:
    """``["mvtec=/x"]`` → ``{"mvtec": "/x"}``; raises OptionError on a malformed item."""
    from iadbench.contract.options import parse_assignments

    return parse_assignments(items or [])


def joined(values: list[str] | None) -> str | None:
    """A comma-separated option's values, repeats included: ``["a", "b,c"]`` → ``"a,b,c"``."""
    return None if values is None else ",".join(values)


def targets(values: list[str] | None, flag: str) -> tuple[float, ...] | None:
    """``--far-targets 0.01,0.05`` → ``(0.01, 0.05)``; None when not given.

    Raises:
        ArgumentError: Not comma-separated fractions in [0, 1].
    """
    from iadbench.contract.numbers import fraction_targets

    text = joined(values)
    return None if text is None else fraction_targets(text, name=flag)


def categories(values: list[str] | None) -> tuple[str, ...] | None:
    """``--categories bottle,cable`` (or repeated) → ``("bottle", "cable")``; None if not given.

    Raises:
        IADBenchError: The text names no category (``--categories ,``).
    """
    text = joined(values)
    if text is None:
        return None
    names = tuple(dict.fromkeys(name.strip() for name in text.split(",") if name.strip()))
    if not names:
        from iadbench.contract.errors import IADBenchError

        raise IADBenchError(f"--categories {text!r} names no category; give e.g. bottle,cable")
    return names


def load_plugins(paths: list[Path] | None) -> None:
    """Import plugin files so their methods are registered before names are resolved."""
    from iadbench.execution.registry import METHODS

    for path in paths or []:
        METHODS.load_plugin_file(path)
