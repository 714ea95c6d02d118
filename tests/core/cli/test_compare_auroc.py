"""``compare``: a paired bootstrap of the difference in AUROC beside McNemar (issue 20 item 6)."""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score
from typer.testing import CliRunner

from iadbench.analysis.paired_auroc import paired_auroc_difference
from iadbench.cli import app
from iadbench.runs.seal import seal_summary

# Score methods decided by the image id (no pixels): a score with some signal, its inverted
# twin (1 − score), and a text method that answers with a score except on every 7th image.
PLUGIN = """
import hashlib
import iadbench
from iadbench.contract.method import Capabilities

def score(sample):
    noise = hashlib.sha256(sample.id.encode()).digest()[0] / 255
    return round(0.5 * noise + (0.5 if sample.label == "defect" else 0.0), 3)

@iadbench.register_method("id-score")
class IdScore(iadbench.MethodAdapter):
    capabilities = Capabilities(needs_pixels=False, gives_scores=True, builds_models=False)
    def predict(self, batch, inputs=None):
        return [iadbench.Prediction(score=score(s)) for s in batch]

@iadbench.register_method("id-score-inverted")
class IdScoreInverted(iadbench.MethodAdapter):
    capabilities = Capabilities(needs_pixels=False, gives_scores=True, builds_models=False)
    def predict(self, batch, inputs=None):
        return [iadbench.Prediction(score=1 - score(s)) for s in batch]

@iadbench.register_method("id-text")
class IdText(iadbench.MethodAdapter):
    capabilities = Capabilities(needs_pixels=False, gives_text=True, builds_models=False)
    def predict(self, batch, inputs=None):
        out = []
        for s in batch:
            if hashlib.sha256(s.id.encode()).digest()[1] % 7 == 0:
                out.append(iadbench.Prediction(label="invalid", text="C"))
            else:
                p = score(s)
                out.append(iadbench.Prediction(label="defect" if p >= 0.5 else "normal",
                                               score=p, text="A" if p >= 0.5 else "B"))
        return out
"""
METHODS = ("id-score", "id-score-inverted", "id-text", "always-normal")


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, synth_mvtec: Path) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("compare-auroc")
    plugin = root / "plugin.py"
    plugin.write_text(PLUGIN, encoding="utf-8")
    made = {}
    for method in METHODS:
        out = root / method
        result = CliRunner().invoke(app, ["run", "--method", method, "--test", "mvtec",
                                          "--data", f"mvtec={synth_mvtec}", "--plugin",
                                          str(plugin), "--out", str(out)])  # fmt: skip
        assert result.exit_code == 0, result.output
        made[method] = out
    return made


