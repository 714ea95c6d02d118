"""The leaderboard for a terminal or a redirected log: tables that fit the width and are never cut.

LEADERBOARD.md sets every direction side by side (the paper's Table III) and gives each method a
column pair in the per-category tables: fine once rendered, but at 80 columns rich cut nearly
every cell to "…". Here each direction gets its own tables; rows are numbered (``#``) and the
numbers head the per-category tables (one table per metric, split into several tables when the
methods do not fit beside each other); headers are short and a legend explains them; long text
wraps, and the width of every number column is reserved before the label column gets the rest.

The numbers, markers (†, ‡, ¶, ◊), labels, verdicts and notes come from the presentation model
(:class:`~iadbench.views.model.Presentation`) the markdown lays out too, so both outputs say the
same thing. Text read from runs goes through :func:`~iadbench.contract.text.terminal_text`
and is printed as rich ``Text``, never as markup. The N × N overview comes first
(:mod:`.terminal_overview`) where a matrix has more than two datasets.

Example:
    >>> from pathlib import Path
    >>> from rich.console import Console
    >>> from iadbench.views.leaderboard import collect_runs, load_paper_reference
    >>> from iadbench.views.leaderboard.terminal import render_terminal
    >>> Console().print(render_terminal(collect_runs(Path("results")), load_paper_reference()))
    ... # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rich.console import Group, RenderableType
from rich.markdown import Markdown
from rich.table import Table
from rich.text import Text

from iadbench.contract.text import terminal_text
from iadbench.views.catalogue import (
    CATALOGUE,
    CATEGORY_METRICS,
    MISSING,
    TABLE_METRICS,
    interval_text,
    p_value_text,
    percent,
)
from iadbench.views.leaderboard.escape import plain_direction_title, plain_row_label
from iadbench.views.leaderboard.notes import NOT_COMPARABLE, count_of
from iadbench.views.leaderboard.rows import TRIVIAL_BASELINES, LeaderboardRow
from iadbench.views.leaderboard.table_layout import (
    add_number_column,
    break_tokens,
    chunk_columns,
    narrowest,
    new_table,
    table_overhead,
)
from iadbench.views.leaderboard.terminal_overview import overview_tables
from iadbench.views.leaderboard.terminal_scores import score_tables
from iadbench.views.model import WITHHELD, Presentation, RowView

if TYPE_CHECKING:  # the package's names: one module for the two (the fan-out cap)
    from iadbench.views.leaderboard import CollectedRuns, PaperReference

DEFAULT_WIDTH = 80  # rich's width when stdout is not a terminal
LEGEND = (
    "Percent, 2 decimals. Acc = accuracy; F1 = macro-F1 over {defect, normal}; BAcc = balanced "
    "accuracy; Inv = invalid (unparseable) answers, scored as wrong; AUROC and AP (average "
    "precision) where a method gives scores. # numbers the rows of a direction and heads its "
    "per-category tables; under a method, in grey: its threshold policy and the subset of the "
    "training dataset it was trained on. Markers are explained in the notes at the end. "
    "Intervals: percentile bootstrap over the test images (B and seed in summary.json); p vs "
    "AD / AN: McNemar's exact test against always-defect / always-normal on the same images; "
    "Beats: the baselines it is more accurate than at p < 0.05."
)
_LENIENT_PAIRS = (
    ("Answered", "strict_accepted_rate", "accepted_rate"),
    ("Acc", "accuracy", "accuracy"),
    ("F1", "f1_macro", "f1_macro"),
    ("BAcc", "balanced_accuracy", "balanced_accuracy"),
)


class _TerminalTables:
    """The tables of one leaderboard, laid out from the presentation model."""

    def __init__(self, runs: CollectedRuns, reference: PaperReference | None, width: int) -> None:
        self.runs = runs
        self.width = width
        self.model = Presentation(runs, reference)

    # --- per direction

    def direction(self, views: list[RowView]) -> list[RenderableType]:
        """Heading, pooled and class-mean tables, text methods, per-category tables."""
        direction = views[0].direction
        rows = self.model.directions[direction]
        title = plain_direction_title(direction)
        n = sum(int(m["n"]) for m in rows.counts_source.summary["per_class"].values())
        tables: list[RenderableType] = [
            self.summary(views, "overall"),
            self.summary(views, "class_mean"),
        ]
        lenient = self.lenient(views)
        if lenient is not None:
            tables.append(lenient)
        statistics = self.statistics(views)
        if statistics is not None:
            tables.append(statistics)
        tables += score_tables(self, direction)  # score methods: operating points, ECE
        for key in CATEGORY_METRICS + ("invalid_rate",):
            if key == "invalid_rate" and not any(
                "invalid_rate" in view.categories[None] for view in views
            ):
                continue  # only text methods answer invalidly; a column of zeros says nothing
            tables += self.per_category(views, CATALOGUE[key].short, key)
        parts: list[RenderableType] = [
            Text(f"━━ {title}: {count_of(n, 'test image')}", style="bold")
        ]
        for table in tables:
            parts += [table, Text("")]
        return parts

    def summary(self, views: list[RowView], group: str) -> RenderableType:
        """Pooled (``overall``) or class-mean table: # | Method | [n] | six metrics | [Coll.].

        Rows that the paper reports comparably get a ``paper`` line under them (Acc and F1);
        a ¶ after a label says the paper reports that method on another setup.
        """
        pooled = group == "overall"
        title = (
            "Pooled over all test images" if pooled else "Class mean (unweighted over categories)"
        )
        body: list[list[str]] = []  # number cells per line
        labels: list[tuple[str, Text]] = []
        for view in views:
            cells = view.cells[group]
            line = [cells["n"]] if pooled else []
            line += [cells[key] for key in TABLE_METRICS]
            line += [] if pooled else [cells["collapsed"]]
            paper = view.paper.get(group)
            withheld = paper is not None and paper[0] == WITHHELD
            labels.append((str(view.number), self.label(view, setup=pooled, withheld=withheld)))
            body.append(line)
            if paper is not None and not paper[0].startswith(MISSING):
                labels.append(("", Text("paper", style="italic")))
                offset = int(pooled)  # Acc and F1 sit after n in the pooled table
                under = [""] * len(line)
                under[offset : offset + 2] = list(paper)
                body.append(under)
        headers = (
            (["n"] if pooled else [])
            + [CATALOGUE[key].short for key in TABLE_METRICS]
            + ([] if pooled else ["Coll."])
        )
        return self.fill(title, headers, labels, body)

    def statistics(self, views: list[RowView]) -> RenderableType | None:
        """Stored runs' 95 % intervals and McNemar p against both baselines (pooled), or None.

        The figures of the markdown's statistics section, and the model's verdict (an oracle
        run's Beats cell says it is not counted).
        """
        labels: list[tuple[str, Text]] = []
        body: list[list[str]] = []
        level = 95.0
        for view in views:
            stats = self.model.statistics(view.row)
            if stats is None:
                continue
            overall = stats["bootstrap"]["overall"]
            tests = stats["mcnemar"]
            level = 100 * float(stats["bootstrap"]["level"])
            body.append([
                *(interval_text(overall.get(key), 1) for key in CATEGORY_METRICS),
                *(p_value_text(tests[name]["p_value"]) if name in tests else MISSING
                  for name in TRIVIAL_BASELINES),
                self.model.beats(view.row) or MISSING,
            ])  # fmt: skip
            labels.append((str(view.number), self.label(view, setup=False, withheld=False)))
        if not body:
            return None
        versus = [f"p vs {_ABBREVIATION[name]}" for name in TRIVIAL_BASELINES]  # the cells' order
        headers = [f"Acc {level:g}%", f"F1 {level:g}%", *versus, "Beats"]
        return self.fill("Intervals and McNemar tests (pooled)", headers, labels, body)

    def lenient(self, views: list[RowView]) -> RenderableType | None:
        """Text methods' figures under the strict and the lenient parser (pooled), or ``None``.

        Two lines per method: ``strict`` (the headline figures) and ``lenient`` (with the images
        whose label the lenient rule changes).
        """
        labels: list[tuple[str, Text]] = []
        body: list[list[str]] = []
        rules: dict[str, list[str]] = {}
        for view in views:
            row = view.row
            lenient = row.source.summary.get("lenient") if not row.derived else None
            if not isinstance(lenient, dict):
                continue
            overall = lenient.get("overall")
            block: dict[str, Any] = overall if isinstance(overall, dict) else {}
            # The strict figures are the row's own; only the answered share lives in the block.
            strict = {**row.overall, "strict_accepted_rate": block.get("strict_accepted_rate")}
            changed = block.get("changed")
            labels += [(str(view.number), Text(plain_row_label(row))), ("", Text(""))]
            body.append(["strict", *(percent(strict.get(k)) for _, k, _ in _LENIENT_PAIRS), ""])
            body.append(["lenient", *(percent(block.get(k)) for _, _, k in _LENIENT_PAIRS)])
            body[-1].append(MISSING if changed is None else str(int(changed)))
            rule = terminal_text(str(lenient.get("rule", MISSING)))
            rules.setdefault(rule, []).append(f"#{view.number}")
        if not body:
            return None
        headers = ["Parser", *(title for title, _, _ in _LENIENT_PAIRS), "Changed"]
        caption = Text(
            "Answered = images given a label; Changed = images whose label the lenient rule "
            "changes. Rules: " + "; ".join(f"{', '.join(n)} {r}" for r, n in rules.items()) + "."
        )
        return self.fill("Text methods: strict vs lenient answer parsing (pooled)", headers,
                         labels, body, caption)  # fmt: skip

    def per_category(self, views: list[RowView], header: str, key: str) -> list[Table]:
        """One metric per category: Category | n | one column per row (``#``).

        As many tables as the width needs; rows the paper reports comparably get a paper column
        beside them.
        """
        rows = self.model.directions[views[0].direction]
        categories = sorted({c for row in rows.rows for c in row.per_class})
        counts = rows.counts_source.summary["per_class"]
        columns: list[tuple[str, list[str]]] = []
        for view in views:
            if key not in view.categories[None]:
                continue
            every = [*categories, None]
            columns.append((f"#{view.number}", [view.categories[c][key] or MISSING for c in every]))
            papers = view.paper_categories
            mean = view.paper.get("class_mean")
            withheld = mean is not None and mean[0] == WITHHELD
            if key != "invalid_rate" and papers is not None and not withheld:
                side = 0 if key == "accuracy" else 1
                columns.append((f"#{view.number}\npaper", [papers[c][side] for c in every]))
        names = [terminal_text(c) for c in categories] + ["mean"]
        ns = [str(int((counts.get(c) or _first(rows.rows, c))["n"])) for c in categories]
        ns.append(str(sum(int(m["n"]) for m in counts.values())))
        cells_of = [cells for _, cells in columns]
        widths = [
            max([len(c) for c in cells] + [len(line) for line in name.split("\n")])
            for name, cells in columns
        ]
        # A long category name wraps (at "-", "_" is kept) rather than taking the width of the
        # number columns: at most a third of the width, never below its longest piece.
        longest = max(len(name) for name in names + ["Category"])
        name_width = min(longest, max(self.width // 3, *(narrowest(n) for n in names)))
        base = name_width + max(len(n) for n in ns + ["n"]) + table_overhead(2)
        chunks = chunk_columns(widths, base, self.width)
        tables = []
        for chunk in chunks if columns else []:
            first, last = (columns[chunk[i]][0].split()[0] for i in (0, -1))
            span = first if first == last else f"{first}–{last}"
            part = "" if len(chunks) == 1 else f" ({span})"
            table = new_table(f"{header} per category{part}")
            table.add_column("Category", overflow="fold", max_width=name_width)
            add_number_column(table, "n", ns)
            for column in chunk:
                add_number_column(table, columns[column][0], cells_of[column])
            for line, name in enumerate(names):
                table.add_row(
                    break_tokens(name, name_width), ns[line],
                    *(cells_of[column][line] for column in chunk),
                    end_section=line == len(names) - 2,
                )  # fmt: skip
            tables.append(table)
        return tables

    # --- cells

    def label(self, view: RowView, *, setup: bool, withheld: bool) -> Text:
        """A row's label, ¶ when the paper's numbers are withheld.

        With ``setup``, dim lines name the threshold policy (‡ for oracle) and the training
        subset; without, the label names the threshold where runs of one method differ in it.
        """
        row = view.row
        base = row.label if setup else view.label
        text = Text(terminal_text(base) + " (derived)" * row.derived + " (tiny)" * row.tiny)
        if withheld:
            text.append(NOT_COMPARABLE)
        threshold, marker = self.model.threshold_cell(row)
        if not setup:
            text.append(marker)
        if setup and row.threshold is not None:
            text.append(f"\n{terminal_text(threshold)}{marker}", style="dim")
        if setup and row.train_split is not None:
            text.append(f"\ntrained on {terminal_text(row.train_split)}", style="dim")
        return text

    def fill(
        self,
        title: str,
        headers: list[str],
        labels: list[tuple[str, Text]],
        body: list[list[str]],
        caption: Text | None = None,
    ) -> RenderableType:
        """A table of ``#`` | Method | number columns, or, too narrow for that, a key and tables.

        The number columns' widths are reserved first; the Method column, whose text wraps at
        spaces (long tokens at ``:`` / ``.``, :func:`break_tokens`), takes what is left of the
        width. Where that is narrower than a label's longest token, the labels go into a key
        above (``#1 always-defect …``) and the number columns are split over as many tables,
        headed by ``#``, as the width needs: no value is split mid-token.
        """
        widths = [
            max([len(part) for part in header.split("\n")] + [len(line[i]) for line in body])
            for i, header in enumerate(headers)
        ]
        number = max(len(number) for number, _ in labels)
        room = self.width - number - sum(widths) - table_overhead(len(headers) + 2)
        if room >= max(4, *(narrowest(label) for _, label in labels)):
            table = self._table(title, headers, body, labels, range(len(headers)), room)
            table.caption = caption
            table.caption_justify = "left"
            return table
        key = Text()
        for index, (number_text, label) in enumerate(labels):
            if not number_text:
                continue  # a "paper" line: its figures are marked by the row's number
            flat = Text(" · ").join(label.split("\n")) if label.plain else label
            key.append(Text("\n" * bool(index) + f"#{number_text} ").append_text(flat))
        base = number + table_overhead(1)
        parts: list[RenderableType] = [Text(title, style="bold"), key]
        for chunk in chunk_columns(widths, base, self.width):
            parts.append(self._table("", headers, body, labels, chunk, None))
        if caption is not None:
            parts.append(caption)
        return Group(*parts)

    @staticmethod
    def _table(
        title: str,
        headers: list[str],
        body: list[list[str]],
        labels: list[tuple[str, Text]],
        columns: Sequence[int],
        room: int | None,
    ) -> Table:
        """``#`` | [Method, when ``room`` is its width] | the number columns ``columns``."""
        table = new_table(title)
        table.add_column("#", justify="right", no_wrap=True)
        if room is not None:
            table.add_column("Method", max_width=room, overflow="fold")
        for column in columns:
            add_number_column(table, headers[column], [line[column] for line in body])
        for (number, label), line in zip(labels, body, strict=True):
            named = [break_tokens(label, room)] if room is not None else []
            number_cell = number if room is not None or not number else f"#{number}"
            table.add_row(number_cell, *named, *(line[column] for column in columns))
        return table

    def notes(self) -> Markdown | None:
        lines = self.model.note_lines
        return Markdown("\n".join(lines)) if lines else None


# Baseline names in the statistics table's headers (the legend spells them out).
_ABBREVIATION = {"always-defect": "AD", "always-normal": "AN"}


def _first(rows: list[LeaderboardRow], category: str) -> dict[str, Any]:
    return next(r.per_class[category] for r in rows if category in r.per_class)


def render_terminal(
    runs: CollectedRuns,
    reference: PaperReference | None = None,
    *,
    title: str = "iadbench leaderboard",
    width: int = DEFAULT_WIDTH,
) -> Group:
    """The leaderboard as rich renderables that fit ``width`` columns without cutting a cell.

    Args:
        runs: Output of :func:`~iadbench.views.leaderboard.collect.collect_runs`.
        reference: The paper's numbers, or ``None`` for none.
        title: Heading (printed as plain text).
        width: Columns the tables must fit (the console's width; 80 when not a terminal).

    Returns:
        A ``Group`` to pass to ``Console.print``; the same inputs give the same output.
    """
    tables = _TerminalTables(runs, reference, width)
    parts: list[RenderableType] = [
        Text(terminal_text(title), style="bold underline"),
        Text(f"{count_of(len(runs.runs), 'stored run')}. {LEGEND}"),
    ]
    parts.append(Text(""))
    parts += overview_tables(tables.model, width)  # before every per-direction table
    for views in tables.model.views.values():
        parts += tables.direction(views)
    notes = tables.notes()
    if notes is not None:
        parts += [Text("Notes", style="bold"), notes]
    return Group(*parts)
