"""``iadbench predict`` (issue 12 item 5): unlabeled images get the labels a run gives them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from iadbench.cli.app import app
from iadbench.execution.label_files import OUTPUT_COLUMNS
from iadbench.execution.unlabeled_images import unlabeled_samples

pytest.importorskip("PIL")


def _cli(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def _unlabeled_copies(root: Path, ids: list[str], target: Path) -> dict[str, str]:
    """Copy images to ``target/<category>/<n>.png`` (no defect folders, no labels left).

    Returns:
        The copy's resolved path -> the original id.
    """
    copies = {}
    for n, image_id in enumerate(ids):
        category = image_id.split("/")[0]
        copy = target / category / f"{n:03d}.png"
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(root / image_id, copy)
        copies[str(copy.resolve())] = image_id
    return copies


def _records(run: Path) -> dict[str, dict]:
    return {r["id"]: r for r in map(json.loads, (run / "predictions.jsonl").open())}


@pytest.mark.slow
def test_own_parts_split_trained_run_and_predict_agree(tmp_path, parts, plugin_file):
    """The issue's end-to-end check on a user's folder of parts.

    ``nominal/`` and ``pass/`` hold the normal images (``pass`` named through the mapping);
    ``data split`` puts half of them in Train; the brightness plugin (trains, gives scores)
    trains on Train with a threshold chosen on the training normals; ``predict`` on unlabeled
    copies of the test images gives every image the run's label, by the run dir and by the
    training hash with that threshold.
    """
    _cli("data", "split", "parts", "--data", f"parts={parts}", "--train-normal-ratio", "0.5",
         "--normal-folders", "nominal,pass", "--seed", "3")  # fmt: skip
    run, cache = tmp_path / "run", tmp_path / "cache"
    common = ["--plugin", str(plugin_file), "--data", f"parts={parts}", "--cache-dir", str(cache)]
    # In-sample on purpose (issue 20 marks it): the held-out default would take one of the two
    # training normals per category, and `predict --method --train` finds the full training.
    _cli("run", "--method", "brightness", "--train", "parts", "--test", "parts",
         "--threshold", "normal-quantile:0.5", "--calibration-ratio", "0", "--out", str(run),
         *common)  # fmt: skip
    stored = _records(run)
    summary = json.loads((run / "summary.json").read_text())
    assert summary["test"]["split"] == "test" and summary["train"]["split"] == "train"
    assert summary["calibration"]["source"] == "in-sample"
    assert {r["pred"] for r in stored.values()} == {"defect", "normal"}  # not a constant answer
    copies = _unlabeled_copies(parts, sorted(stored), tmp_path / "unlabeled")

    by_run = tmp_path / "by-run.jsonl"
    _cli("predict", str(tmp_path / "unlabeled"), "--from-run", str(run), "--plugin",
         str(plugin_file), "--output", str(by_run))  # fmt: skip
    rows = [json.loads(line) for line in by_run.open()]
    assert len(rows) == len(stored)
    for row in rows:
        original = stored[copies[row["path"]]]
        assert (row["label"], row["score"]) == (original["pred"], original["score"])
        assert row["threshold"] == summary["threshold_value"] and set(row) == set(OUTPUT_COLUMNS)

    by_hash = tmp_path / "by-hash.csv"
    _cli("predict", str(tmp_path / "unlabeled"), "--method", "brightness", "--train", "parts",
         "--threshold", f"fixed:{summary['threshold_value']!r}", "--output", str(by_hash),
         *common)  # fmt: skip
    import csv

    with by_hash.open(newline="") as handle:
        labels = {row["path"]: row["label"] for row in csv.DictReader(handle)}
    assert labels == {path: stored[image_id]["pred"] for path, image_id in copies.items()}
    # The threshold is what decides: the method's default (fixed:0.5) labels them otherwise.
    default = tmp_path / "default.jsonl"
    _cli("predict", str(tmp_path / "unlabeled"), "--method", "brightness", "--train", "parts",
         "--output", str(default), *common)  # fmt: skip
    assert [json.loads(x)["label"] for x in default.open()] != [r["label"] for r in rows]


def _anomalygpt_run_and_predict(tmp_path, synth_mvtec, *options: str):
    """A tiny AnomalyGPT run (Train → Test of MVTec-AD), then predict on copies of its bottles.

    Returns:
        The run dir, and pairs (predicted row, the run's record of the same image).
    """
    pytest.importorskip("torch")
    run = tmp_path / "run"
    _cli("run", "--method", "anomalygpt", "--tiny", "--train", "mvtec", "--train-split", "train",
         "--test", "mvtec", "--test-split", "test", "--data", f"mvtec={synth_mvtec}",
         "--set", "max_train_samples=4", *options, "--out", str(run),
         "--cache-dir", str(tmp_path / "c"), "--device", "cpu")  # fmt: skip
    stored = _records(run)
    ids = sorted(i for i in stored if i.startswith("bottle/"))
    copies = _unlabeled_copies(synth_mvtec, ids, tmp_path / "unlabeled")
    out = tmp_path / "p.jsonl"
    _cli("predict", str(tmp_path / "unlabeled"), "--from-run", str(run), "--output", str(out),
         "--device", "cpu")  # fmt: skip
    return run, [(row, stored[copies[row["path"]]]) for row in map(json.loads, out.open())]


@pytest.mark.slow
def test_text_method_answers_equal_the_run_when_presented_as_its_test_dataset(
    tmp_path, synth_mvtec
):
    _, pairs = _anomalygpt_run_and_predict(tmp_path, synth_mvtec)
    assert pairs
    for row, original in pairs:
        # The prompt names the run's test dataset and the folder's category, as in the run.
        assert (row["text"], row["label"], row["score"]) == (
            original["text"], original["pred"], original["score"]
        )


def test_a_training_method_without_its_training_is_refused(tmp_path, synth_mvtec, plugin_file):
    result = CliRunner().invoke(app, [
        "predict", str(synth_mvtec / "bottle" / "test"), "--method", "brightness", "--plugin",
        str(plugin_file), "--train", "mvtec", "--data", f"mvtec={synth_mvtec}",
        "--category", "bottle",  # the training knows 15 categories, not the folders good/...
        "--cache-dir", str(tmp_path / "empty"), "--output", str(tmp_path / "p.jsonl"),
    ])  # fmt: skip
    assert result.exit_code == 2 and "no finished training" in result.output
    assert "iadbench train" in result.output and not (tmp_path / "p.jsonl").exists()


def test_unreadable_images_are_recorded_and_the_rest_predicted(tmp_path, synth_mvtec):
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copyfile(synth_mvtec / "bottle" / "test" / "good" / "000.png", folder / "ok.png")
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    (folder / "notes.txt").write_text("not an image")
    out = tmp_path / "p.csv"
    _cli("predict", str(folder), "--method", "winclip", "--tiny", "--output", str(out))
    import csv

    with out.open(newline="") as handle:
        rows = {Path(r["path"]).name: r for r in csv.DictReader(handle)}
    assert set(rows) == {"ok.png", "broken.png"}  # the .txt is not an image
    assert rows["ok.png"]["label"] in ("normal", "defect") and rows["ok.png"]["error"] == ""
    assert rows["broken.png"]["label"] == "invalid" and rows["broken.png"]["error"]


def test_bad_arguments_exit_2_with_a_message(tmp_path, synth_mvtec):
    image = str(synth_mvtec / "bottle" / "test" / "good" / "000.png")
    cases = {
        ("--method", "always-normal", "--output", str(tmp_path / "p.txt")): ".jsonl or .csv",
        ("--output", str(tmp_path / "p.csv")): "either --method or --from-run",
        ("--from-run", str(tmp_path), "--output", str(tmp_path / "p.csv")): "complete run",
        ("--method", "winclip", "--tiny", "--threshold", "oracle", "--output",
         str(tmp_path / "p.csv")): "no labelled images",
    }  # fmt: skip
    for args, message in cases.items():
        result = CliRunner().invoke(app, ["predict", image, *args])
        assert result.exit_code == 2 and message in " ".join(result.output.split()), args


def test_sample_ids_are_relative_to_the_inputs_common_folder(tmp_path):
    for name in ("a/x.png", "a/b/y.png", "c/z.jpg"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    samples = unlabeled_samples([tmp_path / "a", tmp_path / "c" / "z.jpg", tmp_path / "a"])
    assert [s.id for s in samples] == ["a/b/y.png", "a/x.png", "c/z.jpg"]
    assert [s.category for s in samples] == ["b", "a", "c"]
    assert unlabeled_samples([tmp_path / "c"], category="bracket")[0].category == "bracket"


@pytest.mark.slow
def test_a_method_that_writes_maps_names_them_in_its_rows(tmp_path, synth_mvtec, synth_visa):
    pytest.importorskip("open_clip")
    run = tmp_path / "run"
    _cli("run", "--method", "aprilgan", "--tiny", "--train", "visa", "--test", "mvtec",
         "--test-split", "test", "--set", "image_size=112", "--set", "epochs=1",
         "--set", "save_maps=true", "--data", f"mvtec={synth_mvtec}", "--data",
         f"visa={synth_visa}", "--out", str(run), "--cache-dir", str(tmp_path / "c"),
         "--device", "cpu")  # fmt: skip
    folder = tmp_path / "in" / "bottle"
    folder.mkdir(parents=True)
    shutil.copyfile(synth_mvtec / "bottle" / "test" / "good" / "000.png", folder / "a.png")
    out = tmp_path / "p.jsonl"
    _cli("predict", str(tmp_path / "in"), "--from-run", str(run), "--output", str(out),
         "--device", "cpu")  # fmt: skip
    (row,) = map(json.loads, out.open())
    assert row["map"] == str(tmp_path / "p-artifacts" / "maps" / "bottle" / "a.png")
    assert Path(row["map"]).is_file()


@pytest.mark.slow
def test_a_few_shot_run_predicts_with_its_own_references(tmp_path, synth_mvtec):
    tree = tmp_path / "mvtec"  # a copy: its reference images are edited below
    shutil.copytree(synth_mvtec, tree)
    run, pairs = _anomalygpt_run_and_predict(tmp_path, tree, "--set", "few_shot=1")
    assert pairs
    for row, original in pairs:
        assert (row["text"], row["score"]) == (original["text"], original["score"])
    # Only categories that have references; and a flags-only few-shot predict has none.
    refused = CliRunner().invoke(app, ["predict", str(tmp_path / "unlabeled"), "--from-run",
                                       str(run), "--category", "nowhere", "--output",
                                       str(tmp_path / "q.jsonl")])  # fmt: skip
    assert refused.exit_code == 2 and "not for nowhere" in refused.output
    flags = CliRunner().invoke(app, ["predict", str(tmp_path / "unlabeled"), "--method",
                                     "anomalygpt", "--tiny", "--set", "few_shot=1",
                                     "--output", str(tmp_path / "r.jsonl")])  # fmt: skip
    assert flags.exit_code == 2 and "needs reference images" in " ".join(flags.output.split())
    # The references must be the run's: a replaced Train image is refused, not used silently.
    reference = sorted((tree / "bottle" / "train" / "good").iterdir())[0]
    reference.write_bytes((tree / "bottle" / "test" / "good" / "000.png").read_bytes())
    changed = CliRunner().invoke(app, ["predict", str(tmp_path / "unlabeled"), "--from-run",
                                       str(run), "--output", str(tmp_path / "s.jsonl")])
    assert changed.exit_code == 2 and "not the ones the run compared with" in " ".join(
        changed.output.split()
    )


def test_from_run_refuses_an_edited_or_unsealed_summary_as_leaderboard_does(tmp_path, synth_mvtec):
    """The stored threshold decides every label predict writes: only a sealed summary is trusted.

    Issue 18 item 2: an unsealed summary (no digest) used to be accepted here while
    ``leaderboard`` and ``compare`` refuse it; it is refused now (this test asserted the opposite
    before), and the advice it gives (run the same ``run`` command again) makes it usable.
    """
    run = tmp_path / "run"
    run_args = ("run", "--method", "always-normal", "--test", "mvtec", "--data",
                f"mvtec={synth_mvtec}", "--out", str(run))  # fmt: skip
    _cli(*run_args)
    images = tmp_path / "images"
    _unlabeled_copies(synth_mvtec, sorted(_records(run))[:2], images)
    summary_path = run / "summary.json"
    sealed = json.loads(summary_path.read_text())

    edited = {**sealed, "threshold_value": 0.01}
    summary_path.write_text(json.dumps(edited))
    result = CliRunner().invoke(
        app, ["predict", str(images), "--from-run", str(run), "--output", str(tmp_path / "a.csv")]
    )
    assert result.exit_code == 2 and "threshold cannot be trusted" in result.output
    assert not (tmp_path / "a.csv").exists()

    unsealed = {key: value for key, value in sealed.items() if key != "digest"}
    summary_path.write_text(json.dumps(unsealed))
    result = CliRunner().invoke(
        app, ["predict", str(images), "--from-run", str(run), "--output", str(tmp_path / "b.csv")]
    )
    message = " ".join(result.output.split())
    assert result.exit_code == 2 and "carries no digest" in message, result.output
    assert "run the same `iadbench run` command again" in message
    assert not (tmp_path / "b.csv").exists() and not (tmp_path / "b.csv.partial").exists()
    _cli(*run_args)  # what the message advises: the summary is recomputed and sealed
    _cli("predict", str(images), "--from-run", str(run), "--output", str(tmp_path / "b.csv"))
    assert (tmp_path / "b.csv").exists()

    # The seal does not cover manifest.json: an option edited there (the attack re-run changed
    # a radius and got other scores, exit 0) is caught by its configuration hash.
    manifest_path = run / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["config"]["seed"] = manifest["config"]["seed"] + 1
    manifest_path.write_text(json.dumps(manifest))
    result = CliRunner().invoke(
        app, ["predict", str(images), "--from-run", str(run), "--output", str(tmp_path / "c.csv")]
    )
    assert result.exit_code == 2 and "configuration was edited" in " ".join(result.output.split())
    assert not (tmp_path / "c.csv").exists()