def _compare(a: Path, b: Path) -> dict:
    result = CliRunner().invoke(app, ["compare", str(a), str(b), "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _shuffled(run: Path, into: Path) -> Path:
    """A copy of ``run`` whose prediction lines are in another order (summary sealed again)."""
    shutil.copytree(run, into)
    path = into / "predictions.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    random.Random(3).shuffle(lines)
    path.write_text("".join(lines), encoding="utf-8")
    summary = json.loads((into / "summary.json").read_text(encoding="utf-8"))
    (into / "summary.json").write_text(json.dumps(seal_summary(summary, path)), encoding="utf-8")
    return into


def test_identical_runs_differ_by_zero_with_an_interval_holding_zero(runs) -> None:
    figures = _compare(runs["id-score"], runs["id-score"])
    for name, group in figures["groups"].items():
        auroc = group["auroc"]
        assert auroc["difference"] == 0.0 and auroc["p_value"] == 1.0, name
        low, high = auroc["interval"]
        assert low <= 0 <= high


def test_a_run_against_its_inverted_twin_excludes_zero(runs) -> None:
    figures = _compare(runs["id-score"], runs["id-score-inverted"])
    pooled = figures["groups"]["pooled"]["auroc"]
    assert pooled["auroc_a"] == pytest.approx(1 - pooled["auroc_b"])
    assert pooled["difference"] > 0 and pooled["interval"][0] > 0
    assert pooled["p_value"] == pytest.approx(2 / 1001)  # no resample on the far side of 0
    text = CliRunner().invoke(app, ["compare", str(runs["id-score"]),
                                    str(runs["id-score-inverted"])]).stdout  # fmt: skip
    assert "AUROC: A ranks the images better" in " ".join(text.split())
    assert max(len(line) for line in text.splitlines()[2:]) <= 80  # A:/B: hold paths
    summary = json.loads((runs["id-score"] / "summary.json").read_text(encoding="utf-8"))
    assert pooled["auroc_a"] == pytest.approx(summary["overall"]["auroc"])


def test_the_order_of_either_file_does_not_change_the_result(runs, tmp_path: Path) -> None:
    a, b = runs["id-score"], runs["id-text"]
    straight = _compare(a, b)
    shuffled_b = _compare(a, _shuffled(b, tmp_path / "b"))
    shuffled_a = _compare(_shuffled(a, tmp_path / "a"), b)
    for other in (shuffled_a, shuffled_b):
        for name, group in straight["groups"].items():
            assert other["groups"][name]["auroc"] == group["auroc"], name


def test_a_text_method_with_unscored_images_is_ranked_as_the_summary_ranks_it(runs) -> None:
    figures = _compare(runs["id-text"], runs["id-score"])
    pooled = figures["groups"]["pooled"]["auroc"]
    summary = json.loads((runs["id-text"] / "summary.json").read_text(encoding="utf-8"))
    assert pooled["unscored_a"] == summary["overall"]["n_unscored"] > 0
    assert pooled["unscored_b"] == 0
    assert pooled["auroc_a"] == pytest.approx(summary["overall"]["auroc"])
    assert pooled["auroc_a"] < pooled["auroc_b"]  # the unscored images cost it
    text = CliRunner().invoke(app, ["compare", str(runs["id-text"]), str(runs["id-score"])])
    assert f"A has {pooled['unscored_a']} unscored image(s)" in " ".join(text.stdout.split())


def test_a_run_without_scores_gets_mcnemar_only(runs) -> None:
    figures = _compare(runs["id-score"], runs["always-normal"])
    assert all(group["auroc"] is None for group in figures["groups"].values())
    assert "B (always-normal) gives no scores" in figures["auroc_note"]
    text = CliRunner().invoke(app, ["compare", str(runs["id-score"]), str(runs["always-normal"])])
    assert text.exit_code == 0 and "AUROC not compared" in text.stdout and "Verdict" in text.stdout


def test_the_bootstrap_matches_scikit_learn_and_pairs_the_draws() -> None:
    rng = np.random.default_rng(0)
    labels = ["defect" if x else "normal" for x in rng.random(200) < 0.4]
    truth = np.asarray([label == "defect" for label in labels])
    a = np.round(np.clip(truth * 0.3 + rng.random(200) * 0.7, 0, 1), 2)  # ties included
    b = np.round(a + rng.normal(0, 0.05, 200), 2)  # close to A: pairing narrows the interval
    ids = [f"img{i:03d}" for i in range(200)]
    result = paired_auroc_difference(ids, labels, list(a), list(b))
    assert result.auroc_a == pytest.approx(roc_auc_score(truth, a))
    assert result.auroc_b == pytest.approx(roc_auc_score(truth, b))
    assert result.interval is not None
    # Unpaired, the spread of a difference of two AUROCs of 200 images is several points wide;
    # paired on the same draws it is a fraction of that.
    assert result.interval[1] - result.interval[0] < 0.04
    one_label = paired_auroc_difference(ids[:3], ["normal"] * 3, [0.1, 0.2, 0.3], [0.3, 0.2, 0.1])
    assert one_label.difference is None and one_label.p_value is None
