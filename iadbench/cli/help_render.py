"""``--help`` pages drawn with rich's panels and tables, without ``typer.rich_utils``.

typer draws its rich help through ``typer.rich_utils``, which imports ``rich.markdown`` (and
markdown-it) and ``rich.traceback`` at module level: importing it alone took 2.1–2.6× a bare
``python -c "import typer, rich"`` (issue 17, measured with ``-X importtime``), more than the
whole budget of ``iadbench --help`` (≤ 2×). iadbench's help strings use rich markup only, never
markdown, so this module lays out the same page — usage, help text, one panel per
``rich_help_panel`` of options and of commands, epilog — with the parts of rich that
``rich.console`` has already loaded. Usage errors still go through typer's own renderer.
"""

from __future__ import annotations

import inspect
from collections import defaultdict
from typing import TYPE_CHECKING

from rich.columns import Columns
from rich.console import Console, Group, RenderableType
from rich.highlighter import RegexHighlighter
from rich.padding import Padding
from rich.panel import Panel
from rich.table import Table
from rich.text import Text
from rich.theme import Theme
from typer.core import TyperArgument, TyperGroup, TyperOption

if TYPE_CHECKING:
    from typer._click.core import Command, Context

TyperParam = TyperArgument | TyperOption

_THEME = Theme(
    {
        "option": "bold cyan",
        "switch": "bold green",
        "types": "bold yellow",
        "usage": "yellow",
        "required": "red",
        "dim_required": "dim red",
    }
)


class _OptionHighlighter(RegexHighlighter):
    """Colours ``--long`` and ``-s`` option names, ``<type>`` placeholders and ``Usage:``."""

    highlights = [
        r"(^|\W)(?P<switch>\-\w+)(?![a-zA-Z0-9])",
        r"(^|\W)(?P<option>\-\-[\w\-]+)(?![a-zA-Z0-9])",
        r"(?P<types>\<[^\>]+\>)",
        r"(?P<usage>Usage: )",
    ]


_highlight = _OptionHighlighter()


def print_help(command: Command, ctx: Context) -> None:
    """Print ``command``'s help page (a group lists its commands by panel)."""
    console = Console(theme=_THEME, highlighter=_highlight)
    console.print(Padding(_highlight(command.get_usage(ctx)), 1), style="bold")
    if command.help:
        console.print(Padding(_help_text(command.help), (0, 1, 1, 1)))
    for title, params in _params_by_panel(command, ctx).items():
        console.print(_panel(title, [_param_row(p, ctx) for p in params], required=params))
    if isinstance(command, TyperGroup):
        for title, commands in _commands_by_panel(command, ctx).items():
            console.print(_commands_panel(title, commands, ctx))
    if command.epilog:
        console.print(Padding(_markup(inspect.cleandoc(command.epilog)), 1))


def _markup(text: str, style: str = "") -> Text:
    return _highlight(Text.from_markup(text, style=style))


def _help_text(help_text: str) -> Group:
    """The first paragraph as one line, the rest dimmed (typer's layout); a form feed ends it."""
    text = inspect.cleandoc(help_text).partition("\f")[0]
    first, *rest = text.split("\n\n")
    parts: list[RenderableType] = [_markup(first.replace("\n", " ").strip())]
    if rest:
        parts += [Text(""), _markup("\n\n".join(rest), style="dim")]
    return Group(*parts)


def _params_by_panel(command: Command, ctx: Context) -> dict[str, list[TyperParam]]:
    """Arguments first, then options, each under its ``rich_help_panel`` in declaration order."""
    arguments: defaultdict[str, list[TyperParam]] = defaultdict(list)
    options: defaultdict[str, list[TyperParam]] = defaultdict(list)
    arguments["Arguments"], options["Options"] = [], []
    for param in command.get_params(ctx):
        if getattr(param, "hidden", False):
            continue
        if isinstance(param, TyperArgument):
            arguments[param.rich_help_panel or "Arguments"].append(param)
        elif isinstance(param, TyperOption):
            options[param.rich_help_panel or "Options"].append(param)
    panels = {**arguments}
    for title, params in options.items():
        panels.setdefault(title, []).extend(params)
    return {title: params for title, params in panels.items() if params}


