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
    table.add_column("name", no_wrap=True, style="bold")
    table.add_column("needs / gives", ratio=1)
    table.add_column("from")
    table.add_column("description", ratio=3)
    loaded = []
    for name in METHODS.names(pattern):
        entry = METHODS.entry(name)
        source = entry.source.split(" (")[0]  # the distribution; the full target is in --options
        try:
            adapter = METHODS.get(name)
        except Exception as exc:  # a broken plugin must not hide the others
            table.add_row(name, "", source, f"[red]cannot be loaded: {exc}[/]")
            continue
        table.add_row(name, _capability_words(adapter.capabilities), source, adapter.summary())
        loaded.append((name, adapter, entry.source))
    console.print(table)
    if not show_options:
        return
    for name, adapter, source in loaded:
        options = Table(title=f"{name}: {source}", title_justify="left", show_edge=False)
        options.add_column("--set KEY", no_wrap=True)
        options.add_column("default")
        defaults = adapter.Options()
        for field in dataclasses.fields(defaults):
            options.add_row(field.name, repr(getattr(defaults, field.name)))
        if not dataclasses.fields(defaults):
            options.add_row("—", "no options")
        console.print(options)


def _capability_words(caps: object) -> str:
    words = [
        ("needs_pixels", "pixels"), ("needs_masks", "masks"), ("trains", "trains"),
        ("prefers_gpu", "GPU"), ("gives_scores", "→ scores"), ("gives_text", "→ text"),
    ]  # fmt: skip
    return ", ".join(word for attr, word in words if getattr(caps, attr)) or "—"
