"""``predict`` tells the method the run's category, not the images' folder (issue 19 item 4).

A plugin records every category its ``predict`` is given: what a per-category method or a text
method's prompt would see.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from iadbench.cli.app import app
from iadbench.execution.predictor import resolve_predictor
from iadbench.execution.request import RunRequest

pytest.importorskip("PIL")

RECORDER = (
    "from pathlib import Path\n"
    "import iadbench\n"
    "from iadbench.contract.method import Capabilities\n"
    "@iadbench.register_method('category-recorder')\n"
    "class CategoryRecorder(iadbench.MethodAdapter):\n"
    "    capabilities = Capabilities(needs_pixels=False, builds_models=False)\n"
    "    def predict(self, batch, inputs=None):\n"
    "        with Path(__file__).with_suffix('.log').open('a') as log:\n"
    "            log.writelines(s.category + '\\n' for s in batch)\n"
    "        return [iadbench.Prediction(label='normal') for s in batch]\n"
)


@pytest.fixture()
def recorder(tmp_path: Path) -> Path:
    path = tmp_path / "recorder.py"
    path.write_text(RECORDER)
    return path


def told(recorder: Path) -> list[str]:
    """The categories the recorder was given since the last call."""
    log = recorder.with_suffix(".log")
    if not log.exists():
        return []
    lines = log.read_text().splitlines()
    log.unlink()
    return lines


def invoke(*args: str):
    return CliRunner().invoke(app, list(args))


def recorded_run(tmp_path: Path, recorder: Path, root: Path, name: str) -> Path:
    """A zero-shot run of the recorder on the folder dataset ``root``."""
    out = tmp_path / f"run-{name}"
    result = invoke("run", "--method", "category-recorder", "--plugin", str(recorder), "--test",
                    name, "--data", f"{name}={root}", "--out", str(out))  # fmt: skip
    assert result.exit_code == 0, result.output
    told(recorder)
    return out


def incoming(tmp_path: Path, parts: Path, folder: str = "incoming") -> Path:
    """Two unlabeled copies of parts under ``<tmp>/in/<folder>/``."""
    target = tmp_path / "in" / folder
    target.mkdir(parents=True)
    for n, image in enumerate(sorted((parts / "bracket" / "nominal").iterdir())[:2]):
        shutil.copyfile(image, target / f"{n}.png")
    return tmp_path / "in"


@pytest.fixture()
def textile(tmp_path: Path, parts: Path) -> Path:
    """A folder dataset of one category, ``textile``."""
    root = tmp_path / "textile-data"
    shutil.copytree(parts / "bracket", root / "textile")
    return root


def test_a_one_category_run_tells_its_category_and_says_so(tmp_path, parts, textile, recorder):
    run = recorded_run(tmp_path, recorder, textile, "own")
    out = tmp_path / "p.jsonl"
    result = invoke("predict", str(incoming(tmp_path, parts)), "--from-run", str(run),
                    "--plugin", str(recorder), "--output", str(out))  # fmt: skip
    assert result.exit_code == 0, result.output
    assert told(recorder) == ["textile", "textile"]  # the folder name was `incoming`
    assert {json.loads(line)["category"] for line in out.open()} == {"textile"}
    assert "Category told to the method: textile, the run's only category" in result.output
    # --category still decides, with a note that the run did not have it.
    other = tmp_path / "q.jsonl"
    result = invoke("predict", str(incoming(tmp_path / "b", parts)), "--from-run", str(run),
                    "--plugin", str(recorder), "--output", str(other),
                    "--category", "denim")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert told(recorder) == ["denim", "denim"]
    assert "denim (--category), not one of the run's (textile)" in result.output


def test_a_folder_name_the_run_did_not_have_is_refused(tmp_path, parts, recorder):
    run = recorded_run(tmp_path, recorder, parts, "own")
    out = tmp_path / "p.jsonl"
    result = invoke("predict", str(incoming(tmp_path, parts)), "--from-run", str(run),
                    "--plugin", str(recorder), "--output", str(out))  # fmt: skip
    assert result.exit_code == 2
    message = " ".join(result.output.split())
    assert "incoming" in message and "bracket, hinge" in message and "--category" in message
    assert told(recorder) == [] and not out.exists()
    assert not out.with_name(out.name + ".partial").exists()
    # Folders named by the run's categories tell those names.
    result = invoke("predict", str(incoming(tmp_path / "b", parts, "hinge")), "--from-run",
                    str(run), "--plugin", str(recorder), "--output", str(out))  # fmt: skip
    assert result.exit_code == 0, result.output
    assert told(recorder) == ["hinge", "hinge"]
    assert "the folder names (hinge 2), all the run's" in result.output


def test_flags_know_the_categories_of_their_training(textile, parts, plugin_file) -> None:
    from iadbench.execution.registry import METHODS

    METHODS.load_plugin_file(plugin_file)
    for root, expected in ((textile, ("textile",)), (parts, ("bracket", "hinge"))):
        predictor = resolve_predictor(
            RunRequest(
                method="brightness",
                train="own",
                test="unlabeled",
                train_split="all",
                data_roots={"own": str(root)},
            )  # fmt: skip
        )
        assert (predictor.categories, predictor.categories_of) == (expected, "training")
    zero_shot = resolve_predictor(RunRequest(method="always-normal", train=None, test="x"))
    assert zero_shot.categories == ()


def test_a_plugin_run_without_its_plugin_names_the_file_to_load(tmp_path, parts) -> None:
    """The manifest records the run's ``--plugin`` path: the refusal names it (issue 19, item 6)."""
    import os
    import subprocess
    import sys

    (tmp_path / "hinted.py").write_text(RECORDER.replace("category-recorder", "hinted-recorder"))
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "COLUMNS": "200"}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "iadbench", *args]
        return subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, env=env)

    made = cli("run", "--method", "hinted-recorder", "--plugin", "hinted.py", "--test", "own",
               "--data", f"own={parts}", "--out", "run")  # fmt: skip
    assert made.returncode == 0, made.stderr
    result = cli("predict", str(incoming(tmp_path, parts, "hinge")), "--from-run", "run",
                 "--output", "p.jsonl")  # fmt: skip
    message = " ".join(result.stderr.split())
    assert result.returncode == 2, message
    assert "'hinted-recorder'" in message and "plugin file hinted.py" in message
    assert "add --plugin hinted.py" in message and not (tmp_path / "p.jsonl").exists()
    loaded = cli("predict", str(tmp_path / "in"), "--from-run", "run", "--plugin", "hinted.py",
                 "--output", "p.jsonl")  # fmt: skip
    assert loaded.returncode == 0, loaded.stderr
