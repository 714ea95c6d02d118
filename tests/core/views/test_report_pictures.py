"""The report's pictures do not mislead: gallery sampling, run colours, legends, curves, warnings.

Issue 19, item 3. The gallery is checked on :func:`spread` and on a built report; the charts on
the figures :mod:`iadbench.views.report.charts` draws and on the SVG the page embeds.
"""

from __future__ import annotations

import base64
import json
import random
import warnings
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from iadbench.analysis.metrics import summarize
from iadbench.runs.reader import Outcome
from iadbench.runs.seal import seal_summary
from iadbench.views.leaderboard.collect import collect_runs
from iadbench.views.report.charts import bars_figure, chart_style, curves_figure
from iadbench.views.report.context import CHART_METRICS, ReportContext, build_context
from iadbench.views.report.gallery import GALLERY_PER_RUN, spread
from iadbench.views.report.render import write_report

if TYPE_CHECKING:
    from matplotlib.figure import Figure
    from matplotlib.legend import Legend

CATEGORIES = ("bottle", "cable", "capsule", "carpet", "grid")


def _noisy_run() -> list[Outcome]:
    """A tiny-model-like run in id order: defect folders before ``good``, most answers invalid.

    Per category 30 defect and 10 normal images; every fifth answer is a real one (defect or
    normal in turn), the rest invalid, so all six (outcome, truth) strata occur.
    """
    answers = []
    for category in CATEGORIES:
        ids = [(f"{category}/test/broken/{i:03}.png", "defect") for i in range(30)]
        ids += [(f"{category}/test/good/{i:03}.png", "normal") for i in range(10)]
        for n, (sample_id, label) in enumerate(ids):
            pred = "invalid" if n % 5 else ("defect" if n % 10 == 0 else "normal")
            answers.append(Outcome(sample_id, category, label, pred, None, "<answer>", None))
    return answers


def test_gallery_shows_both_labels_and_every_outcome_of_each() -> None:
    answers = _noisy_run()
    chosen = spread(answers, GALLERY_PER_RUN)
    assert len(chosen) == GALLERY_PER_RUN
    present = {(a.outcome, a.label) for a in answers}
    assert len(present) == 6  # the run has every outcome on both labels
    assert {(a.outcome, a.label) for a in chosen} == present
    labels = [a.label for a in chosen]
    # Stratified, not in id order: normal images are a quarter of the run, half of the strata.
    assert labels.count("normal") >= GALLERY_PER_RUN // 3, labels
    assert {a.category for a in chosen} == set(CATEGORIES)
    assert len({a.id for a in chosen}) == len(chosen)


def test_gallery_picks_are_seeded() -> None:
    answers = _noisy_run()
    first = [a.id for a in spread(answers, GALLERY_PER_RUN, seed=3)]
    assert first == [a.id for a in spread(answers, GALLERY_PER_RUN, seed=3)]
    # The order the run wrote its records in does not matter, the seed does.
    assert first == [a.id for a in spread(answers[::-1], GALLERY_PER_RUN, seed=3)]
    assert first != [a.id for a in spread(answers, GALLERY_PER_RUN, seed=4)]
    # A random draw inside each group, not the first images of each folder.
    assert any(not a.id.endswith(("/000.png", "/001.png")) for a in spread(answers, 24))


# --- a report of many runs on one category ------------------------------------------------------

SCORERS = 8  # with ≥ 6 runs the old legend covered the axes


