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

from iadbench.errors import IADBenchError

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
        train_dataset: Dataset the run trained on (or was paired with).
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
    if train_dataset != expected_train:
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
