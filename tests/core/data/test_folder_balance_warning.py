"""`iadbench run` on a user's folder dataset warns loudly when a category has no normal images
(a normal folder under a name iadbench does not know reads as 100 % defects; issue 9, item 7)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from PIL import Image


def _tree(root: Path, folders: dict[str, int]) -> Path:
    for folder, count in folders.items():
        (root / "hinge" / folder).mkdir(parents=True)
        for i in range(count):
            Image.new("RGB", (8, 8), (i * 20, 0, 0)).save(root / "hinge" / folder / f"{i}.png")
    return root


def _run(tmp_path: Path, root: Path, data_args: list[str]) -> subprocess.CompletedProcess:
    command = [str(Path(sys.executable).parent / "iadbench"), "run", "--method", "always-defect",
               "--train", "visa", "--test", "parts", *data_args, "--data", f"parts={root}",
               "--out", str(tmp_path / f"run-{root.name}")]  # fmt: skip
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "COLUMNS": "200"}
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)


def test_run_warns_when_a_category_has_no_normal_image(tmp_path, data_args):
    result = _run(tmp_path, _tree(tmp_path / "passed", {"passed": 3, "bent": 2}), data_args)
    assert result.returncode == 0, result.stderr
    assert "WARNING" in result.stderr and "hinge has no normal image" in result.stderr


def test_a_known_normal_folder_name_gives_no_warning(tmp_path, data_args):
    result = _run(tmp_path, _tree(tmp_path / "nominal", {"nominal": 3, "bent": 2}), data_args)
    assert result.returncode == 0, result.stderr
    assert "WARNING" not in result.stderr
