"""``iadbench demo``: the whole pipeline on synthetic data and tiny models, from nothing."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from iadbench.cli import options as opt
from iadbench.cli.app import RUN_RESUMES, SETUP, app, console, handles_user_errors

if TYPE_CHECKING:  # the registry re-exports it: cli.demo stays within 10 core imports
    from iadbench.execution.registry import DemoSetups


@app.command(rich_help_panel=SETUP, epilog="Example: iadbench demo --out iadbench-demo")
@handles_user_errors(resumes=RUN_RESUMES)
def demo(
    out: Annotated[Path, typer.Option(help="Where the run dirs and LEADERBOARD.md go.")] = Path(
        "iadbench-demo"
    ),
    scale: Annotated[
        float, typer.Option(help="Fraction of the official counts to synthesise.")
    ] = 0.02,
    methods: Annotated[
        str | None,
        typer.Option(
            help="Methods to run (comma-separated names or wildcards); default: every method "
            "but anomalib's zoo, of which anomalib-patchcore and anomalib-padim.",
            show_default=False,
        ),
    ] = None,
    cache_dir: opt.CacheDir = None,
    plugin: opt.Plugins = None,
    learn: Annotated[
        bool,
        typer.Option(
            "--learn",
            metavar=opt.FLAG,
            help="Instead: LR-IAD's learning proof (true / inverted / frozen rewards on a toy "
            "task, ~1 min per training on 2 CPU cores); prints the before/after table.",
        ),
    ] = False,
    seeds: Annotated[str, typer.Option(help="--learn: comma-separated run seeds.")] = "0",
) -> None:
    """Synthesise MVTec-AD/VisA trees, run every method (--tiny) both ways, show the leaderboard.

    Few-shot methods (pixel-stats) run on the Test subset; a sentence says why tiny rows are noise.
    One-class methods (anomalib-patchcore, anomalib-padim) run same-dataset (Train normals → Test,
    each dataset) and few-shot (shots=4 Train normals per category → Test).

    With --learn: train LR-IAD three times on a toy task through the real training path and show
    that held-out accuracy rises with true rewards, falls with inverted ones, stays when frozen.
    """
    if learn:
        _learning_proof(out, [int(seed) for seed in seeds.split(",") if seed.strip()], cache_dir)
        return
    from iadbench.cli.display import RichProgress, print_leaderboard
    from iadbench.contract.settings import default_cache_dir
    from iadbench.execution.matrix import MatrixRequest, run_matrix
    from iadbench.execution.registry import demo_setups
    from iadbench.views.leaderboard import collect_runs, load_paper_reference, render_leaderboard

    opt.load_plugins(plugin)
    names = demo_methods(None if methods is None else [m.strip() for m in methods.split(",")])
    one_class = [name for name in names if _is_one_class(name)]
    all_split, few_shot = _by_test_split([n for n in names if n not in one_class])
    # The floor is in the folder name: a tree of the old floor (3) is left alone, not rewritten.
    floor = f"-min{DEMO_MIN_PER_GROUP}"
    data_dir = (cache_dir or default_cache_dir()) / "demo-data" / f"scale-{scale:g}{floor}"
    roots = {name: str(_synthetic_tree(name, data_dir / name, scale)) for name in ("mvtec", "visa")}
    console.print(f"Synthetic MVTec-AD and VisA trees in [bold]{data_dir}[/]", highlight=False)
    console.print("Asking each method for its demo setup (built once, then cached)")
    setups = demo_setups(all_split + few_shot + one_class, cache_dir or default_cache_dir())
    request = MatrixRequest(
        methods=all_split, datasets=["mvtec", "visa"], out=out, tiny=True,
        overrides=demo_overrides(setups, all_split), data_roots=roots, cache_dir=cache_dir,
        command=["iadbench", "demo"],
    )  # fmt: skip
    outcomes = run_matrix(request, RichProgress()) if all_split else []
    if few_shot:  # their references are Train normals, which the All split holds as test images
        request = replace(
            request, methods=few_shot, test_split=FEW_SHOT_TEST_SPLIT,
            overrides=demo_overrides(setups, few_shot),
        )  # fmt: skip
        outcomes += run_matrix(request, RichProgress())
    if one_class:  # same-dataset (the diagonal cells), then few-shot on the Test subset
        request = replace(
            request, methods=one_class, test_split=FEW_SHOT_TEST_SPLIT,
            directions=[("mvtec", "mvtec"), ("visa", "visa")],
            overrides=demo_overrides(setups, one_class),
        )  # fmt: skip
        outcomes += run_matrix(request, RichProgress())
        shots = [f"{name}:shots={DEMO_SHOTS}" for name in one_class]
        request = replace(request, directions=None, overrides=request.overrides + shots)
        outcomes += run_matrix(request, RichProgress())
    runs, reference = collect_runs(out), load_paper_reference()
    title = "iadbench demo (synthetic data, tiny models)"
    markdown = render_leaderboard(runs, reference, title=title)
    (out / "LEADERBOARD.md").write_text(markdown, encoding="utf-8")
    print_leaderboard(runs, reference, title=title)  # the markdown's wide tables fit no terminal
    console.print(noise_note(few_shot, setups, one_class), highlight=False)
    console.print(
        f"{len(outcomes)} runs in [bold]{out}[/]; "
        f"leaderboard written to [bold]{out / 'LEADERBOARD.md'}[/]",
        highlight=False,
    )
    from iadbench.views.report import write_report

    # The demo regenerates its own page in its own folder (as it does LEADERBOARD.md).
    page = write_report(out, title="iadbench demo (synthetic data, tiny models)", force=True)
    # soft_wrap: the path stays one line (copyable) at any terminal width.
    console.print(f"HTML report written to [bold]{page}[/]", highlight=False, soft_wrap=True)


#: The subset few-shot methods are tested on in the demo: the All split (the other rows' test
#: set) holds every Train image, so no normal reference would be left outside the test images.
FEW_SHOT_TEST_SPLIT = "test"


#: The family of anomalib's model zoo (``methods/anomalib_zoo``): about 30 models, too many for a
#: demo of minutes, so the default demo runs only :data:`DEMO_ZOO` of it.
ZOO_FAMILY = "anomalib-*"
#: The zoo models of the default demo: the two classical detectors factories deploy most, both
#: fitted in seconds per category at ``--tiny`` on 2 CPU cores.
DEMO_ZOO = ("anomalib-patchcore", "anomalib-padim")
#: K of the demo's few-shot one-class rows (``--set M:shots=K``): two images to fit (PaDiM's
#: Gaussian per patch gives NaN scores from one image: seen on this machine, anomalib 2.x) and
#: two held out to calibrate the scores; every synthetic category holds that many Train
#: normals (:data:`DEMO_MIN_PER_GROUP`).
DEMO_SHOTS = 4
#: Images per synthetic group at least (``data synth``'s floor is 3): at scale 0.02 MVTec-AD's
#: toothbrush would hold 3 Train normals, too few for PaDiM's same-dataset rows (1 fitted, NaN)
#: and for :data:`DEMO_SHOTS`.
DEMO_MIN_PER_GROUP = 4


def demo_methods(patterns: list[str] | None) -> list[str]:
    """The methods the demo runs: those ``patterns`` name, or by default a bounded set.

    By default every registered method except anomalib's zoo (:data:`ZOO_FAMILY`), of which
    only :data:`DEMO_ZOO`. A wildcard the user gives (``--methods '*'``,
    ``--methods 'anomalib-*'``) runs all it names.
    """
    from fnmatch import fnmatchcase

    from iadbench.execution.registry import METHODS

    if patterns is not None:
        return METHODS.expand(patterns)
    return [
        name for name in METHODS.names() if not fnmatchcase(name, ZOO_FAMILY) or name in DEMO_ZOO
    ]


def _is_one_class(name: str) -> bool:
    """Whether ``name`` learns one model per category from its normals (runs both protocols)."""
    from iadbench.execution.registry import METHODS

    # Capabilities, not contract.method.trains(): cli.demo stays within 10 core imports, and
    # the demo runs each method at its default options (no option replacing the training).
    capabilities = METHODS.get(name).capabilities
    return capabilities.one_class and capabilities.trains


def _by_test_split(patterns: list[str]) -> tuple[list[str], list[str]]:
    """The methods ``patterns`` name: those tested on the All split, those that need references.

    A method that compares each image with normal references of its category
    (``reference_shots`` > 0 at its default options) is tested on :data:`FEW_SHOT_TEST_SPLIT`.
    """
    from iadbench.execution.registry import METHODS

    all_split: list[str] = []
    few_shot: list[str] = []
    for name in METHODS.expand(patterns):
        adapter_cls = METHODS.get(name)
        shots = adapter_cls.reference_shots(adapter_cls.Options())
        (few_shot if shots > 0 else all_split).append(name)
    return all_split, few_shot


def demo_overrides(setups: DemoSetups, names: list[str]) -> list[str]:
    """``METHOD:KEY=VALUE`` items (as ``matrix --set`` takes them) of the setups of ``names``.

    Example:
        >>> from iadbench.contract.demos import DemoSetup
        >>> demo_overrides({"m": DemoSetup({"k": "1"}, "")}, ["m", "n"])
        ['m:k=1']
    """
    return [
        f"{name}:{key}={value}"
        for name in names
        if name in setups
        for key, value in setups[name].options.items()
    ]


def noise_note(
    few_shot: list[str], setups: DemoSetups | None = None, one_class: list[str] | None = None
) -> str:
    """The sentence that says why the tiny rows show no signal, and which rows can.

    Methods with a demo setup get its note, one sentence per distinct note; one-class methods
    one sentence naming their two protocols.

    Example:
        >>> noise_note([])[:40]
        'Rows marked (tiny) are noise by design: '
    """
    note = (
        "Rows marked (tiny) are noise by design: --tiny builds each model with random weights "
        "(nothing is downloaded or trained to convergence), so they test the pipeline and cannot "
        "beat the baselines."
    )
    if few_shot:
        note += (
            f" {', '.join(few_shot)} needs no weights: it compares each image with normal "
            f"references of its category (tested on the {FEW_SHOT_TEST_SPLIT!r} subset, which "
            "leaves them out), and its verdict shows what a detector with signal looks like."
        )
    if one_class:
        note += (
            f" {', '.join(one_class)} learn one model per category from its normal images, "
            "in two protocols: same-dataset (Train normals → Test, rows <d>→<d>) and few-shot "
            f"(shots={DEMO_SHOTS} Train normals per category, rows labelled shots={DEMO_SHOTS})."
        )
    by_note: dict[str, list[str]] = {}
    for name, setup in (setups or {}).items():
        by_note.setdefault(setup.note, []).append(name)
    for text, names in by_note.items():
        note += f" {', '.join(names)}: {text}"
    return note


def _synthetic_tree(dataset: str, root: Path, scale: float) -> Path:
    """A synthetic tree at ``root``, written once and reused by later demos."""
    from iadbench.data.synth import read_synthetic_marker, synthesize

    marker = read_synthetic_marker(root) if root.exists() else None
    if marker is None or marker.get("scale") != scale or marker.get("complete") is False:
        synthesize(dataset, root, scale=scale, min_per_group=DEMO_MIN_PER_GROUP)
    return root


#: The entry point (group :data:`~iadbench.contract.demos.DEMO_GROUP`) behind ``--learn``,
#: declared by the package that ships LR-IAD.
LEARNING_PROOF = "lr-iad-learning-proof"


def _learning_proof(out: Path, seeds: list[int], cache_dir: Path | None) -> None:
    from rich.markup import escape
    from rich.table import Table

    from iadbench.execution.registry import installed_demo

    result = installed_demo(LEARNING_PROOF)(
        out / "learning-proof", seeds=seeds, cache_dir=cache_dir,
        log=lambda line: console.print(f"[bold]{escape(line)}[/]", highlight=False),
    )  # fmt: skip
    table = Table(title=result.title)
    for i, header in enumerate(result.headers):
        table.add_column(header, justify="left" if i == 0 else "right")
    for row in result.rows:
        table.add_row(*row)
    console.print(table)
    if result.written is not None:
        console.print(f"Table written to [bold]{result.written}[/]", highlight=False)
