"""`iadbench demo` as a redirected log at 80 columns: whole cells, no raw dicts, no bar debris.

Issue 12's done-when: "`make demo` output, captured at 80 columns without a terminal, contains
no truncated cell (…) and no raw dict". Run from nothing (a fresh cache), so every training
(AprilGAN, AnomalyGPT, LR-IAD's GRPO) prints what it prints; the same demo shows the whole
pipeline runs from nothing (every built-in method both ways).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from iadbench.cli.demo import DEMO_SHOTS, DEMO_ZOO

pytestmark = pytest.mark.slow

CLI = str(Path(sys.executable).parent / "iadbench")
#: Registers the zoo's two demo models when the package metadata predates their entry points
#: (until ``pip install --no-deps -e .``), as the installed package does.
ZOO_PLUGIN = """\
import iadbench
from iadbench_methods.anomalib_zoo.models import Padim, Patchcore

iadbench.register_method("anomalib-patchcore")(Patchcore)
iadbench.register_method("anomalib-padim")(Padim)
"""
TITLE = "iadbench demo (synthetic data, tiny models)"


@pytest.fixture(scope="module")
def demo_out(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """stdout and stderr of the demo through one pipe, as `make demo > log 2>&1` keeps them,
    and its output folder. One demo serves every test of this file: a demo from nothing costs
    about a minute on 2 cores (issue 17: make test <= 8 min)."""
    from iadbench.execution.registry import METHODS

    tmp = tmp_path_factory.mktemp("demo")
    plugin: list[str] = []
    if "anomalib-patchcore" not in METHODS.names():
        (tmp / "register_zoo.py").write_text(ZOO_PLUGIN, encoding="utf-8")
        plugin = ["--plugin", str(tmp / "register_zoo.py")]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "COLUMNS": "80", "OMP_NUM_THREADS": "1"}
    env.pop("TQDM_DISABLE", None)  # the demo itself must switch library bars off
    result = subprocess.run(
        [CLI, "demo", "--out", str(tmp / "demo"), "--cache-dir", str(tmp / "cache"),
         "--scale", "0.01", *plugin],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, timeout=900,
        check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-5000:]
    return result.stdout, tmp / "demo"


@pytest.fixture(scope="module")
def demo_log(demo_out: tuple[str, Path]) -> str:
    return demo_out[0]


def test_demo_runs_the_whole_pipeline_from_nothing(demo_out: tuple[str, Path]) -> None:
    """Every registered built-in method, both directions, and the leaderboard (from test_cli)."""
    from iadbench.execution.registry import METHODS

    out = demo_out[1]
    assert (out / "LEADERBOARD.md").exists()
    # The session may have loaded test plugins too: count the built-in methods only. The zoo
    # (anomalib-*) runs only DEMO_ZOO, each in two protocols on both datasets (issue 21).
    builtins = [m for m in METHODS.names() if METHODS.entry(m).source.startswith("iadbench ")]
    others = [m for m in builtins if not m.startswith("anomalib-")]
    assert len(list(out.rglob("summary.json"))) == 2 * len(others) + 4 * len(DEMO_ZOO)
    # Issue 20: the text methods run from the format-only warm start (their demo setup), so
    # their answers are valid and scored, and their rows say so; map methods get pixel metrics.
    for method in ("qwen2-vl", "lr-iad"):
        for summary_path in (out / method).rglob("summary.json"):
            overall = json.loads(summary_path.read_text())["overall"]
            assert overall["auroc"] is not None and overall["invalid_rate"] < 0.5, summary_path
    leaderboard = (out / "LEADERBOARD.md").read_text()
    assert r"qwen2-vl \[model=qwen2-vl-warm-blind-any-category-2" in leaderboard
    assert r"lr-iad \[model=qwen2-vl-warm-blind-any-category-2" in leaderboard
    assert "the format was taught, not the task" in " ".join(demo_out[0].split())
    assert "## Pixel metrics of map methods" in leaderboard
    for method in ("aprilgan", "winclip", "anomalygpt", "pixel-stats"):
        for summary_path in (out / method).rglob("summary.json"):
            pixels = json.loads(summary_path.read_text())["pixel_metrics"]
            assert pixels["pooled"]["auroc"] is not None, summary_path


def test_the_zoo_runs_same_dataset_and_few_shot_with_scores_in_range(
    demo_out: tuple[str, Path],
) -> None:
    """Issue 21 item 6: PatchCore and PaDiM (tiny), same-dataset and few-shot, on both datasets;
    the leaderboard tells the two protocols apart (the few-shot rows name shots=K)."""
    out = demo_out[1]
    for method in DEMO_ZOO:
        cells = sorted(p.parent.name for p in (out / method).rglob("summary.json"))
        assert cells == [
            "mvtec_to_mvtec", "visa_to_visa", "zero-shot_to_mvtec", "zero-shot_to_visa"
        ], method  # fmt: skip
        for cell in cells:
            run = out / method / cell
            overall = json.loads((run / "summary.json").read_text())["overall"]
            assert 0.0 <= overall["auroc"] <= 1.0 and overall["n"] > 0, run
            manifest = json.loads((run / "manifest.json").read_text())
            options = manifest["config"]["options"]
            assert options["shots"] == (DEMO_SHOTS if cell.startswith("zero") else 0), run
            scores = [
                json.loads(line)["score"]
                for line in (run / "predictions.jsonl").read_text().splitlines()
            ]
            assert scores and all(0.0 <= s <= 1.0 for s in scores), run
    leaderboard = (out / "LEADERBOARD.md").read_text()
    for method in DEMO_ZOO:
        # Markdown escapes both brackets: anomalib-padim \[shots=4\] (tiny).
        assert rf"{method} \[shots={DEMO_SHOTS}\] (tiny)" in leaderboard, method


def leaderboard_lines(log: str) -> list[str]:
    """The printed leaderboard: from its title to the line naming the run dir."""
    lines = log.splitlines()
    start = lines.index(TITLE)
    end = next(i for i in range(start, len(lines)) if re.match(r"\d+ runs in ", lines[i]))
    return lines[start:end]


def test_no_cell_is_cut_and_every_table_line_fits_80_columns(demo_log: str) -> None:
    assert "…" not in demo_log
    board = leaderboard_lines(demo_log)
    assert any(line.startswith("━━ VisA→MVTec-AD") for line in board)
    assert any(line.startswith("━━ MVTec-AD→VisA") for line in board)
    too_long = [line for line in board if len(line.rstrip()) > 80]
    assert not too_long, too_long
    # Nothing cropped at the right edge either: the last column of each kind of table is there.
    # (One pooled and one class-mean table per direction; the demo's zero-shot and diagonal
    # directions have no text method, so no strict-vs-lenient table.)
    # The zoo's same-dataset cells (issue 21) add the diagonal, so the board opens with the N × N
    # overview, a "━━ " heading that is not a direction.
    directions = sum(line.startswith("━━ ") and "Overview" not in line for line in board)
    for last, count in (("AP", directions), ("Coll.", directions), ("Changed", 2)):
        assert sum(line.rstrip().endswith(f" {last}") for line in board) == count, last


def test_no_raw_dict_warning_or_progress_bar_debris(demo_log: str) -> None:
    assert not re.search(r"\{'", demo_log), "a raw dict was printed"
    for noise in ("FutureWarning", "DeprecationWarning", "\r", "%|", "it/s]"):
        assert noise not in demo_log, noise
    runs = 0
    for line in demo_log.splitlines():
        runs = runs + 1 if not line.strip() else 0
        assert runs <= 1, "two blank lines in a row"


def test_progress_and_training_say_what_happens_in_plain_lines(demo_log: str) -> None:
    lines = demo_log.splitlines()
    assert any(re.match(r"winclip \S+→mvtec \w+: \d+/\d+ images in ", ln) for ln in lines)
    assert any(line.startswith("LR-IAD step 1/") and "| reward " in line for line in lines)
    assert any(line.startswith("AprilGAN epoch 1/") for line in lines)
    assert any(re.match(r"AnomalyGPT epoch 1/\d+: loss \d", line) for line in lines)
    assert any(line.startswith("LR-IAD: TensorBoard logs in ") for line in lines)


def test_lr_iad_lines_follow_their_heading_and_the_monitor_is_explained(demo_log: str) -> None:
    """Issue 19: with ``demo > log`` the monitor lines went to stdout, their heading to stderr.

    Both now go to stderr (the fixture merges the two in order, as ``> log 2>&1`` does): every
    LR-IAD training line comes after its ``LR-IAD: GRPO on`` heading and carries ``LR-IAD``, and
    a legend line says what ``monitor`` and ``gap`` mean before the first monitor line.
    """
    lines = demo_log.splitlines()
    headings = [i for i, line in enumerate(lines) if line.startswith("LR-IAD: GRPO on ")]
    legends = [i for i, line in enumerate(lines) if line.startswith("LR-IAD monitor: ")]
    monitor = [i for i, line in enumerate(lines) if line.startswith("LR-IAD monitor ")]
    assert headings and monitor and len(legends) == len(headings)
    assert min(monitor) > min(legends) > min(headings)
    assert "gap = " in lines[legends[0]]
    assert not any(line.startswith(("monitor ", "step ")) for line in lines)
