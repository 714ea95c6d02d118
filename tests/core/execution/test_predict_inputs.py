"""``iadbench predict``'s inputs and flags (issue 18 items 1, 2, 5, 14): nothing silently dropped.

A bad batch size, a flag the stored run fixes, a symlinked folder and a FIFO named ``x.png`` each
used to give a wrong answer with exit 0 (or hang); each is now refused or handled by the rule the
run path follows.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

import iadbench
from iadbench.cli.app import app
from iadbench.contract.errors import ArgumentError
from iadbench.execution.predict import predict_images
from iadbench.execution.request import RunRequest
from iadbench.execution.unlabeled_images import unlabeled_samples

# Reads every image's bytes (a FIFO would block it forever) and logs the ids it predicted.
_READING_PLUGIN = textwrap.dedent(
    """
    import os, zlib
    from pathlib import Path
    import iadbench

    @iadbench.register_method("reads-bytes")
    class ReadsBytes(iadbench.MethodAdapter):
        capabilities = iadbench.Capabilities(gives_scores=True)
        default_batch_size = 2

        def predict(self, batch):
            out = []
            for sample in batch:
                crc = zlib.crc32(Path(sample.image_path).read_bytes())
                out.append(iadbench.Prediction(score=(crc % 1000) / 1000))
            if log := os.environ.get("PREDICT_TEST_LOG"):
                with open(log, "a") as handle:
                    handle.write("".join(s.id + "\\n" for s in batch))
            return out
    """
)


@pytest.fixture()
def reading_plugin(tmp_path: Path) -> Path:
    path = tmp_path / "reads_bytes.py"
    path.write_text(_READING_PLUGIN)
    return path


def _images(folder: Path, names: list[str]) -> Path:
    for name in names:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(name.encode())
    return folder


def _invoke(*args: str):
    result = CliRunner().invoke(app, list(args))
    return result, " ".join(result.output.split())


@pytest.mark.parametrize("value", ["-1", "0", "2.5"])
def test_predict_refuses_a_batch_size_below_one(tmp_path, value):
    """``--batch-size -1`` predicted 1 of 2 images, exit 0; ``--from-run … -3`` wrote 0 rows."""
    images = _images(tmp_path / "in", ["a.png", "b.png"])
    out = tmp_path / "p.jsonl"
    for source in (["--method", "always-normal"], ["--from-run", str(tmp_path / "run")]):
        result, text = _invoke("predict", str(images), *source, "--batch-size", value,
                               "--output", str(out))  # fmt: skip
        assert result.exit_code == 2, result.output
        assert "--batch-size" in text and "Traceback" not in text
        assert not out.exists() and not Path(f"{out}.partial").exists()


def test_the_python_api_refuses_a_batch_size_below_one(tmp_path):
    """``iadbench.predict_samples(adapter, 5 samples, batch_size=-1)`` returned 4 predictions."""
    from iadbench_methods.baselines import AlwaysNormal

    samples = unlabeled_samples([_images(tmp_path / "in", [f"{n}.png" for n in range(5)])])
    for bad in (-1, 0, True, 2.5):
        with pytest.raises(ArgumentError, match="batch_size"):
            iadbench.predict_samples(AlwaysNormal(), samples, batch_size=bad)
    assert len(iadbench.predict_samples(AlwaysNormal(), samples, batch_size=2)) == 5
    request = RunRequest(method="always-normal", train=None, test="unlabeled")
    with pytest.raises(ArgumentError, match="batch_size"):
        predict_images(request, [tmp_path / "in"], tmp_path / "p.jsonl", batch_size=-1)
    with pytest.raises(ArgumentError, match="workers"):
        predict_images(request, [tmp_path / "in"], tmp_path / "p.jsonl", workers=-1)
    assert not (tmp_path / "p.jsonl").exists()


@pytest.fixture(scope="module")
def complete_run(tmp_path_factory, synth_mvtec) -> Path:
    run = tmp_path_factory.mktemp("stored") / "run"
    args = ["run", "--method", "always-normal", "--test", "mvtec", "--data", f"mvtec={synth_mvtec}"]
    result = CliRunner().invoke(app, [*args, "--out", str(run)])
    assert result.exit_code == 0, result.output
    return run


@pytest.mark.parametrize(
    ("flags", "why"),
    [
        (["--threshold", "fixed:0.1"], "the run's own threshold is used"),
        (["--set", "x=1"], "the run's own options are used"),
        (["--tiny"], "the run's own models are used"),
        (["--seed", "0"], "the run's own seed is used"),
        (["--train", "mvtec"], "the run's own training is used"),
        (["--train-split", "train"], "the run's own training is used"),
        (["--data", "mvtec=/elsewhere"], "the run's recorded dataset roots are used"),
    ],
)
def test_from_run_refuses_a_flag_that_the_run_fixes(tmp_path, complete_run, flags, why):
    """These flags were silently ignored beside ``--from-run`` (a --threshold changed nothing)."""
    images = _images(tmp_path / "in", ["a.png"])
    out = tmp_path / "p.jsonl"
    result, text = _invoke("predict", str(images), "--from-run", str(complete_run), *flags,
                           "--output", str(out))  # fmt: skip
    assert result.exit_code == 2, result.output
    assert f"{flags[0]} cannot be combined with --from-run: {why}" in text
    assert not out.exists()


def test_from_run_still_takes_the_flags_that_do_not_change_its_configuration(
    tmp_path, complete_run
):
    images = _images(tmp_path / "in", ["a.png"])
    out = tmp_path / "p.jsonl"
    result, _ = _invoke("predict", str(images), "--from-run", str(complete_run), "--dataset",
                        "mvtec", "--category", "bottle", "--batch-size", "1", "--device", "cpu",
                        "--output", str(out))  # fmt: skip
    assert result.exit_code == 0, result.output
    assert [json.loads(line)["label"] for line in out.open()] == ["normal"]


def test_symlinked_folders_are_followed_as_the_dataset_readers_follow_them(tmp_path):
    """``predict DIR`` skipped a linked folder that every dataset reader reads (one rule)."""
    _images(tmp_path / "elsewhere", ["b.png", "deeper/c.png"])
    folder = _images(tmp_path / "in", ["a.png", ".hidden.png"])
    (folder / "linked").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    (folder / "loop").symlink_to(folder, target_is_directory=True)  # walked once, then ends
    samples = unlabeled_samples([folder])
    assert [s.id for s in samples] == ["a.png", "linked/b.png", "linked/deeper/c.png"]
    assert samples[1].image_path == str(folder / "linked" / "b.png")  # the spelling is kept
    assert [s.category for s in samples] == ["in", "linked", "deeper"]


def test_ids_stay_unique_for_inputs_with_the_same_names(tmp_path):
    for root in ("one", "two"):
        _images(tmp_path / root, ["x.png", "cat/y.png"])
    inputs = [tmp_path / "one", tmp_path / "two", tmp_path / "one" / "x.png",
              tmp_path / "two" / "cat" / "y.png"]  # fmt: skip
    samples = unlabeled_samples(inputs)
    ids = [s.id for s in samples]
    assert ids == ["one/cat/y.png", "one/x.png", "two/cat/y.png", "two/x.png"]
    assert len({s.image_path for s in samples}) == len(samples)


def _predict_subprocess(plugin: Path, *args: str, timeout: float = 120):
    command = [sys.executable, "-m", "iadbench", "predict", *args, "--method", "reads-bytes",
               "--plugin", str(plugin)]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout)


def test_a_fifo_named_like_an_image_is_skipped_in_a_folder_and_refused_by_name(
    tmp_path, reading_plugin
):
    """``predict`` on a FIFO named ``x.png`` hung forever reading it (``run`` skips FIFOs)."""
    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs on this platform")
    folder = _images(tmp_path / "in", ["a.png"])
    os.mkfifo(folder / "x.png")
    assert [s.id for s in unlabeled_samples([folder])] == ["a.png"]

    out = tmp_path / "p.jsonl"
    done = _predict_subprocess(reading_plugin, str(folder), "--output", str(out), timeout=60)
    assert done.returncode == 0, done.stderr
    assert [Path(json.loads(line)["path"]).name for line in out.open()] == ["a.png"]

    named = _predict_subprocess(reading_plugin, str(folder / "x.png"), "--output",
                                str(tmp_path / "q.jsonl"), timeout=60)  # fmt: skip
    assert named.returncode == 2, named.stderr
    assert "x.png is not a regular file" in " ".join(named.stderr.split())
    assert "Traceback" not in named.stderr and not (tmp_path / "q.jsonl").exists()
