"""A dataset root given one folder too deep or too high names the folder to pass (issue 19, 6).

Before, every such root was "holds no images in the expected layout" (MVTec-AD, folder
datasets) or "holds neither split_csv/1cls.csv nor a converted MVTec-style tree" (VisA), followed
by the whole expected layout, so the user had to work out which folder was meant. Each case goes
through the CLI, ``data check`` and ``run``: one sentence naming what was seen and the path, exit
2, nothing written.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from iadbench.cli import app
from iadbench.cli.app import EXIT_USER_ERROR


def cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "400"})
    return result.exit_code, result.output


def refusals(name: str, root: Path, out: Path) -> list[str]:
    """The one error line of ``data check`` and of ``run`` on ``root``; nothing may be written."""
    lines = []
    for args in (
        ["data", "check", name, "--data", f"{name}={root}", "--no-decode"],
        ["run", "--method", "always-normal", "--test", name, "--data", f"{name}={root}",
         "--out", str(out)],
    ):  # fmt: skip
        code, output = cli(*args)
        assert code == EXIT_USER_ERROR, output
        errors = [line for line in output.splitlines() if line.strip()]
        assert len(errors) == 1 and errors[0].startswith("Error: "), output
        assert "Expected layout" not in errors[0] and "data synth" not in errors[0]
        lines.append(errors[0])
    assert not out.exists()
    assert lines[0] == lines[1]
    return lines


def linked_under(tmp_path: Path, root: Path, name: str) -> Path:
    """A folder holding only a link ``name`` to ``root``: a root one level too high."""
    above = tmp_path / "data"
    above.mkdir()
    (above / name).symlink_to(root, target_is_directory=True)
    return above


def test_mvtec_category_folder_names_its_parent(synth_mvtec: Path, tmp_path: Path) -> None:
    (line, _) = refusals("mvtec", synth_mvtec / "bottle", tmp_path / "out")
    assert "holds train/, test/ and ground_truth/ directly, as one category does" in line
    assert f"pass the folder above it, {synth_mvtec.resolve()}, instead." in line


def test_mvtec_folder_above_the_root_names_the_root(synth_mvtec: Path, tmp_path: Path) -> None:
    above = linked_under(tmp_path, synth_mvtec, "mvtec_anomaly_detection")
    (line, _) = refusals("mvtec", above, tmp_path / "out")
    assert f"root {above} holds no category, but its subfolder mvtec_anomaly_detection/" in line
    assert f"pass {above / 'mvtec_anomaly_detection'} instead." in line


def test_visa_category_folder_names_its_parent(synth_visa: Path, tmp_path: Path) -> None:
    (line, _) = refusals("visa", synth_visa / "candle", tmp_path / "out")
    assert "holds Data/ and image_anno.csv directly, as one category does" in line
    assert f"pass the folder above it, {synth_visa.resolve()}, instead." in line


def test_visa_folder_above_the_root_names_the_root(synth_visa: Path, tmp_path: Path) -> None:
    above = linked_under(tmp_path, synth_visa, "VisA")
    (line, _) = refusals("visa", above, tmp_path / "out")
    assert f"pass {above / 'VisA'} instead." in line


def test_converted_visa_category_names_its_parent(tmp_path: Path) -> None:
    converted = tmp_path / "visa_pytorch"
    for folder in ("train/good", "test/good", "test/bad"):
        (converted / "candle" / folder).mkdir(parents=True)
        (converted / "candle" / folder / "000.png").write_bytes(b"")
    (line, _) = refusals("visa", converted / "candle", tmp_path / "out")
    assert "holds train/ and test/ directly" in line
    assert f"pass the folder above it, {converted}, instead." in line


def test_a_visa_category_copied_alone_says_what_is_missing(synth_visa: Path, tmp_path: Path):
    alone = tmp_path / "alone"
    shutil.copytree(synth_visa / "candle", alone / "candle")
    (line, _) = refusals("visa", alone / "candle", tmp_path / "out")
    assert f"the folder above it, {alone}, holds no split_csv/1cls.csv" in line


def test_folder_dataset_category_names_its_parent(parts: Path, tmp_path: Path) -> None:
    (line, _) = refusals("parts", parts / "bracket", tmp_path / "out")
    assert "holds the image folders nominal/ and scratch/ directly, as one category does" in line
    assert f"pass the folder above it, {parts}, instead." in line


def test_folder_dataset_folder_above_the_root_names_the_root(parts: Path, tmp_path: Path):
    above = linked_under(tmp_path, parts, "parts")
    (line, _) = refusals("parts", above, tmp_path / "out")
    assert f"pass {above / 'parts'} instead." in line


def test_a_folder_dataset_that_is_one_category_is_told_how_to_arrange_it(
    parts: Path, tmp_path: Path
) -> None:
    # Its parent holds other things too, so the parent is no dataset root: the sentence gives
    # the commands that make one, and following them works.
    alone = tmp_path / "downloads"
    shutil.copytree(parts / "bracket", alone / "textile")
    (alone / "notes").mkdir()
    (line, _) = refusals("parts", alone / "textile", tmp_path / "out")
    new_root = alone / "parts-dataset"
    command = f"mkdir {new_root} && ln -s {alone / 'textile'} {new_root / 'textile'}"
    assert f"`{command}`" in line and "(the category is then textile)." in line
    subprocess.run(command, shell=True, check=True)
    code, output = cli("data", "check", "parts", "--data", f"parts={new_root}")
    assert code == 0, output


def test_data_split_names_the_root_too(parts: Path, tmp_path: Path) -> None:
    above = linked_under(tmp_path, parts, "parts")
    code, output = cli("data", "split", "parts", "--data", f"parts={above}")
    assert code == EXIT_USER_ERROR and f"pass {above / 'parts'} instead." in output, output
    assert not (above / "split.csv").exists()


@pytest.mark.parametrize(
    ("name", "fixture", "flags"),
    [("mvtec", "synth_mvtec", ["--scale", "0.02"]), ("visa", "synth_visa", ["--scale", "0.02"]),
     ("parts", "parts", [])],
)  # fmt: skip
def test_a_correct_root_still_checks_clean(
    name: str, fixture: str, flags: list[str], request: pytest.FixtureRequest
) -> None:
    root = request.getfixturevalue(fixture)
    code, output = cli("data", "check", name, "--data", f"{name}={root}", "--no-decode", *flags)
    # The parts fixture's hinge keeps its normal images in pass/, which data check names (exit 1).
    assert code == (1 if name == "parts" else 0) and "Error:" not in output, output
    assert "bracket" in output if name == "parts" else "✗" not in output


def test_a_correct_folder_root_still_runs(parts: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    code, output = cli(
        "run", "--method", "always-normal", "--test", "parts", "--data", f"parts={parts}",
        "--out", str(out),
    )  # fmt: skip
    assert code == 0, output
    assert (out / "manifest.json").is_file()


def test_a_missing_root_keeps_the_synth_advice(tmp_path: Path) -> None:
    code, output = cli(
        "run", "--method", "always-normal", "--test", "mvtec",
        "--data", f"mvtec={tmp_path / 'nowhere'}", "--out", str(tmp_path / "out"),
    )  # fmt: skip
    assert code == EXIT_USER_ERROR and "data synth" in output, output


def test_categories_without_label_folders_are_not_taken_for_one_category(tmp_path: Path):
    # bracket/*.png lacks its good/ and defect folders: the folder above is no root either.
    root = tmp_path / "parts"
    (root / "bracket").mkdir(parents=True)
    (root / "bracket" / "000.png").write_bytes(b"")
    code, output = cli("data", "check", "parts", "--data", f"parts={root}")
    assert code == EXIT_USER_ERROR and "Expected layout" in output, output
    assert "pass the folder above it" not in output


def test_normal_folders_given_by_name_are_recognised(parts: Path, tmp_path: Path) -> None:
    # hinge keeps its normal images in pass/, which data split reads with --normal-folders.
    code, output = cli(
        "data", "split", "parts", "--data", f"parts={parts / 'hinge'}", "--normal-folders", "pass"
    )
    assert code == EXIT_USER_ERROR, output
    assert "holds the image folders bent/ and pass/ directly" in output
    assert f"pass the folder above it, {parts}, instead." in output
