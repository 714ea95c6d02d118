"""Which images a threshold chosen on training data is chosen on: never the ones it learned from.

``calibrated`` and ``normal-quantile:q`` used to choose their threshold on every image of the
training dataset outside the test set, the very normals the method was fitted on included: a
1-nearest-neighbour method scores those at distance 0, the threshold collapsed to about 0, and
every test image was called a defect (issue 20). :func:`choose_calibration` picks, at planning,
the first of these that holds what the policy needs (``normal-quantile``: a normal image;
``calibrated``: both labels):

1. ``calibration split``: the rows of the training dataset's split file marked ``calibration``
   (``iadbench data split --calibration-ratio R``), never trained on.
2. ``unused training images``: the training dataset's images minus those ``fit`` is given (and
   a few-shot method's reference images) minus the test images (for a method that does not
   train: every image outside the test set and the references).
3. ``held-out share R``: a seeded share R (``--calibration-ratio``, default
   :data:`~iadbench.contract.sampling.DEFAULT_CALIBRATION_RATIO`) of the training images, per
   category and label, taken out of ``fit``'s samples before training.
4. ``in-sample``: the training dataset's images outside the test set, fitted ones included —
   only when nothing else holds what the policy needs (or R is 0); the run warns and the tables
   mark the row (:data:`IN_SAMPLE`).

Nothing satisfies the policy (``calibrated`` on normal images only): refused here, before any
image is scored.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from iadbench.contract.records import DEFECT, NORMAL, Sample
from iadbench.contract.sampling import DEFAULT_CALIBRATION_RATIO, held_out_share
from iadbench.runs.thresholds import TRAINING_DATA_POLICIES, ThresholdError, parse_policy

__all__ = [
    "CALIBRATION_SUBSET",
    "DEFAULT_CALIBRATION_RATIO",
    "IN_SAMPLE",
    "CalibrationChoice",
    "choose_calibration",
    "training_data_policy",
]

#: The ``source`` of a calibration whose images include those the method was fitted on.
IN_SAMPLE = "in-sample"
#: Split-file value of the rows held out for calibration (:mod:`iadbench.data.split_file`).
CALIBRATION_SUBSET = "calibration"


@dataclass(frozen=True)
class CalibrationChoice:
    """The images a threshold is chosen on, and the training images they take from ``fit``.

    Attributes:
        samples: The images scored to choose the threshold (normal ones only under
            ``normal-quantile``), in id order.
        source: ``calibration split``, ``held-out share R``, ``unused training images`` or
            :data:`IN_SAMPLE`.
        held_out: Whether the method never trained on any of ``samples``.
        removed: Training images taken out of ``fit``'s samples (a held-out share, or
            calibration rows inside the training subset); empty otherwise.
        excluded_test_images: Images of the training dataset left out as test images.
        why: For :data:`IN_SAMPLE`: why nothing held out was used (for the warning).
    """

    samples: list[Sample]
    source: str
    held_out: bool
    removed: list[Sample] = field(default_factory=list)
    excluded_test_images: int = 0
    why: str = ""

    def record(self) -> dict[str, Any]:
        """What summary.json's ``calibration`` records about the images (issue 20)."""
        counts = Counter(s.label for s in self.samples)
        return {
            "held_out": self.held_out,
            "source": self.source,
            "n_per_label": {label: counts[label] for label in sorted(counts)},
        }

    def warning(self) -> str | None:
        """The loud warning of an in-sample threshold, None for a held-out one."""
        if self.held_out:
            return None
        return (
            f"the threshold is chosen on images the method was fitted on (in-sample: "
            f"{self.why}); its scores there are optimistic, so the threshold is too low or too "
            "high for new images and the row is marked in-sample — split a calibration share "
            "(`iadbench data split --calibration-ratio R`) or raise --calibration-ratio"
        )


def training_data_policy(threshold: str | None) -> str | None:
    """The policy's kind when it is chosen on training data, else None.

    ``calibrated`` and ``normal-quantile``; None for no policy, ``fixed`` and ``oracle``.

    Raises:
        ThresholdError: A malformed policy.
    """
    if threshold is None:
        return None
    kind = parse_policy(threshold).kind
    return kind if kind in TRAINING_DATA_POLICIES else None


