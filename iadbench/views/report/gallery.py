"""The reasoning gallery of text methods and the anomaly-map overlays of map methods.

Both are capped per run (:data:`GALLERY_PER_RUN`, :data:`OVERLAYS_PER_RUN`) so a report over
thousands of images stays a few megabytes; the page states the cap and how many images there
were. The gallery's choice is spread on purpose: it takes answers round-robin over outcome
(wrong, invalid, correct) and category, so every filter has something to show.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from iadbench.contract.artifacts import map_path
from iadbench.contract.records import INVALID
from iadbench.views.report.pictures import image_path, overlay, thumbnail
from iadbench.views.report.predictions import CORRECT, WRONG, Answer

if TYPE_CHECKING:
    from iadbench.views.report.context import RunView

GALLERY_PER_RUN = 24
OVERLAYS_PER_RUN = 8
TEXT_CHARS = 2000  # longer model outputs are cut, and the page says so
OUTCOME_ORDER = (WRONG, INVALID, CORRECT)
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
    """The overlays of one run that stored anomaly maps (``artifacts/maps/<id>.png``)."""

    anchor: str
    name: str
    items: list[OverlayItem]
    total: int
    cap: int


def spread(answers: Sequence[Answer], cap: int) -> list[Answer]:
    """Up to ``cap`` answers, taken round-robin over outcome, then category, then file order.

    Example:
        >>> a = [Answer(f"c/{i}", "c", "defect", p, None, "t", None)
        ...      for i, p in enumerate(["defect"] * 5 + ["normal", "invalid"])]
        >>> [x.outcome for x in spread(a, 3)]
        ['wrong', 'invalid', 'correct']
    """
    depth: dict[tuple[str, str], int] = {}
    categories: dict[str, list[str]] = {outcome: [] for outcome in OUTCOME_ORDER}
    keyed = []
    for position, answer in enumerate(answers):
        group = (answer.outcome, answer.category)
        depth[group] = depth.get(group, -1) + 1
        if answer.category not in categories[answer.outcome]:
            categories[answer.outcome].append(answer.category)
        keyed.append((depth[group], answer, position))
    # Round d takes the d-th image of every (outcome, category) group, swept diagonally over
    # (category position, outcome) so that a small cap already covers outcomes and categories.
    def order(item: tuple[int, Answer, int]) -> tuple[int, int, int, int]:
        d, answer, position = item
        outcome = OUTCOME_ORDER.index(answer.outcome)
        column = categories[answer.outcome].index(answer.category)
        return d, column + outcome, outcome, position

    keyed.sort(key=order)
    return [answer for _, answer, _ in keyed[:cap]]


def _item(answer: Answer, root: str | None) -> GalleryItem:
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


def build_gallery(run: RunView, root: str | None, cap: int = GALLERY_PER_RUN) -> Gallery:
    """The gallery of a text run: thumbnails from the test dataset's ``root``, texts, filters."""
    chosen = spread(run.answers, cap)
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

    Maps are looked up where methods write them (:func:`iadbench.contract.artifacts.map_path`, e.g.
    AprilGAN's ``save_maps``): ``<run>/artifacts/maps/<id>.png``.
    """
    artifacts = run_dir / "artifacts"
    if not (artifacts / "maps").is_dir():
        return None
    found: list[tuple[Answer, Path]] = []
    for answer in run.answers:
        try:
            path = map_path(artifacts, answer.id)
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
