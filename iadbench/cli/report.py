"""``iadbench leaderboard`` and ``iadbench list``."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from iadbench.cli import options as opt
from iadbench.cli.app import RESULTS, SETUP, app, console, handles_user_errors
from iadbench.contract.errors import IADBenchError

if TYPE_CHECKING:
    from iadbench.views.leaderboard import CollectedRuns


class LeaderboardFormat(StrEnum):
    """Formats of ``iadbench leaderboard --format``."""

    md = "md"
    csv = "csv"
    json = "json"


@app.command(
    rich_help_panel=RESULTS,
    epilog="Examples: iadbench leaderboard runs/matrix | "
    "iadbench leaderboard runs/matrix --output results/LEADERBOARD.md | "
    "iadbench leaderboard runs/matrix --format csv --output results/leaderboard.csv",
)
@handles_user_errors
def leaderboard(
    directory: Annotated[Path, typer.Argument(help="Directory searched recursively for run dirs.")],
    output: Annotated[
        Path | None, typer.Option(help="Write the leaderboard here (else print it).")
    ] = None,
    title: Annotated[str, typer.Option(help="Heading of the document.")] = "iadbench leaderboard",
    format_: Annotated[
        LeaderboardFormat | None,
        typer.Option(
            "--format",
            help="md (markdown), csv or json (one record per run, direction and pooled / "
            "class-mean / category group, fractions in [0, 1]). Default: tables that fit the "
            "terminal when printing, md with --output (csv / json when --output ends so).",
        ),
    ] = None,
    force: Annotated[
        bool,
        typer.Option("--force", metavar=opt.FLAG, help="Replace the --output file if it exists."),
    ] = False,
) -> None:
    """Render the leaderboard from stored results only (never edit it by hand).

    Printed without --format: tables that fit the terminal (80 columns when redirected).
    --format md|csv|json prints (or with --output writes) the document itself.
    """
    from iadbench.views.leaderboard import collect_runs, load_paper_reference
    from iadbench.views.outputs import check_outside_datasets, check_view_output, write_output

    if output is not None and output.is_dir():
        raise IADBenchError(
            f"--output {output} is a directory; give a file name such as {output}/LEADERBOARD.md"
        )
    chosen = format_ or _format_of(output)
    if output is not None:  # before any work: no run dir, no replaced file, a writable place
        check_view_output(output, kind=chosen.value, force=force)
    runs = collect_runs(directory)
    if format_ is None and output is None:
        from iadbench.cli.display import print_leaderboard

        print_leaderboard(runs, load_paper_reference(), title=title)
        return
    if output is not None:
        check_outside_datasets(output, runs)
    text = _leaderboard_text(chosen, runs, title)
    if output is None:
        typer.echo(text, nl=False)
        return
    write_output(output, text)
    console.print(f"Wrote [bold]{escape(str(output))}[/]", highlight=False)


def _format_of(output: Path | None) -> LeaderboardFormat:
    """The format an --output name implies: .csv and .json by suffix, markdown otherwise.

    A name that is none of them (``x.png``) is then refused by the suffix check.
    """
    suffix = output.suffix.lower().lstrip(".") if output is not None else ""
    return LeaderboardFormat(suffix) if suffix in ("csv", "json") else LeaderboardFormat.md


def _leaderboard_text(chosen: LeaderboardFormat, runs: CollectedRuns, title: str) -> str:
    from iadbench.views.leaderboard import load_paper_reference, render_leaderboard
    from iadbench.views.leaderboard.export import leaderboard_csv, leaderboard_json

    if chosen is LeaderboardFormat.csv:
        return leaderboard_csv(runs)
    if chosen is LeaderboardFormat.json:
        return leaderboard_json(runs)
    return render_leaderboard(runs, load_paper_reference(), title=title)


@app.command(
    name="list",
    rich_help_panel=SETUP,
    epilog="Examples: iadbench list | iadbench list 'always-*' --details | "
    "iadbench list brightness --options",
)
@handles_user_errors
def list_methods(
    pattern: Annotated[str, typer.Argument(help="Shell-style wildcard over method names.")] = "*",
    show_details: Annotated[
        bool,
        typer.Option(
            "--details",
            metavar=opt.FLAG,
            help="Also show what each matched method needs and gives, and its description "
            "(imports the matched methods' code).",
        ),
    ] = False,
    show_options: Annotated[
        bool,
        typer.Option(
            "--options",
            metavar=opt.FLAG,
            help="Also list each matched method's options and defaults (implies --details; "
            "imports the matched methods' code).",
        ),
    ] = False,
    plugin: opt.Plugins = None,
) -> None:
    """List registered methods and where they come from, from metadata alone.

    Without --details/--options no method's code is imported: names, targets (module:attr) and
    distributions come from the installed entry-point metadata. --details and --options import
    only the methods that PATTERN matches.
    """
    from iadbench.cli.display import method_table
    from iadbench.execution.registry import METHODS

    opt.load_plugins(plugin)
    details = show_details or show_options
    names = METHODS.expand([pattern])  # unknown plain names get "did you mean"
    rows: list[tuple[str, str, str, str | None, str | None]] = []
    loaded = []
    for name in names:
        clash = METHODS.conflict(name)
        if clash:  # decided from metadata: neither declaration is imported
            for entry in sorted(clash, key=lambda e: e.origin):
                note = "declared by several distributions: not usable"
                rows.append((name, entry.origin, entry.value, "", note))
            continue
        entry = METHODS.entry(name)
        if not details:
            rows.append((name, entry.origin, entry.value, None, None))
            continue
        try:
            adapter = METHODS.get(name)
        except Exception as exc:  # a broken plugin must not hide the others
            rows.append((name, entry.origin, entry.value, "", f"cannot be loaded: {exc}"))
            continue
        capabilities = _capability_words(adapter.capabilities)
        rows.append((name, entry.origin, entry.value, capabilities, adapter.summary()))
        loaded.append((name, adapter, entry.source))
    table = method_table(rows, details=details, width=console.width)
    console.print(table)
    if any(METHODS.conflict(name) for name in names):
        console.print(
            "[red]A name declared by several distributions cannot be run; uninstall or rename "
            "one of them.[/]"
        )
    if not show_options:
        return
    from iadbench.cli.display import options_table
    from iadbench.contract.options import describe_options

    for name, adapter, source in loaded:
        option_rows: list[tuple[str, str, str, str]] = []
        for info in describe_options(adapter.Options):
            notes = [info.help]
            if info.choices:
                notes.append(f"choices: {', '.join(info.choices)}")
            if info.inference_only:
                notes.append("[inference only: not in the training hash]")
            if info.tiny is not None:
                notes.append(f"[--tiny: {info.tiny}]")
            if info.replaces_training:
                notes.append("[set: names trained weights, the run does not train]")
            help_text = " ".join(n for n in notes if n)
            option_rows.append((info.name, info.type, repr(info.default), help_text))
        console.print(options_table(f"{name}: {source}", option_rows, width=console.width))


def _capability_words(caps: object) -> str:
    words = [
        ("needs_pixels", "pixels"), ("needs_masks", "masks"), ("trains", "trains"),
        ("needs_both_labels", "both labels"), ("prefers_gpu", "GPU"),
        ("gives_scores", "→ scores"), ("gives_text", "→ text"),
    ]  # fmt: skip
    return ", ".join(word for attr, word in words if getattr(caps, attr)) or "—"
