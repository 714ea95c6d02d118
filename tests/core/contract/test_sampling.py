"""A capped training set is stratified by label and category, and seeded (issue 19 item 2)."""

from __future__ import annotations

from collections import Counter

import pytest

from iadbench.contract.errors import ArgumentError
from iadbench.contract.records import Sample
from iadbench.contract.sampling import select_samples


def _pool(categories: str = "abcd", per_category: int = 20, defect_every: int = 10) -> list[Sample]:
    """VisA-like: about one defect in ``defect_every`` images, in every category."""
    return [
        Sample(f"{c}/{i:03d}.png", "d", c, "all", "defect" if i % defect_every == 0 else "normal",
               f"/{c}/{i}.png")
        for c in categories
        for i in range(per_category)
    ]  # fmt: skip


def test_a_cap_of_two_or_more_keeps_both_labels_whatever_the_seed():
    # Before: a plain random draw; --tiny's cap of 4 drew 4 normal images ("GRPO on 4 images
    # (4 normal)"), and with 1 defect in 10 most seeds draw no defect at all.
    pool = _pool()
    for seed in range(30):
        for cap in (2, 3, 4):
            labels = Counter(s.label for s in select_samples(pool, cap, seed))
            assert labels["defect"] >= 1 and labels["normal"] >= 1, (seed, cap, labels)
            assert sum(labels.values()) == cap


def test_the_rest_is_shared_in_proportion_over_label_and_category():
    pool = _pool(per_category=20, defect_every=5)  # 4 categories × (16 normal, 4 defect)
    picked = select_samples(pool, 20, seed=0)
    cells = Counter((s.category, s.label) for s in picked)
    # One of each label first, then 18 in proportion to 63 normal : 15 defect left (14.5 : 3.5).
    assert sum(n for (_, label), n in cells.items() if label == "defect") in (4, 5)
    assert {c for c, _ in cells} == set("abcd")  # every category, as its share covers all
    assert all(n <= 5 for n in cells.values())


def test_the_same_seed_gives_the_same_subsample_in_id_order():
    pool = _pool()
    first = select_samples(list(reversed(pool)), 7, seed=3)
    assert first == select_samples(pool, 7, seed=3)
    assert [s.id for s in first] == sorted(s.id for s in first)
    assert any(select_samples(pool, 7, seed=s) != first for s in range(4, 8))


def test_no_cap_or_a_cap_above_the_pool_keeps_everything_and_one_keeps_one():
    pool = _pool(per_category=3)
    assert select_samples(pool, 0, seed=0) == sorted(pool, key=lambda s: s.id)
    assert len(select_samples(pool, 100, seed=0)) == len(pool)
    assert len(select_samples(pool, 1, seed=0)) == 1  # one label: the planner's guard refuses it


def test_a_pool_of_one_label_fills_the_cap_from_it():
    normals = [s for s in _pool() if s.label == "normal"]
    picked = select_samples(normals, 5, seed=0)
    assert len(picked) == 5 and len({s.category for s in picked}) == 4


def test_a_negative_cap_is_refused_by_name():
    with pytest.raises(ArgumentError, match="max_train_samples"):
        select_samples(_pool(), -1, seed=0)
