"""Split definitions read from ``splits/*.toml`` (data, not code), and the rules on subsets.

Which images a run learns from, compares with and tests: one-class training, few-shot
references, ``--categories``, and the overlap guard.
"""

from __future__ import annotations

import tomllib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import Any, cast

from iadbench.contract.errors import IADBenchError
from iadbench.contract.records import NORMAL, Sample
from iadbench.data.base import SUBSET_NAMES, SubsetName

SPLITS_PACKAGE = "iadbench_splits"
DEFAULT_TABLE = "table2.toml"
#: The defaults of one-class methods (``Capabilities.one_class``): Train to learn, Test to test.
ONE_CLASS_TABLE = "one_class.toml"


class SplitError(IADBenchError):
    """A split file is malformed, or train and test samples overlap without ``--force``."""


@dataclass(frozen=True)
class SplitTable:
    """Training subset per method and the default inference subset."""

    inference_default: SubsetName
    training_default: SubsetName
    training_by_method: dict[str, SubsetName]

    def train_split(self, method: str) -> SubsetName:
        """Training subset for ``method`` (Table II), or the table's default."""
        return self.training_by_method.get(method, self.training_default)


def _subset(value: Any, where: str) -> SubsetName:
    if value not in SUBSET_NAMES:
        raise SplitError(f"{where} must be one of {', '.join(SUBSET_NAMES)}, got {value!r}")
    return cast(SubsetName, value)  # a TOML value, checked against SUBSET_NAMES above


@cache
def load_split_table(name: str = DEFAULT_TABLE) -> SplitTable:
    """Parse a split table shipped in ``splits/``.

    Raises:
        SplitError: The file is missing a section or names an unknown subset.
    """
    raw = tomllib.loads(files(SPLITS_PACKAGE).joinpath(name).read_text(encoding="utf-8"))
    try:
        training = raw["training"]
        return SplitTable(
            inference_default=_subset(raw["inference"]["default"], f"{name} [inference] default"),
            training_default=_subset(training["default"], f"{name} [training] default"),
            training_by_method={
                method: _subset(subset, f"{name} [training.methods] {method}")
                for method, subset in training.get("methods", {}).items()
            },
        )
    except KeyError as exc:
        raise SplitError(f"split table {name} lacks the key {exc}") from exc


def split_table_for(*, one_class: bool) -> SplitTable:
    """The defaults a method's runs take: :data:`ONE_CLASS_TABLE` or Table II (the paper's)."""
    return load_split_table(ONE_CLASS_TABLE if one_class else DEFAULT_TABLE)


def only_categories(samples: list[Sample], categories: Sequence[str], where: str) -> list[Sample]:
    """The samples of ``categories`` (``--categories``), in their order.

    Raises:
        SplitError: A category ``where`` (e.g. ``the 'test' subset of 'mvtec'``) does not hold.
    """
    held = dict.fromkeys(s.category for s in samples)
    unknown = [c for c in categories if c not in held]
    if unknown:
        raise SplitError(
            f"--categories names {', '.join(map(repr, unknown))}, which {where} does not hold; "
            f"its categories are {', '.join(held) or 'none'}"
        )
    wanted = set(categories)
    return [s for s in samples if s.category in wanted]


def one_class_training(samples: list[Sample], tested: Sequence[str], where: str) -> list[Sample]:
    """What a one-class method learns from: the normal images of the tested categories only.

    One model per category learns what normal looks like there: a defect image would be learned
    as normal, and another category's images would train a model that is never tested.

    Args:
        samples: The training subset.
        tested: The categories the run tests.
        where: The training subset, for the message (``the 'train' subset of 'mvtec'``).

    Raises:
        SplitError: A tested category has no normal image in ``samples``.
    """
    wanted = set(tested)
    normals = [s for s in samples if s.label == NORMAL and s.category in wanted]
    missing = sorted(wanted - {s.category for s in normals})
    if missing:
        raise SplitError(
            f"a one-class method learns each tested category from its normal training images, and "
            f"{where} holds none for {', '.join(map(repr, missing))}: choose a training subset "
            "with normal images of every tested category (--train-split), or leave those out "
            "(--categories)"
        )
    return normals


def one_class_refusal(method: str, train: str | None, test: str, *, few_shot: bool) -> str:
    """Why a one-class method is not trained on ``train`` to test ``test``, naming its protocols.

    Args:
        method: The method's name.
        train: The training dataset asked for (None: none given).
        test: The test dataset.
        few_shot: Whether the method has a ``shots`` option (the few-shot protocol).
    """
    asked = f"it is not trained on {train!r} to test {test!r}"
    if train is None:
        asked = "it trains on the dataset it tests"
    shots = " or `--set shots=K` (few-shot: K normal references per category)" if few_shot else ""
    return (
        f"method {method!r} learns one model per category from that category's normal images, "
        f"so {asked}: use `--train {test}` (same-dataset: the Train normals of each tested "
        f"category){shots}"
    )