def _param_row(param: TyperParam, ctx: Context) -> list[RenderableType]:
    """Long names, short names, their negations, type placeholder, help with default/required.

    The columns are typer's: an argument's name sits in the short-name column.
    """
    argument = None
    if isinstance(param, TyperArgument):
        many = param.metavar is None and param.nargs != 1
        argument = param.display_name_raw + ("..." if many else "")

    def columns(names: list[str]) -> tuple[str, str]:
        long = [n for n in names if "--" in n]
        short = [argument or n for n in names if "--" not in n]
        return ",".join(long), ",".join(short)

    long, short = columns(param.opts)
    negated_long, negated_short = columns(param.secondary_opts)
    type_text = Text(param.display_type_rich(ctx=ctx) or "", style="types", overflow="fold")
    paragraphs = (getattr(param, "help", None) or "").split("\n\n")
    help_text = _markup("\n".join(p.replace("\n", " ").strip() for p in paragraphs).strip())
    # Separate cells of one Columns: a note moves to the next line whole, never split
    # (`[default: iadbench` / `leaderboard]`), as typer lays it out.
    notes: list[RenderableType] = [help_text]
    default = _default_text(param, ctx)
    if default:
        notes.append(Text(f"[default: {default}]", style="dim"))
    if param.required:
        notes.append(Text("[required]", style="dim_required"))
    names = (long, short, negated_long, negated_short)
    return [*(_highlight(Text(n)) for n in names), type_text, Columns(notes)]


def _default_text(param: TyperParam, ctx: Context) -> str | None:
    """The default as typer prints it, when the parameter asks for it to be shown."""
    default = param._extract_default_help_str(ctx=ctx)
    shown_as_text = isinstance(param.show_default, str)
    if not shown_as_text and (default is None or not (param.show_default or ctx.show_default)):
        return None
    text = param._get_default_string(
        ctx=ctx, show_default_is_str=shown_as_text, default_value=default
    )
    return str(text) if text else None


def _panel(title: str, rows: list[list[RenderableType]], *, required: list[TyperParam]) -> Panel:
    table = Table(show_header=False, expand=True, box=None, pad_edge=False, padding=(0, 1))
    stars = [Text("*", style="required") if p.required else Text("") for p in required]
    with_stars = any(p.required for p in required)
    for star, row in zip(stars, rows, strict=True):
        table.add_row(*([star, *row] if with_stars else row))
    return Panel(table, border_style="dim", title=title, title_align="left")


def _commands_by_panel(group: TyperGroup, ctx: Context) -> dict[str, list[Command]]:
    panels: defaultdict[str, list[Command]] = defaultdict(list)
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        if command is not None and not command.hidden:
            panels[getattr(command, "rich_help_panel", None) or "Commands"].append(command)
    return dict(panels)


def _commands_panel(title: str, commands: list[Command], ctx: Context) -> Panel:
    """One row per command: its name and the first paragraph of its help."""
    group = ctx.command
    width = max(
        (len(c.name or "") for c in _all_commands(group, ctx)),
        default=0,
    )
    table = Table(show_header=False, expand=True, box=None, pad_edge=False, padding=(0, 1))
    table.add_column(style="bold cyan", no_wrap=True, width=width)
    table.add_column(ratio=10)
    for command in commands:
        # The first paragraph, its line breaks kept (typer's rich mode keeps them too).
        first = inspect.cleandoc(command.short_help or command.help or "").split("\n\n")[0]
        table.add_row(Text(command.name or ""), _markup(first.strip()))
    return Panel(table, border_style="dim", title=title, title_align="left")


def _all_commands(group: Command, ctx: Context) -> list[Command]:
    """Every listed command of the group: all panels share one name column width."""
    if not isinstance(group, TyperGroup):
        return []
    return [c for cs in _commands_by_panel(group, ctx).values() for c in cs]