def choose_calibration(
    kind: str,
    dataset: str,
    every_image: list[Sample],
    fit_samples: list[Sample] | None,
    test: list[Sample],
    ratio: float,
    seed: int,
    references: Sequence[Sample] = (),
) -> CalibrationChoice:
    """Choose the images ``kind``'s threshold is chosen on (see the module docstring).

    Args:
        kind: ``calibrated`` or ``normal-quantile``.
        dataset: The training dataset's name (for messages).
        every_image: The training dataset's All subset.
        fit_samples: What ``fit`` would be given, or None for a method that does not train.
        test: The run's test images (never calibrated on).
        ratio: ``--calibration-ratio``: the share held out of ``fit_samples`` when needed.
        seed: The run's seed (the held-out share's draw).
        references: A few-shot method's reference images: it compares with them (scores them
            about 0), so they count as fitted ones, never as unused.

    Raises:
        ThresholdError: No candidate holds what the policy needs, or every image of the
            training dataset is a test image.
    """
    tested = {(s.dataset, s.id) for s in test}
    pool = [s for s in every_image if (s.dataset, s.id) not in tested]
    excluded = len(every_image) - len(pool)
    if every_image and not pool:
        # Say why instead of "got 0 defect and 0 normal": every image is also a test image.
        raise ThresholdError(
            f"--threshold {kind} chooses the threshold on the training dataset minus the "
            f"test images, and all {len(every_image)} images of {dataset!r} are test "
            "images of this run (train == test?): nothing is left to calibrate on. Use another "
            "training dataset, --threshold fixed:T, or oracle (marked as an upper bound)"
        )
    labels = (NORMAL,) if kind == "normal-quantile" else (NORMAL, DEFECT)
    fitted = {s.id for s in fit_samples or ()}
    names = {s.dataset for s in every_image}  # references of another dataset are not here
    fitted |= {s.id for s in references if s.dataset in names}

    def wanted(samples: Sequence[Sample]) -> list[Sample]:
        return sorted((s for s in samples if s.label in labels), key=lambda s: s.id)

    def enough(samples: Sequence[Sample]) -> bool:
        return {s.label for s in samples} >= set(labels)

    marked = wanted([s for s in pool if s.subset == CALIBRATION_SUBSET])
    if enough(marked):
        removed = [s for s in fit_samples or () if s.subset == CALIBRATION_SUBSET]
        return CalibrationChoice(marked, "calibration split", True, removed, excluded)
    unused = wanted([s for s in pool if s.id not in fitted])
    if enough(unused):
        return CalibrationChoice(unused, "unused training images", True, [], excluded)
    if not fitted:  # nothing was learned from: no other image to hold out
        raise _refusal(kind, dataset, unused, "outside the test set")
    drawn = held_out_share(fit_samples or (), ratio, seed, labels)
    share = [s for s in drawn if (s.dataset, s.id) not in tested]  # --force-overlap: tested
    if ratio > 0 and enough(share):
        source = f"held-out share {ratio:g}"
        return CalibrationChoice(share, source, True, share, excluded)
    in_sample = wanted(pool)
    if not enough(in_sample):
        raise _refusal(kind, dataset, in_sample, "outside the test set, fitted ones included")
    why = (
        "--calibration-ratio 0"
        if ratio <= 0
        else "the few-shot reference images are the only ones outside the test set"
        if fit_samples is None
        else f"a held-out share {ratio:g} of the training images would hold no "
        f"{'/'.join(labels)} image in a category with two or more"
    )
    return CalibrationChoice(in_sample, IN_SAMPLE, False, [], excluded, why)


def _refusal(kind: str, dataset: str, found: Sequence[Sample], where: str) -> ThresholdError:
    """One sentence: what the policy needs, what the training dataset holds, what to do."""
    held = "/".join(sorted({s.label for s in found})) or "no"
    if kind == "normal-quantile":
        return ThresholdError(
            f"--threshold normal-quantile needs training images labelled normal, and the "
            f"images of {dataset!r} {where} hold {held} images ({len(found)}): choose a "
            "training dataset with normal images, or --threshold fixed:T"
        )
    return ThresholdError(
        f"--threshold calibrated chooses the F1-best threshold on images of both labels, and "
        f"the images of {dataset!r} {where} hold only {held} images ({len(found)}): use "
        "--threshold normal-quantile:0.95 (a quantile of the normal images' scores), or give "
        "the training data defects (`iadbench data split --train-defect-ratio R`)"
    )
