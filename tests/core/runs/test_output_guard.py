"""runs/output_guard.py: a user-named output never lands in a run dir or dataset, never replaces a
file without --force, and an unwritable place is refused before any work."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from iadbench.runs.layout import RunLayout
from iadbench.runs.output_guard import OutputPathError, check_output_file, enclosing_run_dir


def _run_dir(path: Path) -> Path:
    path.mkdir(parents=True)
    RunLayout(path).manifest.write_text("{}")
    return path


def test_a_fresh_path_is_accepted_and_made_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert check_output_file("out/report.html") == tmp_path / "out" / "report.html"
    assert not list(tmp_path.iterdir()), "the check leaves nothing behind"


@pytest.mark.parametrize("name", ["manifest.json", "summary.json", "predictions.jsonl", "x.html"])
def test_nothing_is_written_into_a_run_dir(tmp_path, name):
    run = _run_dir(tmp_path / "runs" / "m" / "visa_to_mvtec")
    with pytest.raises(OutputPathError, match="inside the run dir"):
        check_output_file(run / name, force=True)
    with pytest.raises(OutputPathError, match="inside the run dir"):
        check_output_file(run / "artifacts" / name, force=True)
    assert enclosing_run_dir(run / "artifacts") == run
    assert enclosing_run_dir(tmp_path / "runs") is None


def test_nothing_is_written_into_a_dataset_root_even_with_force(tmp_path):
    root = tmp_path / "mvtec"
    (root / "bottle" / "test" / "good").mkdir(parents=True)
    image = root / "bottle" / "test" / "good" / "000.png"
    image.write_bytes(b"png")
    for target in (image, root / "split.csv"):
        with pytest.raises(OutputPathError, match="inside the dataset root"):
            check_output_file(target, force=True, dataset_roots=[root])
    assert image.read_bytes() == b"png"
    check_output_file(tmp_path / "split.csv", dataset_roots=[root])  # beside it is fine


def test_an_existing_file_needs_force(tmp_path):
    target = tmp_path / "LEADERBOARD.md"
    target.write_text("mine")
    with pytest.raises(OutputPathError, match="exists; add --force to replace it"):
        check_output_file(target, flag="--output")
    assert check_output_file(target, force=True) == target
    assert target.read_text() == "mine", "the check never writes the target"


def test_a_folder_and_an_unwritable_place_are_refused(tmp_path):
    (tmp_path / "existing_dir.jsonl").mkdir()
    with pytest.raises(OutputPathError, match="is a folder"):
        check_output_file(tmp_path / "existing_dir.jsonl", force=True)
    with pytest.raises(OutputPathError, match="cannot be written"):
        check_output_file("/proc/o.jsonl")
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(OutputPathError, match="is not a folder"):
        check_output_file(blocker / "sub" / "o.jsonl")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_folder_is_refused(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(OutputPathError, match="cannot be written"):
            check_output_file(folder / "o.csv")
    finally:
        folder.chmod(0o700)


def test_a_root_set_only_in_the_environment_is_protected(tmp_path, monkeypatch):
    root = tmp_path / "visa"
    root.mkdir()
    monkeypatch.setenv("IADBENCH_VISA_ROOT", str(root))
    with pytest.raises(OutputPathError, match="inside the dataset root"):
        check_output_file(root / "lb.md", force=True)
