"""A synthetic Real-IAD tree: 5 views per part, JSON split files and their variants.

What it reproduces (docs/datasets/real_iad.md says which facts are confirmed): per category
``realiad_1024/<cat>/OK/S<nnnn>/<cat>_<nnnn>_OK_C<v>_<time>.jpg`` for normal parts and
``realiad_1024/<cat>/NG/<code>/S<nnnn>/<cat>_<nnnn>_NG_<code>_C<v>_<time>.jpg`` with a 0/255
``..._mask.png`` beside each defective view; a defective part also has one view where the defect
is not visible (``anomaly_class`` ``OK``, no mask), as the release labels views one by one; the
JSON files ``realiad_jsons/<cat>.json`` (the default split), ``realiad_jsons_sv/`` (camera C1
only) and ``realiad_jsons_fuiad_<r>/`` (a share ``r`` of the defective parts moved into train).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from iadbench.data.base import CategoryCounts
from iadbench.data.real_iad import DEFAULT_SPLIT, VIEWS
from iadbench.data.synth_drawing import Painter

IMAGE_FOLDER = "realiad_1024"
#: Defect codes drawn in turn (the release names defect types by short codes; which codes a
#: category has is unconfirmed, so every category cycles through these).
DEFECT_CODES: tuple[str, ...] = ("AK", "BX", "CH", "HS", "PS", "QS", "YW", "ZW")
FUIAD_RATIOS: tuple[str, ...] = ("0.0", "0.1", "0.2", "0.4")
SINGLE_VIEW = "realiad_jsons_sv"
#: The top-level folders a synthetic tree holds (the marker's ``written`` list).
TOP_LEVEL: tuple[str, ...] = (
    IMAGE_FOLDER, DEFAULT_SPLIT, SINGLE_VIEW, *(f"realiad_jsons_fuiad_{r}" for r in FUIAD_RATIOS)
)  # fmt: skip
NORMAL_CLASS = "OK"


@dataclass(frozen=True)
class Part:
    """One photographed part: its number, defect code (None: normal) and per-view labels."""

    number: int
    code: str | None
    defective_views: tuple[bool, ...]


def _chunks(n: int) -> Iterator[int]:
    """Views per part for ``n`` views: fives, the last part holding the rest."""
    while n > 0:
        yield min(VIEWS, n)
        n -= VIEWS


def plan_parts(counts: CategoryCounts) -> tuple[list[Part], list[Part]]:
    """Train and test parts holding exactly ``counts``' images.

    A defective part has 4 defective views and (while normal views last) one normal view; the
    remaining normal views make normal parts of 5 (the last one fewer when the count is not a
    multiple of 5, as at ``--scale`` below 1).
    """
    number = iter(range(1, 10_000))
    train = [Part(next(number), None, (False,) * n) for n in _chunks(counts.train_normal)]
    test: list[Part] = []
    spare_normal = counts.test_normal
    n_ng = math.ceil(counts.test_defect / (VIEWS - 1))
    for k in range(n_ng):
        bad = min(VIEWS - 1, counts.test_defect - k * (VIEWS - 1))
        good = min(VIEWS - bad, spare_normal)
        spare_normal -= good
        code = DEFECT_CODES[k % len(DEFECT_CODES)]
        test.append(Part(next(number), code, (True,) * bad + (False,) * good))
    test += [Part(next(number), None, (False,) * n) for n in _chunks(spare_normal)]
    return train, test


def _rows(
    root: Path, category: str, parts: list[Part], painter: Painter | None, tick: Callable[[], None]
) -> list[list[dict[str, str | None]]]:
    """Write the parts' images (and masks); per part, its JSON rows in view order."""
    rows_per_part = []
    for part in parts:
        state = "OK" if part.code is None else f"NG_{part.code}"
        folder = "OK" if part.code is None else f"NG/{part.code}"
        relative = f"{folder}/S{part.number:04d}"
        (root / IMAGE_FOLDER / category / relative).mkdir(parents=True, exist_ok=True)
        rows: list[dict[str, str | None]] = []
        for view, defective in enumerate(part.defective_views, start=1):
            stem = f"{category}_{part.number:04d}_{state}_C{view}_2023{part.number:06d}{view:04d}"
            image, mask = f"{relative}/{stem}.jpg", f"{relative}/{stem}_mask.png"
            target = root / IMAGE_FOLDER / category
            if painter is None:  # an index-only tree (the benchmark): empty files
                (target / image).touch()
                if defective:
                    (target / mask).touch()
            elif defective:
                pixels, classes = painter.defect()
                Image.fromarray(pixels).save(target / image, "JPEG", quality=90)
                Image.fromarray(np.where(classes > 0, 255, 0).astype(np.uint8)).save(
                    target / mask, "PNG", compress_level=1
                )
            else:
                Image.fromarray(painter.normal()).save(target / image, "JPEG", quality=90)
            tick()
            rows.append({
                "category": category,
                "anomaly_class": part.code if defective and part.code else NORMAL_CLASS,
                "image_path": image,
                "mask_path": mask if defective else None,
            })  # fmt: skip
        rows_per_part.append(rows)
    return rows_per_part


def _write_json(path: Path, category: str, train: list[list[dict[str, str | None]]],
                test: list[list[dict[str, str | None]]]) -> None:  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    content = {
        "meta": {"prefix": category, "normal_class": NORMAL_CLASS},
        "train": [row for part in train for row in part],
        "test": [row for part in test for row in part],
    }
    path.write_text(json.dumps(content, indent=1), encoding="utf-8")


def write_category(
    root: Path,
    category: str,
    counts: CategoryCounts,
    painter: Painter | None,
    tick: Callable[[], None],
) -> None:
    """Write one category's images and its file in every JSON variant.

    Args:
        root: The tree's root.
        category: Category name.
        counts: Images per group (train normal, test normal, test defect).
        painter: Draws the images; None writes empty files (a tree to index, not to decode).
        tick: Called once per image written.
    """
    train_parts, test_parts = plan_parts(counts)
    train = _rows(root, category, train_parts, painter, tick)
    test = _rows(root, category, test_parts, painter, tick)
    _write_json(root / DEFAULT_SPLIT / f"{category}.json", category, train, test)
    c1 = [[part[0]] for part in train], [[part[0]] for part in test]
    _write_json(root / SINGLE_VIEW / f"{category}.json", category, *c1)
    defective = [i for i, part in enumerate(test_parts) if part.code is not None]
    for ratio in FUIAD_RATIOS:
        moved = set(defective[: round(float(ratio) * len(defective))])
        _write_json(
            root / f"realiad_jsons_fuiad_{ratio}" / f"{category}.json",
            category,
            train + [test[i] for i in sorted(moved)],
            [rows for i, rows in enumerate(test) if i not in moved],
        )
