"""A method's crash in fit or predict: one line, a documented exit code (issue 19, item 6).

Today a plugin raising in ``fit`` (the README's brightness plugin with ``--set size=0``) prints
a boxed traceback of about a hundred lines and exits 1.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from iadbench.cli.app import EXIT_ENVIRONMENT, EXIT_INTERRUPTED, EXIT_METHOD_CRASH, EXIT_USER_ERROR

CLI = str(Path(sys.executable).parent / "iadbench")
PLUGIN = """
import iadbench

@iadbench.register_method("crashes-in-fit")
class CrashesInFit(iadbench.MethodAdapter):
    capabilities = iadbench.Capabilities(needs_pixels=False, trains=True, gives_scores=True)

    def fit(self, samples):
        raise ValueError("size must be positive, got 0")

    def load(self):
        pass

    def predict(self, batch):
        return [iadbench.Prediction(score=0.5) for _ in batch]

@iadbench.register_method("crashes-in-predict")
class CrashesInPredict(iadbench.MethodAdapter):
    capabilities = iadbench.Capabilities(needs_pixels=False)

    def predict(self, batch):
        return None  # not a list: the run cannot go on image by image
"""


def run(
    tmp_path: Path, data_args: list[str], method: str, *first: str
) -> subprocess.CompletedProcess[str]:
    plugin = tmp_path / "crashing.py"
    plugin.write_text(PLUGIN)
    args = [CLI, *first, "run", "--method", method, "--train", "visa", "--test", "mvtec",
            "--plugin", str(plugin), *data_args, "--out", str(tmp_path / method)]  # fmt: skip
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "COLUMNS": "80"}
    return subprocess.run(args, capture_output=True, text=True, env=env, timeout=300, check=False)


def test_the_exit_code_is_its_own() -> None:
    assert EXIT_METHOD_CRASH not in (1, EXIT_USER_ERROR, EXIT_ENVIRONMENT, EXIT_INTERRUPTED)
    assert "70" in (Path(__file__).parents[3] / "docs" / "cli.md").read_text()


def test_a_crash_in_fit_is_one_line_naming_method_stage_and_exception(tmp_path, data_args):
    result = run(tmp_path, data_args, "crashes-in-fit")
    assert result.returncode == EXIT_METHOD_CRASH, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(errors) == 1, result.stderr
    line = errors[0]
    assert "crashes-in-fit" in line and "training" in line
    assert "ValueError: size must be positive, got 0" in line and "--verbose" in line
    manifest = json.loads((tmp_path / "crashes-in-fit" / "manifest.json").read_text())
    assert manifest["status"] == "failed" and "ValueError" in manifest["error"]


def test_verbose_adds_the_traceback(tmp_path, data_args):
    result = run(tmp_path, data_args, "crashes-in-fit", "--verbose")
    assert result.returncode == EXIT_METHOD_CRASH
    assert "Traceback" in result.stderr and "in fit" in result.stderr
    assert "ValueError: size must be positive, got 0" in result.stderr.splitlines()[-1]


def test_a_crash_in_predict_names_the_predicting_stage(tmp_path, data_args):
    result = run(tmp_path, data_args, "crashes-in-predict")
    assert result.returncode == EXIT_METHOD_CRASH, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and "crashes-in-predict" in errors[0], result.stderr
    assert "predicting" in errors[0] and "TypeError" in errors[0]
