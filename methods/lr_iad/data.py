"""The GRPO training set: one row per training image, in the form trl 1.16 takes for Qwen2-VL.

Columns stored (cheap: no pixels): ``sample_id`` (the image's id, unique in the dataset, which
groups a GRPO group's completions across processes), ``category``, ``label`` (ground truth,
``"defect"``/``"normal"``), ``class_weight`` (``f(y)`` of the focal reward) and ``image_path``.
Two columns are added when a row is read (a ``datasets`` transform, so pixels are decoded lazily,
a row at a time, by :func:`iadbench.contract.images.load_rgb` exactly as evaluation decodes them):
``prompt`` (the conversational user turn of :func:`iadbench_methods.qwen2vl.prompt.build_messages`,
with its image placeholder) and ``image`` (the RGB ``PIL.Image``). trl's ``GRPOTrainer`` puts
the ``image`` into the placeholder and feeds it to the model both when generating and in the loss.

Paper: LR-IAD, arXiv 2504.19524, https://arxiv.org/abs/2504.19524

See Also:
    :mod:`iadbench_methods.lr_iad.rewards` (reads ``label``, ``sample_id``, ``class_weight``).
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from iadbench.contract.images import load_rgb
from iadbench.contract.records import DEFECT, NORMAL, Sample
from iadbench.contract.sampling import select_samples

from ..qwen2vl.prompt import DEFAULT_PROMPT, build_messages
from .rewards import class_weights

if TYPE_CHECKING:
    from datasets import Dataset

_FLIPPED = {DEFECT: NORMAL, NORMAL: DEFECT}


@dataclass(frozen=True)
class TrainingData:
    """The dataset and what went into it (recorded next to the adapter).

    Attributes:
        dataset: The ``datasets.Dataset`` handed to trl.
        counts: Images per label actually used.
        weights: ``f(y)`` per label (all 1.0 when class weighting is off).
        unreadable: Ids of images left out because their file could not be opened.
        heldout: Images held out of training for the monitor (true labels).
        flipped: Whether the training labels were swapped (the negative control).
    """

    dataset: Dataset
    counts: dict[str, int]
    weights: dict[str, float]
    unreadable: list[str] = field(default_factory=list)
    heldout: list[Sample] = field(default_factory=list)
    flipped: bool = False

    def describe(self) -> dict[str, Any]:
        """JSON-ready facts (no dataset)."""
        return {
            "images": sum(self.counts.values()),
            "counts": dict(self.counts),
            "class_weights": dict(self.weights),
            "unreadable": list(self.unreadable),
            "heldout": {
                "images": len(self.heldout),
                "counts": dict(Counter(s.label for s in self.heldout)),
            },
            "labels_flipped": self.flipped,
        }


class PromptAndImage:
    """Row transform: add ``prompt`` and the decoded ``image`` to a batch of rows (picklable).

    Example:
        >>> transform = PromptAndImage()
        >>> rows = transform({"category": [], "image_path": []})
        >>> sorted(rows)
        ['category', 'image', 'image_path', 'prompt']
    """

    def __init__(self, prompt: str = DEFAULT_PROMPT) -> None:
        self.prompt = prompt  # the prompt variant (:mod:`iadbench_methods.qwen2vl.prompt`)

    def __call__(self, batch: dict[str, list[Any]]) -> dict[str, list[Any]]:
        """Return the batch with ``prompt`` and ``image`` lists added."""
        return {
            **batch,
            "prompt": [build_messages(category, self.prompt) for category in batch["category"]],
            "image": [load_rgb(path) for path in batch["image_path"]],
        }


def openable(path: str) -> bool:
    """Whether ``path`` opens as an image (header only: fast, no full decode)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path):
            return True
    except (OSError, UnidentifiedImageError, ValueError, SyntaxError):
        return False


