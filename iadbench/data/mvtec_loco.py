"""MVTec LOCO AD reader: logical and structural anomalies, several masks per defective image.

Layout, per category (anomalib 2.7 ``anomalib/data/datasets/image/mvtec_loco.py``;
docs/datasets/mvtec-loco.md)::

    <cat>/train/good/*.png                          normal training images    -> Train
    <cat>/validation/good/*.png                     normal validation images  -> calibration
    <cat>/test/good/*.png                           normal test images        -> Test
    <cat>/test/logical_anomalies/*.png              defective test images     -> Test
    <cat>/test/structural_anomalies/*.png           defective test images     -> Test
    <cat>/ground_truth/<type>/<image stem>/000.png, 001.png, ...   one mask per defect

A defective image's ``mask_path`` is its mask FOLDER: :func:`iadbench.contract.images.load_mask`
reads the union of the masks in it (each a grey value per defect, binarised with ``!= 0``).
The defect type is the folder name (``logical_anomalies`` / ``structural_anomalies``); the
grouping logical vs structural in the tables is :data:`LOCO_DEFECT_GROUPS`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import ClassVar, Final

from iadbench.contract.records import DEFECT, NORMAL, Sample, Subset
from iadbench.data.base import CategoryCounts, DatasetReader, folder_list
from iadbench.data.traversal import image_files, subfolders

NORMAL_FOLDER: Final = "good"
LOGICAL: Final = "logical_anomalies"
STRUCTURAL: Final = "structural_anomalies"
MASK_FOLDER: Final = "ground_truth"
#: Defect type (test folder) -> the group the tables show it in: LOCO reports its figures
#: for logical and structural anomalies apart, each against all the normal test images.
LOCO_DEFECT_GROUPS: Final[dict[str, str]] = {LOGICAL: "logical", STRUCTURAL: "structural"}
_NORMAL_ONLY: Final[dict[str, Subset]] = {"train": "train", "validation": "calibration"}
_CATEGORY_FOLDERS: Final = ("train", "validation", "test", MASK_FOLDER)

MVTEC_LOCO_CATEGORIES: Final = (
    "breakfast_box", "juice_bottle", "pushpins", "screw_bag", "splicing_connectors",
)  # fmt: skip

#: Per category: train, validation, test good, test logical, test structural. Recalled from
#: Table 1 of the LOCO paper (Bergmann et al., IJCV 130, 2022), NOT re-read there: a third
#: party's inventory of the release gives the totals 1,778 / 305 / 575 / 561 / 432, which the
#: validation and test columns below match and the train column (1,772) does not, so the
#: train counts are unconfirmed (``counts_confirmed`` False; data check notes a difference).
LOCO_COUNTS: Final[dict[str, tuple[int, int, int, int, int]]] = {
    "breakfast_box": (351, 62, 102, 83, 90),
    "juice_bottle": (335, 54, 94, 142, 94),
    "pushpins": (372, 69, 138, 91, 81),
    "screw_bag": (360, 60, 122, 137, 82),
    "splicing_connectors": (354, 60, 119, 108, 85),
}

MVTEC_LOCO_LAYOUT_HELP = (
    "<root>/<category>/train/good/*.png (normal training images), "
    "<root>/<category>/validation/good/*.png (normal validation images), "
    "<root>/<category>/test/good/*.png, <root>/<category>/test/logical_anomalies/*.png and "
    "<root>/<category>/test/structural_anomalies/*.png (test images) with "
    "<root>/<category>/ground_truth/<type>/<image name>/000.png, 001.png, ... (masks), "
    "e.g. pushpins/test/logical_anomalies/000.png; any folder holding test/ and validation/ is "
    "a category"
)


def mvtec_loco_categories(root: str | Path) -> list[str]:
    """Category folders of a LOCO tree: every visible folder holding ``test/`` and ``validation/``.

    ``validation/`` is asked for as well, so that an MVTec-AD tree (``test/`` alone) given as
    ``--data mvtec-loco=...`` is not read as LOCO.
    """
    return [
        e.name
        for e in subfolders(root)
        if os.path.isdir(os.path.join(e.path, "test"))
        and os.path.isdir(os.path.join(e.path, "validation"))
    ]


def _mask_of(cat_dir: str, kind: str, image_name: str) -> str | None:
    """``ground_truth/<kind>/<stem>/`` when it is a folder (LOCO's layout), else None."""
    folder = os.path.join(cat_dir, MASK_FOLDER, kind, os.path.splitext(image_name)[0])
    return folder if os.path.isdir(folder) else None


def index_mvtec_loco(root: str | Path) -> list[Sample]:
    """Every sample of a LOCO tree, sorted by id; no image opened."""
    samples: list[Sample] = []
    for category in mvtec_loco_categories(root):
        cat_dir = os.path.join(root, category)
        folders: list[tuple[str, str, Subset]] = [
            (folder, NORMAL_FOLDER, subset) for folder, subset in _NORMAL_ONLY.items()
        ]
        tests = subfolders(os.path.join(cat_dir, "test"))
        folders += [("test", kind.name, "test") for kind in tests]
        for folder, kind, subset in folders:
            normal = kind == NORMAL_FOLDER
            for image in image_files(os.path.join(cat_dir, folder, kind)):
                samples.append(
                    Sample(
                        id=f"{category}/{folder}/{kind}/{image.name}",
                        dataset=MVTecLOCO.name,
                        category=category,
                        subset=subset,
                        label=NORMAL if normal else DEFECT,
                        image_path=image.path,
                        mask_path=None if normal else _mask_of(cat_dir, kind, image.name),
                        defect_type=kind,
                    )
                )
    samples.sort(key=lambda s: s.id)
    return samples


class MVTecLOCO(DatasetReader):
    """MVTec LOCO AD in its official layout (categories are discovered).

    Train = ``train/good``; Test = ``test/*`` (defect types ``logical_anomalies`` and
    ``structural_anomalies``); ``validation/good`` is the ``calibration`` subset.
    """

    name: ClassVar[str] = "mvtec-loco"
    display_name: ClassVar[str] = "MVTec LOCO AD"
    layout_help: ClassVar[str] = MVTEC_LOCO_LAYOUT_HELP
    official_counts: ClassVar[dict[str, CategoryCounts]] = {
        category: CategoryCounts(train, good, logical + structural)
        for category, (train, _val, good, logical, structural) in LOCO_COUNTS.items()
    }
    counts_confirmed: ClassVar[bool] = False
    # anomalib's mvtec_loco.py module docstring (the release's license.txt was not read).
    licence: ClassVar[str] = (
        "MVTec LOCO AD is released under Creative Commons Attribution-NonCommercial-ShareAlike "
        "4.0 International (CC BY-NC-SA 4.0), https://creativecommons.org/licenses/by-nc-sa/4.0/."
    )

    def _index(self) -> list[Sample]:
        return index_mvtec_loco(self.root)

    def _read_folders(self) -> dict[str, list[Path]]:
        return {
            category: [self.root / category / name for name in ("train", "validation", "test")]
            for category in mvtec_loco_categories(self.root)
        }

    def _where_read(self) -> str:
        return "<category>/train/good/, <category>/validation/good/ and <category>/test/<type>/"

    def _category_marks(self, folder: str | Path) -> str | None:
        if not (os.path.isdir(os.path.join(folder, "test"))
                and os.path.isdir(os.path.join(folder, "validation"))):  # fmt: skip
            return None
        return folder_list([n for n in _CATEGORY_FOLDERS if os.path.isdir(os.path.join(folder, n))])

    def _accepts_as_root(self, folder: str | Path) -> bool:
        return bool(mvtec_loco_categories(folder))
