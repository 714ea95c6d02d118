"""A full disk or a failing device stops the run; it is never recorded against an image (item 3)."""

from __future__ import annotations

import errno
import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from iadbench.contract.errors import EnvironmentFailure, environment_cause
from iadbench.contract.images import ImageReadError, load_rgb
from iadbench.contract.records import Prediction, Sample
from iadbench.execution.planning import RunRequest, plan_run
from iadbench.execution.predict_loop import predict_batches
from iadbench.execution.runner import execute_run
from iadbench.runs.writer import PredictionLog


def _samples(tmp_path: Path, n: int = 6) -> list[Sample]:
    for i in range(n):  # on disk: a listed file that is not there is that image's error
        (tmp_path / f"{i}.png").write_bytes(b"png")
    return [
        Sample(f"c/{i}.png", "d", "c", "test", "normal", str(tmp_path / f"{i}.png"))
        for i in range(n)
    ]


class _FailsOn:
    """An adapter whose predict raises ``error`` for one sample id (and works for the others)."""

    def __init__(self, failing_id: str, error: BaseException, with_preprocessor: bool) -> None:
        self.failing_id, self.error, self.with_preprocessor = failing_id, error, with_preprocessor

    def preprocessor(self):
        if not self.with_preprocessor:
            return None
        return _PreprocessFailsOn(self.failing_id, self.error)

    def predict(self, batch, inputs=None):
        if inputs is None and any(s.id == self.failing_id for s in batch):
            raise self.error
        return [Prediction("normal") for _ in batch]


class _PreprocessFailsOn:
    def __init__(self, failing_id: str, error: BaseException) -> None:
        self.failing_id, self.error = failing_id, error

    def __call__(self, sample: Sample) -> str:
        if sample.id == self.failing_id:
            raise self.error
        return sample.id


@pytest.mark.parametrize("workers", [None, 0, 1])
@pytest.mark.parametrize(
    "error",
    [OSError(errno.ENOSPC, "No space left on device"), OSError(errno.EIO, "Input/output error")],
    ids=["ENOSPC", "EIO"],
)
def test_an_environment_error_stops_the_loop_instead_of_failing_the_image(tmp_path, error, workers):
    adapter = _FailsOn("c/3.png", error, with_preprocessor=workers is not None)
    done: list[str] = []
    with pytest.raises(EnvironmentFailure, match=error.strerror) as caught:
        for batch, predictions in predict_batches(
            adapter, _samples(tmp_path), batch_size=2, workers=workers or 0
        ):
            assert all(p.error is None for p in predictions)
            done += [s.id for s in batch]
    assert done == ["c/0.png", "c/1.png"]  # the failing batch is not yielded: it stays pending
    assert "run the same command again" in str(caught.value)


@pytest.mark.parametrize("workers", [None, 0, 1])
def test_an_images_own_error_is_still_recorded_against_it(tmp_path, workers):
    broken = ImageReadError(tmp_path / "3.png", "truncated")
    adapter = _FailsOn("c/3.png", broken, with_preprocessor=workers is not None)
    predictions = [
        p
        for _, batch in predict_batches(
            adapter, _samples(tmp_path), batch_size=2, workers=workers or 0
        )
        for p in batch
    ]
    assert [p.error is not None for p in predictions] == [False] * 3 + [True] + [False] * 2


def test_an_io_error_while_decoding_is_not_an_image_error(tmp_path, monkeypatch):
    import PIL.Image

    def failing_open(*args, **kwargs):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(PIL.Image, "open", failing_open)
    with pytest.raises(OSError) as caught:
        load_rgb(tmp_path / "x.png")
    assert not isinstance(caught.value, ImageReadError)
    assert environment_cause(caught.value) is caught.value
    assert environment_cause(ImageReadError(tmp_path / "x.png", "file not found")) is None


