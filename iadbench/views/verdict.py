"""The verdict of every view: does a run beat both trivial baselines, and on how many categories?

It reads ``summary["statistics"]`` (bootstrap intervals and McNemar's exact test against the
always-normal and always-defect baselines on the same images). For runs stored before the block
existed the report passes the block :func:`iadbench.analysis.statistics.statistics_of_run` computes
from
their predictions (what the runner writes today); a summary with no readable block is
``untested`` and its intervals show as "—", never a guess.

A run *beats* a baseline when McNemar's p-value is below ``significance.ALPHA`` **and** it is more
accurate on those images (a significant difference in the wrong direction is not a win).

A run whose threshold was fitted on the test labels (``oracle``) never beats anything: its
accuracy is an upper bound, not a result. It is decided here, once, for the markdown, the
terminal, the exports and the HTML report: :data:`ORACLE_STATUS`, and :data:`NOT_COUNTED` in the
tables' "Beats" cells.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from iadbench.analysis.significance import ALPHA, beats
from iadbench.contract.records import TRIVIAL_BASELINES
from iadbench.runs.reader import StoredRun
from iadbench.runs.schema import McNemarBlock, as_statistics
from iadbench.views.catalogue import (
    INTERVAL_METRICS,
    MISSING,
    interval_text,
    p_value_text,
    percent,
)

BASELINES: tuple[str, ...] = tuple(TRIVIAL_BASELINES)  # the comparisons' (and columns') order
ORACLE = "oracle"  # the threshold policy fitted on the test labels
ORACLE_MARK = "‡"

BEATS_BOTH = "beats both baselines"
NOT_BOTH = "does not beat both baselines"
UNTESTED = "untested (no statistics in summary.json)"
ORACLE_STATUS = (
    f"not counted{ORACLE_MARK}: oracle threshold, fitted on the test labels (an upper bound)"
)
NOT_COUNTED = f"not counted{ORACLE_MARK}"  # the Beats cell of an oracle run


def in_sample_threshold(summary: Mapping[str, Any]) -> bool:
    """Whether a run's threshold was chosen on images its method was fitted on (marked °).

    Only a summary that says so (``calibration.held_out`` false); a run stored before the key
    existed is not marked, so old tables render as they did.
    """
    calibration = summary.get("calibration")
    return isinstance(calibration, Mapping) and calibration.get("held_out") is False


def fitted_on_test_labels(threshold: object) -> bool:
    """Whether a threshold policy was fitted on the test labels (``oracle``).

    The one place every view asks: such a run is marked ‡ and never beats a baseline.
    """
    return threshold == ORACLE


@dataclass(frozen=True)
class Comparison:
    """McNemar's test of a run against one baseline on the same images.

    Attributes:
        baseline: ``always-normal`` or ``always-defect``.
        p_value: Exact two-sided McNemar p-value.
        better: Images this run gets right and the baseline wrong.
        worse: Images the baseline gets right and this run wrong.
        accuracy_delta: This run's accuracy minus the baseline's.
    """

    baseline: str
    p_value: float
    better: int
    worse: int
    accuracy_delta: float

    @property
    def beats(self) -> bool:
        """Significantly (p < ALPHA) and in the right direction (:func:`.significance.beats`)."""
        block = McNemarBlock(p_value=self.p_value, better=self.better, worse=self.worse,
                             accuracy_delta=self.accuracy_delta)  # fmt: skip
        return beats(block) > 0


@dataclass(frozen=True)
class Verdict:
    """What the verdict section shows for one run.

    Attributes:
        status: :data:`BEATS_BOTH`, :data:`NOT_BOTH` or :data:`UNTESTED`.
        pooled: The pooled comparisons, one per baseline found (empty when untested).
        categories_beaten: Categories where the run beats both baselines (None: untested).
        categories_tested: Categories with per-class tests (None: untested).
        intervals: Pooled 95 % intervals by metric (``accuracy``, ``f1_macro``,
            ``balanced_accuracy``); a metric without an interval is absent.
        level: Confidence level of the intervals, e.g. 0.95 (None: no bootstrap block).
        resamples: Bootstrap resamples B (None: no bootstrap block).
        alpha: The significance level the McNemar tests are judged at.
    """

    status: str
    pooled: tuple[Comparison, ...] = ()
    categories_beaten: int | None = None
    categories_tested: int | None = None
    intervals: Mapping[str, tuple[float, float]] | None = None
    level: float | None = None
    resamples: int | None = None
    alpha: float = ALPHA

    @property
    def beats_both(self) -> bool | None:
        """True / False, or None when untested; False for an oracle run whatever its tests."""
        return None if self.status == UNTESTED else self.status == BEATS_BOTH

    @property
    def css(self) -> str:
        """The HTML report's row class: ``beats``, ``not``, ``oracle`` or ``untested``."""
        if self.status == ORACLE_STATUS:
            return "oracle"
        return {BEATS_BOTH: "beats", NOT_BOTH: "not"}.get(self.status, "untested")


