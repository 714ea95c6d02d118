"""The reasoning gallery of text methods and the anomaly-map overlays of map methods.

Both are capped per run (:data:`GALLERY_PER_RUN`, :data:`OVERLAYS_PER_RUN`) so a report over
thousands of images stays a few megabytes; the page states the cap and how many images there
were. The gallery's choice is a seeded draw stratified by outcome (wrong, invalid, correct),
truth (defect, normal) and category (:func:`spread`), so every filter has something to show
and neither label crowds out the other.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from iadbench.contract.records import DEFECT, INVALID, NORMAL
from iadbench.runs.layout import RunLayout
from iadbench.runs.maps import MapSealError, load_map, map_digests
from iadbench.runs.reader import CORRECT, WRONG, Outcome
from iadbench.views.report.pictures import image_path, map_overlay, overlay, thumbnail

if TYPE_CHECKING:
    from iadbench.views.report.context import RunView

GALLERY_PER_RUN = 24
OVERLAYS_PER_RUN = 8
TEXT_CHARS = 2000  # longer model outputs are cut, and the page says so
OUTCOME_ORDER = (WRONG, INVALID, CORRECT)
LABEL_ORDER = (DEFECT, NORMAL)
GALLERY_SEED = 0  # the picks are a seeded draw: the same runs give the same page
_THINK = re.compile(r"<think>(.*?)</think>", re.DOTALL)


@dataclass(frozen=True)
class GalleryItem:
    """One image of the gallery.

    Attributes:
        id: Sample id.
        category: Category folder name.
        truth: Ground truth label.
        answer: The run's final answer.
        outcome: ``correct``, ``wrong`` or ``invalid``.
        thumbnail: JPEG ``data:`` URI, or None when the image could not be read.
        think: The text inside ``<think>…</think>``, or None.
        text: The rest of the model's output (all of it without a think block; cut at
            :data:`TEXT_CHARS`), or None.
        cut: Whether ``text`` was cut.
        error: The image's error, if any.
    """

    id: str
    category: str
    truth: str
    answer: str
    outcome: str
    thumbnail: str | None
    think: str | None
    text: str | None
    cut: bool
    error: str | None


@dataclass(frozen=True)
class Gallery:
    """The gallery of one text run.

    Attributes:
        anchor: The run's HTML id.
        name: The run's name (label and direction).
        items: The chosen images.
        categories: Categories among the items (filter choices).
        total: Images the run answered.
        counts: Images per outcome over the whole run.
        cap: :data:`GALLERY_PER_RUN`.
    """

    anchor: str
    name: str
    items: list[GalleryItem]
    categories: list[str]
    total: int
    counts: dict[str, int]
    cap: int


@dataclass(frozen=True)
class OverlayItem:
    """One anomaly-map overlay: image id, truth, answer, score and the blended picture."""

    id: str
    category: str
    truth: str
    answer: str
    score: str
    picture: str


@dataclass(frozen=True)
class Overlays:
    """The overlays of one run that stored anomaly maps (``anomaly_maps/`` or map PNGs).

    ``scale`` says how map values become colours (shared by the run's overlays).
    """

    anchor: str
    name: str
    items: list[OverlayItem]
    total: int
    cap: int
    scale: str = "the map PNG's 0–255, not stretched per image"


def spread(answers: Sequence[Outcome], cap: int, seed: int = GALLERY_SEED) -> list[Outcome]:
    """Up to ``cap`` answers stratified by outcome and label, then category; seeded.

    The strata are (outcome, truth) pairs: wrong, invalid and correct answers on defect and on
    normal images. Each step takes one image of every stratum that has any left, so a small cap
    already shows every outcome of both labels, however the run's images are split between them
    (in id order a gallery would show the first category's defect folders only). Within a
    stratum the categories take turns, each stratum starting at another one; within a
    (stratum, category) group the images come in a random order drawn from ``seed``. The
    answers are ordered by id first: the same answers and seed give the same picks, whatever
    order the run wrote them in.

    Example:
        >>> a = [Outcome(f"c/{i}", "c", "defect", p, None, "t", None)
        ...      for i, p in enumerate(["defect"] * 5 + ["normal", "invalid"])]
        >>> sorted(x.outcome for x in spread(a, 3))
        ['correct', 'invalid', 'wrong']
    """
    rng = random.Random(seed)
    strata = [(outcome, label) for outcome in OUTCOME_ORDER for label in LABEL_ORDER]
    groups: dict[tuple[str, str], dict[str, list[Outcome]]] = {s: {} for s in strata}
    for answer in sorted(answers, key=lambda a: a.id):
        stratum = (answer.outcome, answer.label)
        groups.setdefault(stratum, {}).setdefault(answer.category, []).append(answer)
    # One shuffled category order for all strata: a cap does not favour the first names.
    every_category = sorted({a.category for a in answers})
    rng.shuffle(every_category)
    turns: list[tuple[list[str], dict[str, list[Outcome]]]] = []
    for position, stratum in enumerate(groups):
        by_category = groups[stratum]
        for images in by_category.values():
            rng.shuffle(images)
            images.reverse()  # popped from the end: the shuffled order read front to back
        order = [c for c in every_category if c in by_category]
        if order:
            start = position % len(order)  # strata start at different categories
            turns.append((order[start:] + order[:start], by_category))
    chosen: list[Outcome] = []
    while turns and len(chosen) < cap:
        for order, by_category in turns:
            if len(chosen) == cap:
                break
            category = order.pop(0)
            chosen.append(by_category[category].pop())
            if by_category[category]:
                order.append(category)  # its turn comes again after the other categories
        turns = [turn for turn in turns if turn[0]]  # strata with images left
    return chosen


def _item(answer: Outcome, root: str | None) -> GalleryItem:
    text = answer.text
    think = None
    if text is not None and (found := _THINK.search(text)):
        # Shown apart (as the paper's Figure 3 does); the rest is the answer part of the text.
        think = found.group(1).strip()
        text = (text[: found.start()] + text[found.end() :]).strip()
    cut = text is not None and len(text) > TEXT_CHARS
    return GalleryItem(
        id=answer.id,
        category=answer.category,
        truth=answer.label,
        answer=answer.pred,
        outcome=answer.outcome,
        thumbnail=thumbnail(image_path(root, answer.id)),
        think=think[:TEXT_CHARS] if think is not None else None,
        text=text[:TEXT_CHARS] if text is not None else None,
        cut=cut,
        error=answer.error,
    )


def build_gallery(
    run: RunView, root: str | None, cap: int = GALLERY_PER_RUN, seed: int = GALLERY_SEED
) -> Gallery:
    """The gallery of a text run: thumbnails from the test dataset's ``root``, texts, filters.

    The images are :func:`spread`'s choice with ``seed``.
    """
    chosen = spread(run.answers, cap, seed)
    counts = {o: sum(a.outcome == o for a in run.answers) for o in OUTCOME_ORDER}
    return Gallery(
        anchor=run.anchor,
        name=run.name,
        items=[_item(answer, root) for answer in chosen],
        categories=sorted({a.category for a in chosen}),
        total=len(run.answers),
        counts=counts,
        cap=cap,
    )


def build_overlays(
    run: RunView, run_dir: Path, root: str | None, cap: int = OVERLAYS_PER_RUN
) -> Overlays | None:
    """Overlays of the highest-scoring images that have a map, or None when the run has none.

    A run that stored its maps (``anomaly_maps/<id>.npy``, each sealed by its prediction line:
    :mod:`iadbench.runs.maps`) shows those. Otherwise maps are looked up where methods write
    pictures (:meth:`iadbench.runs.layout.RunLayout.map`, e.g.
    AprilGAN's ``save_maps``): ``<run>/artifacts/maps/<id>.png``.
    """
    layout = RunLayout(run_dir)
    if layout.predictions.is_file() and (digests := map_digests(layout)):
        return _stored_overlays(run, layout, digests, root, cap)
    if not layout.maps.is_dir():
        return None
    found: list[tuple[Outcome, Path]] = []
    for answer in run.answers:
        try:
            path = layout.map(answer.id)
        except ValueError:  # an id leading outside the run dir: never read
            continue
        if path.is_file():
            found.append((answer, path))
    if not found:
        return None
    found.sort(key=lambda pair: -(pair[0].score or 0.0))
    items = []
    for answer, path in found[:cap]:
        picture = overlay(image_path(root, answer.id), path)
        if picture is not None:
            items.append(OverlayItem(
                answer.id, answer.category, answer.label, answer.pred,
                "—" if answer.score is None else f"{answer.score:.3f}", picture,
            ))  # fmt: skip
    return Overlays(run.anchor, run.name, items, len(found), cap) if items else None


#: The colour scale of stored maps: the run's shown maps' lowest value to this percentile of
#: their values (higher ones saturate). Not the maximum: a few extreme pixels (pixel-stats'
#: z-maps reach 1e5) would leave every other pixel dark.
SCALE_PERCENTILE = 99.0


def _stored_overlays(
    run: RunView, layout: RunLayout, digests: dict[str, str], root: str | None, cap: int
) -> Overlays | None:
    """Overlays from the stored ``.npy`` maps, on one colour scale for the run."""
    import numpy as np

    found = sorted((a for a in run.answers if a.id in digests), key=lambda a: -(a.score or 0.0))
    shown: list[tuple[Outcome, np.ndarray]] = []
    for answer in found[:cap]:  # at most ``cap`` maps in memory, each a few kB
        try:
            shown.append((answer, load_map(layout.anomaly_map(answer.id), digests[answer.id])))
        except (MapSealError, ValueError):  # changed or missing (the seal check says so) or
            continue  # an id leading outside the run dir: never read
    if not shown:
        return None
    values = np.concatenate([values.ravel() for _, values in shown])
    low = float(values.min())
    high = float(np.percentile(values, SCALE_PERCENTILE))
    high = high if high > low else float(values.max())
    items = [
        OverlayItem(answer.id, answer.category, answer.label, answer.pred,
                    "—" if answer.score is None else f"{answer.score:.3f}",
                    map_overlay(image_path(root, answer.id), values_, (low, high)))
        for answer, values_ in shown
    ]  # fmt: skip
    scale = (
        f"the stored map values, {low:.3g} (dark) to {high:.3g} (bright, the "
        f"{SCALE_PERCENTILE:g}th percentile of the shown maps' values; above it saturates) "
        "on an asinh scale (linear near 0, logarithmic for large values), the same for every "
        "picture of the run"
    )
    return Overlays(run.anchor, run.name, items, len(found), cap, scale)
