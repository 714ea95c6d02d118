"""data/traversal.py: the one folder-walking rule: links followed, loops end, files only."""

from __future__ import annotations

import os

from iadbench.data.traversal import image_files, image_files_below, is_regular_file, subfolders


def test_links_to_folders_are_followed_and_a_loop_ends(tmp_path):
    elsewhere = tmp_path / "other_disk" / "bottle"
    elsewhere.mkdir(parents=True)
    (elsewhere / "b.png").write_bytes(b"x")
    root = tmp_path / "incoming"
    (root / "lot1").mkdir(parents=True)
    (root / "lot1" / "a.PNG").write_bytes(b"x")
    (root / "linked").symlink_to(elsewhere)
    (root / "lot1" / "loop").symlink_to(root)  # walks back to the top
    found = [p.relative_to(root).as_posix() for p in image_files_below(root)]
    assert found == ["linked/b.png", "lot1/a.PNG"]
    assert [e.name for e in subfolders(root)] == ["linked", "lot1"]


def test_hidden_entries_fifos_and_other_suffixes_are_not_images(tmp_path):
    (tmp_path / "good.png").write_bytes(b"x")
    (tmp_path / ".hidden.png").write_bytes(b"x")
    (tmp_path / "notes.txt").write_text("x")
    os.mkfifo(tmp_path / "x.png")  # reading it would block forever
    (tmp_path / "link.png").symlink_to(tmp_path / "good.png")
    (tmp_path / "dangling.png").symlink_to(tmp_path / "missing.png")
    assert [e.name for e in image_files(tmp_path)] == ["good.png", "link.png"]
    assert [p.name for p in image_files_below(tmp_path)] == ["good.png", "link.png"]
    assert not is_regular_file(tmp_path / "x.png") and is_regular_file(tmp_path / "link.png")
    assert not is_regular_file(tmp_path / "dangling.png")
