"""`iadbench compare` and the statistics block of real runs: McNemar on the same test images."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import in_process
import pytest
from scipy.stats import binomtest
from typer.testing import CliRunner

from iadbench.cli import app
from iadbench.runs.seal import seal_summary
from iadbench.views.leaderboard import collect_runs, render_leaderboard

# Right on 19 of 20 images, decided by the image id alone (needs no pixels).
MOSTLY_RIGHT = (
    "import zlib\n"
    "import iadbench\n"
    "from iadbench.contract.method import Capabilities\n"
    "@iadbench.register_method('mostly-right')\n"
    "class MostlyRight(iadbench.MethodAdapter):\n"
    "    capabilities = Capabilities(needs_pixels=False, builds_models=False)\n"
    "    def predict(self, batch, inputs=None):\n"
    "        flip = {'defect': 'normal', 'normal': 'defect'}\n"
    "        return [iadbench.Prediction(label=s.label if zlib.crc32(s.id.encode()) % 20 else\n"
    "                                    flip[s.label]) for s in batch]\n"
)
# (method, test dataset, train dataset) of the runs compared.
CELLS = [
    ("mostly-right", "mvtec", "visa"),
    ("always-normal", "mvtec", "visa"),
    ("always-defect", "mvtec", "visa"),
    ("always-normal", "visa", "mvtec"),
]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, synth_mvtec: Path, synth_visa: Path):
    """Run dirs of three methods on the same MVTec test images, plus one on VisA."""
    root = tmp_path_factory.mktemp("compare")
    plugin = root / "mostly_right.py"
    plugin.write_text(MOSTLY_RIGHT)
    data = ["--data", f"mvtec={synth_mvtec}", "--data", f"visa={synth_visa}"]
    made = {}
    for method, test, train in CELLS:
        out = root / f"{method}-{test}"
        result = iadbench("run", "--method", method, "--train", train, "--test", test, *data,
                          "--plugin", str(plugin), "--out", str(out))  # fmt: skip
        assert result.returncode == 0, result.stderr
        made[f"{method}-{test}"] = out
    return made


def iadbench(*args: str) -> subprocess.CompletedProcess[str]:
    return in_process.iadbench(*args, env={"COLUMNS": "80"})


def predictions(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "predictions.jsonl").read_text().splitlines()]


def test_the_summary_carries_intervals_and_mcnemar_against_both_baselines(runs) -> None:
    summary = json.loads((runs["mostly-right-mvtec"] / "summary.json").read_text())
    stats = summary["statistics"]
    boot = stats["bootstrap"]
    assert (boot["resamples"], boot["seed"], boot["level"], boot["unit"]) == (1000, 0, 0.95,
                                                                              "image")  # fmt: skip
    for metric in ("accuracy", "f1_macro", "balanced_accuracy"):
        low, high = boot["overall"][metric]
        assert low <= summary["overall"][metric] <= high
        assert set(boot["per_class"]) == set(summary["per_class"])
    rows = predictions(runs["mostly-right-mvtec"])
    right = [r["pred"] == r["label"] for r in rows]
    normal = [r["label"] == "normal" for r in rows]
    better = sum(a and not b for a, b in zip(right, normal, strict=True))
    worse = sum(b and not a for a, b in zip(right, normal, strict=True))
    test = stats["mcnemar"]["always-normal"]
    assert (test["better"], test["worse"]) == (better, worse)
    assert test["p_value"] == pytest.approx(binomtest(better, better + worse).pvalue)
    assert test["accuracy_delta"] == pytest.approx(
        summary["overall"]["accuracy"] - sum(normal) / len(rows)
    )
    assert set(stats["mcnemar_per_class"]) == set(summary["per_class"])


def test_compare_prints_accuracies_counts_and_the_exact_p_value(runs) -> None:
    a, b = runs["mostly-right-mvtec"], runs["always-defect-mvtec"]
    result = iadbench("compare", str(a), str(b))
    assert result.returncode == 0, result.stderr
    rows = predictions(a)
    better = sum(r["pred"] == r["label"] != "defect" for r in rows)
    worse = sum(r["pred"] != r["label"] == "defect" for r in rows)
    pooled = next(line.split() for line in result.stdout.splitlines() if line.startswith("pooled"))
    assert pooled[1] == str(len(rows)) and pooled[4:6] == [str(better), str(worse)]
    p = binomtest(better, better + worse).pvalue
    assert pooled[6] == ("<0.001" if p < 0.001 else f"{p:.3g}")
    assert "Verdict: A is more accurate" in result.stdout
    assert "bottle" in result.stdout
    assert max(len(line) for line in result.stdout.splitlines()[2:]) <= 80  # A:/B: hold paths


def test_swapping_the_runs_swaps_the_counts(runs) -> None:
    a, b = str(runs["mostly-right-mvtec"]), str(runs["always-normal-mvtec"])
    ab = json.loads(CliRunner().invoke(app, ["compare", a, b, "--json"]).stdout)["groups"]
    ba = json.loads(CliRunner().invoke(app, ["compare", b, a, "--json"]).stdout)["groups"]
    for group, figures in ab.items():
        assert (figures["better"], figures["worse"]) == (ba[group]["worse"], ba[group]["better"])
        assert figures["p_value"] == pytest.approx(ba[group]["p_value"])
        assert figures["accuracy_delta"] == pytest.approx(
            figures["accuracy_a"] - figures["accuracy_b"]
        )


def test_a_run_against_itself_is_no_difference(runs) -> None:
    a = str(runs["mostly-right-mvtec"])
    groups = json.loads(CliRunner().invoke(app, ["compare", a, a, "--json"]).stdout)["groups"]
    assert all(g["p_value"] == 1.0 and g["better"] == g["worse"] == 0 for g in groups.values())


def test_runs_on_another_test_set_are_refused(runs) -> None:
    result = iadbench("compare", str(runs["mostly-right-mvtec"]), str(runs["always-normal-visa"]))
    assert result.returncode == 2
    assert "same test images" in result.stderr and "Traceback" not in result.stderr


def test_runs_on_other_images_are_refused(runs, tmp_path: Path) -> None:
    # Same dataset and split, one image fewer: a different test set.
    copy = tmp_path / "fewer"
    shutil.copytree(runs["always-normal-mvtec"], copy)
    lines = (copy / "predictions.jsonl").read_text().splitlines(keepends=True)
    (copy / "predictions.jsonl").write_text("".join(lines[1:]))
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["config"]["test"]["fingerprint"] = None  # only the ids can tell
    (copy / "manifest.json").write_text(json.dumps(manifest))
    summary = json.loads((copy / "summary.json").read_text())
    sealed = seal_summary(summary, copy / "predictions.jsonl")
    (copy / "summary.json").write_text(json.dumps(sealed))
    result = CliRunner().invoke(app, ["compare", str(runs["mostly-right-mvtec"]), str(copy)])
    assert result.exit_code == 2 and "1 only in A, 0 only in B" in result.output


def test_a_different_fingerprint_is_refused(runs, tmp_path: Path) -> None:
    copy = tmp_path / "other-files"
    shutil.copytree(runs["always-normal-mvtec"], copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["config"]["test"]["fingerprint"] = "0" * 64
    (copy / "manifest.json").write_text(json.dumps(manifest))
    result = CliRunner().invoke(app, ["compare", str(runs["mostly-right-mvtec"]), str(copy)])
    assert result.exit_code == 2 and "fingerprints differ" in result.output


def test_an_edited_summary_is_refused(runs, tmp_path: Path) -> None:
    copy = tmp_path / "edited"
    shutil.copytree(runs["always-normal-mvtec"], copy)
    summary = json.loads((copy / "summary.json").read_text())
    summary["overall"]["accuracy"] = 0.99
    (copy / "summary.json").write_text(json.dumps(summary))
    result = CliRunner().invoke(app, ["compare", str(copy), str(runs["mostly-right-mvtec"])])
    assert result.exit_code == 2 and "changed after iadbench wrote it" in result.output
    # The file is named once (issue 19 saw "summary.json summary.json was changed").
    assert "summary.json summary.json" not in result.output
    assert " ".join(result.output.split()).startswith(f"Error: {copy}: summary.json was changed")


def test_a_tiny_run_is_named_as_random_weight_noise(runs, tmp_path: Path, synth_mvtec) -> None:
    """Issue 19: compare said nothing about a run made with --tiny."""
    plugin = tmp_path / "tiny_plugin.py"
    # The same answers from a method that builds models, so that --tiny applies to it.
    plugin.write_text(
        MOSTLY_RIGHT.replace("'mostly-right'", "'tiny-right'").replace(
            "needs_pixels=False, builds_models=False", "needs_pixels=False"
        )
    )
    tiny = tmp_path / "tiny-run"
    made = iadbench("run", "--method", "tiny-right", "--tiny", "--test", "mvtec",
                    "--data", f"mvtec={synth_mvtec}", "--plugin", str(plugin),
                    "--out", str(tiny))  # fmt: skip
    assert made.returncode == 0, made.stderr
    result = iadbench("compare", str(tiny), str(runs["mostly-right-mvtec"]))
    assert result.returncode == 0, result.stderr
    text = " ".join(result.stdout.split())
    assert "A (tiny-right) used tiny random weights (--tiny)" in text and "B (" not in text
    figures = json.loads(iadbench("compare", str(tiny), str(tiny), "--json").stdout)
    assert figures["tiny"] == {"a": True, "b": True}
    plain = iadbench("compare", str(runs["mostly-right-mvtec"]), str(runs["always-normal-mvtec"]))
    assert "tiny" not in plain.stdout


def test_a_limit_run_against_a_full_one_is_named_a_partial_run(
    runs, tmp_path: Path, synth_mvtec
) -> None:
    """Issue 19: refused as "images replaced, added, removed or relabelled" before."""
    partial = tmp_path / "partial"
    made = iadbench("run", "--method", "always-normal", "--test", "mvtec", "--limit", "2",
                    "--data", f"mvtec={synth_mvtec}", "--out", str(partial))  # fmt: skip
    assert made.returncode == 0, made.stderr
    result = iadbench("compare", str(runs["mostly-right-mvtec"]), str(partial))
    message = " ".join(result.stderr.split())
    assert result.returncode == 2 and "replaced, added" not in message
    assert "B is a partial run (--limit 2" in message and "A a full one" in message
    assert "run B again without --limit (or A with --limit 2)" in message


def test_the_leaderboard_lists_intervals_and_which_baselines_a_run_beats(runs) -> None:
    root = runs["mostly-right-mvtec"].parent
    markdown = render_leaderboard(collect_runs(root))
    section = markdown.split("## Statistics")[1].split("\n## ")[0]
    line = next(row for row in section.splitlines() if row.startswith("| mostly-right"))
    cells = [c.strip() for c in line.strip("|").split("|")]
    summary = json.loads((runs["mostly-right-mvtec"] / "summary.json").read_text())
    low, high = summary["statistics"]["bootstrap"]["overall"]["accuracy"]
    assert cells[3] == f"{100 * low:.2f}–{100 * high:.2f}"
    assert cells[8] == "both"
