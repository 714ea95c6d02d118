"""The plugin guide (docs/plugins.md), followed literally: pip-install the example and run it."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
EXAMPLE = REPO / "examples" / "iadbench-brightness-plugin"
GUIDE = REPO / "docs" / "plugins.md"
CLI = str(Path(sys.executable).parent / "iadbench")


def test_installed_plugin_is_found_through_the_entry_point_group(tmp_path, data_args):
    source = shutil.copytree(EXAMPLE, tmp_path / "src")  # pip builds in-tree: keep the repo clean
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--target", str(target), str(source)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    # The checkout under test first: the example follows this contract, not an installed copy's.
    path = os.pathsep.join([str(REPO), str(target)])
    env = {**os.environ, "PYTHONPATH": path, "COLUMNS": "250", "HF_HUB_OFFLINE": "1"}

    listed = subprocess.run(
        [CLI, "list", "brightness"], capture_output=True, text=True, env=env, check=True
    )
    assert "brightness" in listed.stdout and "iadbench-brightness-plugin" in listed.stdout

    out = tmp_path / "run"
    run = subprocess.run(
        [CLI, "run", "--method", "brightness", "--train", "visa", "--test", "mvtec", *data_args,
         "--out", str(out), "--cache-dir", str(tmp_path / "cache")],
        capture_output=True, text=True, env=env,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["method"] == "brightness" and summary["overall"]["n"] > 0


def test_the_guides_registration_is_the_examples():
    """The entry-point lines the guide shows are the ones the installed example declares."""
    guide = GUIDE.read_text(encoding="utf-8")
    block = re.search(r"```toml\n# pyproject.toml of the plugin[^\n]*\n(.*?)```", guide, re.S)
    assert block is not None
    assert block.group(1) in (EXAMPLE / "pyproject.toml").read_text(encoding="utf-8")
    assert f"pip install ./{EXAMPLE.relative_to(REPO).as_posix()}" in guide
