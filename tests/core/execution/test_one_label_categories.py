"""One-label test categories: ``--limit N`` alternates the labels, and ``run`` warns once
(issue 18 item 3)."""

from __future__ import annotations

import shutil
from collections import Counter

from typer.testing import CliRunner

from iadbench.cli import app
from iadbench.execution.planning import RunRequest, plan_run


def _labels(plan) -> dict[str, Counter]:
    found: dict[str, Counter] = {}
    for sample in plan.data.test:
        found.setdefault(sample.category, Counter())[sample.label] += 1
    return found


def test_limit_alternates_normal_and_defect_images_in_every_category(tmp_path, synth_mvtec):
    # Before, --limit 4 took a normal image and then one image of every defect type: 1 normal
    # and 3 defects in most synthetic categories; now half each where the category has them.
    roots = {"mvtec": str(synth_mvtec)}
    whole = _labels(plan_run(RunRequest("always-normal", None, "mvtec", data_roots=roots)))
    for limit in (2, 3, 4):
        plan = plan_run(RunRequest("always-normal", None, "mvtec", data_roots=roots, limit=limit))
        for category, counts in _labels(plan).items():
            available = whole[category]
            expected_normal = min(available["normal"], max(limit - available["defect"],
                                                           (limit + 1) // 2))  # fmt: skip
            assert counts["normal"] == expected_normal, (limit, category, counts)
            assert sum(counts.values()) == min(limit, sum(available.values()))
            assert set(counts) == {"normal", "defect"}, (limit, category)
    first = plan_run(RunRequest("always-normal", None, "mvtec", data_roots=roots, limit=1))
    assert {label for counts in _labels(first).values() for label in counts} == {"normal"}


def _run(*args: str):
    return CliRunner().invoke(app, ["run", "--method", "always-defect", *args])


def test_run_limit_1_warns_once_that_every_category_holds_one_label(tmp_path, synth_mvtec):
    result = _run("--test", "mvtec", "--data", f"mvtec={synth_mvtec}", "--limit", "1",
                  "--out", str(tmp_path / "r"))  # fmt: skip
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert text.count("Warning:") == 1
    assert "one-label test categories (only normal images in bottle, cable" in text
    assert "--limit 1 takes one image per category" in text
    assert "AUROC is undefined" in text
    both = _run("--test", "mvtec", "--data", f"mvtec={synth_mvtec}", "--limit", "2",
                "--out", str(tmp_path / "r2"))  # fmt: skip
    assert both.exit_code == 0 and "Warning:" not in both.output


def test_run_names_a_folder_category_without_defects_and_matrix_warns_per_cell(
    tmp_path, synth_mvtec
):
    parts = tmp_path / "parts"
    for category in ("bottle", "cable"):
        shutil.copytree(synth_mvtec / category / "test", parts / category)
    for defect in (parts / "cable").iterdir():
        if defect.name != "good":
            shutil.rmtree(defect)
    result = _run("--test", "parts", "--data", f"parts={parts}", "--out", str(tmp_path / "r"))
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert text.count("Warning:") == 1 and "(only normal images in cable)" in text
    # Reused (nothing recomputed): still said, once.
    again = _run("--test", "parts", "--data", f"parts={parts}", "--out", str(tmp_path / "r"))
    assert " ".join(again.output.split()).count("(only normal images in cable)") == 1
    matrix = CliRunner().invoke(app, [
        "matrix", "--methods", "always-defect", "--datasets", "parts,mvtec", "--data",
        f"parts={parts}", "--data", f"mvtec={synth_mvtec}", "--out", str(tmp_path / "m"),
        "--limit", "2",
    ])  # fmt: skip
    assert matrix.exit_code == 0, matrix.output
    assert " ".join(matrix.output.split()).count("Warning:") == 1  # the parts cell only


def test_evaluate_logs_the_warning_once(tmp_path, synth_mvtec, caplog):
    import iadbench

    with caplog.at_level("WARNING", logger="iadbench"):
        iadbench.evaluate("always-defect", "mvtec", data={"mvtec": synth_mvtec}, limit=1,
                          out=tmp_path / "r", cache_dir=tmp_path / "c")  # fmt: skip
    warnings = [r.getMessage() for r in caplog.records if "one-label" in r.getMessage()]
    assert len(warnings) == 1 and "--limit 1 takes one image" in warnings[0]
