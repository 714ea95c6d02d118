"""The monitor's held-out slice and the negative control's flipped labels."""

from __future__ import annotations

import pytest

pytest.importorskip("datasets")

from iadbench.contract.records import Sample
from iadbench_methods.lr_iad.data import build_training_data, hold_out


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