def test_disk_full_while_appending_stops_cleanly_and_the_resume_matches_a_clean_run(
    tmp_path, synth_mvtec, synth_visa, monkeypatch
):
    roots = {"mvtec": str(synth_mvtec), "visa": str(synth_visa)}

    def request(out: str) -> RunRequest:
        return RunRequest(
            method="always-defect", train="visa", test="mvtec", data_roots=roots,
            out=tmp_path / out, batch_size=16, cache_dir=tmp_path / "cache",
        )  # fmt: skip

    clean = execute_run(plan_run(request("clean")))
    real_append = PredictionLog.append
    calls = {"n": 0}

    def append_then_fill_the_disk(self, records):
        calls["n"] += 1
        if calls["n"] == 3:  # half a batch reaches the file, then the disk is full
            payload, _ = self.payload(records)  # what append writes (chained lines)
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(payload[: len(payload) // 2])
            raise OSError(errno.ENOSPC, "No space left on device")
        real_append(self, records)

    monkeypatch.setattr(PredictionLog, "append", append_then_fill_the_disk)
    with pytest.raises(EnvironmentFailure, match="No space left on device"):
        execute_run(plan_run(request("full")))
    manifest = json.loads((tmp_path / "full" / "manifest.json").read_text())
    assert manifest["status"] == "failed" and "No space left" in manifest["error"]
    monkeypatch.setattr(PredictionLog, "append", real_append)
    resumed = execute_run(plan_run(request("full")))
    assert resumed.resumed > 0 and resumed.summary["overall"]["errors"] == 0
    assert (tmp_path / "full" / "predictions.jsonl").read_bytes() == (
        clean.out / "predictions.jsonl"
    ).read_bytes()


# A method that writes a 64 KiB artefact per image, like AprilGAN's save_maps.
_WRITER_PLUGIN = textwrap.dedent(
    """
    import iadbench

    @iadbench.register_method("artefact-writer")
    class ArtefactWriter(iadbench.MethodAdapter):
        def predict(self, batch):
            for sample in batch:
                target = self.context.artifacts_dir / (sample.id.replace("/", "_") + ".bin")
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(b"x" * 65536)
            return [iadbench.Prediction("defect") for _ in batch]
    """
)


def _can_mount_tmpfs() -> bool:
    if shutil.which("unshare") is None or sys.platform != "linux":
        return False
    probe = subprocess.run(
        ["unshare", "-rm", "sh", "-c", "mount -t tmpfs -o size=1m tmpfs /mnt"],
        capture_output=True,
    )
    return probe.returncode == 0


@pytest.mark.slow
@pytest.mark.skipif(not _can_mount_tmpfs(), reason="needs unshare and a private tmpfs mount")
def test_a_small_disk_that_fills_stops_the_run_and_a_resume_after_freeing_space_completes(
    tmp_path, synth_mvtec, synth_visa
):
    """The real thing, in a subprocess: a 1 MiB tmpfs holds the run dir, the disk fills, space is
    added (remount), the same command completes with no image recorded as an error."""
    plugin = tmp_path / "writer.py"
    plugin.write_text(_WRITER_PLUGIN)
    disk = tmp_path / "disk"
    disk.mkdir()
    cli = [
        sys.executable, "-m", "iadbench", "run", "--method", "artefact-writer", "--plugin",
        str(plugin), "--train", "visa", "--test", "mvtec", "--data", f"mvtec={synth_mvtec}",
        "--data", f"visa={synth_visa}", "--out", str(disk / "run"), "--batch-size", "4",
    ]  # fmt: skip
    command = " ".join(f"'{part}'" for part in cli)
    script = textwrap.dedent(
        f"""
        mount -t tmpfs -o size=1m tmpfs '{disk}'
        {command} > '{tmp_path}/first.out' 2>&1; echo $? > '{tmp_path}/first.rc'
        cp '{disk}/run/manifest.json' '{tmp_path}/first-manifest.json'
        mount -o remount,size=64m '{disk}'
        {command} > '{tmp_path}/second.out' 2>&1; echo $? > '{tmp_path}/second.rc'
        cp -r '{disk}/run' '{tmp_path}/result'
        """
    )
    subprocess.run(["unshare", "-rm", "sh", "-c", script], check=True, timeout=300)
    first_output = (tmp_path / "first.out").read_text()
    assert (tmp_path / "first.rc").read_text().strip() == "75", first_output
    assert "No space left on device" in first_output and "Traceback" not in first_output
    first_manifest = json.loads((tmp_path / "first-manifest.json").read_text())
    assert first_manifest["status"] == "failed"
    second_output = (tmp_path / "second.out").read_text()
    assert (tmp_path / "second.rc").read_text().strip() == "0", second_output
    summary = json.loads((tmp_path / "result" / "summary.json").read_text())
    assert summary["overall"]["errors"] == 0
    records = [json.loads(line) for line in (tmp_path / "result" / "predictions.jsonl").open()]
    assert len(records) == summary["overall"]["n"] == len({r["id"] for r in records})
    assert all(r["error"] is None for r in records)
