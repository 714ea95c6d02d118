"""Conventions users expect (issue 12 item 9): --version, flags, --limit, iadbench.evaluate."""

from __future__ import annotations

import importlib.metadata
import json
from collections import Counter
from pathlib import Path
from typing import Any

import typer
from typer.testing import CliRunner

import iadbench
from iadbench.cli import app
from iadbench.execution.planning import RunRequest, plan_run


def test_version_prints_the_installed_version():
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"iadbench {iadbench.__version__}"
    assert importlib.metadata.version("iadbench") == iadbench.__version__  # one source


def _commands(group: Any, prefix: str = "") -> dict[str, Any]:
    """Every (sub)command by its command line (typer 0.29 vendors its own click classes)."""
    found = {}
    for name, command in group.commands.items():
        found[f"{prefix}{name}"] = command
        if hasattr(command, "commands"):
            found.update(_commands(command, f"{prefix}{name} "))
    return found


def test_on_off_flags_are_shown_as_flags_without_a_value():
    root = typer.main.get_command(app)
    assert len(_commands(root)) >= 10
    for name, command in {"": root, **_commands(root)}.items():
        result = CliRunner().invoke(app, [*name.split(), "--help"], env={"COLUMNS": "200"})
        assert result.exit_code == 0, name
        flags = [p for p in command.params if getattr(p, "is_flag", False)]
        for flag in flags:
            line = next(line for line in result.output.splitlines() if flag.opts[0] in line)
            assert "<bool>" not in line, (name, flag.opts[0])


def _request(roots: dict[str, str], tmp_path: Path, **changes) -> RunRequest:
    base = dict(method="always-normal", train=None, test="mvtec", data_roots=roots,
                out=tmp_path / "run", cache_dir=tmp_path / "cache")  # fmt: skip
    return RunRequest(**{**base, **changes})


def test_limit_keeps_the_first_images_of_every_category_with_both_labels(tmp_path, synth_mvtec):
    roots = {"mvtec": str(synth_mvtec)}
    whole = plan_run(_request(roots, tmp_path))
    partial = plan_run(_request(roots, tmp_path, limit=2))
    per_category = Counter(s.category for s in partial.data.test)
    assert set(per_category) == {s.category for s in whole.data.test}
    assert set(per_category.values()) == {2}
    for category in per_category:
        labels = {s.label for s in partial.data.test if s.category == category}
        assert labels == {"normal", "defect"}, category
    assert partial.config_hash != whole.config_hash
    # A whole run's configuration has no limit key: its hash is what it was before --limit.
    assert "limit" not in whole.spec.config() and partial.spec.config()["limit"] == 2


def test_a_partial_run_says_so_in_its_files(tmp_path, synth_mvtec):
    result = CliRunner().invoke(app, ["run", "--method", "always-normal", "--test", "mvtec",
                                      "--data", f"mvtec={synth_mvtec}", "--limit", "3",
                                      "--out", str(tmp_path / "r")])  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    manifest = json.loads((tmp_path / "r" / "manifest.json").read_text())
    assert summary["limit"] == 3 and manifest["config"]["limit"] == 3
    assert summary["overall"]["n"] == 3 * len(summary["per_class"])
    whole = CliRunner().invoke(app, ["run", "--method", "always-normal", "--test", "mvtec",
                                     "--out", str(tmp_path / "w"),
                                     "--data", f"mvtec={synth_mvtec}"])  # fmt: skip
    assert whole.exit_code == 0, whole.output
    from iadbench.views.leaderboard import collect_runs

    labels = sorted(run.label for run in collect_runs(tmp_path).runs)
    assert labels == ["always-normal", "always-normal (first 3/category)"]
    refused = CliRunner().invoke(app, ["run", "--method", "always-normal", "--test", "mvtec",
                                       "--limit", "0", "--data", f"mvtec={synth_mvtec}"])
    assert refused.exit_code == 2 and "--limit must be at least 1" in refused.output


def test_a_categories_run_is_its_own_row_named_by_its_categories(tmp_path, synth_mvtec):
    from iadbench.views.leaderboard import collect_runs, render_leaderboard

    data = ["--data", f"mvtec={synth_mvtec}"]
    four = ["--categories", "bottle,cable,grid,wood"]
    for out, only in [("w", []), ("b", ["--categories", "bottle"]), ("m", four)]:
        result = CliRunner().invoke(app, ["run", "--method", "always-normal", "--test", "mvtec",
                                          *data, *only, "--out", str(tmp_path / out)])  # fmt: skip
        assert result.exit_code == 0, result.output
    collected = collect_runs(tmp_path)
    labels = sorted(run.label for run in collected.runs)
    # Without the suffix, the pooled figures of one category read as a whole run's.
    assert labels == ["always-normal", "always-normal (only 4 categories)",
                      "always-normal (only bottle)"]  # fmt: skip
    assert {run.categories for run in collected.runs} == {
        None, ("bottle",), ("bottle", "cable", "grid", "wood")
    }  # fmt: skip
    assert "test data=" not in render_leaderboard(collected)  # not told apart by a hash
    refused = CliRunner().invoke(app, ["compare", str(tmp_path / "w"), str(tmp_path / "b")])
    assert refused.exit_code == 2
    assert "A scored every category and B bottle (--categories)" in " ".join(refused.output.split())


def test_a_repeated_list_option_keeps_every_value(tmp_path, synth_mvtec):
    """``--categories a --categories b`` kept only ``b`` (typer's default for a plain option)."""
    result = CliRunner().invoke(app, [
        "run", "--method", "pixel-stats", "--train", "mvtec", "--test", "mvtec",
        "--test-split", "test", "--limit", "2", "--data", f"mvtec={synth_mvtec}",
        "--categories", "bottle", "--categories", "cable,grid",
        "--far-targets", "0.01", "--far-targets", "0.2", "--out", str(tmp_path / "r"),
    ])  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    manifest = json.loads((tmp_path / "r" / "manifest.json").read_text())
    assert manifest["config"]["categories"] == ["bottle", "cable", "grid"]
    assert set(summary["per_class"]) == {"bottle", "cable", "grid"}
    assert summary["operating_points"]["far_targets"] == [0.01, 0.2]


def test_evaluate_returns_the_summary_the_run_stores(tmp_path, synth_mvtec):
    kwargs = dict(data={"mvtec": synth_mvtec}, out=tmp_path / "e", cache_dir=tmp_path / "c")
    summary = iadbench.evaluate("always-defect", "mvtec", **kwargs)
    stored = json.loads((tmp_path / "e" / "summary.json").read_text())
    assert summary == stored and summary["method"] == "always-defect"
    predictions = tmp_path / "e" / "predictions.jsonl"
    stamp = predictions.stat().st_mtime_ns
    assert iadbench.evaluate("always-defect", "mvtec", **kwargs) == stored  # reused, not redone
    assert predictions.stat().st_mtime_ns == stamp