def hold_out(samples: Sequence[Sample], count: int, seed: int) -> tuple[list[Sample], list[Sample]]:
    """``(kept, held_out)``: a seeded slice of ``count`` images, half defects where possible.

    The held-out slice is balanced (so balanced accuracy is measured on both classes) unless a
    class runs short, then the other class fills it; it never takes more than a quarter of the
    images. Both lists are in id order.

    Example:
        >>> from iadbench.contract.records import DEFECT, NORMAL, Sample
        >>> pool = [Sample(f"c/{i}.png", "d", "c", "test", "defect" if i % 4 == 0 else "normal",
        ...                f"/{i}.png") for i in range(40)]
        >>> kept, held = hold_out(pool, 8, seed=0)
        >>> len(kept), sorted(s.label for s in held).count("defect")
        (32, 4)
        >>> len(hold_out(pool, 64, seed=0)[1])  # at most a quarter of 40
        10
    """
    # Never more than a quarter of the images: a small training set must still train.
    count = min(count, len(samples) // 4)
    if count <= 0:
        return sorted(samples, key=lambda s: s.id), []
    rng = random.Random(seed)
    by_label = {
        label: sorted((s for s in samples if s.label == label), key=lambda s: s.id)
        for label in (DEFECT, NORMAL)
    }
    defects = min(len(by_label[DEFECT]), count // 2)
    normals = min(len(by_label[NORMAL]), count - defects)
    defects = min(len(by_label[DEFECT]), count - normals)
    held = rng.sample(by_label[DEFECT], defects) + rng.sample(by_label[NORMAL], normals)
    held_ids = {s.id for s in held}
    kept = sorted((s for s in samples if s.id not in held_ids), key=lambda s: s.id)
    return kept, sorted(held, key=lambda s: s.id)


def trained_subset(
    samples: Sequence[Sample], *, max_samples: int = 0, heldout: int = 0, seed: int = 0
) -> tuple[list[Sample], list[Sample]]:
    """``(trained, held_out)``: the monitor's slice first (:func:`hold_out`), then the cap.

    The cap is :func:`~iadbench.contract.sampling.select_samples`' subsample, stratified by
    label and category, so a cap of 2 or more keeps both labels when the rest of the pool has
    both. Planning (``LRIAD.training_subset``) and :func:`build_training_data` both call this,
    so the one-label check judges the very images GRPO trains on.
    """
    kept, held = hold_out(samples, heldout, seed)
    return select_samples(kept, max_samples, seed), held


def build_training_data(
    samples: Sequence[Sample],
    *,
    max_samples: int = 0,
    seed: int = 0,
    class_weighting: str = "inverse-frequency",
    heldout: int = 0,
    flip_labels: bool = False,
    prompt: str = DEFAULT_PROMPT,
) -> TrainingData:
    """The trl training set of ``samples`` (see the module docstring for its columns).

    Args:
        samples: The training subset (Table II: the other dataset's All subset).
        max_samples: 0 for every image, else a seeded subset of this many, stratified by label
            and category (:func:`trained_subset`).
        seed: Seed of that subset and of the held-out slice.
        class_weighting: ``"inverse-frequency"`` (``f(y) = N / (2·N_y)`` over the images used)
            or ``"none"`` (``f = 1``).
        heldout: Images held out for the monitor first (:func:`hold_out`; 0: none).
        flip_labels: Train on swapped labels (the negative control; held-out labels stay true).
        prompt: The prompt variant (:mod:`iadbench_methods.qwen2vl.prompt`).

    Returns:
        The dataset with its label counts and class weights.

    Raises:
        ValueError: No readable image is left, or an unknown ``class_weighting``.

    Example:
        >>> data = build_training_data(train_samples)  # doctest: +SKIP
        >>> data.dataset[0]["prompt"][0]["content"][0]  # doctest: +SKIP
        {'type': 'image'}
    """
    from datasets import Dataset

    if class_weighting not in ("inverse-frequency", "none"):
        raise ValueError(
            f"class_weighting must be inverse-frequency or none, got {class_weighting!r}"
        )
    chosen, held = trained_subset(samples, max_samples=max_samples, heldout=heldout, seed=seed)
    # A file that does not even open would stop training hours in: leave it out up front.
    unreadable = [s.id for s in chosen if not openable(s.image_path)]
    missing = set(unreadable)
    used = [s for s in chosen if s.id not in missing]
    if not used:
        raise ValueError("no readable training image: LR-IAD has nothing to train on")
    labels = [_FLIPPED[s.label] if flip_labels else s.label for s in used]
    counts = dict(Counter(labels))
    weights = (
        class_weights(labels)
        if class_weighting == "inverse-frequency"
        else dict.fromkeys(counts, 1.0)
    )
    dataset = Dataset.from_dict(
        {
            "sample_id": [s.id for s in used],
            "category": [s.category for s in used],
            "label": labels,
            "class_weight": [weights[label] for label in labels],
            "image_path": [s.image_path for s in used],
        }
    )
    held = [s for s in held if openable(s.image_path)]
    return TrainingData(
        dataset.with_transform(PromptAndImage(prompt)),
        counts, weights, unreadable, held, flip_labels,
    )  # fmt: skip
