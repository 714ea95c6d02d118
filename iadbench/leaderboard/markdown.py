"""Render collected runs as leaderboard markdown: pooled, class-mean and per-category tables.

Honesty is part of the layout: trivial baselines are always present, balanced accuracy, invalid
rate and AUROC stand beside accuracy / F1, collapsed cells, oracle thresholds and tiny models
are marked, and the paper's numbers appear only beside runs shaped like the paper's (with a
note where a reported number equals what a constant predictor scores).

Every piece of text read from a run (method names, categories, datasets, splits, hashes, paths)
goes through :func:`escape_markdown`; tabulate is called with ``disable_numparse`` and adds no
escaping of its own, so nothing is escaped twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any

from tabulate import tabulate

from iadbench.leaderboard.collect import (
    TRIVIAL_BASELINES,
    CollectedRuns,
    Direction,
    DirectionRows,
    LeaderboardRow,
    group_by_direction,
    row_order,
)
from iadbench.leaderboard.reference import (
    POOLED,
    PaperReference,
    baseline_matches,
    reference_mismatch,
)
from iadbench.metrics import COLLAPSE_SHARE

DATASET_NAMES: dict[str, str] = {"mvtec": "MVTec-AD", "visa": "VisA"}
COLLAPSED = "†"
ORACLE = "‡"
EQUALS_BASELINE = "§"
NOT_COMPARABLE = "¶"
MISSING = "—"
_BACKSLASHED = set("\\|`*_[]#~")
_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_PER_CATEGORY_TABLE = {"visa": "V", "mvtec": "VI"}
_DEFINITIONS = (
    "Percent, 2 decimals. Acc = share of images answered correctly; F1 = macro-F1 over {defect, "
    "normal} (a label never predicted scores F1 = 0); Bal.Acc = mean recall over the labels "
    "present; Invalid = share of unparseable answers (scored as wrong); AUROC where the method "
    f"gives scores (defect = positive); collapse flag {COLLAPSED} = one label for "
    f"≥{COLLAPSE_SHARE:.0%} of a category's images. Directions are train→test on the test "
    "dataset's All split unless the split is named."
)
_NOTE_SECTIONS = (
    "pooled_equals",
    "category_equals",
    "derived",
    "not_comparable",
    "counts",
    "errors",
)


def escape_markdown(text: str) -> str:
    """Make untrusted text inert inside a markdown table cell.

    Pipes, backslashes, backticks, emphasis, link, heading and strike characters are
    backslash-escaped; ``&``, ``<`` and ``>`` become entities (no HTML injection); newlines and
    other control characters become spaces so a value cannot end a table row.

    Args:
        text: Any text; non-strings are converted with ``str``.

    Returns:
        The escaped text.
    """
    out = []
    for char in str(text):
        if char in _BACKSLASHED:
            out.append("\\" + char)
        elif char in _ENTITIES:
            out.append(_ENTITIES[char])
        elif char < " " or char == "\x7f" or char in "\u2028\u2029\x85":
            out.append(" ")
        else:
            out.append(char)
    return "".join(out)


def dataset_name(name: str) -> str:
    """Display name of a dataset (``mvtec`` → ``MVTec-AD``), escaped."""
    return DATASET_NAMES.get(name) or escape_markdown(name)


def direction_title(direction: Direction) -> str:
    """``VisA→MVTec-AD``, with the test split named when it is not All."""
    title = f"{dataset_name(direction.train_dataset)}→{dataset_name(direction.test_dataset)}"
    if direction.test_split != "all":
        title += f" ({escape_markdown(direction.test_split)} split)"
    return title


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'s' * (number != 1)}"


def _pct(value: Any) -> str:
    return MISSING if value is None else f"{100 * float(value):.2f}"


class _Renderer:
    """Builds the tables and, on the way, records which markers and notes they need."""

    def __init__(self, runs: CollectedRuns, reference: PaperReference | None) -> None:
        self.runs = runs
        self.reference = reference
        self.directions = group_by_direction(runs)
        self.markers: set[str] = set()
        self.notes: dict[str, list[str]] = {section: [] for section in _NOTE_SECTIONS}
        self.paper_mean_shown = False
        # Per direction: (paper method, category or "ALL") -> trivial baseline scoring the same.
        self.matches = {d: self._baseline_matches(d, r) for d, r in self.directions.items()}

    def note(self, section: str, line: str) -> None:
        if line not in self.notes[section]:
            self.notes[section].append(line)

    # --- cells

    def row_label(self, row: LeaderboardRow) -> str:
        label = escape_markdown(row.label)
        return label + " (derived)" * row.derived + " (tiny)" * row.tiny

    def threshold_cell(self, row: LeaderboardRow) -> str:
        if row.threshold is None:
            return MISSING
        if row.threshold == "oracle":
            self.markers.add(ORACLE)
            return f"oracle{ORACLE}"
        return escape_markdown(row.threshold)

    def metric_cell(self, metrics: dict[str, Any] | None, key: str, mark_collapse: bool) -> str:
        if metrics is None:
            return ""
        if mark_collapse and metrics.get("collapsed"):
            self.markers.add(COLLAPSED)
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
        if category is None:
            number = reference.category_mean(test, row.method)
        else:
            number = reference.lookup(test, row.method, category)
        if number is None:
            return None
        reason = reference_mismatch(*direction, tiny=row.tiny)
        if reason is not None:
            self.markers.add(NOT_COMPARABLE)
            self.note(
                "not_comparable",
                f"{self.row_label(row)} in {direction_title(direction)}: "
                f"paper numbers not shown, {escape_markdown(reason)}.",
            )
            return f"{MISSING}{NOT_COMPARABLE}", f"{MISSING}{NOT_COMPARABLE}"
        mark = ""
        if category is None:
            self.paper_mean_shown = True
        elif (row.method, category) in self.matches[direction]:
            self.markers.add(EQUALS_BASELINE)
            mark = EQUALS_BASELINE
        return f"{number.accuracy_pct:.2f}{mark}", f"{number.f1_macro_pct:.2f}{mark}"

    # --- pooled and class-mean tables (shape of Table III)

    def summary_table(self, group: str) -> str:
        """Rows = configurations, a column group per direction; ``group`` names the metrics."""
        with_paper = {
            d: self.reference is not None and bool(self.reference.methods(d.test_dataset))
            for d in self.directions
        }
        headers = ["Method", "Threshold", "Train split"]
        for direction in self.directions:
            columns = ["n", "Acc", "F1", "Bal.Acc", "Invalid", "AUROC"]
            paper = with_paper[direction]
            columns += ["Collapsed"] * (group == "class_mean") + ["Paper Acc / F1"] * paper
            headers += [f"{direction_title(direction)} {column}" for column in columns]
        firsts: dict[tuple[Any, ...], LeaderboardRow] = {}
        for rows in self.directions.values():
            for row in rows.rows:
                firsts.setdefault(row.key, row)
        table = []
        for key, first in sorted(firsts.items(), key=lambda item: row_order(item[1])):
            split = MISSING if first.train_split is None else escape_markdown(first.train_split)
            line = [self.row_label(first), self.threshold_cell(first), split]
            for direction, rows in self.directions.items():
                row = next((r for r in rows.rows if r.key == key), None)
                line += self._summary_cells(direction, row, group, with_paper[direction])
            table.append(line)
        return _table(headers, table, left=3)

    def _summary_cells(
        self, direction: Direction, row: LeaderboardRow | None, group: str, with_paper: bool
    ) -> list[str]:
        if row is None:
            return [""] * (6 + (group == "class_mean") + with_paper)
        metrics = getattr(row, group)
        cells = [str(int(metrics["n"])), self.metric_cell(metrics, "accuracy", group == "overall")]
        cells += [
            self.metric_cell(metrics, key, False)
            for key in ("f1_macro", "balanced_accuracy", "invalid_rate", "auroc")
        ]
        if group == "class_mean":
            collapsed = sum(bool(m.get("collapsed")) for m in row.per_class.values())
            self.markers.update([COLLAPSED] if collapsed else [])
            cells.append(f"{collapsed}/{len(row.per_class)}")
        if with_paper:
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
            label = self.row_label(row)
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

    def collect_notes(self) -> None:
        for direction, rows in self.directions.items():
            self._equality_notes(direction)
            title = direction_title(direction)
            source = escape_markdown(self.runs.relative(rows.counts_source.path))
            for row in rows.rows:
                if row.derived:
                    self.note(
                        "derived",
                        f"{self.row_label(row)} in {title}: no stored run; "
                        f"computed from the label counts of the run in {source}.",
                    )
                if errors := int(row.overall.get("errors") or 0):
                    self.note(
                        "errors",
                        f"{self.row_label(row)} in {title}: {_count(errors, 'image')} could "
                        "not be processed (scored as wrong).",
                    )
            if missing := [m for m in TRIVIAL_BASELINES if m not in {r.method for r in rows.rows}]:
                self.note(
                    "derived",
                    f"{title}: no {' / '.join(missing)} row: no stored run, and no run with "
                    "confusion counts (tp, fn) to derive one from.",
                )
            if rows.counts_differ:
                names = ", ".join(self.row_label(r) for r in rows.counts_differ)
                self.note(
                    "counts",
                    f"{title}: {names} scored on other per-category label counts "
                    f"than the run in {source}: not the same test images.",
                )

    def _equality_notes(self, direction: Direction) -> None:
        reference, test = self.reference, direction.test_dataset
        by_method: dict[tuple[str, str], list[str]] = {}
        for (method, category), baseline in self.matches[direction].items():
            by_method.setdefault((method, baseline), []).append(category)
        if reference is None:
            return
        name, where = dataset_name(test), direction_title(direction)
        for (method, baseline), categories in sorted(by_method.items()):
            if POOLED in categories and (number := reference.lookup(test, method)):
                self.note(
                    "pooled_equals",
                    f"The paper's {escape_markdown(method)} on {name} "
                    f"(Table {number.table}: {number.accuracy_pct:.2f} / "
                    f"{number.f1_macro_pct:.2f}) equals what {baseline} scores on the same "
                    f"{name} All images ({where}): a constant answer reproduces it.",
                )
            if per_category := sorted(c for c in categories if c != POOLED):
                total = len(reference.categories(test, method))
                self.note(
                    "category_equals",
                    f"The paper's per-category {escape_markdown(method)} "
                    f"numbers on {name} (Table {_PER_CATEGORY_TABLE.get(test, '?')}) equal "
                    f"{baseline}'s in {len(per_category)} of {total} categories: "
                    f"{', '.join(escape_markdown(c) for c in per_category)}.",
                )

    def render_notes(self) -> list[str]:
        self.collect_notes()
        legend = {
            COLLAPSED: f"{COLLAPSED} collapsed: one label for ≥{COLLAPSE_SHARE:.0%} of the images "
            "of a category (pooled table: of all images); the class-mean table counts the "
            "collapsed categories.",
            ORACLE: f"{ORACLE} oracle threshold: fitted on the test labels, an upper bound, not a "
            "deployable result.",
            EQUALS_BASELINE: f"{EQUALS_BASELINE} the paper's number equals a trivial baseline's "
            "on the same images (see below).",
            NOT_COMPARABLE: f"{NOT_COMPARABLE} the paper reports this method on another setup: "
            "the All split of the test dataset, trained on the other dataset (reasons below).",
        }
        out = [legend[m] for m in legend if m in self.markers]
        if any(row.tiny for rows in self.directions.values() for row in rows.rows):
            out.append("(tiny): random-weight tiny models, not comparable to the paper.")
        if self.paper_mean_shown:
            out.append(
                "Paper numbers in the class-mean table and the mean rows: unweighted mean "
                "of the paper's Table V/VI values, computed here."
            )
        out += [line for section in _NOTE_SECTIONS for line in self.notes[section]]
        out += [
            f"Skipped {escape_markdown(self.runs.relative(s.path))}: {escape_markdown(s.reason)}."
            for s in self.runs.skipped
        ]
        return [f"- {line}" for line in out]


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
        runs: Output of :func:`~iadbench.leaderboard.collect.collect_runs`.
        reference: The paper's numbers (see
            :func:`~iadbench.leaderboard.reference.load_paper_reference`), or ``None`` for no
            paper columns.
        title: Heading of the document (escaped).

    Returns:
        The markdown, ending with a newline; the same inputs always give the same text.
    """
    renderer = _Renderer(runs, reference)
    parts = [
        f"# {escape_markdown(title)}",
        f"Generated from {_count(len(runs.runs), 'stored run')} by `iadbench leaderboard`; "
        f"do not edit by hand, regenerate it. {_DEFINITIONS}",
        "## Pooled over all test images (shape of the paper's Table III)",
        renderer.summary_table("overall"),
        "## Class mean: unweighted mean over categories (what Tables V/VI average)",
        renderer.summary_table("class_mean"),
    ]
    for direction, rows in renderer.directions.items():
        table = _PER_CATEGORY_TABLE.get(direction.test_dataset)
        shape = f" (shape of the paper's Table {table})" if table else ""
        parts += [
            f"## Per category: {direction_title(direction)}{shape}",
            renderer.category_table(direction, rows),
        ]
    notes = renderer.render_notes()
    if notes:
        parts += ["## Notes", "\n".join(notes)]
    return "\n\n".join(parts) + "\n"
