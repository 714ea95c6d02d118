"""contract/files.py: whole-file writes never follow a link planted at a temporary name."""

from __future__ import annotations

import pytest

from iadbench.contract.files import atomic_replace, write_text_atomic
from iadbench.data.split_file import SplitRow, write_split_file
from iadbench.runs.writer import write_json_atomic


def _plant(tmp_path, target_name):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    for name in (f"{target_name}.tmp", f".{target_name}.tmp"):
        (tmp_path / name).symlink_to(victim)
    return victim


def test_json_records_never_follow_a_planted_tmp_link(tmp_path):
    victim = _plant(tmp_path, "summary.json")
    write_json_atomic(tmp_path / "summary.json", {"a": 1})
    assert victim.read_text() == "precious"
    assert (tmp_path / "summary.json").read_text() == '{\n  "a": 1\n}\n'


def test_split_files_never_follow_a_planted_tmp_link(tmp_path):
    victim = _plant(tmp_path, "split.csv")
    rows = [SplitRow("bottle", "test", "normal", "bottle/good/0.png", None)]
    write_split_file(tmp_path / "split.csv", rows)
    assert victim.read_text() == "precious"
    assert "bottle/good/0.png" in (tmp_path / "split.csv").read_text()


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "LEADERBOARD.md"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_replace(target) as (stream, _):
        stream.write("half")
        raise RuntimeError("signal")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["LEADERBOARD.md"]
    write_text_atomic(target, "new")
    assert target.read_text() == "new" and (target.stat().st_mode & 0o777) != 0o600
