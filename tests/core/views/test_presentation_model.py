"""The metric catalogue's formatters, the model's labels and the one oracle rule."""

from __future__ import annotations

import math

import pytest

from iadbench.views.catalogue import (
    CALIBRATION_METRICS,
    CATALOGUE,
    INTERVAL_METRICS,
    OPERATING_POINT_METRICS,
    PIXEL_METRICS,
    TABLE_METRICS,
    interval_text,
    percent,
)
from iadbench.views.labels import shown_labels
from iadbench.views.verdict import NOT_COUNTED, ORACLE_STATUS, beats_cell, verdict


def _block(p: float, better: int, worse: int) -> dict[str, float | int]:
    return {"p_value": p, "better": better, "worse": worse, "accuracy_delta": 0.1}


@pytest.mark.parametrize(
    ("value", "decimals", "text"),
    [(0.75361, 2, "75.36"), (1, 2, "100.00"), (0.75361, 1, "75.4"), (None, 2, "—"),
     (math.nan, 2, "—"), (True, 2, "—"), ("0.5", 2, "—")],
)  # fmt: skip
def test_percent_writes_fractions_and_dashes_what_is_not_a_number(
    value: object, decimals: int, text: str
) -> None:
    assert percent(value, decimals) == text


def test_interval_text_has_one_shape_per_medium() -> None:
    assert interval_text([0.7536, 0.77641]) == "75.36–77.64"
    assert interval_text((0.61, 0.79), 1, brackets=True) == "[61.0, 79.0]"
    assert interval_text(None) == interval_text([0.1]) == interval_text([None, 0.2]) == "—"


def test_the_catalogue_knows_which_metrics_have_intervals() -> None:
    assert INTERVAL_METRICS == ("accuracy", "f1_macro", "balanced_accuracy")
    assert not CATALOGUE["invalid_rate"].higher_is_better
    assert [CATALOGUE[k].header for k in TABLE_METRICS] == [
        "Acc", "F1", "Bal.Acc", "Invalid", "AUROC", "AP"
    ]  # fmt: skip
    # Score and map methods' figures are catalogued too (issue 20), outside the summary tables'
    # columns.
    assert set(CATALOGUE) == {
        *TABLE_METRICS, *OPERATING_POINT_METRICS, *CALIBRATION_METRICS, *PIXEL_METRICS
    }  # fmt: skip
    assert not CATALOGUE["ece"].higher_is_better and not CATALOGUE["brier"].percent


def test_labels_name_the_threshold_only_where_runs_of_a_method_differ_in_it() -> None:
    rows = [
        ("winclip [image_size=240]", "winclip", "fixed:0.5"),
        ("winclip [image_size=336]", "winclip", "fixed:0.5"),
        ("winclip", "winclip", "oracle"),
        ("lr-iad", "lr-iad", None),
        ("lr-iad (first 5/category)", "lr-iad", None),
    ]
    assert shown_labels(rows) == [
        "winclip [image_size=240, threshold=fixed:0.5]",
        "winclip [image_size=336, threshold=fixed:0.5]",
        "winclip [threshold=oracle]",
        "lr-iad",
        "lr-iad (first 5/category)",
    ]
    assert shown_labels([("a", "a", None), ("a [x=1]", "a", "oracle")]) == [
        "a [threshold=—]", "a [x=1, threshold=oracle]"
    ]  # fmt: skip


def test_an_oracle_run_never_beats_a_baseline_whatever_its_tests() -> None:
    tests = {"always-normal": _block(0.001, 10, 0), "always-defect": _block(0.001, 10, 0)}
    statistics = {"mcnemar": tests, "mcnemar_per_class": {"a": tests}}
    assert beats_cell(tests) == "both"  # type: ignore[arg-type]
    assert beats_cell(tests, oracle=True) == NOT_COUNTED  # type: ignore[arg-type]
    judged = verdict({"threshold": "oracle", "statistics": statistics})
    assert judged.status == ORACLE_STATUS and judged.beats_both is False
    assert judged.categories_beaten == 0 and judged.css == "oracle"
    assert verdict({"threshold": "fixed:0.5", "statistics": statistics}).beats_both is True
