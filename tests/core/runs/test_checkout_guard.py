"""A second copy of iadbench on PYTHONPATH never pairs its core with the other copy's methods."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


def _import_methods(pythonpath: Path) -> subprocess.CompletedProcess[str]:
    code = "import iadbench, iadbench_methods; print(iadbench.__file__)"
    env = {**os.environ, "PYTHONPATH": str(pythonpath)}
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=pythonpath
    )


def test_a_core_from_another_copy_is_refused_with_the_two_places_named(tmp_path):
    shutil.copytree(REPO / "iadbench", tmp_path / "iadbench")
    mixed = _import_methods(tmp_path)
    assert mixed.returncode != 0
    assert "two copies of iadbench are mixed" in mixed.stderr
    # Both places are named: the copy's core, and wherever the install hook points the methods.
    assert f"but iadbench from {tmp_path}" in mixed.stderr
    assert "iadbench_methods was imported from /" in mixed.stderr


def test_a_copy_with_its_own_methods_link_imports_cleanly(tmp_path):
    shutil.copytree(REPO / "iadbench", tmp_path / "iadbench")
    shutil.copytree(REPO / "methods", tmp_path / "methods")
    (tmp_path / "iadbench_methods").symlink_to(tmp_path / "methods")
    paired = _import_methods(tmp_path)
    assert paired.returncode == 0, paired.stderr
    assert paired.stdout.strip() == str(tmp_path / "iadbench" / "__init__.py")
