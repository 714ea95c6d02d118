"""summary.json of a text method carries the lenient block and the 3-class F1 (issue 8 item 6)."""

from __future__ import annotations

import json
from pathlib import Path

from iadbench.analysis.metrics import F1_3CLASS, LENIENT_KEYS, summarize
from iadbench.execution.planning import RunRequest, plan_run
from iadbench.execution.runner import execute_run
from iadbench.runs.reader import Outcome
from iadbench_methods.qwen2vl.answers import AB_ANSWER_RULES


def _run(method: str, tmp_path: Path, synth_mvtec: Path, synth_visa: Path):
    request = RunRequest(
        method=method, train="visa", test="mvtec", tiny=True,
        data_roots={"mvtec": str(synth_mvtec), "visa": str(synth_visa)},
        out=tmp_path / "run", cache_dir=tmp_path / "cache",
    )  # fmt: skip
    return execute_run(plan_run(request))


def test_text_method_summary_is_recomputed_from_the_stored_text(
    tmp_path: Path, synth_mvtec: Path, synth_visa: Path
) -> None:
    outcome = _run("qwen2-vl", tmp_path, synth_mvtec, synth_visa)
    summary = json.loads((outcome.out / "summary.json").read_text())
    lenient = summary["lenient"]
    assert lenient["rule"] == "lenient:answer-block-letter"
    assert set(lenient["overall"]) == set(LENIENT_KEYS)
    assert F1_3CLASS in summary["overall"] and F1_3CLASS in summary["class_mean"]
    lines = [json.loads(x) for x in (outcome.out / "predictions.jsonl").read_text().splitlines()]
    records = [
        Outcome(r["id"], r["category"], r["label"], r["pred"], r["score"], r["text"], r["error"])
        for r in lines
    ]
    expected = summarize(records, AB_ANSWER_RULES)["lenient"]
    assert lenient == json.loads(json.dumps(expected))


def test_score_method_summary_has_no_lenient_block(
    tmp_path: Path, synth_mvtec: Path, synth_visa: Path
) -> None:
    summary = _run("always-defect", tmp_path, synth_mvtec, synth_visa).summary
    assert "lenient" not in summary and F1_3CLASS not in summary["overall"]
