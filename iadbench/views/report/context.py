"""What the HTML report shows, built from stored runs: verdicts, tables, charts, gallery.

Everything here is data for the template. Strings stay raw (method names, categories, model
text, paths): the template escapes every one of them (Jinja2 autoescape), so nothing here may
pre-escape or mark anything safe. The only values the template prints unescaped-looking are
``data:`` URIs, which are base64 and go into ``src`` attributes (escaped all the same).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import iadbench.views.report.charts as charts
from iadbench.contract.records import DEFECT, INVALID, NORMAL
from iadbench.runs.reader import Outcome, StoredRun
from iadbench.views.catalogue import (
    CATALOGUE,
    CATEGORY_METRICS,
    IN_SAMPLE,
    INTERVAL_METRICS,
    MISSING,
    TABLE_METRICS,
)
from iadbench.views.catalogue import interval_text as format_interval
from iadbench.views.catalogue import percent as format_percent
from iadbench.views.leaderboard.collect import CollectedRuns
from iadbench.views.leaderboard.reference import PaperReference
from iadbench.views.report.gallery import Gallery, Overlays, build_gallery, build_overlays
from iadbench.views.report.predictions import report_outcomes
from iadbench.views.report.tables import (
    GroupLine,
    LeaderboardTable,
    OverviewSection,
    PixelSection,
    ScoreSection,
    build_leaderboard,
    defect_group_rows,
    one_label_marked,
    sample_level_rows,
)
from iadbench.views.verdict import (
    BASELINES,
    ORACLE_MARK,
    Verdict,
    bootstrap_block,
    fitted_on_test_labels,
    in_sample_threshold,
    interval,
    summary_with_statistics,
    verdict,
)

METRICS = tuple((key, CATALOGUE[key].name) for key in TABLE_METRICS)
CHART_METRICS = tuple((key, CATALOGUE[key].name) for key in CATEGORY_METRICS)
DASH = MISSING
DECIMALS = 1  # the report's tables sit beside charts: one decimal is what a reader compares


def percent(value: Any) -> str:
    """A fraction as a percentage with one decimal, or "—" when absent."""
    return format_percent(value, DECIMALS)


def interval_text(bounds: tuple[float, float] | None) -> str:
    """``[lo, hi]`` in percent, or "—"."""
    return format_interval(bounds, DECIMALS, brackets=True)


@dataclass
class RunView:
    """One run as every section shows it.

    Attributes:
        anchor: HTML id of the run (derived from its position, never from its name).
        label: Row label (the model's, :func:`~iadbench.views.model.shown_labels`: method,
            partial-run marks, and every setting in which runs of the method differ, the
            threshold policy included).
        method: Registered method name.
        train: ``dataset (split)``, or ``zero-shot`` for a run without training data.
        test: ``dataset (split)`` of the images scored.
        threshold: The threshold policy (``oracle‡`` for an oracle one), or "—".
        path: Run directory relative to the report's root.
        baseline: Whether the method is one of the trivial baselines.
        tiny: Whether the run used random-weight tiny models.
        verdict: The verdict (see :mod:`iadbench.views.verdict`).
        pooled: Pooled metrics in percent, by metric key.
        class_mean: Class-mean metrics in percent, by metric key.
        intervals: Pooled 95 % intervals as text, by metric key ("—" when absent).
        per_class: Per category: metric key → percent.
        per_class_raw: Per category: metric key → fraction (for charts).
        per_class_intervals: Per category: metric key → interval text.
        confusion: Truth (defect / normal) → answer (defect / normal / invalid) → count.
        answers: The run's final answers (empty when predictions.jsonl is unreadable).
        gives_scores: The method declares scores (``capabilities.gives_scores``).
        gives_text: The method declares text (``capabilities.gives_text``).
        colour: The run's colour in every chart (:func:`build_context` hands them out once).
    """

    anchor: str
    label: str
    method: str
    train: str
    test: str
    threshold: str
    path: str
    baseline: bool
    tiny: bool
    verdict: Verdict
    pooled: dict[str, str]
    class_mean: dict[str, str]
    intervals: dict[str, str]
    per_class: dict[str, dict[str, str]]
    per_class_raw: dict[str, dict[str, float | None]]
    per_class_intervals: dict[str, dict[str, str]]
    confusion: dict[str, dict[str, int]]
    answers: list[Outcome] = field(repr=False)
    gives_scores: bool = False
    gives_text: bool = False
    colour: str = "#1f77b4"

    @property
    def name(self) -> str:
        """Label and direction, as legends and headings name a run."""
        return f"{self.label}: {self.train} → {self.test}"


@dataclass
class TestSetView:
    """The runs scored on one test set (same images): tables and charts that compare them.

    Attributes:
        title: ``dataset (split)``.
        runs: The runs, baselines last.
        categories: Categories found in any run's per-class metrics, sorted.
        bars: Per-category bar chart (``data:`` URI).
        curves: ROC / PR chart of the score runs, or None when there is none.
        curve_notes: Score runs left out of the curves, and why.
        defect_types: Rows ``(category, defect type, n, {run anchor: recall text})``.
        series: What :attr:`bars` draws, one per run (colour included).
        curve_data: What :attr:`curves` draws, one per run with a curve (colour included).
        defect_groups: MVTec LOCO's logical vs structural figures, ``(run name, line)``.
        sample_levels: Real-IAD's sample-level figures (views grouped), ``(run name, line)``.
    """

    title: str
    runs: list[RunView]
    categories: list[str]
    bars: str
    curves: str | None
    curve_notes: list[str]
    defect_types: list[tuple[str, str, int, dict[str, str]]]
    series: list[charts.Series] = field(default_factory=list, repr=False)
    curve_data: list[charts.Curve] = field(default_factory=list, repr=False)
    defect_groups: list[tuple[str, GroupLine]] = field(default_factory=list)
    sample_levels: list[tuple[str, GroupLine]] = field(default_factory=list)


@dataclass
class ReportContext:
    """Everything the template renders.

    Attributes:
        title: Page title.
        root: The directory the runs were collected from.
        generated: UTC time stamp.
        runs: Every kept run.
        skipped: ``(relative path, reason)`` of run dirs left out.
        test_sets: Per test set comparisons.
        galleries: Reasoning galleries of text methods.
        overlays: Anomaly-map overlays of runs that stored maps.
        alpha: Significance level of the verdict.
        leaderboard: The leaderboard's pooled and class-mean tables per direction (the same
            rows as the markdown: derived baselines and the paper's placed numbers included).
        notes: The leaderboard's notes, marker legend first (plain text).
        baselines: The baselines' names, in the order of the verdict's comparison columns.
        scores: Score methods' operating points, calibration and reliability diagrams.
        pixels: Map methods' pixel AUROC and AUPRO.
        overview: The N × N overview (tables and heat map), ``None`` for two datasets.
    """

    title: str
    root: str
    generated: str
    runs: list[RunView]
    skipped: list[tuple[str, str]]
    test_sets: list[TestSetView]
    galleries: list[Gallery]
    overlays: list[Overlays]
    alpha: float
    leaderboard: list[LeaderboardTable] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    baselines: tuple[str, ...] = BASELINES
    scores: list[ScoreSection] = field(default_factory=list)
    pixels: list[PixelSection] = field(default_factory=list)
    overview: OverviewSection | None = None


def _side(summary: Mapping[str, Any], key: str, trains: bool) -> str:
    side = summary.get(key)
    if not isinstance(side, Mapping):
        return "zero-shot"
    dataset = str(side.get("dataset", "?"))
    split = side.get("split")
    # A method that never trains was only paired with a training set: its split means nothing.
    return f"{dataset} ({split})" if split is not None and (trains or key == "test") else dataset


def _metrics(group: Any) -> dict[str, str]:
    group = group if isinstance(group, Mapping) else {}
    return {key: percent(group.get(key)) for key, _ in METRICS}


def _confusion(answers: Sequence[Outcome]) -> dict[str, dict[str, int]]:
    table = {truth: dict.fromkeys((DEFECT, NORMAL, INVALID), 0) for truth in (DEFECT, NORMAL)}
    for answer in answers:
        table[answer.label][answer.pred] += 1
    return table


def run_view(run: StoredRun, index: int, root: Path, label: str | None = None) -> RunView:
    """The view of one stored run (reads its predictions once).

    Args:
        run: The stored run.
        index: Its position among the report's runs (gives the HTML anchor).
        root: The report's root directory (run paths are shown relative to it).
        label: The label it is shown with (default: :attr:`StoredRun.label`).
    """
    summary = summary_with_statistics(run)
    capabilities = summary.get("capabilities")
    capabilities = capabilities if isinstance(capabilities, Mapping) else {}
    trains = capabilities.get("trains") is True
    boot = bootstrap_block(summary)
    boot_classes = boot.get("per_class") if boot is not None else None
    boot_classes = boot_classes if isinstance(boot_classes, Mapping) else {}
    judged = verdict(summary)
    per_class = summary.get("per_class")
    per_class = per_class if isinstance(per_class, Mapping) else {}
    answers = report_outcomes(run)
    threshold = summary.get("threshold")
    try:
        path = run.path.relative_to(root).as_posix() or "."
    except ValueError:
        path = run.path.as_posix()
    return RunView(
        anchor=f"run-{index}",
        label=label or run.label or str(summary.get("method")),
        method=str(summary.get("method")),
        train=_side(summary, "train", trains),
        test=_side(summary, "test", True),
        threshold=DASH if threshold is None else _threshold(str(threshold), summary),
        path=path,
        baseline=summary.get("method") in BASELINES,
        tiny=summary.get("tiny") is True,
        verdict=judged,
        pooled=one_label_marked(_metrics(summary.get("overall")), [summary.get("overall")]),
        # The mean includes a one-label category: ∅ as in the leaderboard tables.
        class_mean=one_label_marked(_metrics(summary.get("class_mean")), per_class.values()),
        intervals={
            key: interval_text((judged.intervals or {}).get(key)) for key in INTERVAL_METRICS
        },
        per_class={
            str(cat): one_label_marked(_metrics(group), [group]) for cat, group in per_class.items()
        },
        per_class_raw={
            str(cat): {
                key: (float(v) if isinstance(v := group.get(key), int | float) else None)
                for key, _ in CHART_METRICS
            }
            for cat, group in per_class.items()
            if isinstance(group, Mapping)
        },
        per_class_intervals={
            str(cat): {
                key: interval_text(interval(boot_classes.get(cat), key)) for key, _ in CHART_METRICS
            }
            for cat in per_class
        },
        confusion=_confusion(answers),
        answers=answers,
        gives_scores=capabilities.get("gives_scores") is True,
        gives_text=capabilities.get("gives_text") is True,
    )


def _threshold(policy: str, summary: Mapping[str, Any]) -> str:
    """The policy as the tables show it, with its marker.

    ``oracle‡`` marks a threshold fitted on the test labels, ``°`` one chosen on images the
    method was fitted on (in-sample).
    """
    if fitted_on_test_labels(policy):
        return policy + ORACLE_MARK
    return policy + IN_SAMPLE * in_sample_threshold(summary)


def _curve(run: RunView) -> charts.Curve | str:
    """The ROC / PR points of a score run (every image, as its AUROC), or why there are none."""
    if not any(a.score is not None for a in run.answers):
        return f"{run.name}: no image has a score"
    truth = [a.label for a in run.answers]
    if len(set(truth)) < 2:
        return f"{run.name}: needs defect and normal images, has one label only"
    return charts.score_curve(run.name, run.colour, truth, [a.score for a in run.answers])


def _defect_types(
    runs: Sequence[tuple[RunView, Mapping[str, Any]]],
) -> list[tuple[str, str, int, dict[str, str]]]:
    rows: dict[tuple[str, str], tuple[int, dict[str, str]]] = {}
    for view, summary in runs:
        table = summary.get("per_defect_type")
        if not isinstance(table, Mapping):
            continue
        for category, kinds in table.items():
            for kind, cell in (kinds if isinstance(kinds, Mapping) else {}).items():
                if not isinstance(cell, Mapping):
                    continue
                n, rates = rows.setdefault((str(category), str(kind)), (int(cell.get("n", 0)), {}))
                rates[view.anchor] = percent(cell.get("rate"))
    return [(cat, kind, n, rates) for (cat, kind), (n, rates) in sorted(rows.items())]


def test_set_view(title: str, runs: Sequence[tuple[RunView, Mapping[str, Any]]]) -> TestSetView:
    """Tables and charts comparing the runs scored on one test set."""
    views = _chart_order(v for v, _ in runs)
    categories = sorted({cat for view in views for cat in view.per_class})
    series = [
        charts.Series(view.name, view.colour,
                      {f"{cat}/{key}": view.per_class_raw.get(cat, {}).get(key)
                       for cat in categories for key, _ in CHART_METRICS})
        for view in views
    ]  # fmt: skip
    curves: list[charts.Curve] = []
    notes: list[str] = []
    for view in views:
        # A text method may record scores beside its answer (AnomalyGPT: the map's maximum), and
        # the tables then show its AUROC: its curves belong here as well as a score method's.
        if view.gives_scores or any(a.score is not None for a in view.answers):
            found = _curve(view)
            (notes.append(found) if isinstance(found, str) else curves.append(found))
    return TestSetView(
        title=title,
        runs=views,
        categories=categories,
        bars=charts.category_bars(categories, series, CHART_METRICS),
        curves=charts.roc_pr_chart(curves) if curves else None,
        curve_notes=notes,
        defect_types=_defect_types(runs),
        series=series,
        curve_data=curves,
        defect_groups=defect_group_rows((view.name, summary) for view, summary in runs),
        sample_levels=sample_level_rows((view.name, summary) for view, summary in runs),
    )


def _chart_order(views: Iterable[RunView]) -> list[RunView]:
    """Runs as a test set shows them: baselines last, then by label and training set."""
    return sorted(views, key=lambda v: (v.baseline, v.label, v.train))


def build_context(
    collected: CollectedRuns,
    title: str = "iadbench report",
    reference: PaperReference | None = None,
) -> ReportContext:
    """The whole report's data from the runs :func:`collect_runs` kept.

    Args:
        collected: Complete runs and the skipped ones.
        title: Page title.
        reference: The paper's numbers for the leaderboard tables, or ``None`` for none.
    """
    leaderboard = build_leaderboard(collected, reference)
    runs = [
        run_view(run, i, collected.root, label)
        for i, (run, label) in enumerate(zip(collected.runs, leaderboard.labels, strict=True))
    ]
    by_test: dict[str, list[tuple[RunView, Mapping[str, Any]]]] = {}
    for view, run in zip(runs, collected.runs, strict=True):
        by_test.setdefault(view.test, []).append((view, run.summary))
    # One colour per run in every chart, handed out once in the order the test sets show the
    # runs; a run of the same label and training set keeps its colour on every test set.
    shown = [v for name in sorted(by_test) for v in _chart_order(v for v, _ in by_test[name])]
    colours = charts.run_colours(((v.label, v.train), v.method) for v in shown)
    for view in runs:
        view.colour = colours[(view.label, view.train)]
    roots = [_test_root(run.manifest) for run in collected.runs]
    return ReportContext(
        title=title,
        root=collected.root.as_posix(),
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        runs=runs,
        skipped=[(collected.relative(s.path), s.reason) for s in collected.skipped],
        test_sets=[test_set_view(name, by_test[name]) for name in sorted(by_test)],
        galleries=[build_gallery(v, root) for v, root in zip(runs, roots, strict=True)
                   if v.gives_text],
        overlays=[found for v, run, root in zip(runs, collected.runs, roots, strict=True)
                  if (found := build_overlays(v, run.path, root)) is not None],
        alpha=Verdict.alpha,  # the level every verdict is judged at
        leaderboard=leaderboard.tables,
        notes=leaderboard.notes,
        scores=leaderboard.scores,
        pixels=leaderboard.pixels,
        overview=leaderboard.overview,
    )  # fmt: skip


def _test_root(manifest: Mapping[str, Any]) -> str | None:
    """The test dataset's root as the manifest recorded it (absolute), or None."""
    config = manifest.get("config")
    test = config.get("test") if isinstance(config, Mapping) else None
    root = test.get("root") if isinstance(test, Mapping) else None
    return root if isinstance(root, str) else None
