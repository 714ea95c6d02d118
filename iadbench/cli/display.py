"""Rich rendering for the terminal: progress bars and result tables."""

from __future__ import annotations

from typing import Any

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from iadbench.cli.app import console


class RichProgress:
    """Progress hook drawing one bar per piece of long work (``iadbench.progress.ProgressHook``)."""

    def __init__(self) -> None:
        self._progress: Progress | None = None
        self._task: Any = None

    def start(self, description: str, total: int) -> None:  # noqa: D102
        self.finish()
        self._progress = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
            TimeElapsedColumn(), TimeRemainingColumn(), console=console, transient=True,
        )  # fmt: skip
        self._progress.start()
        self._task = self._progress.add_task(description, total=total)

    def advance(self, count: int) -> None:  # noqa: D102
        if self._progress is not None:
            self._progress.advance(self._task, count)

    def finish(self) -> None:  # noqa: D102
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.2f}"


def summary_table(summary: dict[str, Any]) -> Table:
    """Per-category, pooled and class-mean metrics of one run, in percent."""
    from iadbench.run_records import train_source

    test = summary["test"]
    title = (
        f"{summary['method']}  train {train_source(summary, split=True)} → "
        f"test {test['dataset']}/{test['split']}  threshold {summary.get('threshold') or '—'}"
        + ("  [tiny random weights]" if summary.get("tiny") else "")
    )
    table = Table(
        title=title, title_justify="left", caption_justify="left",
        caption="Percent. flag †: one label for ≥95% of the category's images (collapsed).",
    )  # fmt: skip
    for column in ("category", "n", "Acc", "F1", "Bal.Acc", "Invalid", "Errors", "AUROC", "flag"):
        table.add_column(
            column, justify="left" if column in ("category", "flag") else "right", no_wrap=True
        )
    rows = [
        *summary["per_class"].items(),
        ("pooled", summary["overall"]),
        ("class mean", summary["class_mean"]),
    ]
    for index, (name, m) in enumerate(rows):
        table.add_row(
            name, str(m["n"]), _pct(m["accuracy"]), _pct(m["f1_macro"]),
            _pct(m["balanced_accuracy"]),
            _pct(m["invalid_rate"]), str(m["errors"]), _pct(m["auroc"]),
            "†" if m.get("collapsed") else "",
            end_section=index == len(summary["per_class"]) - 1,
        )  # fmt: skip
    return table
