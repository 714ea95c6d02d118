"""The digest chain of an unfinished ``predictions.jsonl``, checked on resume (issue 18 item 7).

Before, a resume trusted whatever the partial file said: a label edited by hand in line 1 went
into a sealed summary with exit 0.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from iadbench.cli import app
from iadbench.runs.chain import chain_problem
from iadbench.runs.schema import CHAIN_KEY, PREDICTION_KEYS
from iadbench.runs.writer import PredictionLog


def _records(n: int) -> list[dict]:
    return [
        {"id": f"c/{i}.png", "category": "c", "label": "defect", "pred": "defect",
         "score": i / 10, "text": f"é{i}", "error": None, "map": None}
        for i in range(n)
    ]  # fmt: skip


def _written(directory: Path, n: int = 4) -> Path:
    """A log of ``n`` records written by two appends, as a run writes batches."""
    directory.mkdir(parents=True, exist_ok=True)
    log = PredictionLog(directory / "predictions.jsonl")
    log.append(_records(2))
    log.append(_records(n)[2:])
    return log.path


def test_every_line_carries_its_link_last_and_an_untouched_file_passes(tmp_path):
    path = _written(tmp_path)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert all(tuple(json.loads(line)) == PREDICTION_KEYS for line in lines)
    assert len({json.loads(line)[CHAIN_KEY] for line in lines}) == 4
    assert chain_problem(path) is None
    # One append or two, or a rewrite: the same records give the same bytes.
    again = PredictionLog(tmp_path / "again.jsonl")
    again.rewrite(_records(4))
    assert again.path.read_bytes() == path.read_bytes()


def _edit(line: str) -> str:
    record = json.loads(line)
    record["label"] = "normal"
    return json.dumps(record, ensure_ascii=False) + "\n"


@pytest.mark.parametrize(
    ("change", "bad_line"),
    [
        (lambda lines: [_edit(lines[0]), *lines[1:]], 1),  # a label edited, its link kept
        (lambda lines: [lines[0], *lines[2:]], 2),  # a line removed
        (lambda lines: [lines[1], lines[0], *lines[2:]], 1),  # two lines swapped
        (lambda lines: [lines[0], lines[0], *lines[1:]], 2),  # a line repeated
        (lambda lines: [lines[0], lines[1], _edit(lines[2]), lines[3]], 3),
    ],
)
def test_an_edited_removed_or_reordered_line_breaks_the_chain_there(tmp_path, change, bad_line):
    path = _written(tmp_path)
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    path.write_text("".join(change(lines)), encoding="utf-8")
    problem = chain_problem(path)
    assert problem is not None and f"line {bad_line} does not match" in problem


def test_a_torn_last_line_is_no_problem_and_appending_after_the_repair_chains_on(tmp_path):
    path = _written(tmp_path, 3)
    with path.open("a") as handle:
        handle.write('{"id": "c/3.png", "categ')
    assert chain_problem(path) is None
    log = PredictionLog(path)
    log.repair_tail()
    log.append(_records(4)[3:])
    assert path.read_bytes() == _written(tmp_path / "uninterrupted").read_bytes()


def test_a_file_from_before_the_chain_passes_only_for_a_completed_run(tmp_path):
    path = tmp_path / "predictions.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in _records(3)))
    assert "line 1 carries no digest chain" in (chain_problem(path) or "")
    assert chain_problem(path, accept_unchained=True) is None
    # Part chained, part not: never trusted.
    mixed = _written(tmp_path / "mixed")
    mixed.write_text(mixed.read_text() + json.dumps(_records(5)[4]) + "\n")
    assert "line 5 does not match" in (chain_problem(mixed, accept_unchained=True) or "")


def _interrupt_after(out: Path, keep: int) -> list[str]:
    """Make a finished run look like an attempt that stopped after ``keep`` predictions."""
    lines = (out / "predictions.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)
    (out / "predictions.jsonl").write_text("".join(lines[:keep]), encoding="utf-8")
    (out / "summary.json").unlink()
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["status"] = "interrupted"
    (out / "manifest.json").write_text(json.dumps(manifest))
    return lines


def test_a_resume_refuses_a_partial_file_edited_by_hand_and_overwrite_starts_over(
    tmp_path, synth_mvtec
):
    out = tmp_path / "run"
    command = ["run", "--method", "always-defect", "--test", "mvtec", "--data",
               f"mvtec={synth_mvtec}", "--out", str(out)]  # fmt: skip
    assert CliRunner().invoke(app, command).exit_code == 0
    clean = (out / "predictions.jsonl").read_bytes()
    clean_summary = json.loads((out / "summary.json").read_text())
    lines = _interrupt_after(out, 5)
    # The repro: line 1 says "normal" where the truth is "defect" (or the other way round).
    record = json.loads(lines[0])
    record["label"] = "normal" if record["label"] == "defect" else "defect"
    edited = [json.dumps(record, ensure_ascii=False) + "\n", *lines[1:5]]
    (out / "predictions.jsonl").write_text("".join(edited), encoding="utf-8")

    refused = CliRunner().invoke(app, command)
    assert refused.exit_code == 2, refused.output
    message = " ".join(refused.output.split())
    assert "predictions.jsonl line 1 does not match its digest chain" in message
    assert "--overwrite" in message and "Traceback" not in message
    assert not (out / "summary.json").exists()

    redone = CliRunner().invoke(app, [*command, "--overwrite"])
    assert redone.exit_code == 0, redone.output
    assert (out / "predictions.jsonl").read_bytes() == clean
    summary = json.loads((out / "summary.json").read_text())
    assert summary["overall"] == clean_summary["overall"]


def test_an_unfinished_run_from_before_the_chain_is_not_resumed(tmp_path, synth_mvtec):
    out = tmp_path / "run"
    command = ["run", "--method", "always-defect", "--test", "mvtec", "--data",
               f"mvtec={synth_mvtec}", "--out", str(out)]  # fmt: skip
    assert CliRunner().invoke(app, command).exit_code == 0
    lines = _interrupt_after(out, 5)
    old = [{k: v for k, v in json.loads(line).items() if k != CHAIN_KEY} for line in lines[:5]]
    (out / "predictions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in old))
    refused = CliRunner().invoke(app, command)
    assert refused.exit_code == 2, refused.output
    assert "carries no digest chain" in " ".join(refused.output.split())


def test_a_completed_run_from_before_the_chain_is_still_recomputed_and_sealed(
    tmp_path, synth_mvtec
):
    out = tmp_path / "run"
    command = ["run", "--method", "always-defect", "--test", "mvtec", "--data",
               f"mvtec={synth_mvtec}", "--out", str(out)]  # fmt: skip
    assert CliRunner().invoke(app, command).exit_code == 0
    summary = json.loads((out / "summary.json").read_text())
    path = out / "predictions.jsonl"
    old = [{k: v for k, v in json.loads(line).items() if k != CHAIN_KEY}
           for line in path.read_text().splitlines()]  # fmt: skip
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in old))
    del summary["digest"]  # an older iadbench sealed nothing either
    (out / "summary.json").write_text(json.dumps(summary))
    again = CliRunner().invoke(app, command)
    assert again.exit_code == 0, again.output
    resealed = json.loads((out / "summary.json").read_text())
    assert "digest" in resealed and resealed["overall"] == summary["overall"]
