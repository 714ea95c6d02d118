"""Edited datasets never reuse old predictions or old trained models (issue 9, item 2)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from PIL import Image

from iadbench.contract.errors import RunConflictError
from iadbench.contract.records import Sample
from iadbench.data.fingerprint import fingerprint_samples
from iadbench.execution.planning import RunRequest, plan_run
from iadbench.execution.registry import METHODS
from iadbench.execution.runner import execute_run

IMAGE = "bottle/test/good/000.png"


@pytest.fixture()
def trees(tmp_path: Path, synth_mvtec: Path, synth_visa: Path) -> dict[str, Path]:
    """Private copies of the synthetic trees (mtimes kept, as ``cp -p``), free to edit."""
    copies = {"mvtec": tmp_path / "data" / "mvtec", "visa": tmp_path / "data" / "visa"}
    shutil.copytree(synth_mvtec, copies["mvtec"])
    shutil.copytree(synth_visa, copies["visa"])
    return copies


def _request(tmp_path: Path, trees: dict[str, Path], **changes: object) -> RunRequest:
    base: dict[str, object] = dict(
        method="always-defect",
        train="visa",
        test="mvtec",
        data_roots={name: str(root) for name, root in trees.items()},
        out=tmp_path / "run",
        cache_dir=tmp_path / "cache",
    )
    return RunRequest(**{**base, **changes})  # type: ignore[arg-type]


def _replace_pixels(path: Path, value: int) -> None:
    with Image.open(path) as image:
        size, mode = image.size, image.mode
    Image.new(mode, size, value).save(path)


def test_an_image_replaced_in_place_gives_a_new_hash_and_the_old_run_is_refused(tmp_path, trees):
    first = execute_run(plan_run(_request(tmp_path, trees)))
    assert execute_run(plan_run(_request(tmp_path, trees))).reused
    _replace_pixels(trees["mvtec"] / IMAGE, 3)
    edited = plan_run(_request(tmp_path, trees))
    assert edited.config_hash != first.summary["config_hash"]
    with pytest.raises(RunConflictError, match=r"test\.fingerprint .*replaced, added, removed"):
        execute_run(edited)
    redone = execute_run(plan_run(_request(tmp_path, trees, overwrite=True)))
    assert not redone.reused and redone.computed == first.computed


def test_an_added_image_gives_a_new_hash_and_a_fresh_default_run_dir(tmp_path, trees):
    before = plan_run(_request(tmp_path, trees, out=None))
    shutil.copy2(trees["mvtec"] / IMAGE, trees["mvtec"] / "bottle/test/good/999.png")
    after = plan_run(_request(tmp_path, trees, out=None))
    assert after.config_hash != before.config_hash
    assert after.out != before.out  # the default run dir name carries the hash
    assert len(after.data.test) == len(before.data.test) + 1


def test_the_same_files_under_another_root_are_reused_and_the_roots_are_absolute(
    tmp_path, trees, monkeypatch
):
    first = execute_run(plan_run(_request(tmp_path, trees)))
    moved = tmp_path / "moved"
    shutil.copytree(trees["mvtec"].parent, moved)  # copy2: sizes and mtimes kept
    monkeypatch.chdir(moved)
    relative = {"mvtec": "mvtec", "visa": "visa"}
    again = execute_run(plan_run(_request(tmp_path, trees, data_roots=relative)))
    assert again.reused and again.summary["config_hash"] == first.summary["config_hash"]
    root = plan_run(_request(tmp_path, trees, data_roots=relative)).spec.test.root  # type: ignore[union-attr]
    assert root == str(moved / "mvtec") and Path(root).is_absolute()


def test_relabelling_through_the_visa_split_csv_changes_the_fingerprint(tmp_path, trees):
    before = plan_run(_request(tmp_path, trees, train="mvtec", test="visa"))
    csv = trees["visa"] / "split_csv" / "1cls.csv"
    lines = csv.read_text().splitlines()
    lines[1] = lines[1].replace(",normal,", ",anomaly,")
    csv.write_text("\n".join(lines) + "\n")
    after = plan_run(_request(tmp_path, trees, train="mvtec", test="visa"))
    assert after.spec.test.fingerprint != before.spec.test.fingerprint  # type: ignore[union-attr]


def test_an_edited_training_tree_trains_again(tmp_path, trees, plugin_file):
    METHODS.load_plugin_file(plugin_file)
    first = plan_run(_request(tmp_path, trees, method="brightness"))
    execute_run(first)
    trained = first.cache_dir / "trained" / "brightness" / first.spec.train_hash()
    record = json.loads((trained / "training-data.json").read_text())
    assert record["fingerprint"] == first.spec.train.fingerprint  # type: ignore[union-attr]
    assert record["root"] == str(trees["visa"])
    normal = next((trees["visa"] / "candle" / "Data" / "Images" / "Normal").iterdir())
    _replace_pixels(normal, 250)
    second = plan_run(_request(tmp_path, trees, method="brightness", out=tmp_path / "r2"))
    assert second.spec.train_hash() != first.spec.train_hash()
    execute_run(second)
    assert (second.cache_dir / "trained" / "brightness" / second.spec.train_hash()).is_dir()


def test_zero_shot_runs_do_not_fingerprint_the_training_data(tmp_path, trees):
    plan = plan_run(_request(tmp_path, trees))
    assert plan.spec.train is None and plan.data.train is None


def test_verify_content_sees_an_edit_that_kept_size_and_mtime(tmp_path, trees):
    verified = _request(tmp_path, trees, verify_content=True)
    execute_run(plan_run(verified))
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert set(manifest["content_fingerprints"]) == {"test"}
    path = trees["mvtec"] / IMAGE
    status = path.stat()
    data = bytearray(path.read_bytes())
    data[-20] ^= 0xFF  # inside the PNG's IEND/IDAT tail: same size
    path.write_bytes(bytes(data))
    os.utime(path, ns=(status.st_atime_ns, status.st_mtime_ns))
    assert path.stat().st_size == status.st_size
    # The stat fingerprint cannot see it (documented): the run is reused...
    assert execute_run(plan_run(_request(tmp_path, trees))).reused
    # ...the content fingerprint can.
    with pytest.raises(RunConflictError, match="contents have changed"):
        execute_run(plan_run(verified))


def test_fingerprint_is_order_free_and_survives_a_missing_file(tmp_path):
    image = tmp_path / "a.png"
    image.write_bytes(b"x" * 10)
    samples = [
        Sample("c/a.png", "d", "c", "test", "normal", str(image)),
        Sample("c/b.png", "d", "c", "test", "defect", str(tmp_path / "missing.png")),
    ]
    forward, backward = fingerprint_samples(samples), fingerprint_samples(samples[::-1])
    assert forward == backward and forward.n_samples == 2
    relabelled = [samples[0], Sample("c/b.png", "d", "c", "test", "normal", samples[1].image_path)]
    assert fingerprint_samples(relabelled).digest != forward.digest
    content = fingerprint_samples(samples, "content")
    image.write_bytes(b"y" * 10)
    assert fingerprint_samples(samples, "content").digest != content.digest


def _pinned_samples(root: Path) -> list[Sample]:
    """Files of fixed bytes and mtimes: a mask file, a mask folder, a missing image, a group."""
    (root / "masks").mkdir()
    for name, data in [("a.png", b"a" * 7), ("a_mask.png", b"m" * 3), ("masks/0.png", b"0"),
                       ("masks/1.png", b"11")]:  # fmt: skip
        (root / name).write_bytes(data)
        os.utime(root / name, ns=(1_700_000_000_000_000_000, 1_700_000_000_000_000_000))
    return [
        Sample("c/a.png", "d", "c", "test", "defect", str(root / "a.png"),
               str(root / "a_mask.png"), "scratch"),  # fmt: skip
        Sample("c/b.png", "d", "c", "test", "defect", str(root / "a.png"), str(root / "masks"),
               "logical", group="part-1"),  # fmt: skip
        Sample("c/c.png", "d", "c", "train", "normal", str(root / "gone.png")),
    ]


def test_the_fingerprint_format_is_pinned(tmp_path):
    """Stored runs are reused and compared by these digests: a change of the line format (or a
    faster way of hashing it, 2026-12-08) must give the same digests, or every stored run is
    refused as if its data had changed."""
    samples = _pinned_samples(tmp_path)
    assert fingerprint_samples(samples).digest == STAT_DIGEST
    assert fingerprint_samples(samples, "content").digest == CONTENT_DIGEST


#: Computed by the per-line hashing before 2026-12-08 and by the joined hashing after: equal.
STAT_DIGEST = "8b2cf6fc2abc3f65995531901b28fc7854d89e4a20d48fc64b3194b1a271440d"
CONTENT_DIGEST = "9c799c59fa7def770852d84c198263a018781b5fc8f75c8e6f67090942d12971"
