"""A method's crash under ``iadbench predict``: the one line ``run`` prints (issue 19, item 6).

Before, a plugin whose ``load`` raised, or whose ``predict`` broke the contract (no list), reached
the terminal from ``predict --from-run`` and ``predict --method`` as a boxed traceback of about
a hundred lines through iadbench's internals, exit 1.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from iadbench.cli.app import EXIT_METHOD_CRASH
from iadbench.execution.predict_log import partial_path

pytestmark = pytest.mark.slow  # two runs and five predicts, each a fresh process
CLI = str(Path(sys.executable).parent / "iadbench")
PLUGIN = """
import iadbench

@iadbench.register_method("crashes-on-marked")
class CrashesOnMarked(iadbench.MethodAdapter):
    capabilities = iadbench.Capabilities(needs_pixels=False, gives_scores=True)

    def predict(self, batch):
        if any("crash_here" in sample.image_path for sample in batch):
            return None  # not a list: predict cannot go on image by image
        return [iadbench.Prediction(score=0.5) for _ in batch]

@iadbench.register_method("crashes-in-load")
class CrashesInLoad(iadbench.MethodAdapter):
    capabilities = iadbench.Capabilities(needs_pixels=False, trains=True, gives_scores=True)

    def fit(self, samples):
        pass

    def load(self):
        raise ValueError("checkpoint is corrupt")

    def predict(self, batch):
        return [iadbench.Prediction(score=0.5) for _ in batch]
"""


@pytest.fixture(scope="module")
def setting(tmp_path_factory: pytest.TempPathFactory, synth_mvtec: Path) -> dict[str, Path]:
    """The plugin, images (the last one marked), a cache and a finished run of each method."""
    home = tmp_path_factory.mktemp("predict_crash")
    plugin = home / "crashing.py"
    plugin.write_text(PLUGIN)
    images = home / "incoming"
    images.mkdir()
    for i, source in enumerate(sorted((synth_mvtec / "bottle" / "test" / "good").iterdir())[:3]):
        shutil.copy(source, images / f"{i}{'_crash_here' if i == 2 else ''}.png")
    paths = {"plugin": plugin, "images": images, "cache": home / "cache", "mvtec": synth_mvtec}
    for method, train in (("crashes-on-marked", []), ("crashes-in-load", ["--train", "mvtec"])):
        paths[method] = home / method
        result = cli(
            "run", "--method", method, *train, "--train-split", "train", "--test", "mvtec",
            "--test-split", "test", "--data", f"mvtec={synth_mvtec}", "--plugin", str(plugin),
            "--cache-dir", str(paths["cache"]), "--out", str(paths[method]),
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
    return paths


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "COLUMNS": "80"}
    return subprocess.run(
        [CLI, *args], capture_output=True, text=True, env=env, timeout=300, check=False
    )


def predict(
    setting: dict[str, Path], output: Path, how: list[str], *first: str
) -> subprocess.CompletedProcess[str]:
    return cli(
        *first, "predict", str(setting["images"]), "--plugin", str(setting["plugin"]),
        "--batch-size", "1", "--category", "bottle", "--output", str(output), *how,
    )  # fmt: skip


def crash_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == EXIT_METHOD_CRASH, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(errors) == 1, result.stderr
    assert errors[0].startswith("Error: method ") and "--verbose" in errors[0]
    return errors[0]


def source(setting: dict[str, Path], method: str, flag: str) -> list[str]:
    """``--from-run`` of the method's run, or ``--method`` with the flags its training used."""
    if flag == "--from-run":
        return ["--from-run", str(setting[method])]
    train = ["--train", "mvtec", "--train-split", "train"] if method == "crashes-in-load" else []
    return ["--method", method, *train, "--cache-dir", str(setting["cache"]),
            "--data", f"mvtec={setting['mvtec']}"]  # fmt: skip


@pytest.mark.parametrize("flag", ["--from-run", "--method"])
def test_a_crash_in_predict_is_one_line_and_keeps_the_rows(setting, flag, tmp_path) -> None:
    output = tmp_path / "labels.csv"
    line = crash_line(predict(setting, output, source(setting, "crashes-on-marked", flag)))
    assert "'crashes-on-marked' crashed while predicting: TypeError" in line
    assert not output.exists()
    kept = partial_path(output).read_text()  # the images before the crash keep their rows
    assert "0.png" in kept and "1.png" in kept and "crash_here" not in kept


@pytest.mark.parametrize("flag", ["--from-run", "--method"])
def test_a_crash_in_load_is_one_line(setting, flag, tmp_path) -> None:
    output = tmp_path / "labels.csv"
    line = crash_line(predict(setting, output, source(setting, "crashes-in-load", flag)))
    assert "'crashes-in-load' crashed while loading its training" in line
    assert "ValueError: checkpoint is corrupt" in line
    assert not output.exists() and not partial_path(output).exists()


def test_verbose_adds_the_traceback(setting, tmp_path) -> None:
    how = source(setting, "crashes-in-load", "--from-run")
    result = predict(setting, tmp_path / "labels.csv", how, "--verbose")
    assert result.returncode == EXIT_METHOD_CRASH
    assert "Traceback" in result.stderr and "in load" in result.stderr
    assert "ValueError: checkpoint is corrupt" in result.stderr.splitlines()[-1]
