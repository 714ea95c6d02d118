"""`leaderboard --output` and `report --output` never replace a record, a dataset file or a file.

Issue 18 item 9: `report RUN --output RUN/manifest.json`, `report … --output <dataset image>`
and `leaderboard … --output <run>/summary.json` overwrote, exit 0. Each refusal is one sentence,
exit 2, and leaves every file as it was (no temporary file either).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image
from test_leaderboard import SMALL, write_run
from typer.testing import CliRunner

from iadbench.cli import app

runner = CliRunner()


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args), env={"COLUMNS": "300"})
    assert "Traceback" not in result.output, result.output
    return result.exit_code, " ".join(result.output.split())


def files_under(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Path, Path, Path]:
    """(runs folder, one run dir in it, a dataset root holding one test image it records)."""
    runs, dataset = tmp_path / "runs", tmp_path / "data"
    run_dir = write_run(runs, "lr", "lr-iad", SMALL)
    image = dataset / "bottle" / "test" / "good" / "000.png"
    image.parent.mkdir(parents=True)
    Image.new("L", (8, 8), 128).save(image)
    manifest = json.loads((run_dir / "manifest.json").read_text())
    manifest["config"] = {"test": {"name": "mvtec", "root": str(dataset)}}
    (run_dir / "manifest.json").write_text(json.dumps(manifest))
    return runs, run_dir, dataset


@pytest.mark.parametrize("command", ["leaderboard", "report"])
def test_no_output_inside_a_run_dir_even_with_force(command: str, setup: tuple) -> None:
    runs, run_dir, _ = setup
    before = files_under(runs)
    name = "summary.json" if command == "leaderboard" else "page.html"
    code, output = invoke(command, str(runs), "--output", str(run_dir / name), "--force")
    assert code == 2 and "inside the run dir" in output, output
    assert files_under(runs) == before


def test_report_refuses_the_manifest_and_its_own_run_dir_by_default(setup: tuple) -> None:
    runs, run_dir, _ = setup
    before = files_under(runs)
    code, output = invoke("report", str(run_dir), "--output", str(run_dir / "manifest.json"))
    assert code == 2 and "name ends in .html or .htm: name it manifest.html" in output, output
    code, output = invoke("report", str(run_dir))  # default: RUN/report.html
    assert code == 2 and "inside the run dir" in output, output
    assert files_under(runs) == before


@pytest.mark.parametrize(("command", "name"), [("leaderboard", "board.png"), ("report", "000.png")])
def test_output_must_end_as_its_format_even_with_force(
    command: str, name: str, setup: tuple
) -> None:
    runs, _, dataset = setup
    image = dataset / "bottle" / "test" / "good" / "000.png"
    target = image if name == "000.png" else runs.parent / name
    target.write_bytes(image.read_bytes())
    before = target.read_bytes()
    code, output = invoke(command, str(runs), "--output", str(target), "--force")
    assert code == 2 and "whose file name ends in" in output, output
    assert target.read_bytes() == before


def test_leaderboard_format_and_suffix_must_agree(setup: tuple) -> None:
    runs, _, _ = setup
    target = runs.parent / "board.md"
    code, output = invoke("leaderboard", str(runs), "--format", "csv", "--output", str(target))
    assert code == 2 and "ends in .csv: name it board.csv" in output, output
    assert not target.exists()


@pytest.mark.parametrize("command", ["leaderboard", "report"])
def test_no_output_inside_a_dataset_root(command: str, setup: tuple) -> None:
    runs, _, dataset = setup
    before = files_under(dataset)
    name = "board.md" if command == "leaderboard" else "page.html"
    code, output = invoke(command, str(runs), "--output", str(dataset / "bottle" / name))
    assert code == 2 and "inside the dataset root" in output, output
    assert files_under(dataset) == before


@pytest.mark.parametrize(("command", "name"), [("leaderboard", "b.md"), ("report", "r.html")])
def test_an_existing_file_is_replaced_only_with_force(
    command: str, name: str, setup: tuple
) -> None:
    runs, _, _ = setup
    target = runs.parent / "out" / name
    target.parent.mkdir()
    target.write_text("mine")
    code, output = invoke(command, str(runs), "--output", str(target))
    assert code == 2 and "exists; add --force" in output, output
    assert target.read_text() == "mine"
    code, output = invoke(command, str(runs), "--output", str(target), "--force")
    assert code == 0, output
    assert target.read_text() != "mine"
    assert [p.name for p in target.parent.iterdir()] == [name]  # no temporary file left


def test_report_default_page_is_replaced_only_with_force(setup: tuple) -> None:
    runs, _, _ = setup
    assert invoke("report", str(runs))[0] == 0
    code, output = invoke("report", str(runs))
    assert code == 2 and "exists; add --force" in output, output
    assert invoke("report", str(runs), "--force")[0] == 0


@pytest.mark.parametrize(("command", "name"), [("leaderboard", "b.md"), ("report", "r.html")])
def test_an_unwritable_place_is_refused_before_any_work(
    command: str, name: str, tmp_path: Path
) -> None:
    # No runs at all: the output is refused first, not "no complete run".
    code, output = invoke(command, str(tmp_path), "--output", f"/proc/iadbench-{name}")
    assert code == 2 and "cannot be written" in output, output
