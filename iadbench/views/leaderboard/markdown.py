"""Render collected runs as leaderboard markdown: pooled, class-mean and per-category tables.

Honesty is part of the layout: trivial baselines are always present, balanced accuracy, invalid
rate and AUROC stand beside accuracy / F1, collapsed cells, oracle thresholds and tiny models
are marked, and the paper's numbers appear only beside runs shaped like the paper's (with a
note where a reported number equals what a constant predictor scores). Each of the paper's pooled
numbers is placed by computation (pooled or class-mean table, see
:func:`~iadbench.views.leaderboard.reference.place_pooled_numbers`), and text methods get a table of
strict vs lenient answer parsing. Text read from runs is escaped with
:func:`~iadbench.views.leaderboard.escape.escape_markdown`.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any

from tabulate import tabulate

from iadbench.analysis.metrics import COLLAPSE_SHARE, F1_3CLASS
from iadbench.views.leaderboard.collect import CollectedRuns
from iadbench.views.leaderboard.escape import direction_title, escape_markdown, row_label
from iadbench.views.leaderboard.notes import (
    COLLAPSED,
    EQUALS_BASELINE,
    NOT_COMPARABLE,
    ORACLE,
    PER_CATEGORY_TABLE,
    PLACED,
    Notes,
    count_of,
)
from iadbench.views.leaderboard.reference import (
    PLACED_CLASS_MEAN,
    PLACED_NEITHER,
    POOLED,
    PaperReference,
    Placement,
    baseline_matches,
    check_pooled_f1,
    place_pooled_numbers,
    reference_mismatch,
)
from iadbench.views.leaderboard.rows import (
    TRIVIAL_BASELINES,
    Direction,
    DirectionRows,
    LeaderboardRow,
    group_by_direction,
    row_order,
)
from iadbench.views.leaderboard.statistics_table import statistics_section

MISSING = "—"
# Columns of one direction's group in the pooled and class-mean tables.
_METRIC_COLUMNS = ("n", "Acc", "F1", "Bal.Acc", "Invalid", "AUROC", "AP")
_DEFINITIONS = (
    "Percent, 2 decimals. Acc = share of images answered correctly; F1 = macro-F1 over {defect, "
    "normal} (a label never predicted scores F1 = 0); Bal.Acc = mean recall over the labels "
    "present; Invalid = share of unparseable answers (scored as wrong); AUROC and AP (average "
    "precision) where the method gives scores (defect = positive); collapse flag "
    f"{COLLAPSED} = one label for ≥{COLLAPSE_SHARE:.0%} of a category's images. Directions are "
    "train→test on the test dataset's All split unless the split is named; in the pooled and "
    "class-mean tables the first row names the direction of each column group. Train split is — "
    "for methods without a training stage."
)


def official_counts(dataset: str) -> dict[str, tuple[int, int]]:
    """(defects, normals) per category of a dataset's All split, from its official counts.

    Empty for datasets without official counts (folder datasets).
    """
    from iadbench.data import reader_class

    counts = getattr(reader_class(dataset), "official_counts", None) or {}
    return {c: (v.test_defect, v.total - v.test_defect) for c, v in counts.items()}


def _pct(value: Any) -> str:
    return MISSING if value is None else f"{100 * float(value):.2f}"


class _Renderer:
    """Builds the tables and, on the way, records which markers and notes they need."""

    def __init__(self, runs: CollectedRuns, reference: PaperReference | None) -> None:
        self.runs = runs
        self.reference = reference
        self.directions = group_by_direction(runs)
        self.notes = Notes()
        # Per direction: (paper method, category or "ALL") -> trivial baseline scoring the same.
        self.matches = {d: self._baseline_matches(d, r) for d, r in self.directions.items()}
        # Where each reported pooled number belongs (pooled or class-mean table), computed.
        self.placements: dict[tuple[str, str], Placement] = {}
        if reference is not None:
            sizes = {
                d: {c: sum(pair) for c, pair in official_counts(d).items()}
                for d in {d.test_dataset for d in self.directions}
            }
            self.placements = place_pooled_numbers(reference, sizes)

    # --- cells

    def threshold_cell(self, row: LeaderboardRow) -> str:
        if row.threshold is None:
            return MISSING
        if row.threshold == "oracle":
            self.notes.markers.add(ORACLE)
            return f"oracle{ORACLE}"
        return escape_markdown(row.threshold)

    def metric_cell(self, metrics: dict[str, Any] | None, key: str, mark_collapse: bool) -> str:
        if metrics is None:
            return ""
        if mark_collapse and metrics.get("collapsed"):
            self.notes.markers.add(COLLAPSED)
            return _pct(metrics.get(key)) + COLLAPSED
        return _pct(metrics.get(key))

    def paper_pair(
        self, direction: Direction, row: LeaderboardRow, category: str | None
    ) -> tuple[str, str] | None:
        """The paper's Acc and F1 cells for a row (``category`` None: mean over categories).

        Returns ``None`` when the paper has no such number, and "—¶" cells when it has one for a
        setup that differs from the run's.
        """
        reference, test = self.reference, direction.test_dataset
        if reference is None:
            return None
        placement = self.placements.get((test, row.method))
        placed = placement.where if placement is not None else None
        if category is None:
            number = reference.category_mean(test, row.method)
            if placed == PLACED_CLASS_MEAN:
                number = placement.number if placement is not None else number
        else:
            number = reference.lookup(test, row.method, category)
        if number is None:
            return None
        reason = reference_mismatch(*direction, tiny=row.tiny)
        if reason is not None:
            self.notes.markers.add(NOT_COMPARABLE)
            self.notes.add(
                "not_comparable",
                f"{row_label(row)} in {direction_title(direction)}: "
                f"paper numbers not shown, {escape_markdown(reason)}.",
            )
            return f"{MISSING}{NOT_COMPARABLE}", f"{MISSING}{NOT_COMPARABLE}"
        if category == POOLED and placed == PLACED_CLASS_MEAN:
            self.notes.markers.add(PLACED)  # a class mean: shown in the class-mean table
            return f"{MISSING}{PLACED}", f"{MISSING}{PLACED}"
        if (category is None and placed == PLACED_CLASS_MEAN) or (
            category == POOLED and placed == PLACED_NEITHER
        ):
            self.notes.markers.add(PLACED)
            return f"{number.accuracy_pct:.2f}", f"{number.f1_macro_pct:.2f}{PLACED}"
        mark = ""
        if category is None:
            self.notes.paper_mean_shown = True
        elif (row.method, category) in self.matches[direction]:
            self.notes.markers.add(EQUALS_BASELINE)
            mark = EQUALS_BASELINE
        return f"{number.accuracy_pct:.2f}{mark}", f"{number.f1_macro_pct:.2f}{mark}"

    # --- pooled and class-mean tables (shape of Table III)

    def summary_table(self, group: str) -> str:
        """Rows = configurations, a column group per direction; ``group`` names the metrics.

        Headers stay short (``n``, ``Acc``, ...); the first row names each direction in bold
        above its group's first column, so the table keeps Table III's side-by-side shape without
        repeating the direction in every header.
        """
        headers, band = ["Method", "Threshold", "Train split"], ["", "", ""]
        widths: dict[Direction, int] = {}
        for direction in self.directions:
            columns = self._summary_columns(direction, group)
            widths[direction] = len(columns)
            headers += columns
            band += [f"**{direction_title(direction)}**"] + [""] * (len(columns) - 1)
        firsts: dict[tuple[Any, ...], LeaderboardRow] = {}
        for rows in self.directions.values():
            for row in rows.rows:
                firsts.setdefault(row.key, row)
        table = [band]
        for key, first in sorted(firsts.items(), key=lambda item: row_order(item[1])):
            split = MISSING if first.train_split is None else escape_markdown(first.train_split)
            line = [row_label(first), self.threshold_cell(first), split]
            for direction, rows in self.directions.items():
                found = next((r for r in rows.rows if r.key == key), None)
                if found is None:
                    line += [""] * widths[direction]
                else:
                    line += self._summary_cells(direction, found, group)
            table.append(line)
        return _table(headers, table, left=3)

    def _summary_columns(self, direction: Direction, group: str) -> list[str]:
        columns = list(_METRIC_COLUMNS) + ["Collapsed"] * (group == "class_mean")
        return columns + ["Paper Acc / F1"] * self._paper_column(direction)

    def _paper_column(self, direction: Direction) -> bool:
        """Whether the pooled and class-mean tables give ``direction`` a paper column."""
        return self.reference is not None and bool(self.reference.methods(direction.test_dataset))

    def _summary_cells(self, direction: Direction, row: LeaderboardRow, group: str) -> list[str]:
        metrics = getattr(row, group)
        cells = [str(int(metrics["n"])), self.metric_cell(metrics, "accuracy", group == "overall")]
        cells += [
            self.metric_cell(metrics, key, False)
            for key in ("f1_macro", "balanced_accuracy", "invalid_rate", "auroc", "ap")
        ]
        if group == "class_mean":
            collapsed = sum(bool(m.get("collapsed")) for m in row.per_class.values())
            self.notes.markers.update([COLLAPSED] if collapsed else [])
            cells.append(f"{collapsed}/{len(row.per_class)}")
        if self._paper_column(direction):
            pair = self.paper_pair(direction, row, POOLED if group == "overall" else None)
            if pair is None or pair[0].startswith(MISSING):
                cells.append(MISSING if pair is None else pair[0])
            else:
                cells.append(" / ".join(pair))
        return cells

    # --- per-category tables (shape of Tables V / VI)

    def category_table(self, direction: Direction, rows: DirectionRows) -> str:
        """Rows = categories and a mean row; one column group per configuration."""
        categories = sorted({c for row in rows.rows for c in row.per_class})
        counts = rows.counts_source.summary["per_class"]
        headers, columns = ["Category", "n"], []
        for row in rows.rows:
            label = row_label(row)
            headers += [f"{label} Acc", f"{label} F1"]
            columns.append(partial(self._metric_cells, row, ("accuracy", "f1_macro")))
            if float(row.overall.get("invalid_rate") or 0) > 0:
                headers.append(f"{label} Inv")
                columns.append(partial(self._metric_cells, row, ("invalid_rate",)))
            if self.reference and self.reference.categories(direction.test_dataset, row.method):
                headers += [f"{label} Paper Acc", f"{label} Paper F1"]
                columns.append(partial(self._paper_cells, direction, row))
        table = []
        for category in categories:
            n = (
                counts.get(category)
                or next(r.per_class[category] for r in rows.rows if category in r.per_class)
            )["n"]
            table.append(
                [
                    escape_markdown(category),
                    str(int(n)),
                    *(cell for column in columns for cell in column(category)),
                ]
            )
        total = str(sum(int(m["n"]) for m in counts.values()))
        table.append(["**mean**", total, *(cell for column in columns for cell in column(None))])
        return _table(headers, table, left=1)

    def _metric_cells(
        self, row: LeaderboardRow, keys: tuple[str, ...], category: str | None
    ) -> list[str]:
        metrics = row.class_mean if category is None else row.per_class.get(category)
        # Collapse is a per-category property: the mean row carries no marker.
        return [
            self.metric_cell(metrics, key, key == "accuracy" and category is not None)
            for key in keys
        ]

    def _paper_cells(
        self, direction: Direction, row: LeaderboardRow, category: str | None
    ) -> list[str]:
        return list(self.paper_pair(direction, row, category) or (MISSING, MISSING))

    # --- honesty notes

    def _baseline_matches(
        self, direction: Direction, rows: DirectionRows
    ) -> dict[tuple[str, str], str]:
        if self.reference is None or reference_mismatch(*direction) is not None:
            return {}
        baselines: dict[str, dict[str, dict[str, Any]]] = {}
        for row in rows.rows:  # sorted: stored rows before derived ones
            if row.method in TRIVIAL_BASELINES and row.method not in baselines:
                baselines[row.method] = {**row.per_class, POOLED: row.overall}
        return baseline_matches(self.reference, direction.test_dataset, baselines)

    def _consistency_notes(self, test_dataset: str) -> None:
        """Where the paper's pooled numbers belong, and which F1 values no 2-class F1 reaches."""
        assert self.reference is not None
        self.notes.placement_notes(
            [p for (d, _), p in sorted(self.placements.items()) if d == test_dataset]
        )
        counts = official_counts(test_dataset)
        if counts:
            defects = sum(d for d, _ in counts.values())
            normals = sum(n for _, n in counts.values())
            checks = check_pooled_f1(self.reference, test_dataset, defects, normals)
            self.notes.f1_notes(checks, defects, normals)

    # --- text methods: strict vs lenient parsing

    def lenient_table(self) -> str | None:
        """Text methods' strict and lenient figures side by side, or ``None`` without any.

        One line per text-method row, direction and group (pooled, class mean).
        """
        headers = [
            "Method", "Direction", "Group", "Lenient rule", "Answered strict",
            "Answered lenient", "Changed", "Acc strict", "Acc lenient", "F1 strict",
            "F1 lenient", "Bal.Acc strict", "Bal.Acc lenient", "F1 3-class",
        ]  # fmt: skip
        table = []
        for direction, rows in self.directions.items():
            for row in rows.rows:
                lenient = row.source.summary.get("lenient") if not row.derived else None
                if not isinstance(lenient, dict) and F1_3CLASS not in row.overall:
                    continue
                lenient = lenient if isinstance(lenient, dict) else {}
                rule = escape_markdown(str(lenient.get("rule", MISSING)))
                for group, title in (("overall", "pooled"), ("class_mean", "class mean")):
                    strict = getattr(row, group)
                    block = lenient.get(group)
                    loose = block if isinstance(block, dict) else {}
                    changed = loose.get("changed")
                    table.append([
                        row_label(row), direction_title(direction), title, rule,
                        _pct(loose.get("strict_accepted_rate")),
                        _pct(loose.get("accepted_rate")),
                        MISSING if changed is None else str(int(changed)),
                        _pct(strict.get("accuracy")), _pct(loose.get("accuracy")),
                        _pct(strict.get("f1_macro")), _pct(loose.get("f1_macro")),
                        _pct(strict.get("balanced_accuracy")),
                        _pct(loose.get("balanced_accuracy")), _pct(strict.get(F1_3CLASS)),
                    ])  # fmt: skip
        if not table:
            return None
        rules = sorted({line[3] for line in table if line[3] != MISSING})  # escaped already
        legend = escape_markdown(
            "Text methods: strict = the headline parser (exactly one <answer> block holding "
            "only A or B); lenient rules: lenient:answer-block-letter = the first standalone "
            "capital A or B inside the first <answer>...</answer> block, lenient:yes-in-reply = "
            "AnomalyGPT's 'Yes' in reply → defect. Answered = share of images given a label; "
            "Changed = images whose label the lenient rule changes; F1 3-class = macro-F1 "
            "over {defect, normal, invalid} of the strict labels (2/3 of F1 strict)."
        )
        self.notes.add("lenient", f"{legend} Rules used here: {', '.join(rules) or MISSING}.")
        return _table(headers, table, left=4)

    def render_notes(self) -> list[str]:
        for direction, rows in self.directions.items():
            if self.reference is not None:
                self.notes.equality_notes(self.reference, direction, self.matches[direction])
                if reference_mismatch(*direction) is None:
                    self._consistency_notes(direction.test_dataset)
            self.notes.direction_notes(self.runs, direction, rows)
        shown = [row for rows in self.directions.values() for row in rows.rows]
        return self.notes.lines(self.runs, shown)


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], left: int) -> str:
    align = ["left"] * left + ["right"] * (len(headers) - left)
    return tabulate(
        rows, headers=list(headers), tablefmt="pipe", disable_numparse=True, colalign=align
    )


