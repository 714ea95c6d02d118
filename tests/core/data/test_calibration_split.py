"""``data split --calibration-ratio``: calibration rows in a split file, read and used (issue 20).

A folder dataset's split file can hold rows whose ``split`` is ``calibration``: never trained on,
never tested, the images a ``calibrated`` / ``normal-quantile`` threshold is chosen on.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

from typer.testing import CliRunner

from iadbench.cli.app import app
from iadbench.data import FolderDataset
from iadbench.data.split_file import read_split_file, split_file_path

SPLIT = ["--normal-folders", "nominal,pass", "--seed", "3", "--train-normal-ratio", "0.75"]


def _cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def _split(parts: Path, *args: str) -> None:
    code, output = _cli("data", "split", "parts", "--data", f"parts={parts}", *SPLIT, *args)
    assert code == 0, output


def test_a_calibration_share_is_written_read_and_kept_apart(parts):
    _split(parts, "--calibration-ratio", "0.5")
    rows = read_split_file(split_file_path(parts))
    counts = Counter((r.category, r.subset, r.label) for r in rows)
    # 4 normals per category: 3 train (0.75), of which round(0.5 * 3) = 2 are held out.
    for category in ("bracket", "hinge"):
        assert counts[(category, "calibration", "normal")] == 2
        assert counts[(category, "train", "normal")] == 1
        assert counts[(category, "test", "normal")] == 1
    reader = FolderDataset(parts, name="parts")
    calibration = {s.id for s in reader.samples("all") if s.subset == "calibration"}
    assert len(calibration) == 4
    assert not calibration & {s.id for s in reader.samples("train")}
    assert not calibration & {s.id for s in reader.samples("test")}
    first = split_file_path(parts).read_bytes()
    _split(parts, "--calibration-ratio", "0.5", "--force")
    assert split_file_path(parts).read_bytes() == first  # seeded: the same bytes


def test_a_run_chooses_its_threshold_on_the_calibration_rows(tmp_path, parts, plugin_file):
    _split(parts, "--calibration-ratio", "0.5")
    run = tmp_path / "run"
    code, output = _cli(
        "run", "--method", "brightness", "--train", "parts", "--test", "parts",
        "--threshold", "normal-quantile:0.5", "--out", str(run), "--plugin", str(plugin_file),
        "--data", f"parts={parts}", "--cache-dir", str(tmp_path / "cache"),
    )  # fmt: skip
    assert code == 0, output
    summary = json.loads((run / "summary.json").read_text())
    calibration = summary["calibration"]
    assert calibration["source"] == "calibration split" and calibration["held_out"] is True
    assert calibration["n_per_label"] == {"normal": 4}
    rows = read_split_file(split_file_path(parts))
    held = {r.image for r in rows if r.subset == "calibration"}
    scored = {json.loads(line)["id"] for line in (run / "calibration.jsonl").open()}
    assert scored == held
    trained = next((tmp_path / "cache").rglob("training-data.json"))
    assert json.loads(trained.read_text())["n_samples"] == sum(r.subset == "train" for r in rows)


def test_append_keeps_calibration_rows_and_never_adds_one(parts):
    _split(parts, "--calibration-ratio", "0.5")
    path = split_file_path(parts)
    before = path.read_text(encoding="utf-8").splitlines()
    for i in range(4, 8):  # new normal images of a listed category
        shutil.copy(
            parts / "bracket" / "nominal" / "00.png", parts / "bracket" / "nominal" / f"{i:02d}.png"
        )
    _split(parts, "--append")
    after = path.read_text(encoding="utf-8").splitlines()
    assert after[: len(before)] == before  # every line, calibration ones included, kept
    added = [line.split(",")[1] for line in after[len(before) :]]
    assert len(added) == 4 and "calibration" not in added
    # The calibration rows count as training: 8 normals at 0.75 → 6 in train + calibration.
    rows = read_split_file(path)
    trained = sum(r.subset in ("train", "calibration") and r.category == "bracket" and
                  r.label == "normal" for r in rows)  # fmt: skip
    assert trained == 6


def test_append_with_a_calibration_ratio_and_a_bad_ratio_are_refused(parts):
    _split(parts, "--calibration-ratio", "0.5")
    before = split_file_path(parts).read_bytes()
    code, output = _cli("data", "split", "parts", "--data", f"parts={parts}", *SPLIT,
                        "--append", "--calibration-ratio", "0.5")  # fmt: skip
    assert code == 2 and "--calibration-ratio" in output
    code, output = _cli("data", "split", "parts", "--data", f"parts={parts}", *SPLIT,
                        "--force", "--calibration-ratio", "1.5")  # fmt: skip
    assert code == 2 and "--calibration-ratio" in output
    assert split_file_path(parts).read_bytes() == before
