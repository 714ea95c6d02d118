"""The notes under the leaderboard tables: the legend of the markers, and what a reader must know.

The tables record which markers they used and which notes they need while they are built (a
:class:`Notes`); the note lines say where a row was derived, where runs were scored on other
images, where the paper's numbers were withheld, and where a reported number equals what a
constant predictor scores.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from iadbench.analysis.metrics import COLLAPSE_SHARE
from iadbench.views.catalogue import IN_SAMPLE
from iadbench.views.leaderboard.collect import CollectedRuns
from iadbench.views.leaderboard.escape import (
    dataset_name,
    direction_title,
    escape_markdown,
    row_label,
)
from iadbench.views.leaderboard.reference import (
    PLACED_CLASS_MEAN,
    PLACED_NEITHER,
    PLACED_POOLED,
    POOLED,
    F1Check,
    PaperReference,
    Placement,
)
from iadbench.views.leaderboard.rows import (
    TRIVIAL_BASELINES,
    Direction,
    DirectionRows,
    LeaderboardRow,
    only_label,
)

COLLAPSED = "†"
ORACLE = "‡"
EQUALS_BASELINE = "§"
NOT_COMPARABLE = "¶"
PLACED = "◊"
ONE_LABEL = "∅"
PER_CATEGORY_TABLE = {"visa": "V", "mvtec": "VI"}
# Order of the note sections under the legend.
SECTIONS = (
    "pooled_equals", "category_equals", "placement", "f1_check", "lenient", "derived",
    "not_comparable", "counts", "one_label", "errors",
)  # fmt: skip
_LEGEND = {
    COLLAPSED: f"{COLLAPSED} collapsed: one label for ≥{COLLAPSE_SHARE:.0%} of the images of a "
    "category (pooled table: of all images); the class-mean table counts the collapsed "
    "categories.",
    ORACLE: f"{ORACLE} oracle threshold: fitted on the test labels, an upper bound, not a "
    "deployable result.",
    EQUALS_BASELINE: f"{EQUALS_BASELINE} the paper's number equals a trivial baseline's on the "
    "same images (see below).",
    NOT_COMPARABLE: f"{NOT_COMPARABLE} the paper reports this method on another setup: the All "
    "split of the test dataset, trained on the other dataset (reasons below).",
    PLACED: f"{PLACED} the paper's Table III number was placed by computation from its "
    "per-category rows (Tables V/VI): a class mean is shown in the class-mean table, not the "
    "pooled one; a number consistent with neither stays in the pooled table as printed (see "
    "below).",
    IN_SAMPLE: f"{IN_SAMPLE} in-sample threshold: chosen on images the method was fitted on "
    "(no held-out image served: summary.json's calibration), optimistic for new images.",
    ONE_LABEL: f"{ONE_LABEL} one label: the test images of a category (pooled table: all of "
    "them; class-mean table and mean rows: of some category) are all normal or all defective, so "
    "accuracy means nothing there (a constant answer scores 100 %) and AUROC / AP are undefined "
    "(which categories: below).",
}


def count_of(number: int, noun: str) -> str:
    """``1 image``, ``2 images``."""
    return f"{number} {noun}{'s' * (number != 1)}"


@dataclass
class Notes:
    """Markers the tables used and note lines they asked for, in first-asked order.

    Attributes:
        markers: Marker characters shown in some cell (their legend lines are written).
        sections: Note lines per section of :data:`SECTIONS`, without duplicates.
        paper_mean_shown: A paper number averaged here over categories was shown.
    """

    markers: set[str] = field(default_factory=set)
    sections: dict[str, list[str]] = field(default_factory=lambda: {s: [] for s in SECTIONS})
    paper_mean_shown: bool = False

    def add(self, section: str, line: str) -> None:
        """Add a note line to a section unless it is there already."""
        if line not in self.sections[section]:
            self.sections[section].append(line)

    def direction_notes(
        self, runs: CollectedRuns, direction: Direction, rows: DirectionRows
    ) -> None:
        """Notes on the rows of one direction: derived or missing baselines, errors, counts."""
        title = direction_title(direction)
        source = escape_markdown(runs.relative(rows.counts_source.path))
        for row in rows.rows:
            if row.derived:
                self.add(
                    "derived",
                    f"{row_label(row)} in {title}: no stored run; "
                    f"computed from the label counts of the run in {source}.",
                )
            if errors := int(row.overall.get("errors") or 0):
                self.add(
                    "errors",
                    f"{row_label(row)} in {title}: {count_of(errors, 'image')} could "
                    "not be processed (scored as wrong).",
                )
        if missing := [m for m in TRIVIAL_BASELINES if m not in {r.method for r in rows.rows}]:
            self.add(
                "derived",
                f"{title}: no {' / '.join(missing)} row: no stored run, and no run with "
                "confusion counts (tp, fn) to derive one from.",
            )
        self._one_label_notes(title, rows)
        if rows.counts_differ:
            names = ", ".join(row_label(r) for r in rows.counts_differ)
            self.add(
                "counts",
                f"{title}: {names} scored on other per-category label counts "
                f"than the run in {source}: not the same test images.",
            )

    def _one_label_notes(self, title: str, rows: DirectionRows) -> None:
        """Which categories of a direction's test images hold one label, for which rows (∅)."""
        by_categories: dict[str, list[str]] = {}
        for row in (row for row in rows.rows if not row.derived):  # derived: a stored row's counts
            single = [
                f"{escape_markdown(category)} ({label} only)"
                for category, metrics in sorted(row.per_class.items())
                if (label := only_label(metrics)) is not None
            ]
            if single:
                by_categories.setdefault(", ".join(single), []).append(row_label(row))
        for categories, names in by_categories.items():
            self.add(
                "one_label",
                f"{title}, {', '.join(names)}: the test images of {categories} hold one label: "
                "accuracy and F1 there say nothing about the method, and the class mean "
                "includes them; a test split with both labels in every category (no --limit 1) "
                "gives meaningful ones.",
            )

    def equality_notes(
        self, reference: PaperReference, direction: Direction, matches: dict[tuple[str, str], str]
    ) -> None:
        """Notes on reported numbers that a trivial baseline scores on the same images.

        Args:
            reference: The paper's numbers.
            direction: The direction whose baselines were compared.
            matches: ``(paper method, category or "ALL")`` -> the baseline scoring the same.
        """
        test = direction.test_dataset
        by_method: dict[tuple[str, str], list[str]] = {}
        for (method, category), baseline in matches.items():
            by_method.setdefault((method, baseline), []).append(category)
        name, where = dataset_name(test), direction_title(direction)
        for (method, baseline), categories in sorted(by_method.items()):
            if POOLED in categories and (number := reference.lookup(test, method)):
                self.add(
                    "pooled_equals",
                    f"The paper's {escape_markdown(method)} on {name} "
                    f"(Table {number.table}: {number.accuracy_pct:.2f} / "
                    f"{number.f1_macro_pct:.2f}) equals what {baseline} scores on the same "
                    f"{name} All images ({where}): a constant answer reproduces it.",
                )
            if per_category := sorted(c for c in categories if c != POOLED):
                total = len(reference.categories(test, method))
                self.add(
                    "category_equals",
                    f"The paper's per-category {escape_markdown(method)} "
                    f"numbers on {name} (Table {PER_CATEGORY_TABLE.get(test, '?')}) equal "
                    f"{baseline}'s in {len(per_category)} of {total} categories: "
                    f"{', '.join(escape_markdown(c) for c in per_category)}.",
                )

    def placement_notes(self, placements: list[Placement]) -> None:
        """Notes on where each reported pooled number of one test dataset belongs, and why."""
        unchecked: dict[str, list[str]] = {}
        for p in placements:
            name, table = dataset_name(p.test_dataset), PER_CATEGORY_TABLE.get(p.test_dataset, "?")
            head = (
                f"The paper's {escape_markdown(p.method)} on {name} (Table {p.number.table}: "
                f"{p.number.accuracy_pct:.2f} / {p.number.f1_macro_pct:.2f})"
            )
            mean, rows = p.category_mean, ""
            if mean is not None:
                rows = (
                    f"its Table {table} rows (unweighted mean {mean.accuracy_pct:.2f} / "
                    f"{mean.f1_macro_pct:.2f}"
                )
                if p.implied_pooled_accuracy is not None:
                    rows += (
                        "; pooled accuracy they imply with the official image counts "
                        f"{p.implied_pooled_accuracy:.2f}"
                    )
                rows += ")"
            equal = ""
            if p.equal_categories:
                cats = ", ".join(escape_markdown(c) for c in p.equal_categories)
                equal = f" It equals its own {cats} row of Table {table}."
            if p.where == PLACED_CLASS_MEAN:
                line = f"{head} equals the class mean of {rows}: shown in the class-mean table."
            elif p.where == PLACED_NEITHER:
                line = (
                    f"{head} is consistent with neither the class mean nor the pooled accuracy "
                    f"of {rows}: shown in the pooled table as printed.{equal}"
                )
            elif p.where == PLACED_POOLED:
                line = f"{head} is pooled: its accuracy agrees with {rows}.{equal}"
            else:
                unchecked.setdefault(name, []).append(
                    f"{escape_markdown(p.method)} (Table {p.number.table})"
                )
                continue
            self.add("placement", line)
        for name, methods in unchecked.items():
            self.add(
                "placement",
                f"The paper's pooled numbers of {', '.join(methods)} on {name} have no "
                "per-category rows to check them against: shown as pooled, unchecked.",
            )

    def f1_notes(self, checks: list[F1Check], defects: int, normals: int) -> None:
        """Notes on reported F1 values that no two-class macro-F1 can reach at their accuracy."""
        n = defects + normals
        for c in checks:
            if c.two_class_possible:
                continue
            name = dataset_name(c.test_dataset)
            head = (
                f"The paper's {escape_markdown(c.method)} on {name} (Table {c.number.table}: "
                f"{c.number.accuracy_pct:.2f} / {c.number.f1_macro_pct:.2f})"
            )
            if c.two_class[0] != c.two_class[0]:  # nan: no count gives that accuracy
                self.add(
                    "f1_check",
                    f"{head}: no number of correct images out of the {n} images of {name} All "
                    f"gives {c.number.accuracy_pct:.2f} % accuracy, so it is not a pooled "
                    "accuracy.",
                )
                continue
            verdict = (
                f"which includes {c.number.f1_macro_pct:.2f} (a two-class F1 of "
                f"{1.5 * c.number.f1_macro_pct:.2f}): consistent with a 3-class macro-F1 "
                "(arithmetic only, not proof)"
                if c.three_class_possible
                else f"which excludes {c.number.f1_macro_pct:.2f} too: the 3-class hypothesis "
                "does not explain it"
            )
            self.add(
                "f1_check",
                f"{head}: at {c.number.accuracy_pct:.2f} % accuracy on the {n} images of {name} "
                f"All ({defects} defect), any predictions (defect, normal or invalid) score a "
                f"macro-F1 over {{defect, normal}} between {c.two_class[0]:.2f} and "
                f"{c.two_class[1]:.2f}, so {c.number.f1_macro_pct:.2f} is not one. A macro-F1 "
                f"over {{defect, normal, invalid}} (F1 3-class, always 2/3 of the two-class "
                f"value) lies between {c.three_class[0]:.2f} and {c.three_class[1]:.2f}, "
                f"{verdict}.",
            )

    def lines(self, runs: CollectedRuns, rows: list[LeaderboardRow]) -> list[str]:
        """The markdown bullet lines: legend, tiny and paper-mean notes, sections, skipped runs.

        Args:
            runs: The collected runs (their skipped directories are listed last).
            rows: Every row shown in the tables.
        """
        out = [line for marker, line in _LEGEND.items() if marker in self.markers]
        if any(row.tiny for row in rows):
            out.append(
                "(tiny): random-weight tiny models, not comparable to the paper; "
                "a tiny row's [model=CHECKPOINT] names the checkpoint it loaded instead (e.g. "
                "a warm start)."
            )
        if self.paper_mean_shown:
            out.append(
                "Paper numbers in the class-mean table and the mean rows: unweighted mean "
                "of the paper's Table V/VI values, computed here."
            )
        out += [line for section in SECTIONS for line in self.sections[section]]
        out += [
            f"Skipped {escape_markdown(runs.relative(s.path))}: {escape_markdown(s.reason)}."
            for s in runs.skipped
        ]
        return [f"- {line}" for line in out]