def _comparison(baseline: str, raw: Any) -> Comparison | None:
    """A comparison from its stored dict, or None when it is missing or malformed."""
    if not isinstance(raw, Mapping):
        return None
    try:
        return Comparison(
            baseline,
            float(raw["p_value"]),
            int(raw["better"]),
            int(raw["worse"]),
            float(raw["accuracy_delta"]),
        )
    except (KeyError, TypeError, ValueError):
        return None


def _comparisons(block: Any) -> tuple[Comparison, ...] | None:
    """Both baselines' comparisons from one McNemar block, or None unless both are readable."""
    if not isinstance(block, Mapping):
        return None
    found = tuple(_comparison(name, block.get(name)) for name in BASELINES)
    if any(c is None for c in found):
        return None
    return tuple(c for c in found if c is not None)


def interval(block: Any, metric: str) -> tuple[float, float] | None:
    """``(lo, hi)`` of ``metric`` from a bootstrap group, or None when absent or malformed."""
    if not isinstance(block, Mapping):
        return None
    value = block.get(metric)
    if not isinstance(value, list | tuple) or len(value) != 2:
        return None
    try:
        return float(value[0]), float(value[1])
    except (TypeError, ValueError):
        return None


def bootstrap_block(summary: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """``summary["statistics"]["bootstrap"]`` when present, else None."""
    statistics = summary.get("statistics")
    if not isinstance(statistics, Mapping):
        return None
    block = statistics.get("bootstrap")
    return block if isinstance(block, Mapping) else None


def summary_with_statistics(run: StoredRun) -> Mapping[str, Any]:
    """``run``'s summary; one stored before the statistics block existed gets it computed.

    Computed from its predictions as the runner would have (same seed and B), so an old run is
    judged like a new one rather than shown as untested.
    """
    if as_statistics(run.summary.get("statistics")) is not None:
        return run.summary
    from iadbench.analysis.statistics import statistics_of_run  # numpy: only when computing

    return {**run.summary, "statistics": statistics_of_run(run)}


def verdict(summary: Mapping[str, Any]) -> Verdict:
    """The verdict of one run from its summary.

    Args:
        summary: A parsed ``summary.json``.

    Returns:
        :data:`BEATS_BOTH` when the pooled test beats both baselines, :data:`NOT_BOTH` when it
        does not, :data:`UNTESTED` when the summary carries no readable McNemar block,
        :data:`ORACLE_STATUS` for a tested run with an oracle threshold (and no categories
        beaten); with the count of categories where the run beats both, and the pooled
        intervals.
    """
    statistics = summary.get("statistics")
    statistics = statistics if isinstance(statistics, Mapping) else {}
    boot = bootstrap_block(summary)
    intervals = None
    level = resamples = None
    if boot is not None:
        pooled_boot = boot.get("overall")
        found = {m: interval(pooled_boot, m) for m in INTERVAL_METRICS}
        intervals = {m: v for m, v in found.items() if v is not None}
        level = _number(boot.get("level"))
        raw_resamples = boot.get("resamples")
        resamples = raw_resamples if isinstance(raw_resamples, int) else None
    pooled = _comparisons(statistics.get("mcnemar"))
    if pooled is None:
        return Verdict(UNTESTED, intervals=intervals, level=level, resamples=resamples)
    beaten = tested = None
    oracle = fitted_on_test_labels(summary.get("threshold"))
    per_class = statistics.get("mcnemar_per_class")
    if isinstance(per_class, Mapping):
        results = [_comparisons(block) for block in per_class.values()]
        readable = [r for r in results if r is not None]
        tested = len(readable)
        beaten = 0 if oracle else sum(all(c.beats for c in r) for r in readable)
    if oracle:
        return Verdict(ORACLE_STATUS, pooled, beaten, tested, intervals, level, resamples)
    status = BEATS_BOTH if all(c.beats for c in pooled) else NOT_BOTH
    return Verdict(status, pooled, beaten, tested, intervals, level, resamples)


def verdict_line(summary: Mapping[str, Any]) -> str:
    """The run's verdict in one line: beats / does not beat each baseline, p, the interval.

    What it says is decided by :func:`verdict`, as every table decides it (McNemar p < ALPHA
    and more accurate; an oracle threshold never counts); this only words it, for the end of
    ``iadbench run``; its words carry no space a wrap could cut a number at. Example:
    ``Verdict: beats always-defect (p<0.001, +41.2 pts) and always-normal (p=0.012, +8.0 pts);
    accuracy 91.3%, 95% interval 88.0–94.1.``
    """
    found = verdict(summary)
    if found.status == UNTESTED:
        return f"Verdict: {UNTESTED}."
    parts = [(c.beats, _comparison_text(c)) for c in found.pooled]
    won = [text for beats, text in parts if beats]
    lost = [text for beats, text in parts if not beats]
    if found.status == ORACLE_STATUS:
        said = f"{ORACLE_STATUS}; against " + " and ".join(text for _, text in parts)
    elif not lost:
        said = "beats " + " and ".join(won)
    elif not won:
        said = "does not beat " + " or ".join(lost)
    else:
        said = f"beats {' and '.join(won)} but does not beat {' or '.join(lost)}"
    if found.intervals and "accuracy" in found.intervals:
        level = f"{percent(found.level, 0)}% " if found.level is not None else ""
        accuracy = percent(summary.get("overall", {}).get("accuracy"), 1)
        bounds = interval_text(found.intervals["accuracy"], 1)  # 83.3–95.6: one word to wrap
        said += f"; accuracy {accuracy}%, {level}interval {bounds}"
    return f"Verdict: {said}."


def _comparison_text(comparison: Comparison) -> str:
    """``always-normal (p=0.012, +8.0 pts)``: no space inside a number for a wrap to cut."""
    p = p_value_text(comparison.p_value)
    p = p if p.startswith("<") else f"={p}"
    return f"{comparison.baseline} (p{p}, {100 * comparison.accuracy_delta:+.1f} pts)"


def beats_cell(tests: Mapping[str, McNemarBlock], *, oracle: bool = False) -> str:
    """The baselines a run is significantly more accurate than: ``both``, a name, ``neither``.

    :data:`NOT_COUNTED` for an oracle run (``oracle``): fitted on the test labels, it beats none.
    """
    if oracle:
        return NOT_COUNTED
    won = [name for name in BASELINES if name in tests and beats(tests[name]) > 0]
    if len(won) == len(BASELINES):
        return "both"
    return ", ".join(won) or "neither"


def categories_cell(
    per_class: Mapping[str, Mapping[str, McNemarBlock]], *, oracle: bool = False
) -> str:
    """``k/K``: categories where the run beats both baselines (per-category tests).

    ``—‡`` for an oracle run, which beats none; ``—`` without per-category tests.
    """
    if not per_class:
        return MISSING
    if oracle:
        return f"{MISSING}{ORACLE_MARK}"
    won = sum(beats_cell(tests) == "both" for tests in per_class.values())
    return f"{won}/{len(per_class)}"


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