def render_leaderboard(
    runs: CollectedRuns,
    reference: PaperReference | None = None,
    *,
    title: str = "iadbench leaderboard",
) -> str:
    """Leaderboard markdown of collected runs.

    Args:
        runs: Output of :func:`~iadbench.views.leaderboard.collect.collect_runs`.
        reference: The paper's numbers (see
            :func:`~iadbench.views.leaderboard.reference.load_paper_reference`), or ``None`` for no
            paper columns.
        title: Heading of the document (escaped).

    Returns:
        The markdown, ending with a newline; the same inputs always give the same text.
    """
    renderer = _Renderer(runs, reference)
    parts = [
        f"# {escape_markdown(title)}",
        f"Generated from {count_of(len(runs.runs), 'stored run')} by `iadbench leaderboard`; "
        f"do not edit by hand, regenerate it. {_DEFINITIONS}",
        "## Pooled over all test images (shape of the paper's Table III)",
        renderer.summary_table("overall"),
        "## Class mean: unweighted mean over categories (what Tables V/VI average)",
        renderer.summary_table("class_mean"),
    ]
    lenient = renderer.lenient_table()
    if lenient is not None:
        parts += ["## Text methods: strict vs lenient answer parsing", lenient]
    for direction, rows in renderer.directions.items():
        table = PER_CATEGORY_TABLE.get(direction.test_dataset)
        shape = f" (shape of the paper's Table {table})" if table else ""
        parts += [
            f"## Per category: {direction_title(direction)}{shape}",
            renderer.category_table(direction, rows),
        ]
    parts += statistics_section(renderer.directions)  # intervals and McNemar tests
    notes = renderer.render_notes()
    if notes:
        parts += ["## Notes", "\n".join(notes)]
    return "\n\n".join(parts) + "\n"
