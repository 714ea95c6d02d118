"""The HTML report's context and page: verdict logic, escaping, which sections appear."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from typer.testing import CliRunner

from iadbench.analysis.metrics import summarize
from iadbench.cli import app
from iadbench.runs.reader import Outcome, open_run
from iadbench.runs.seal import seal_summary
from iadbench.views.leaderboard.collect import collect_runs
from iadbench.views.report import build_context, render_html
from iadbench.views.report.gallery import spread
from iadbench.views.verdict import BEATS_BOTH, NOT_BOTH, UNTESTED, verdict

HOSTILE_CATEGORY = '"><img src=x onerror=alert(2)>'
HOSTILE_TEXT = "<think><script>alert(1)</script> looks fine</think> <answer>B</answer>"

CAPS = {
    "const": {"trains": False, "gives_scores": False, "gives_text": False},
    "score": {"trains": False, "gives_scores": True, "gives_text": False},
    "text": {"trains": True, "gives_scores": False, "gives_text": True},
}


def _comparison(p: float, delta: float) -> dict[str, Any]:
    """A McNemar block whose image counts agree with the sign of ``delta``."""
    better, worse = (10, 2) if delta > 0 else (2, 10)
    return {"p_value": p, "better": better, "worse": worse, "accuracy_delta": delta}


def _statistics(normal: tuple[float, float], defect: tuple[float, float],
                per_class: dict[str, tuple[tuple[float, float], tuple[float, float]]] | None = None
                ) -> dict[str, Any]:  # fmt: skip
    bounds = {"accuracy": [0.61, 0.79], "f1_macro": [0.5, 0.7], "balanced_accuracy": [0.55, 0.75]}
    stats: dict[str, Any] = {
        "bootstrap": {"resamples": 1000, "seed": 0, "level": 0.95, "overall": bounds,
                      "per_class": {}},
        "mcnemar": {"always-normal": _comparison(*normal), "always-defect": _comparison(*defect)},
    }  # fmt: skip
    if per_class is not None:
        stats["mcnemar_per_class"] = {
            cat: {"always-normal": _comparison(*n), "always-defect": _comparison(*d)}
            for cat, (n, d) in per_class.items()
        }
    return stats


# --- verdict ------------------------------------------------------------------------------------


def test_a_run_significantly_more_accurate_than_both_baselines_beats_both() -> None:
    judged = verdict({"statistics": _statistics((0.001, 0.2), (0.01, 0.4))})
    assert judged.status == BEATS_BOTH and judged.beats_both is True
    assert judged.intervals == {"accuracy": (0.61, 0.79), "f1_macro": (0.5, 0.7),
                                "balanced_accuracy": (0.55, 0.75)}  # fmt: skip
    assert judged.resamples == 1000 and judged.level == 0.95


def test_a_baseline_not_beaten_significantly_means_not_both() -> None:
    judged = verdict({"statistics": _statistics((0.001, 0.2), (0.2, 0.05))})
    assert judged.status == NOT_BOTH and judged.beats_both is False


def test_a_significant_difference_in_the_wrong_direction_is_not_a_win() -> None:
    judged = verdict({"statistics": _statistics((0.001, -0.2), (0.001, 0.3))})
    assert judged.status == NOT_BOTH
    assert {c.baseline: c.beats for c in judged.pooled} == {
        "always-normal": False, "always-defect": True
    }


def test_p_equal_to_alpha_does_not_count() -> None:
    assert verdict({"statistics": _statistics((0.05, 0.2), (0.001, 0.3))}).status == NOT_BOTH


def test_categories_beaten_count_only_those_beating_both() -> None:
    per_class = {
        "a": ((0.001, 0.2), (0.001, 0.1)),  # both
        "b": ((0.001, 0.2), (0.5, 0.1)),  # one only
        "c": ((0.01, 0.2), (0.02, 0.3)),  # both
    }
    judged = verdict({"statistics": _statistics((0.001, 0.2), (0.01, 0.4), per_class)})
    assert (judged.categories_beaten, judged.categories_tested) == (2, 3)


@pytest.mark.parametrize("summary", [
    {},
    {"statistics": None},
    {"statistics": {"bootstrap": {}}},
    {"statistics": {"mcnemar": {"always-normal": _comparison(0.01, 0.1)}}},  # one baseline only
    {"statistics": {"mcnemar": {"always-normal": {"p_value": "x"},
                                "always-defect": _comparison(0.01, 0.1)}}},
])  # fmt: skip
def test_missing_or_malformed_statistics_are_untested(summary: dict[str, Any]) -> None:
    judged = verdict(summary)
    assert judged.status == UNTESTED and judged.beats_both is None
    assert judged.categories_beaten is None


# --- run dirs as the runner writes them ---------------------------------------------------------


def _write_run(
    directory: Path,
    method: str,
    kind: str,
    records: list[dict[str, Any]],
    *,
    root: Path | None = None,
    statistics: dict[str, Any] | None = None,
) -> Path:
    directory.mkdir(parents=True)
    predictions = directory / "predictions.jsonl"
    predictions.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    summary: dict[str, Any] = {
        "method": method,
        "train": None if kind == "score" else {"dataset": "visa", "split": "all"},
        "test": {"dataset": "parts", "split": "all"},
        "threshold": "fixed:0.5" if kind == "score" else None,
        "threshold_value": 0.5 if kind == "score" else None,
        "config_hash": f"{method}-{kind}-hash",
        "tiny": False,
        "capabilities": CAPS[kind],
        **summarize(Outcome(r["id"], r["category"], r["label"], r["pred"], r["score"], r["text"],
                            r["error"]) for r in records),  # fmt: skip
    }
    if statistics is not None:
        summary["statistics"] = statistics
    sealed = seal_summary(summary, predictions)  # type: ignore[arg-type]
    (directory / "summary.json").write_text(json.dumps(sealed), encoding="utf-8")
    manifest = {"status": "complete", "config_hash": summary["config_hash"],
                "config": {"test": {"name": "parts", "root": str(root) if root else None}}}
    (directory / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return directory


def _record(sample_id: str, category: str, label: str, pred: str, score: float | None = None,
            text: str | None = None) -> dict[str, Any]:  # fmt: skip
    return {"id": sample_id, "category": category, "label": label, "pred": pred,
            "score": score, "text": text, "error": None}  # fmt: skip


@pytest.fixture()
def images(tmp_path: Path) -> Path:
    """A dataset root with one image per id the runs use."""
    root = tmp_path / "data"
    for category in ("bolt", HOSTILE_CATEGORY):
        for folder in ("good", "scratch"):
            (root / category / folder).mkdir(parents=True)
            for i in range(3):
                Image.new("RGB", (64, 48), (40 * i, 90, 200)).save(
                    root / category / folder / f"{i}.png"
                )
    return root


def _ids() -> list[tuple[str, str, str]]:
    return [
        (f"{cat}/{folder}/{i}.png", cat, "normal" if folder == "good" else "defect")
        for cat in ("bolt", HOSTILE_CATEGORY) for folder in ("good", "scratch") for i in range(3)
    ]  # fmt: skip


def _baselines(runs: Path) -> None:
    for name, answer in (("always-normal", "normal"), ("always-defect", "defect")):
        _write_run(runs / name, name, "const",
                   [_record(i, c, label, answer) for i, c, label in _ids()])  # fmt: skip


def _text_run(runs: Path, root: Path, **kwargs: Any) -> Path:
    answers = ["defect", "normal", "invalid"]
    records = [
        _record(i, c, label, answers[n % 3], text=HOSTILE_TEXT if n % 3 != 1 else "<answer>B")
        for n, (i, c, label) in enumerate(_ids())
    ]
    return _write_run(runs / "chatty", "chatty", "text", records, root=root, **kwargs)


def _score_run(runs: Path, root: Path) -> Path:
    records = [_record(i, c, label, "defect" if n % 2 else "normal", score=(n % 7) / 7)
               for n, (i, c, label) in enumerate(_ids())]  # fmt: skip
    return _write_run(runs / "scorer", "scorer", "score", records, root=root)


# --- context and page ---------------------------------------------------------------------------


def test_untrusted_strings_are_escaped_everywhere(tmp_path: Path, images: Path) -> None:
    runs = tmp_path / "runs"
    _baselines(runs)
    _text_run(runs, images)
    _score_run(runs, images)
    page = render_html(build_context(collect_runs(runs)))
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page  # shown as text, not dropped
    assert "<img src=x" not in page and "onerror=alert(2)>" not in page
    assert "&#34;&gt;&lt;img src=x onerror=alert(2)&gt;" in page
    # Exactly one script element: the page's own filter code.
    assert len(re.findall(r"<script\b", page)) == 1


def test_the_page_loads_nothing_from_outside(tmp_path: Path, images: Path) -> None:
    runs = tmp_path / "runs"
    _baselines(runs)
    _score_run(runs, images)
    page = render_html(build_context(collect_runs(runs)))
    sources = re.findall(r"""(?:src|href)\s*=\s*["']([^"']*)""", page)
    assert sources and all(s.startswith(("data:", "#")) for s in sources), sources
    assert "default-src 'none'" in page  # the CSP forbids any load the template might add


def test_roc_curves_appear_only_with_a_score_method(tmp_path: Path, images: Path) -> None:
    runs = tmp_path / "runs"
    _baselines(runs)
    _text_run(runs, images)
    without = build_context(collect_runs(runs))
    assert without.test_sets[0].curves is None
    assert "ROC and precision-recall" not in render_html(without)
    _score_run(runs, images)
    with_score = build_context(collect_runs(runs))
    assert with_score.test_sets[0].curves is not None
    assert with_score.test_sets[0].curves.startswith("data:image/svg+xml;base64,")
    assert "ROC and precision-recall" in render_html(with_score)


def test_gallery_only_for_text_methods_with_thumbnails_and_think_text(
    tmp_path: Path, images: Path
) -> None:
    runs = tmp_path / "runs"
    _baselines(runs)
    _score_run(runs, images)
    assert build_context(collect_runs(runs)).galleries == []
    _text_run(runs, images)
    (gallery,) = build_context(collect_runs(runs)).galleries
    assert gallery.total == 12 and gallery.counts == {"wrong": 4, "invalid": 4, "correct": 4}
    assert {item.outcome for item in gallery.items} == {"wrong", "invalid", "correct"}
    assert all(item.thumbnail and item.thumbnail.startswith("data:image/jpeg") for item in
               gallery.items)  # fmt: skip
    thoughts = [item.think for item in gallery.items if item.think]
    assert thoughts and thoughts[0] == "<script>alert(1)</script> looks fine"
    assert sorted(gallery.categories) == sorted(["bolt", HOSTILE_CATEGORY])


def test_a_missing_image_gives_a_placeholder_not_an_error(tmp_path: Path, images: Path) -> None:
    runs = tmp_path / "runs"
    _baselines(runs)
    _text_run(runs, tmp_path / "moved-away")
    context = build_context(collect_runs(runs))
    assert all(item.thumbnail is None for item in context.galleries[0].items)
    assert "image not found" in render_html(context)


def test_gallery_spread_covers_outcomes_and_categories_within_the_cap() -> None:
    answers = [Outcome(f"{c}/{i}", c, "defect", p, None, "t", None)
               for c in "abc" for i, p in enumerate(["defect"] * 8 + ["normal", "invalid"])]
    chosen = spread(answers, 6)
    assert len(chosen) == 6
    assert {a.outcome for a in chosen} == {"wrong", "invalid", "correct"}
    assert {a.category for a in chosen} == {"a", "b", "c"}
    assert len(spread(answers, 1000)) == len(answers)


def test_confusion_matrix_counts_answers_by_truth(tmp_path: Path, images: Path) -> None:
    runs = tmp_path / "runs"
    _baselines(runs)
    _text_run(runs, images)
    chatty = next(r for r in build_context(collect_runs(runs)).runs if r.method == "chatty")
    # answers cycle defect, normal, invalid over ids ordered normal×3, defect×3 per category
    assert chatty.confusion == {"defect": {"defect": 2, "normal": 2, "invalid": 2},
                                "normal": {"defect": 2, "normal": 2, "invalid": 2}}  # fmt: skip


def test_verdict_section_shows_statistics_or_dashes(tmp_path: Path, images: Path) -> None:
    runs = tmp_path / "runs"
    _baselines(runs)
    _text_run(runs, images, statistics=_statistics((0.001, 0.2), (0.01, 0.4),
                                                   {"bolt": ((0.001, 0.2), (0.001, 0.1))}))
    scorer = _score_run(runs, images)  # no statistics: an older run, computed from predictions
    context = build_context(collect_runs(runs))
    views = {r.method: r for r in context.runs}
    assert views["chatty"].verdict.status == BEATS_BOTH
    assert views["chatty"].intervals["accuracy"] == "[61.0, 79.0]"
    assert views["scorer"].verdict.status in (BEATS_BOTH, NOT_BOTH)
    assert views["scorer"].intervals["accuracy"].startswith("[")
    # The same block the runner writes today: the interval of the stored figures' statistics.
    from iadbench.analysis.statistics import statistics_of_run

    computed = statistics_of_run(open_run(scorer))
    assert computed is not None
    low, high = computed["bootstrap"]["overall"]["accuracy"]
    assert views["scorer"].intervals["accuracy"] == f"[{100 * low:.1f}, {100 * high:.1f}]"
    page = render_html(context)
    verdict_section = page[page.index('id="verdict"'):page.index('id="results"')]
    assert BEATS_BOTH in verdict_section and UNTESTED not in verdict_section
    assert "1 of 1" in verdict_section and "p=0.001" in verdict_section
    assert "always-normal</a>" not in verdict_section  # baselines are the reference, not rows


def test_overlays_appear_only_when_maps_exist(tmp_path: Path, images: Path) -> None:
    runs = tmp_path / "runs"
    _baselines(runs)
    scorer = _score_run(runs, images)
    assert build_context(collect_runs(runs)).overlays == []
    first_id = _ids()[0][0]
    map_file = scorer / "artifacts" / "maps" / Path(first_id).with_suffix(".png")
    map_file.parent.mkdir(parents=True)
    Image.new("L", (32, 24), 200).save(map_file)
    (overlays,) = build_context(collect_runs(runs)).overlays
    assert [item.id for item in overlays.items] == [first_id]
    assert overlays.items[0].picture.startswith("data:image/jpeg;base64,")
    assert 'id="maps"' in render_html(build_context(collect_runs(runs)))


def test_report_command_writes_the_page_and_prints_its_path(tmp_path: Path, images: Path) -> None:
    runs = tmp_path / "runs"
    _baselines(runs)
    _text_run(runs, images)
    result = CliRunner().invoke(app, ["report", str(runs)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert (runs / "report.html").is_file() and str(runs / "report.html") in result.output
    custom = tmp_path / "out" / "page.html"
    result = CliRunner().invoke(app, ["report", str(runs), "--output", str(custom)])
    assert result.exit_code == 0 and custom.read_text(encoding="utf-8").startswith("<!DOCTYPE")


def test_report_command_without_runs_is_a_user_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["report", str(tmp_path)])
    assert result.exit_code == 2
    assert not (tmp_path / "report.html").exists()


def test_gallery_is_capped_per_run_and_says_so(tmp_path: Path, images: Path) -> None:
    runs = tmp_path / "runs"
    _baselines(runs)
    records = [_record(f"bolt/good/{i % 3}.png", "bolt", "normal", "defect", text=f"t{i}")
               for i in range(60)]  # fmt: skip
    _write_run(runs / "chatty", "chatty", "text", records, root=images)
    context = build_context(collect_runs(runs))
    (gallery,) = context.galleries
    assert len(gallery.items) == gallery.cap == 24 and gallery.total == 60
    assert "24 of 60 images shown" in render_html(context)
