"""``iadbench demo``: the whole pipeline on synthetic data and tiny models, from nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from iadbench.cli import options as opt
from iadbench.cli.app import app, console, handles_user_errors


@app.command(epilog="Example: iadbench demo --out iadbench-demo")
@handles_user_errors
def demo(
    out: Annotated[Path, typer.Option(help="Where the run dirs and LEADERBOARD.md go.")] = Path(
        "iadbench-demo"
    ),
    scale: Annotated[
        float, typer.Option(help="Fraction of the official counts to synthesise.")
    ] = 0.02,
    methods: Annotated[
        str, typer.Option(help="Methods to run (comma-separated names or wildcards).")
    ] = "*",
    cache_dir: opt.CacheDir = None,
    plugin: opt.Plugins = None,
) -> None:
    """Synthesise MVTec-AD/VisA trees, run every method (--tiny) both ways, show the leaderboard."""
    from rich.markdown import Markdown

    from iadbench.cli.display import RichProgress
    from iadbench.leaderboard import collect_runs, load_paper_reference, render_leaderboard
    from iadbench.matrix import MatrixRequest, run_matrix
    from iadbench.runner import default_cache_dir

    opt.load_plugins(plugin)
    data_dir = (cache_dir or default_cache_dir()) / "demo-data" / f"scale-{scale:g}"
    roots = {name: str(_synthetic_tree(name, data_dir / name, scale)) for name in ("mvtec", "visa")}
    console.print(f"Synthetic MVTec-AD and VisA trees in [bold]{data_dir}[/]", highlight=False)
    request = MatrixRequest(
        methods=[m.strip() for m in methods.split(",")], datasets=["mvtec", "visa"], out=out,
        tiny=True, data_roots=roots, cache_dir=cache_dir, command=["iadbench", "demo"],
    )  # fmt: skip
    outcomes = run_matrix(request, RichProgress())
    markdown = render_leaderboard(
        collect_runs(out),
        load_paper_reference(),
        title="iadbench demo (synthetic data, tiny models)",
    )
    (out / "LEADERBOARD.md").write_text(markdown, encoding="utf-8")
    console.print(Markdown(markdown))
    console.print(
        f"{len(outcomes)} runs in [bold]{out}[/]; "
        f"leaderboard written to [bold]{out / 'LEADERBOARD.md'}[/]",
        highlight=False,
    )


def _synthetic_tree(dataset: str, root: Path, scale: float) -> Path:
    """A synthetic tree at ``root``, written once and reused by later demos."""
    from iadbench.datasets.synth import read_synthetic_marker, synthesize

    marker = read_synthetic_marker(root) if root.exists() else None
    if marker is None or marker.get("scale") != scale or marker.get("complete") is False:
        synthesize(dataset, root, scale=scale)
    return root
