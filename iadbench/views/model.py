"""The presentation model: every table of the leaderboard, built once, for every renderer.

:class:`Presentation` turns collected runs into what the markdown, the terminal, the CSV / JSON
exports and the HTML report show: directions, rows (stored runs and derived trivial baselines),
the number cells with their markers (:data:`COLLAPSED`, :data:`ORACLE`, ...), the paper's numbers
where the computation places them, the labels that tell runs of one method apart, the verdict
against the baselines, and the notes under the tables. Renderers only lay it out: none of them
decides a marker, a placement, a label or a verdict of its own.

Labels and texts stay raw (not escaped): each renderer escapes for its medium. Number cells hold
only digits, markers and ``—``, which need no escaping.

Example:
    >>> from pathlib import Path
    >>> from iadbench.views.leaderboard import collect_runs, load_paper_reference
    >>> model = Presentation(collect_runs(Path("results/runs")), load_paper_reference())
    ... # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from iadbench.analysis.metrics import F1_3CLASS
from iadbench.runs.schema import StatisticsBlock, as_statistics
from iadbench.views.catalogue import (
    CATEGORY_METRICS,
    IN_SAMPLE,
    MISSING,
    TABLE_METRICS,
    percent,
)
from iadbench.views.labels import shown_labels
from iadbench.views.leaderboard.collect import CollectedRuns
from iadbench.views.leaderboard.escape import direction_title, escape_markdown, row_label
from iadbench.views.leaderboard.notes import (
    COLLAPSED,
    EQUALS_BASELINE,
    NOT_COMPARABLE,
    ONE_LABEL,
    ORACLE,
    PLACED,
    Notes,
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
    official_counts,
    one_label,
    row_order,
)
from iadbench.views.verdict import (
    beats_cell,
    categories_cell,
    fitted_on_test_labels,
    in_sample_threshold,
    summary_with_statistics,
)

#: The two groups of the summary tables: pooled over all images, unweighted over categories.
GROUPS: tuple[str, ...] = ("overall", "class_mean")
WITHHELD = f"{MISSING}{NOT_COMPARABLE}"  # the paper's number exists for another setup
PaperPair = tuple[str, str]  # the paper's Acc and F1 cells


@dataclass
class RowView:
    """One row of one direction as every table shows it.

    Attributes:
        direction: The direction the row belongs to.
        row: The table row (stored run or derived baseline).
        number: Position in its direction, from 1 (the terminal's ``#``).
        label: Raw label naming what sets the row apart (:func:`shown_labels`).
        cells: Per group (:data:`GROUPS`): ``n``, metric key → cell, and ``collapsed``
            (``k/K``) in the class-mean group.
        paper: Per group: the paper's (Acc, F1) cells, ``None`` without a number; absent where
            the direction has no paper column.
        categories: Per category (``None``: the mean row): metric key → cell.
        paper_categories: Per category (``None``: mean): the paper's cells; ``None`` where the
            paper has no per-category numbers of the method.
    """

    direction: Direction
    row: LeaderboardRow
    number: int
    label: str
    cells: dict[str, dict[str, str]] = field(default_factory=dict)
    paper: dict[str, PaperPair | None] = field(default_factory=dict)
    categories: dict[str | None, dict[str, str]] = field(default_factory=dict)
    paper_categories: dict[str | None, PaperPair] | None = None

    @property
    def oracle(self) -> bool:
        """Whether the threshold was fitted on the test labels."""
        return fitted_on_test_labels(self.row.threshold)

    @property
    def withheld(self) -> bool:
        """The paper reports the method, on another setup: its numbers are not shown (¶)."""
        return any(pair is not None and pair[0] == WITHHELD for pair in self.paper.values())


class Presentation:
    """Every table of the leaderboard built once; see the module docstring.

    The cells are built in the order the markdown shows them (pooled table, class-mean table,
    text methods, per-category tables) so that the notes they ask for keep that order.

    Attributes:
        runs: The collected runs.
        reference: The paper's numbers, or ``None`` for no paper columns.
        directions: Rows per direction (derived baselines included), sorted.
        views: The same rows per direction with their cells, labels and paper numbers.
        summary_keys: The first view of each configuration, in the summary tables' row order
            (a configuration is one row of the pooled and class-mean tables across directions).
        lenient_rules: The text methods' lenient parsing rules in use (escaped), sorted.
        notes: The markers used and the note lines asked for.
        note_lines: The notes' markdown bullet lines (the legend of the markers first).
    """

    def __init__(self, runs: CollectedRuns, reference: PaperReference | None) -> None:
        self.runs = runs
        self.reference = reference
        self.directions: dict[Direction, DirectionRows] = group_by_direction(runs)
        self.notes = Notes()
        self._statistics: dict[int, StatisticsBlock | None] = {}
        # Per direction: (paper method, category or "ALL") -> trivial baseline scoring the same.
        self._matches = {d: self._baseline_matches(d, r) for d, r in self.directions.items()}
        # Where each reported pooled number belongs (pooled or class-mean table), computed.
        self._placements: dict[tuple[str, str], Placement] = {}
        if reference is not None:
            sizes = {
                d: {c: sum(pair) for c, pair in official_counts(d).items()}
                for d in {d.test_dataset for d in self.directions}
            }
            self._placements = place_pooled_numbers(reference, sizes)
        self.views: dict[Direction, list[RowView]] = {}
        for direction, rows in self.directions.items():
            labels = shown_labels([(r.label, r.method, r.threshold) for r in rows.rows])
            self.views[direction] = [
                RowView(direction, row, i, label)
                for i, (row, label) in enumerate(zip(rows.rows, labels, strict=True), start=1)
            ]
        self.summary_keys = self._summary_keys()
        for group in GROUPS:
            for first in self.summary_keys:
                self.threshold_cell(first.row)
                for view in self.across(first.row.key):
                    if view is not None:
                        self._summary_cells(view, group)
        self.lenient_rules = self._lenient_rules()
        for views in self.views.values():
            for view in views:
                self._category_cells(view)
        self.note_lines = self._note_lines()

    # --- rows

    def _summary_keys(self) -> list[RowView]:
        """The first view of each configuration, in the summary tables' row order."""
        firsts: dict[tuple[Any, ...], RowView] = {}
        for views in self.views.values():
            for view in views:
                firsts.setdefault(view.row.key, view)
        return sorted(firsts.values(), key=lambda view: row_order(view.row))

    def across(self, key: tuple[Any, ...]) -> Iterator[RowView | None]:
        """The view of one configuration in each direction (``None`` where it has none)."""
        for views in self.views.values():
            yield next((v for v in views if v.row.key == key), None)

    def paper_column(self, direction: Direction) -> bool:
        """Whether the summary tables give ``direction`` a paper column."""
        return self.reference is not None and bool(self.reference.methods(direction.test_dataset))

    # --- cells

    def threshold_cell(self, row: LeaderboardRow) -> tuple[str, str]:
        """The raw threshold text (``—`` without one) and its marker.

        ‡ for oracle, ° (:data:`~iadbench.views.catalogue.IN_SAMPLE`) for a threshold chosen on
        images the method was fitted on, else "".
        """
        if row.threshold is None:
            return MISSING, ""
        if fitted_on_test_labels(row.threshold):
            self.notes.markers.add(ORACLE)
            return row.threshold, ORACLE
        if not row.derived and in_sample_threshold(row.source.summary):
            self.notes.markers.add(IN_SAMPLE)
            return row.threshold, IN_SAMPLE
        return row.threshold, ""

    def metric_cell(
        self, metrics: dict[str, Any] | None, key: str, mark_collapse: bool, single: bool = False
    ) -> str:
        """A metric in percent, † after it where ``mark_collapse`` and the group collapsed.

        ∅ after accuracy where ``single``: the group holds one label (:meth:`one_label`).
        """
        if metrics is None:
            return ""
        cell = percent(metrics.get(key))
        if mark_collapse and metrics.get("collapsed"):
            self.notes.markers.add(COLLAPSED)
            cell += COLLAPSED
        if single and key == "accuracy":
            self.notes.markers.add(ONE_LABEL)
            cell += ONE_LABEL
        return cell

    def one_label(self, row: LeaderboardRow, group: str, category: str | None = None) -> bool:
        """Whether a group of a row's test images holds one label (marked ∅ on accuracy).

        ``group`` is ``"overall"`` (all images), ``"class_mean"`` (true when some category
        does: the mean includes it) or ``"category"`` (``category``'s images).
        """
        if group == "overall":
            return one_label(row.overall)
        if group == "category":
            return one_label(row.per_class.get(category or ""))
        return any(one_label(metrics) for metrics in row.per_class.values())

    def _summary_cells(self, view: RowView, group: str) -> None:
        metrics = getattr(view.row, group)
        pooled = group == "overall"
        cells = {"n": str(int(metrics["n"]))}
        single = self.one_label(view.row, group)
        cells |= {
            key: self.metric_cell(metrics, key, pooled and key == "accuracy", single)
            for key in TABLE_METRICS
        }
        if not pooled:
            collapsed = sum(bool(m.get("collapsed")) for m in view.row.per_class.values())
            self.notes.markers.update([COLLAPSED] if collapsed else [])
            cells["collapsed"] = f"{collapsed}/{len(view.row.per_class)}"
        view.cells[group] = cells
        if self.paper_column(view.direction):
            view.paper[group] = self.paper_pair(view.direction, view.row,
                                                POOLED if pooled else None)  # fmt: skip

    def _category_cells(self, view: RowView) -> None:
        row = view.row
        keys = list(CATEGORY_METRICS)
        if float(row.overall.get("invalid_rate") or 0) > 0:
            keys.append("invalid_rate")  # only text methods answer invalidly
        categories = sorted({c for r in self.directions[view.direction].rows for c in r.per_class})
        has_paper = self.reference is not None and self.reference.categories(
            view.direction.test_dataset, row.method
        )
        if has_paper:
            view.paper_categories = {}
        for category in [*categories, None]:
            metrics = row.class_mean if category is None else row.per_class.get(category)
            # Collapse is a per-category property: the mean row carries no † marker (∅ yes).
            single = self.one_label(row, "class_mean" if category is None else "category", category)
            collapse = category is not None
            view.categories[category] = {
                key: self.metric_cell(metrics, key, collapse and key == "accuracy", single)
                for key in keys
            }
            if view.paper_categories is not None:
                pair = self.paper_pair(view.direction, row, category)
                view.paper_categories[category] = pair or (MISSING, MISSING)

    def paper_pair(
        self, direction: Direction, row: LeaderboardRow, category: str | None
    ) -> PaperPair | None:
        """The paper's Acc and F1 cells for a row (``category`` None: mean over categories).

        Returns ``None`` when the paper has no such number, and "—¶" cells when it has one for a
        setup that differs from the run's; "—◊" where the number is placed in the other table.
        """
        reference, test = self.reference, direction.test_dataset
        if reference is None:
            return None
        placement = self._placements.get((test, row.method))
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
            return WITHHELD, WITHHELD
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
        elif (row.method, category) in self._matches[direction]:
            self.notes.markers.add(EQUALS_BASELINE)
            mark = EQUALS_BASELINE
        return f"{number.accuracy_pct:.2f}{mark}", f"{number.f1_macro_pct:.2f}{mark}"

    # --- statistics and the verdict

    def statistics(self, row: LeaderboardRow) -> StatisticsBlock | None:
        """A stored row's statistics block (computed once per run), ``None`` for derived rows."""
        if row.derived:
            return None
        if id(row.source) not in self._statistics:
            summary = summary_with_statistics(row.source)
            self._statistics[id(row.source)] = as_statistics(summary.get("statistics"))
        return self._statistics[id(row.source)]

    def beats(self, row: LeaderboardRow) -> str | None:
        """The Beats cell (:func:`~iadbench.views.verdict.beats_cell`), ``None`` untested."""
        stats = self.statistics(row)
        if stats is None:
            return None
        return beats_cell(stats["mcnemar"], oracle=fitted_on_test_labels(row.threshold))

    def categories_beaten(self, row: LeaderboardRow) -> str | None:
        """``k/K`` categories where the row beats both baselines, ``None`` untested."""
        stats = self.statistics(row)
        if stats is None:
            return None
        return categories_cell(stats["mcnemar_per_class"],
                                     oracle=fitted_on_test_labels(row.threshold))  # fmt: skip

    # --- notes

    def _lenient_rules(self) -> list[str]:
        """Rules of the text methods' lenient parsing (escaped), registering their note."""
        rules: set[str] = set()
        found = False
        for rows in self.directions.values():
            for row in rows.rows:
                lenient = row.source.summary.get("lenient") if not row.derived else None
                if not isinstance(lenient, dict) and F1_3CLASS not in row.overall:
                    continue
                found = True
                if isinstance(lenient, dict) and "rule" in lenient:
                    rules.add(escape_markdown(str(lenient["rule"])))
        if not found:
            return []
        legend = escape_markdown(
            "Text methods: strict = the headline parser (exactly one <answer> block holding "
            "only A or B); lenient rules: lenient:answer-block-letter = the first standalone "
            "capital A or B inside the first <answer>...</answer> block, lenient:yes-in-reply = "
            "AnomalyGPT's 'Yes' in reply → defect. Answered = share of images given a label; "
            "Changed = images whose label the lenient rule changes; F1 3-class = macro-F1 "
            "over {defect, normal, invalid} of the strict labels (2/3 of F1 strict)."
        )
        ordered = sorted(rules - {MISSING})
        self.notes.add("lenient", f"{legend} Rules used here: {', '.join(ordered) or MISSING}.")
        return ordered

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

    def _note_lines(self) -> list[str]:
        """The notes' markdown bullet lines (legend, notes per section, skipped runs)."""
        for direction, rows in self.directions.items():
            if self.reference is not None:
                self.notes.equality_notes(self.reference, direction, self._matches[direction])
                if reference_mismatch(*direction) is None:
                    self._consistency_notes(direction.test_dataset)
            self.notes.direction_notes(self.runs, direction, rows)
        shown = [row for rows in self.directions.values() for row in rows.rows]
        return self.notes.lines(self.runs, shown)

    def _consistency_notes(self, test_dataset: str) -> None:
        """Where the paper's pooled numbers belong, and which F1 values no 2-class F1 reaches."""
        assert self.reference is not None
        self.notes.placement_notes(
            [p for (d, _), p in sorted(self._placements.items()) if d == test_dataset]
        )
        counts = official_counts(test_dataset)
        if counts:
            defects = sum(d for d, _ in counts.values())
            normals = sum(n for _, n in counts.values())
            checks = check_pooled_f1(self.reference, test_dataset, defects, normals)
            self.notes.f1_notes(checks, defects, normals)
