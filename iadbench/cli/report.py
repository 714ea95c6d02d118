"""``iadbench leaderboard`` and ``iadbench list``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from iadbench.cli import options as opt
from iadbench.cli.app import app, console, handles_user_errors


@app.command(epilog="Example: iadbench leaderboard runs/matrix --output results/LEADERBOARD.md")
@handles_user_errors
def leaderboard(
    directory: Annotated[Path, typer.Argument(help="Directory searched recursively for run dirs.")],
    output: Annotated[
        Path | None, typer.Option(help="Write the markdown here (else print it).")
    ] = None,
    title: Annotated[str, typer.Option(help="Heading of the document.")] = "iadbench leaderboard",
) -> None:
    """Render leaderboard markdown from stored results only (never edit it by hand)."""
    from iadbench.leaderboard import collect_runs, load_paper_reference, render_leaderboard

    markdown = render_leaderboard(collect_runs(directory), load_paper_reference(), title=title)
    if output is None:
        typer.echo(markdown)
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(markdown, encoding="utf-8")
    console.print(f"Wrote [bold]{output}[/]", highlight=False)


@app.command(name="list", epilog="Example: iadbench list 'always-*' --options")
@handles_user_errors
def list_methods(
    pattern: Annotated[str, typer.Argument(help="Shell-style wildcard over method names.")] = "*",
    show_options: Annotated[
        bool, typer.Option("--options", help="Also list each method's options and defaults.")
    ] = False,
    plugin: opt.Plugins = None,
) -> None:
    """List registered methods, what they need and give, and where they come from."""
    import dataclasses

    from rich.table import Table

    from iadbench.registry import METHODS

    opt.load_plugins(plugin)
    table = Table(title="Registered methods", title_justify="left")
    for column in ("name", "description", "pixels", "trains", "scores", "text", "GPU", "source"):
        table.add_column(column)
    if show_options:
        table.add_column("options (--set KEY=VALUE)")
    tick = {True: "yes", False: ""}
    for name in METHODS.names(pattern):
        try:
            adapter = METHODS.get(name)
        except Exception as exc:  # a broken plugin must not hide the others
            source = METHODS.entry(name).source
            table.add_row(name, f"[red]cannot be loaded: {exc}[/]", *[""] * 5, source)
            continue
        caps = adapter.capabilities
        row = [
            name, adapter.summary(), tick[caps.needs_pixels], tick[caps.trains],
            tick[caps.gives_scores],
            tick[caps.gives_text], tick[caps.prefers_gpu], METHODS.entry(name).source,
        ]  # fmt: skip
        if show_options:
            defaults = adapter.Options()
            row.append(
                ", ".join(
                    f"{f.name}={getattr(defaults, f.name)!r}" for f in dataclasses.fields(defaults)
                )
                or "—"
            )
        table.add_row(*row)
    console.print(table)
