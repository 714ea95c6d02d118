"""The monitor's held-out slice and the negative control's flipped labels."""

from __future__ import annotations

import pytest

pytest.importorskip("datasets")

from iadbench.contract.records import Sample
from iadbench_methods.lr_iad.data import build_training_data, hold_out, trained_subset


def _pool(n: int, defect_every: int = 4) -> list[Sample]:
    return [
        Sample(f"c/{i:03d}.png", "d", "c", "test", "defect" if i % defect_every == 0 else "normal",
               f"/nonexistent/{i}.png")
        for i in range(n)
    ]  # fmt: skip


def test_held_out_slice_is_balanced_seeded_and_disjoint():
    pool = _pool(200)
    kept, held = hold_out(pool, 20, seed=3)
    assert len(held) == 20 and sum(s.label == "defect" for s in held) == 10
    assert not {s.id for s in kept} & {s.id for s in held} and len(kept) == 180
    assert hold_out(pool, 20, seed=3) == (kept, held)
    assert hold_out(pool, 20, seed=4)[1] != held


def test_held_out_slice_never_takes_more_than_a_quarter():
    kept, held = hold_out(_pool(30), 64, seed=0)
    assert len(held) == 7 and len(kept) == 23
    assert hold_out(_pool(3), 64, seed=0) == (_pool(3), [])


def test_flipped_labels_train_on_the_opposite_but_hold_out_the_truth(tmp_path):
    from PIL import Image

    pool = []
    for i, sample in enumerate(_pool(40)):
        path = tmp_path / f"{i}.png"
        Image.new("RGB", (8, 8)).save(path)
        pool.append(Sample(sample.id, "d", "c", "test", sample.label, str(path)))
    plain = build_training_data(pool, heldout=8, seed=0)
    flipped = build_training_data(pool, heldout=8, seed=0, flip_labels=True)
    assert [s.label for s in flipped.heldout] == [s.label for s in plain.heldout]
    pairs = zip(plain.dataset["label"], flipped.dataset["label"], strict=True)
    assert all(a != b for a, b in pairs)
    assert flipped.counts == {"normal": plain.counts["defect"], "defect": plain.counts["normal"]}


def test_the_tiny_headline_run_trains_on_both_labels_the_same_for_the_same_seed(
    tmp_path, synth_mvtec, synth_visa
):
    # `run --method lr-iad --train visa --test mvtec --tiny` printed "GRPO on 4 images
    # (4 normal)": its cap of 4 drew VisA's mostly normal All subset at random (issue 19).
    from iadbench.execution.planning import RunRequest, plan_run

    def planned(seed: int) -> tuple[list[Sample], list[Sample]]:
        request = RunRequest(
            method="lr-iad", train="visa", test="mvtec", tiny=True, seed=seed,
            data_roots={"mvtec": str(synth_mvtec), "visa": str(synth_visa)},
            out=tmp_path / f"run{seed}", cache_dir=tmp_path / "cache",
        )  # fmt: skip
        data = plan_run(request).data
        assert data.train is not None and data.trained is not None and data.capped
        return data.train, data.trained

    subset, trained = planned(0)
    assert len(trained) == 4 and {s.label for s in trained} == {"defect", "normal"}
    # Capped: its dir is <hash>-stratified. The monitor's slice alone is no cap: a full-size
    # training (max_train_samples 0) keeps the dir it had, though it trains on fewer images.
    uncapped = RunRequest(
        method="lr-iad", train="visa", test="mvtec", tiny=True,
        options={"max_train_samples": 0}, out=tmp_path / "full", cache_dir=tmp_path / "cache",
        data_roots={"mvtec": str(synth_mvtec), "visa": str(synth_visa)},
    )  # fmt: skip
    full = plan_run(uncapped).data
    assert not full.capped and full.trained is not None and len(full.trained) < len(subset)
    assert planned(0) == (subset, trained)
    # What GRPO is given is that very subsample: build_training_data applies the same rule.
    built = build_training_data(subset, max_samples=4, heldout=2, seed=0)
    assert built.dataset["sample_id"] == [s.id for s in trained]
    assert built.counts["defect"] >= 1 and built.counts["normal"] >= 1


def test_a_stratified_cap_keeps_a_rare_label_after_the_held_out_slice():
    pool = _pool(200, defect_every=10)
    for seed in range(10):
        trained, held = trained_subset(pool, max_samples=4, heldout=2, seed=seed)
        assert {s.label for s in trained} == {"defect", "normal"}
        assert not {s.id for s in trained} & {s.id for s in held}


@pytest.mark.slow
def test_the_tiny_headline_command_trains_and_records_both_labels(tmp_path, data_args):
    # The command of the README and the demo, end to end (about 15 s on 2 cores): its log and
    # the training's record both say both labels (before: "GRPO on 4 images (4 normal)").
    import json
    import os
    import subprocess
    import sys

    pytest.importorskip("trl")
    cache = tmp_path / "cache"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "OMP_NUM_THREADS": "1"}  # fmt: skip
    result = subprocess.run(
        [sys.executable, "-m", "iadbench", "run", "--method", "lr-iad", "--train", "visa",
         "--test", "mvtec", "--tiny", *data_args, "--out", str(tmp_path / "run"),
         "--cache-dir", str(cache), "--device", "cpu", "--workers", "0"],
        capture_output=True, text=True, env=env, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "GRPO on 4 images (1 defect, 3 normal)" in result.stdout + result.stderr
    (workdir,) = (cache / "trained" / "lr-iad").iterdir()
    trained = json.loads((workdir / "training-data.json").read_text())["trained"]
    assert trained["images"] == 4 and trained["labels"] == {"defect": 1, "normal": 3}
    summary = json.loads((workdir / "training_summary.json").read_text())
    assert summary["data"]["counts"] == {"defect": 1, "normal": 3}
