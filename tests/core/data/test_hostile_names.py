"""A file name that is not valid UTF-8 is evaluated like any other (issue 9, item 10)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image


@pytest.mark.skipif(sys.platform != "linux", reason="byte file names need a POSIX filesystem")
def test_a_non_utf8_file_name_is_evaluated_and_resumed(tmp_path, data_args):
    root = tmp_path / "parts"
    for folder in ("good", "scratch"):
        (root / "hinge" / folder).mkdir(parents=True)
        Image.new("RGB", (8, 8)).save(root / "hinge" / folder / "plain.png")
    bad = os.fsencode(root / "hinge" / "good") + b"/caf\xe9.png"  # Latin-1, not UTF-8
    Image.new("RGB", (8, 8)).save(open(bad, "wb"), format="PNG")  # noqa: SIM115
    out = tmp_path / "run"
    command = [str(Path(sys.executable).parent / "iadbench"), "run", "--method", "always-normal",
               "--train", "visa", "--test", "parts", *data_args, "--data", f"parts={root}",
               "--out", str(out)]  # fmt: skip
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    first = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    assert first.returncode == 0, first.stderr
    assert json.loads((out / "manifest.json").read_text())["status"] == "complete"
    ids = [json.loads(line)["id"] for line in (out / "predictions.jsonl").read_text().splitlines()]
    assert "hinge/good/caf\\xe9.png" in ids and len(ids) == 3
    again = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    assert again.returncode == 0, again.stderr
