"""The one reader of a run dir: ``open_run``, ``StoredRun`` and one ``Outcome`` per image."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from iadbench.contract.errors import IADBenchError
from iadbench.runs.layout import RUN_DIR_NAMES, RunLayout
from iadbench.runs.reader import Outcome, StoredRun, UnusableRun, open_run, read_outcomes
from iadbench.runs.seal import seal_summary
from iadbench.runs.thresholds import ThresholdError

GROUP = {"n": 2, "accuracy": 0.5, "f1_macro": 0.5}


def _line(sample_id: str, label: str, pred: str | None, score: float | None = None) -> str:
    record = {"id": sample_id, "category": "c", "label": label, "pred": pred, "score": score,
              "text": None, "error": None}  # fmt: skip
    return json.dumps(record) + "\n"


def _summary(**changes: Any) -> dict[str, Any]:
    return {"method": "m", "config_hash": "h" * 64, "train": None,
            "test": {"dataset": "mvtec", "split": "all"}, "threshold": "oracle",
            "threshold_value": 0.5, "overall": GROUP, "class_mean": GROUP,
            "per_class": {"c": GROUP}, **changes}  # fmt: skip


def _run_dir(root: Path, lines: str, status: str = "complete", **changes: Any) -> Path:
    layout = RunLayout(root)
    root.mkdir(parents=True, exist_ok=True)
    layout.predictions.write_text(lines, encoding="utf-8")
    summary = seal_summary(_summary(**changes), layout.predictions)  # type: ignore[arg-type]
    layout.summary.write_text(json.dumps(summary), encoding="utf-8")
    manifest = {"status": status, "config_hash": "h" * 64,
                "config": {"test": {"fingerprint": "f" * 64}}}  # fmt: skip
    layout.manifest.write_text(json.dumps(manifest), encoding="utf-8")
    return root


def test_open_run_gives_typed_access_and_decided_outcomes(tmp_path: Path) -> None:
    lines = _line("c/1.png", "defect", None, 0.9) + _line("c/2.png", "normal", None, 0.2)
    run = open_run(_run_dir(tmp_path / "run", lines))
    assert (run.method, run.train_dataset, run.test_dataset, run.threshold) == (
        "m", None, "mvtec", "oracle"
    )  # fmt: skip
    assert run.threshold_value == 0.5 and run.test_fingerprint == "f" * 64
    assert run.provenance is None  # the summary records none (written before schema 2)
    assert run.seal_problem() is None
    # Oracle records are stored undecided and decided with the summary's threshold.
    assert [(o.id, o.pred, o.outcome, o.correct) for o in run.outcomes()] == [
        ("c/1.png", "defect", "correct", True),
        ("c/2.png", "normal", "correct", True),
    ]


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        ("no-manifest", "no manifest.json"),
        ("running", "run not complete (status 'running')"),
        ("torn-summary", "unreadable summary.json (JSONDecodeError)"),
        ("list-summary", "summary.json is not a JSON object"),
        ("no-per-class", "summary.json lacks per_class metrics"),
        ("other-hash", "manifest.json and summary.json disagree on config_hash"),
    ],
)
def test_open_run_says_why_a_dir_is_not_a_complete_run(
    tmp_path: Path, damage: str, reason: str
) -> None:
    root = _run_dir(tmp_path / "run", _line("c/1.png", "defect", "defect"),
                    status="running" if damage == "running" else "complete",
                    **({"per_class": {}} if damage == "no-per-class" else {}))  # fmt: skip
    layout = RunLayout(root)
    if damage == "no-manifest":
        layout.manifest.unlink()
    elif damage == "torn-summary":
        layout.summary.write_text('{"method": ', encoding="utf-8")
    elif damage == "list-summary":
        layout.summary.write_text("[]", encoding="utf-8")
    elif damage == "other-hash":
        layout.manifest.write_text(json.dumps({"status": "complete", "config_hash": "x"}))
    with pytest.raises(UnusableRun) as caught:
        open_run(root)
    assert caught.value.reason == reason and str(root) in str(caught.value)


def test_a_torn_line_stops_a_strict_reader_but_not_a_tolerant_one(tmp_path: Path) -> None:
    path = tmp_path / "predictions.jsonl"
    path.write_text(
        '{"id": "c/0.png", "categ\n'
        + _line("c/1.png", "defect", "normal")
        + _line("c/1.png", "defect", "defect")  # a repeated id: the run counts the first
        + json.dumps({"id": "c/2.png", "category": "c", "label": "?", "pred": "defect"})
        + "\n"
        + _line("c/3.png", "normal", None, 0.4),  # undecidable without a threshold
        encoding="utf-8",
    )
    with pytest.raises(IADBenchError, match="line 1 is not valid JSON"):
        read_outcomes(path, None)
    # The report shows every line the file holds that it can.
    assert read_outcomes(path, None, tolerant=True) == [
        Outcome("c/1.png", "c", "defect", "normal"),
        Outcome("c/1.png", "c", "defect", "defect"),
        Outcome("c/3.png", "c", "normal", "invalid", score=0.4),
    ]
    path.write_text(_line("c/1.png", "defect", "normal") + _line("c/1.png", "defect", "defect"))
    assert [o.pred for o in read_outcomes(path, None)] == ["normal"]
    path.write_text(_line("c/3.png", "normal", None, 0.4), encoding="utf-8")
    with pytest.raises(ThresholdError):
        read_outcomes(path, None)


def test_outcomes_carry_defect_types_and_read_as_the_report_shows_them(tmp_path: Path) -> None:
    path = tmp_path / "predictions.jsonl"
    path.write_text(_line("c/1.png", "defect", "invalid") + _line("c/2.png", "normal", "defect"))
    first, second = read_outcomes(path, None, defect_types={"c/1.png": "crack"})
    assert (first.defect_type, first.outcome, first.correct) == ("crack", "invalid", False)
    assert (second.defect_type, second.outcome) == (None, "wrong")


def test_a_stored_run_is_read_from_its_layout(tmp_path: Path) -> None:
    run = StoredRun(tmp_path, _summary(), {})
    assert run.layout.predictions == tmp_path / "predictions.jsonl"
    assert run.layout.map("c/test/1.jpg") == tmp_path / "artifacts" / "maps" / "c/test/1.png"
    assert {p.name for p in (
        run.layout.manifest, run.layout.predictions, run.layout.summary, run.layout.calibration,
        run.layout.lock, run.layout.space_reserve, run.layout.artifacts, run.layout.shards,
        run.layout.anomaly_maps,
    )} == set(RUN_DIR_NAMES)  # fmt: skip


def test_a_manifest_whose_configuration_was_edited_is_detected(tmp_path: Path) -> None:
    # The issue-18 attack re-run: radius 4 -> 1 in manifest.json changed predict --from-run's
    # scores with exit 0, because nothing recomputed the configuration's hash.
    from iadbench.runs.runspec import RunSpec, config_digest

    config = RunSpec(method="m", method_version="1", options={"radius": 4}).config()
    digest = config_digest(config)
    path = _run_dir(tmp_path / "ok", _line("a", "normal", "normal"), config_hash=digest)
    manifest = json.loads(RunLayout(path).manifest.read_text())
    manifest.update(config=config, config_hash=digest)
    RunLayout(path).manifest.write_text(json.dumps(manifest))
    assert not open_run(path).config_edited()
    manifest["config"]["options"]["radius"] = 1
    RunLayout(path).manifest.write_text(json.dumps(manifest))
    assert open_run(path).config_edited()