def _write_run(directory: Path, method: str, caps: dict[str, bool], records: list[Outcome],
               scores: Sequence[float | None]) -> None:  # fmt: skip
    """A complete, sealed run dir as the runner writes one (one test set: ``parts``)."""
    directory.mkdir(parents=True)
    predictions = directory / "predictions.jsonl"
    predictions.write_text("".join(
        json.dumps({"id": r.id, "category": r.category, "label": r.label, "pred": r.pred,
                    "score": s, "text": r.text, "error": None}) + "\n"
        for r, s in zip(records, scores, strict=True)
    ), encoding="utf-8")  # fmt: skip
    outcomes = [replace(r, score=s) for r, s in zip(records, scores, strict=True)]
    summary: dict[str, Any] = {
        "method": method, "train": None, "test": {"dataset": "parts", "split": "all"},
        "threshold": "fixed:0.5" if caps["gives_scores"] else None,
        "threshold_value": 0.5 if caps["gives_scores"] else None,
        "config_hash": f"{method}-hash", "tiny": False, "capabilities": caps,
        **summarize(outcomes),
    }  # fmt: skip
    sealed = seal_summary(summary, predictions)  # type: ignore[arg-type]
    (directory / "summary.json").write_text(json.dumps(sealed), encoding="utf-8")
    manifest = {"status": "complete", "config_hash": summary["config_hash"],
                "config": {"test": {"name": "parts", "root": None}}}  # fmt: skip
    (directory / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")


@pytest.fixture(scope="module")
def crowded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Baselines, eight score methods with long labels and an AnomalyGPT-like text method that
    records scores, on one category (``textile``) of 12 defect and 12 normal images."""
    runs = tmp_path_factory.mktemp("runs")
    labels = ["defect"] * 12 + ["normal"] * 12
    ids = [f"textile/{'bad' if label == 'defect' else 'good'}/{n:02}.png"
           for n, label in enumerate(labels)]  # fmt: skip
    rng = random.Random(0)

    def records(answers: Sequence[str], text: str | None = None) -> list[Outcome]:
        return [Outcome(i, "textile", label, answer, None, text, None)
                for i, label, answer in zip(ids, labels, answers, strict=True)]  # fmt: skip

    no_scores = {"trains": False, "gives_scores": False, "gives_text": False}
    for name, answer in (("always-normal", "normal"), ("always-defect", "defect")):
        _write_run(runs / name, name, no_scores, records([answer] * 24), [None] * 24)
    score_caps = {"trains": False, "gives_scores": True, "gives_text": False}
    for k in range(SCORERS):
        scores = [min(1.0, max(0.0, (0.7 if label == "defect" else 0.3) + rng.gauss(0, 0.3)))
                  for label in labels]  # fmt: skip
        # Labels as long as real ones that name their settings (the old legend overflowed).
        method = f"pixel-statistics-{k} (window=32, quantile=0.99, blur=2, features=mean,std,max)"
        answers = ["defect" if score >= 0.5 else "normal" for score in scores]
        _write_run(runs / f"s{k}", method, score_caps, records(answers), scores)
    # AnomalyGPT: a text method whose answer is Yes/No and whose score is the map's maximum.
    text_caps = {"trains": True, "gives_scores": False, "gives_text": True}
    answers = ["defect" if n % 3 else "normal" for n in range(24)]
    _write_run(runs / "anomalygpt", "anomalygpt", text_caps, records(answers, "Yes"),
               [0.9 - n / 40 for n in range(24)])  # fmt: skip
    return runs


def _context(runs: Path) -> ReportContext:
    return build_context(collect_runs(runs))


def _legend_colours(figure: Figure) -> dict[str, str]:
    """Legend label → colour of its handle, over every legend of the figure."""
    from matplotlib.colors import to_hex
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    found: dict[str, str] = {}
    for legend in _legends(figure):
        for handle, text in zip(legend.legend_handles, legend.get_texts(), strict=True):
            # A line's handle is a Line2D, a bar's a Rectangle.
            if isinstance(handle, Line2D):
                found[text.get_text()] = to_hex(handle.get_color())
            else:
                assert isinstance(handle, Patch)
                found[text.get_text()] = to_hex(handle.get_facecolor())
    return found


def _legends(figure: Figure) -> list[Legend]:
    on_axes = [legend for ax in figure.axes if (legend := ax.get_legend()) is not None]
    return [*figure.legends, *on_axes]


def test_a_run_has_one_colour_in_every_chart(crowded: Path) -> None:
    (test_set,) = _context(crowded).test_sets
    with chart_style():
        bars = _legend_colours(bars_figure(test_set.categories, test_set.series, CHART_METRICS))
        curves = _legend_colours(curves_figure(test_set.curve_data))
    scored = [run for run in test_set.runs if not run.baseline]
    assert len(scored) == SCORERS + 1
    for run in scored:
        (curve,) = [colour for label, colour in curves.items() if label.startswith(run.name)]
        assert bars[run.name] == curve == run.colour, run.name
    assert len({run.colour for run in scored}) == len(scored)  # nine runs, nine colours


def test_legends_lie_outside_the_axes_and_within_the_figure(crowded: Path) -> None:
    (test_set,) = _context(crowded).test_sets
    assert test_set.categories == ["textile"]  # one category: the narrowest bar chart
    with chart_style():
        figures = [bars_figure(test_set.categories, test_set.series, CHART_METRICS),
                   curves_figure(test_set.curve_data)]  # fmt: skip
        for figure in figures:
            figure.canvas.draw()  # lays the figure out
            renderer = figure.canvas.get_renderer()  # type: ignore[attr-defined]
            (legend,) = _legends(figure)
            box = legend.get_window_extent(renderer)
            for axes in figure.axes:
                panel = axes.get_tightbbox(renderer)  # the plot area with its ticks and labels
                assert panel is not None and not box.overlaps(panel), "legend on the axes"
            assert figure.bbox.width >= box.width and figure.bbox.height >= box.height
            assert figure.bbox.x0 <= box.x0 and box.x1 <= figure.bbox.x1


def test_every_run_with_an_auroc_has_its_curves(crowded: Path) -> None:
    context = _context(crowded)
    (test_set,) = context.test_sets
    with_auroc = [run.name for run in context.runs if run.pooled["auroc"] != "—"]
    assert any(name.startswith("anomalygpt") for name in with_auroc)
    assert test_set.curves is not None
    drawn = base64.b64decode(test_set.curves.split(",", 1)[1]).decode("utf-8")
    assert all(name in drawn for name in with_auroc)  # the page's chart names every one
    assert sorted(curve.label for curve in test_set.curve_data) == sorted(with_auroc)
    assert test_set.curve_notes == []


def test_a_report_of_many_runs_emits_no_warning(crowded: Path, tmp_path: Path) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        write_report(crowded, tmp_path / "report.html")
    assert [str(w.message) for w in caught] == []
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert page.count("data:image/svg+xml") == 2
