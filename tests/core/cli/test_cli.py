"""The CLI as users meet it: a real subprocess, plus CliRunner for quick checks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from iadbench.cli import app

# The console script installed next to this interpreter: what users type.
CLI = [str(Path(sys.executable).parent / "iadbench")]


def cell(method: str, train: str, test: str) -> list[str]:
    """Arguments of `iadbench run` for one cell."""
    return ["run", "--method", method, "--train", train, "--test", test]


def iadbench(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "HF_HUB_OFFLINE": "1", "COLUMNS": "200", **(env or {})}
    return subprocess.run(
        [*CLI, *args], capture_output=True, text=True, cwd=cwd, env=full_env, timeout=300
    )


def test_help_lists_every_command_without_importing_torch_or_sklearn():
    code = (
        "import sys\nfrom iadbench.cli import app\n"
        "try:\n    app(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('torch', 'sklearn', 'transformers') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert result.returncode == 0, result.stderr
    for command in ("run", "matrix", "train", "leaderboard", "list", "data", "demo"):
        assert command in result.stdout


def test_run_writes_the_three_files_then_resumes_without_recomputing(tmp_path, data_args):
    out = tmp_path / "run"
    first = iadbench(*cell("always-defect", "visa", "mvtec"), *data_args, "--out", str(out))
    assert first.returncode == 0, first.stderr
    assert {p.name for p in out.iterdir()} >= {"manifest.json", "predictions.jsonl", "summary.json"}
    summary = json.loads((out / "summary.json").read_text())
    assert summary["method"] == "always-defect"
    assert summary["train"] is None  # zero-shot: --train is not part of the run
    assert summary["test"] == {"dataset": "mvtec", "split": "all"}
    assert "pooled" in first.stdout and "bottle" in first.stdout
    again = iadbench(*cell("always-defect", "visa", "mvtec"), *data_args, "--out", str(out))
    assert again.returncode == 0 and "nothing recomputed" in again.stdout


def test_dataset_roots_come_from_environment_variables(tmp_path, synth_mvtec, synth_visa):
    env = {"IADBENCH_MVTEC_ROOT": str(synth_mvtec), "IADBENCH_VISA_ROOT": str(synth_visa)}
    result = iadbench(
        *cell("always-normal", "mvtec", "visa"), "--out", str(tmp_path / "r"), env=env
    )
    assert result.returncode == 0, result.stderr


def test_missing_dataset_exits_2_with_path_and_layout_and_no_traceback(tmp_path):
    missing = tmp_path / "nowhere"
    result = iadbench(
        *cell("always-defect", "visa", "mvtec"),
        "--data",
        f"mvtec={missing}",
        "--data",
        f"visa={missing}",
    )
    assert result.returncode == 2
    assert str(missing) in result.stderr and "Expected layout" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_unknown_method_exits_2_with_a_suggestion(data_args):
    result = iadbench(*cell("always-defekt", "visa", "mvtec"), *data_args)
    assert result.returncode == 2
    assert "Did you mean 'always-defect'" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_split_and_bad_set_exit_2(data_args):
    bad_split = iadbench(*cell("always-defect", "visa", "mvtec"), "--test-split", "val", *data_args)
    assert bad_split.returncode == 2 and "--test-split" in bad_split.stderr
    bad_set = iadbench(*cell("always-defect", "visa", "mvtec"), "--set", "lr=1", *data_args)
    assert bad_set.returncode == 2 and "Unknown option 'lr'" in bad_set.stderr


def test_matrix_runs_every_ordered_pair_and_writes_a_leaderboard(tmp_path, data_args):
    out = tmp_path / "matrix"
    result = iadbench(
        "matrix", "--methods", "always-*", "--datasets", "mvtec,visa", *data_args, "--out", str(out)
    )
    assert result.returncode == 0, result.stderr
    cells = sorted(str(p.parent.relative_to(out)) for p in out.rglob("summary.json"))
    assert cells == [  # zero-shot methods: one run per test set
        "always-defect/zero-shot_to_mvtec",
        "always-defect/zero-shot_to_visa",
        "always-normal/zero-shot_to_mvtec",
        "always-normal/zero-shot_to_visa",
    ]
    leaderboard = (out / "LEADERBOARD.md").read_text()
    assert "always-defect" in leaderboard and "MVTec-AD" in leaderboard


def test_leaderboard_command_regenerates_the_same_markdown(tmp_path, data_args):
    out = tmp_path / "matrix"
    assert (
        iadbench("matrix", "--methods", "always-*", *data_args, "--out", str(out)).returncode == 0
    )
    target = tmp_path / "LEADERBOARD.md"
    result = iadbench("leaderboard", str(out), "--output", str(target))
    assert result.returncode == 0, result.stderr
    assert target.read_text() == (out / "LEADERBOARD.md").read_text()


def test_plugin_file_method_runs_from_the_command_line(tmp_path, data_args, plugin_file):
    out, cache = ["--out", str(tmp_path / "r")], ["--cache-dir", str(tmp_path / "c")]
    plugin = ["--plugin", str(plugin_file)]
    result = iadbench(
        *cell("brightness", "visa", "mvtec"),
        *plugin,
        "--set",
        "z_scale=3",
        *data_args,
        *out,
        *cache,
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["threshold"] == "fixed:0.5" and summary["overall"]["auroc"] is not None


def test_train_command_stores_artifacts_and_refuses_methods_without_training(
    tmp_path, data_args, plugin_file
):
    trained = iadbench(
        "train",
        "--plugin",
        str(plugin_file),
        "--method",
        "brightness",
        "--train",
        "visa",
        *data_args,
        "--cache-dir",
        str(tmp_path / "c"),
    )
    assert trained.returncode == 0, trained.stderr
    assert list((tmp_path / "c" / "trained" / "brightness").glob("*/stats.json"))
    refused = iadbench("train", "--method", "always-defect", "--train", "visa", *data_args)
    assert refused.returncode == 2 and "no training stage" in refused.stderr


def test_interrupted_run_exits_130_and_the_same_command_resumes(tmp_path, data_args):
    plugin = tmp_path / "interrupting.py"
    flag = tmp_path / "interrupted-once"
    plugin.write_text(
        "import pathlib, iadbench\n"
        "@iadbench.register_method('interrupt-once')\n"
        "class InterruptOnce(iadbench.MethodAdapter):\n"
        "    capabilities = iadbench.Capabilities(needs_pixels=False)\n"
        "    default_batch_size = 10\n"
        "    calls = 0\n"
        "    def predict(self, batch):\n"
        "        type(self).calls += 1\n"
        f"        flag = pathlib.Path({str(flag)!r})\n"
        "        if type(self).calls == 3 and not flag.exists():\n"
        "            flag.touch()\n"
        "            raise KeyboardInterrupt\n"
        "        return [iadbench.Prediction(label='normal') for _ in batch]\n"
    )
    args = [*cell("interrupt-once", "visa", "mvtec"), "--plugin", str(plugin), *data_args]
    args += ["--out", str(tmp_path / "r")]
    first = iadbench(*args)
    assert first.returncode == 130 and "resume" in first.stderr
    manifest = json.loads((tmp_path / "r" / "manifest.json").read_text())
    assert manifest["status"] == "interrupted"
    assert len((tmp_path / "r" / "predictions.jsonl").read_text().splitlines()) == 20
    second = iadbench(*args)
    assert second.returncode == 0, second.stderr
    assert "20 resumed" in second.stdout
    manifest = json.loads((tmp_path / "r" / "manifest.json").read_text())
    assert manifest["status"] == "complete" and len(manifest["attempts"]) == 2


def test_data_synth_then_check_is_clean_and_a_damaged_copy_is_not(tmp_path):
    root = tmp_path / "visa"
    assert iadbench("data", "synth", "visa", str(root), "--scale", "0.01").returncode == 0
    clean = iadbench("data", "check", "visa", "--data", f"visa={root}", "--scale", "0.01")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    next(root.glob("candle/Data/Images/Anomaly/*.JPG")).write_bytes(b"not a jpeg")
    damaged = iadbench("data", "check", "visa", "--data", f"visa={root}", "--scale", "0.01")
    assert damaged.returncode == 1 and "candle" in damaged.stdout


def test_list_shows_methods_capabilities_and_options_in_process():
    result = CliRunner().invoke(app, ["list", "--options"], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    assert "always-defect" in result.output and "iadbench" in result.output


def test_list_options_says_which_option_replaces_the_training():
    # A real process: the in-process console's width was fixed when another test imported it.
    result = iadbench("list", "lr-iad", "--options", env={"COLUMNS": "500"})
    assert result.returncode == 0, result.stderr
    rows = [line for line in result.stdout.splitlines() if "│" in line]
    adapter_row = next(line for line in rows if line.startswith(" adapter "))
    assert "names trained weights, the run does not train" in adapter_row
    assert sum("names trained weights" in line for line in rows) == 1
