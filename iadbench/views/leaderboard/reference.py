"""The LR-IAD paper's reported numbers (Tables III–VI), packaged as ``reference/paper_tables.csv``.

The paper evaluates every method on the *All* split (train + test) of one dataset after training
on the *other* dataset (VisA → MVTec-AD and MVTec-AD → VisA). Its numbers are therefore only
placed beside a reproduced run that has the same shape; :func:`reference_mismatch` says why a
run does not.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any, NamedTuple

from iadbench.contract.errors import IADBenchError
from iadbench.runs.runspec import ZERO_SHOT

# Key used in the csv's category column for pooled numbers (Tables III and IV).
POOLED = "ALL"
# The paper's cross-dataset pairs: test dataset -> the dataset it trained on.
PAPER_TRAIN_FOR_TEST: dict[str, str] = {"mvtec": "visa", "visa": "mvtec"}
PAPER_TEST_SPLIT = "all"
# The paper prints 2 decimals; a reproduced number this close (in points) is "the same".
PAPER_TOLERANCE_PCT = 0.01
_COLUMNS = ("table", "test_dataset", "category", "method", "accuracy_pct", "f1_macro_pct")


class PaperNumber(NamedTuple):
    """One reported cell pair of the paper, in percent as printed."""

    accuracy_pct: float
    f1_macro_pct: float
    table: str


@dataclass(frozen=True)
class PaperReference:
    """Lookup of the paper's numbers by (test dataset, method, category or ``"ALL"``).

    Attributes:
        entries: Reported numbers keyed by ``(test_dataset, method, category)``; pooled numbers
            use the category :data:`POOLED`.
    """

    entries: dict[tuple[str, str, str], PaperNumber] = field(default_factory=dict)

    def lookup(self, test_dataset: str, method: str, category: str = POOLED) -> PaperNumber | None:
        """Reported number of one method on one test dataset.

        Args:
            test_dataset: Dataset name as stored in runs (``"mvtec"``, ``"visa"``).
            method: Registered method name (``"lr-iad"``).
            category: Category folder name, or ``"ALL"`` for the pooled (Table III/IV) number.

        Returns:
            The number, or ``None`` when the paper does not report it.
        """
        return self.entries.get((test_dataset, method, category))

    def has_method(self, test_dataset: str, method: str) -> bool:
        """Whether the paper reports anything (pooled or per category) for this pair."""
        return any(key[:2] == (test_dataset, method) for key in self.entries)

    def methods(self, test_dataset: str) -> list[str]:
        """Methods the paper reports on ``test_dataset``, sorted."""
        return sorted({method for dataset, method, _ in self.entries if dataset == test_dataset})

    def category_mean(self, test_dataset: str, method: str) -> PaperNumber | None:
        """Unweighted mean of the per-category numbers (Tables V/VI print no mean row).

        Returns:
            The mean (``table`` says which table it averages), or ``None`` without categories.
        """
        values = [
            self.entries[(test_dataset, method, c)] for c in self.categories(test_dataset, method)
        ]
        if not values:
            return None
        return PaperNumber(
            sum(v.accuracy_pct for v in values) / len(values),
            sum(v.f1_macro_pct for v in values) / len(values),
            f"mean of {values[0].table}",
        )

    def categories(self, test_dataset: str, method: str) -> list[str]:
        """Categories with a per-category number for this pair, sorted (pooled key excluded)."""
        return sorted(
            category
            for dataset, name, category in self.entries
            if (dataset, name) == (test_dataset, method) and category != POOLED
        )


def reference_mismatch(
    train_dataset: str, test_dataset: str, test_split: str, tiny: bool = False
) -> str | None:
    """Why the paper's numbers are not comparable with a run, or ``None`` when they are.

    Args:
        train_dataset: Dataset the run trained on (or was paired with); ``"zero-shot"`` for a
            run that reads no training data, comparable whatever the paper trained on.
        test_dataset: Dataset the run was scored on.
        test_split: Split of the test dataset (``"all"``, ``"test"``, ``"train"``).
        tiny: Whether the run used random-weight tiny models.

    Returns:
        A short reason, or ``None``.
    """
    expected_train = PAPER_TRAIN_FOR_TEST.get(test_dataset)
    if expected_train is None:
        return f"the paper does not evaluate on {test_dataset!r}"
    if test_split != PAPER_TEST_SPLIT:
        return f"the paper tests on the All split, this run on the {test_split!r} split"
    if train_dataset not in (expected_train, ZERO_SHOT):
        return (
            f"the paper trains on {expected_train!r} for this test set, this run on "
            f"{train_dataset!r}"
        )
    if tiny:
        return "random-weight tiny models"
    return None


def load_paper_reference(path: Path | None = None) -> PaperReference:
    """Read the paper's reported numbers.

    Args:
        path: A csv with the columns of the packaged file; ``None`` reads the packaged
            ``iadbench/reference/paper_tables.csv``.

    Returns:
        The lookup.

    Raises:
        IADBenchError: The file is missing, lacks a column, or holds a value that is not a number.
    """
    try:
        if path is None:
            # Read through importlib.resources so this also works from a wheel or zip install.
            packaged = files("iadbench") / "reference" / "paper_tables.csv"
            text = packaged.read_text(encoding="utf-8")
            source = "packaged paper_tables.csv"
        else:
            text, source = path.read_text(encoding="utf-8"), str(path)
    except OSError as exc:
        raise IADBenchError(f"Cannot read the paper's reference numbers: {exc}.") from exc
    reader = csv.DictReader(io.StringIO(text))
    missing = [column for column in _COLUMNS if column not in (reader.fieldnames or [])]
    if missing:
        raise IADBenchError(f"The reference csv {source} lacks the columns {', '.join(missing)}.")
    entries: dict[tuple[str, str, str], PaperNumber] = {}
    for line, row in enumerate(reader, start=2):
        try:
            number = PaperNumber(
                float(row["accuracy_pct"]), float(row["f1_macro_pct"]), row["table"].strip()
            )
        except (TypeError, ValueError) as exc:
            raise IADBenchError(f"{source} line {line}: not a number ({exc}).") from exc
        key = (row["test_dataset"].strip(), row["method"].strip(), row["category"].strip())
        entries[key] = number
    return PaperReference(entries)


def matches_paper(number: PaperNumber, metrics: Mapping[str, Any]) -> bool:
    """Whether reproduced metrics (fractions) equal a reported number (percent, 2 decimals).

    Equal means within :data:`PAPER_TOLERANCE_PCT` points on both accuracy and macro-F1.
    """
    return all(
        abs(reported - 100 * float(metrics[key])) <= PAPER_TOLERANCE_PCT + 1e-9
        for reported, key in ((number.accuracy_pct, "accuracy"), (number.f1_macro_pct, "f1_macro"))
    )


def baseline_matches(
    reference: PaperReference,
    test_dataset: str,
    baselines: Mapping[str, Mapping[str, Mapping[str, Any]]],
) -> dict[tuple[str, str], str]:
    """Reported numbers that a trivial baseline scores too, on the same test images.

    A reported accuracy / F1 that a constant answer reproduces says the method (or the report)
    gave one label to every image there: the tables point this out.

    Args:
        reference: The paper's numbers.
        test_dataset: Dataset the baselines were scored on (its All split).
        baselines: Per baseline name, metrics per category plus :data:`POOLED` for the pooled
            metrics (fractions, keys ``accuracy`` and ``f1_macro``).

    Returns:
        ``(paper method, category or "ALL")`` mapped to the first baseline name that matches.
    """
    matches: dict[tuple[str, str], str] = {}
    for (dataset, method, category), number in sorted(reference.entries.items()):
        if dataset != test_dataset:
            continue
        for name, groups in baselines.items():
            metrics = groups.get(category)
            if metrics is not None and matches_paper(number, metrics):
                matches.setdefault((method, category), name)
    return matches


# --- Where each pooled (Table III / IV) number belongs, found by computation.

#: The number is consistent with a pooled figure (the pooled accuracy its per-category rows imply).
PLACED_POOLED = "pooled"
#: The number equals the unweighted mean of the method's per-category rows.
PLACED_CLASS_MEAN = "class_mean"
#: Neither: kept in the pooled table as printed, with a note.
PLACED_NEITHER = "neither"
#: No per-category rows to check against: taken as pooled, unchecked.
PLACED_UNCHECKED = "unchecked"


@dataclass(frozen=True)
class Placement:
    """Which table a reported pooled number is consistent with.

    Attributes:
        test_dataset: Dataset name.
        method: Method name.
        number: The reported number (Table III or IV).
        where: One of :data:`PLACED_POOLED`, :data:`PLACED_CLASS_MEAN`, :data:`PLACED_NEITHER`,
            :data:`PLACED_UNCHECKED`.
        category_mean: Unweighted mean of the method's per-category rows, or ``None``.
        implied_pooled_accuracy: Accuracy (percent) of all images implied by the per-category
            accuracies weighted by the categories' image counts, or ``None`` without counts.
        equal_categories: Categories whose own row equals the number (within rounding).
    """

    test_dataset: str
    method: str
    number: PaperNumber
    where: str
    category_mean: PaperNumber | None = None
    implied_pooled_accuracy: float | None = None
    equal_categories: tuple[str, ...] = ()


def _close(a: float, b: float) -> bool:
    # Two printed 2-decimal values (or a mean of them) agree within rounding.
    return abs(a - b) <= PAPER_TOLERANCE_PCT + 1e-9


def place_pooled_numbers(
    reference: PaperReference, counts: Mapping[str, Mapping[str, int]]
) -> dict[tuple[str, str], Placement]:
    """Place each reported pooled number by comparing it with the method's per-category rows.

    A pooled number equal (accuracy and F1 within :data:`PAPER_TOLERANCE_PCT`) to the unweighted
    mean of the method's per-category rows is a class mean. Otherwise it is pooled when its
    accuracy equals the accuracy of all images implied by the per-category accuracies weighted
    by each category's image count (``counts``), and "neither" when that check fails too. Each
    category row equal to the number is recorded. Without per-category rows it is unchecked.

    Args:
        reference: The paper's numbers.
        counts: Per test dataset, images per category (the All split).

    Returns:
        ``(test_dataset, method)`` mapped to the placement of its pooled number.
    """
    placements = {}
    for (dataset, method, category), number in sorted(reference.entries.items()):
        if category != POOLED:
            continue
        categories = reference.categories(dataset, method)
        mean = reference.category_mean(dataset, method)
        if mean is None:
            placements[(dataset, method)] = Placement(dataset, method, number, PLACED_UNCHECKED)
            continue
        rows = {c: reference.entries[(dataset, method, c)] for c in categories}
        equal = tuple(
            c
            for c, row in rows.items()
            if _close(row.accuracy_pct, number.accuracy_pct)
            and _close(row.f1_macro_pct, number.f1_macro_pct)
        )
        sizes = counts.get(dataset, {})
        implied = None
        if categories and all(sizes.get(c) for c in categories):
            total = sum(sizes[c] for c in categories)
            implied = sum(rows[c].accuracy_pct * sizes[c] for c in categories) / total
        if _close(mean.accuracy_pct, number.accuracy_pct) and _close(
            mean.f1_macro_pct, number.f1_macro_pct
        ):
            where = PLACED_CLASS_MEAN
        elif implied is not None and _close(implied, number.accuracy_pct):
            where = PLACED_POOLED
        else:
            where = PLACED_NEITHER
        placements[(dataset, method)] = Placement(
            dataset, method, number, where, mean, implied, equal
        )
    return placements


def macro_f1_range(defects: int, normals: int, accuracy_pct: float) -> tuple[float, float]:
    """Lowest and highest two-class macro-F1 any predictions can score at a printed accuracy.

    Predictions may be defect, normal or invalid (an invalid answer is wrong for both classes).
    Every number of correct images whose accuracy rounds to ``accuracy_pct`` (2 decimals) and
    every split of them into true defects / true normals is tried; for a split, F1 is lowest
    when every wrong answer is the other letter and highest when every wrong answer is invalid.

    Args:
        defects: Defect images of the test set.
        normals: Normal images of the test set.
        accuracy_pct: The accuracy as printed, in percent.

    Returns:
        ``(lowest, highest)`` macro-F1 over {defect, normal} as fractions; ``(nan, nan)`` when no
        number of correct images gives that accuracy.
    """
    n = defects + normals
    low, high = float("inf"), float("-inf")
    if n == 0:
        return float("nan"), float("nan")
    for correct in range(n + 1):
        if abs(100 * correct / n - accuracy_pct) > 0.005 + 1e-9:
            continue
        for tp in range(max(0, correct - normals), min(defects, correct) + 1):
            tn = correct - tp

            def f1(fp: int, missed_as_normal: int, tp: int = tp, tn: int = tn) -> float:
                f1_defect = 2 * tp / (tp + defects + fp) if tp + defects + fp else 0.0
                f1_normal = 2 * tn / (tn + normals + missed_as_normal) if tn + normals else 0.0
                return (f1_defect + f1_normal) / 2

            low = min(low, f1(normals - tn, defects - tp))
            high = max(high, f1(0, 0))
    if low == float("inf"):
        return float("nan"), float("nan")
    return low, high


@dataclass(frozen=True)
class F1Check:
    """Whether a reported F1 is possible at its reported accuracy, two-class and three-class.

    Attributes:
        test_dataset: Dataset name.
        method: Method name.
        number: The reported pooled number.
        two_class: Range (percent) of macro-F1 over {defect, normal} at that accuracy.
        three_class: Range (percent) of macro-F1 over {defect, normal, invalid}: 2/3 of the
            two-class range, since no image is truly invalid (that class scores F1 = 0).
    """

    test_dataset: str
    method: str
    number: PaperNumber
    two_class: tuple[float, float]
    three_class: tuple[float, float]

    @property
    def two_class_possible(self) -> bool:
        """The reported F1 lies in the two-class range (within printing precision)."""
        return _within(self.number.f1_macro_pct, self.two_class)

    @property
    def three_class_possible(self) -> bool:
        """The reported F1 lies in the three-class range (within printing precision)."""
        return _within(self.number.f1_macro_pct, self.three_class)


def _within(value: float, bounds: tuple[float, float]) -> bool:
    return bounds[0] - 0.005 - 1e-9 <= value <= bounds[1] + 0.005 + 1e-9


def check_pooled_f1(
    reference: PaperReference, test_dataset: str, defects: int, normals: int
) -> list[F1Check]:
    """For each reported pooled number on ``test_dataset``: the F1 ranges at its accuracy.

    Args:
        reference: The paper's numbers.
        test_dataset: Dataset name.
        defects: Defect images of its All split.
        normals: Normal images of its All split.

    Returns:
        One check per pooled number, sorted by method.
    """
    checks = []
    for (dataset, method, category), number in sorted(reference.entries.items()):
        if dataset != test_dataset or category != POOLED:
            continue
        low, high = macro_f1_range(defects, normals, number.accuracy_pct)
        two = (100 * low, 100 * high)
        checks.append(F1Check(dataset, method, number, two, (2 * two[0] / 3, 2 * two[1] / 3)))
    return checks