def reference_policy_refusal(method: str, train: str, test: str, threshold: str) -> str:
    """Why a few-shot method's threshold cannot be chosen on another dataset's images.

    A few-shot method compares each image with normal references of its category, taken from
    the test dataset (:func:`reference_candidates`); a ``calibrated`` / ``normal-quantile``
    threshold is chosen by scoring the training dataset's images, whose categories have no
    references there, so every one of them would fail. Refused for any training dataset but
    the test dataset (``matrix`` skips such a cell with this sentence).

    Args:
        method: The method's name.
        train: The training dataset the threshold would be chosen on.
        test: The test dataset (where the references come from).
        threshold: The policy as given (``normal-quantile:0.9``, ``calibrated``).
    """
    return (
        f"method {method!r} compares each image with normal references of its category from "
        f"the test dataset {test!r}, so it cannot score the images of {train!r} that "
        f"--threshold {threshold} is chosen on: use --threshold fixed:T or oracle, or "
        f"normal-quantile:q chosen on {test!r} itself (--train {test} --test-split test; in a "
        f"matrix its diagonal cell: --diagonal or --directions {test}:{test}, with --test-split "
        "test)"
    )


def reference_candidates(train: list[Sample], test: list[Sample]) -> list[Sample]:
    """A few-shot method's references: ``train``'s normal images that are not test images.

    ``train`` is the test dataset's Train subset. Only of the tested categories (``--categories``
    leaves the others out), in id order; a test image is never a reference, whatever the test
    subset (All holds every Train image).
    """
    tested, categories = {s.id for s in test}, {s.category for s in test}
    found = [s for s in train
             if s.label == NORMAL and s.id not in tested and s.category in categories]  # fmt: skip
    return sorted(found, key=lambda s: s.id)


def check_reference_shots(
    method: str, dataset: str, candidates: list[Sample], test: list[Sample], shots: int
) -> None:
    """Refuse a few-shot run where a tested category has fewer than ``shots`` references.

    Raises:
        SplitError: Such a category, named with its count and the fix.
    """
    found = Counter(s.category for s in candidates)
    short = sorted(c for c in {s.category for s in test} if found[c] < shots)
    if short:
        raise SplitError(
            f"method {method!r} compares each test image with {shots} normal reference "
            f"image(s) of its category from the Train subset of {dataset!r}, outside the "
            f"test images; {', '.join(f'{c} has {found[c]}' for c in short)}. Test on the Test "
            "subset (--test-split test: the All split holds every Train image) or lower the "
            "number of shots."
        )


def check_no_overlap(
    train: list[Sample], test: list[Sample], *, force: bool = False, fix: str | None = None
) -> int:
    """Refuse to train and test on the same images; returns the overlap size.

    Args:
        train: The training images.
        test: The test images.
        force: ``--force-overlap``: count the overlap, refuse nothing.
        fix: What the user can do, as the refusal's last sentence; by default ``run``'s flags
            (``matrix`` has no ``--force-overlap`` and names its own).

    Raises:
        SplitError: Some test images are also training images and ``force`` is False.
    """
    train_ids = {(s.dataset, s.id) for s in train}
    overlap = sum((s.dataset, s.id) in train_ids for s in test)
    if overlap and not force:
        fix = fix or (
            "Use disjoint subsets (e.g. --train-split train --test-split test), a different "
            "test dataset, or --force-overlap if this is really what you want."
        )
        raise SplitError(
            f"{overlap} of {len(test)} test images are also in the training subset, so the "
            f"scores would measure memorisation, not detection. {fix}"
        )
    return overlap


def first_per_category(samples: Sequence[Sample], limit: int) -> list[Sample]:
    """The first ``limit`` samples of every category, kept in their order (``--limit``).

    "First" alternates the labels — a normal image, a defect image, a normal image… — and takes
    the defect types (and normal folders) in turn by name, each in id order, so any limit of 2
    or more holds both labels where the category has both, about half each (in plain id order
    an MVTec-AD category starts with its first defect type alone). When one label runs out the
    other fills the rest. A limit of 1 holds one label only (the runner warns about it).

    Example:
        >>> from iadbench.contract.records import NORMAL, Sample
        >>> def sample(kind, i):
        ...     label = "normal" if kind == "good" else "defect"
        ...     return Sample(f"c/{kind}/{i}.png", "d", "c", "test", label, "/x", defect_type=kind)
        >>> pool = [sample(kind, i) for kind in ("crack", "good", "hole") for i in range(3)]
        >>> [s.id for s in first_per_category(pool, 4)]
        ['c/crack/0.png', 'c/good/0.png', 'c/good/1.png', 'c/hole/0.png']
        >>> [s.label for s in first_per_category(pool, 6)].count("normal")  # 3 of 6
        3
    """
    groups: dict[tuple[str, bool, str], list[Sample]] = {}
    for sample in samples:
        key = (sample.category, sample.label != NORMAL, sample.defect_type or sample.label)
        groups.setdefault(key, []).append(sample)
    kept: set[int] = set()
    for category in dict.fromkeys(s.category for s in samples):
        # One queue per label: its folders taken in turn by name, each folder in id order.
        sides = [
            _in_turn([sorted(g, key=lambda s: s.id) for k, g in sorted(groups.items())
                      if k[0] == category and k[1] is defective])
            for defective in (False, True)
        ]  # fmt: skip
        taken = 0
        for rank in range(max(map(len, sides))):
            for side in sides:
                if rank < len(side) and taken < limit:
                    kept.add(id(side[rank]))
                    taken += 1
    return [s for s in samples if id(s) in kept]


def _in_turn(queues: list[list[Sample]]) -> list[Sample]:
    """The first of every queue, then the second of every queue, and so on."""
    longest = max(map(len, queues), default=0)
    return [queue[rank] for rank in range(longest) for queue in queues if rank < len(queue)]
