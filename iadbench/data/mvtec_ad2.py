"""MVTec AD 2 reader (2025): 8 categories, a public test set with masks and two private ones.

Layout, per category (anomalib 2.7 ``anomalib/data/datasets/image/mvtecad2.py``, the authors'
``mvtec_ad_2_public_offline.py`` in their public code utils; docs/datasets/mvtec-ad2.md)::

    <cat>/train/good/*.png                        normal training images      -> Train
    <cat>/validation/good/*.png                   normal validation images    -> calibration
    <cat>/test_public/good/*.png                  normal test images          -> Test
    <cat>/test_public/bad/*.png                   defective test images       -> Test
    <cat>/test_public/ground_truth/bad/<stem>_mask.png   0/255 masks
    <cat>/test_private/NNN_regular.png            no public labels: not read, never scored
    <cat>/test_private_mixed/NNN_mixed.png        no public labels: not read, never scored

The validation images are the rows a ``calibrated`` / ``normal-quantile`` threshold is chosen on
(subset ``calibration``: never trained on, never tested), as the authors intend them. The private
sets are scored by the authors' evaluation server only: ``run`` refuses them
(:attr:`MVTecAD2.unscored_subsets`) and ``predict --submission DIR`` writes the maps the server
takes (:mod:`iadbench.execution.submission`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import ClassVar, Final

from iadbench.contract.records import DEFECT, NORMAL, Sample, Subset
from iadbench.data.base import CategoryCounts, DatasetReader, folder_list
from iadbench.data.traversal import image_files, subfolders

NORMAL_FOLDER: Final = "good"
PUBLIC_TEST: Final = "test_public"
PRIVATE_TESTS: Final = ("test_private", "test_private_mixed")
MASK_FOLDER: Final = "ground_truth"
# Folder -> subset of the images in <cat>/<folder>/good/.
_NORMAL_ONLY: Final[dict[str, Subset]] = {"train": "train", "validation": "calibration"}
_CATEGORY_FOLDERS: Final = ("train", "validation", PUBLIC_TEST, *PRIVATE_TESTS)

MVTEC_AD2_CATEGORIES: Final = (
    "can", "fabric", "fruit_jelly", "rice", "sheet_metal", "vial", "wallplugs", "walnuts",
)  # fmt: skip

#: Images per category of each private test set (both the same), from the authors'
#: ``check_and_prepare_data_for_upload.py`` / ``utils.py`` (``OBJECT_FILE_COUNTER``): the
#: evaluation server expects exactly this many maps per set. Sum 2,045.
PRIVATE_COUNTS: Final[dict[str, int]] = {
    "can": 321, "fabric": 314, "fruit_jelly": 255, "rice": 277, "sheet_metal": 142,
    "vial": 276, "wallplugs": 232, "walnuts": 228,
}  # fmt: skip

#: Release totals (train / validation / public good / public bad), read in a third party's
#: inventory of the release (not the authors'): 2,528 / 302 / 379 / 705. The per-category split
#: below is NOT confirmed: each total is spread evenly over the 8 categories (remainder to the
#: first ones), so ``data check`` reports a difference as a note (``counts_confirmed``).
_TOTALS: Final = {"train": 2528, "validation": 302, "good": 379, "bad": 705}


def _spread(total: int) -> list[int]:
    """``total`` over the 8 categories, evenly, the remainder to the first ones."""
    share, rest = divmod(total, len(MVTEC_AD2_CATEGORIES))
    return [share + (i < rest) for i in range(len(MVTEC_AD2_CATEGORIES))]


#: Validation images per category (unconfirmed: the total spread evenly, see ``_TOTALS``).
VALIDATION_COUNTS: Final[dict[str, int]] = dict(
    zip(MVTEC_AD2_CATEGORIES, _spread(_TOTALS["validation"]), strict=True)
)

MVTEC_AD2_LAYOUT_HELP = (
    "<root>/<category>/train/good/*.png (normal training images), "
    "<root>/<category>/validation/good/*.png (normal validation images), "
    "<root>/<category>/test_public/good/*.png and <root>/<category>/test_public/bad/*.png "
    "(public test images) with <root>/<category>/test_public/ground_truth/bad/<name>_mask.png "
    "(masks), e.g. can/test_public/bad/000_regular.png; test_private/ and test_private_mixed/ "
    "are not read (no public labels); any folder holding test_public/ is a category"
)

_PRIVATE_WHY = (
    "has no public labels (MVTec AD 2's private test sets are scored only by the authors' "
    "evaluation server, https://benchmark.mvtec.com), so a run cannot score it: run on the "
    "public test set (--test-split test, test_public/) and write the server's maps with "
    "`iadbench predict ROOT/<category>/{name} ... --submission DIR`"
)


def mvtec_ad2_categories(root: str | Path) -> list[str]:
    """Category folders of an MVTec AD 2 tree: every visible folder holding ``test_public/``."""
    return [e.name for e in subfolders(root) if os.path.isdir(os.path.join(e.path, PUBLIC_TEST))]


def _sample(category: str, folder: str, image: os.DirEntry[str], subset: Subset,
            defect_type: str, mask_path: str | None = None) -> Sample:  # fmt: skip
    return Sample(
        id=f"{category}/{folder}/{defect_type}/{image.name}",
        dataset=MVTecAD2.name,
        category=category,
        subset=subset,
        label=NORMAL if defect_type == NORMAL_FOLDER else DEFECT,
        image_path=image.path,
        mask_path=mask_path,
        defect_type=defect_type,
    )


def index_mvtec_ad2(root: str | Path) -> list[Sample]:
    """Every sample of an MVTec AD 2 tree (private sets left out), sorted by id; no image opened.

    A defect image's mask is ``test_public/ground_truth/<folder>/<stem>_mask.<ext>`` when that
    file is there (else ``None``: pixel metrics leave the image out and say so).
    """
    samples: list[Sample] = []
    for category in mvtec_ad2_categories(root):
        cat_dir = os.path.join(root, category)
        for folder, subset in _NORMAL_ONLY.items():
            for image in image_files(os.path.join(cat_dir, folder, NORMAL_FOLDER)):
                samples.append(_sample(category, folder, image, subset, NORMAL_FOLDER))
        for kind in subfolders(os.path.join(cat_dir, PUBLIC_TEST)):
            if kind.name == MASK_FOLDER:
                continue
            masks = {
                os.path.splitext(e.name)[0].lower(): e.path
                for e in image_files(os.path.join(cat_dir, PUBLIC_TEST, MASK_FOLDER, kind.name))
            }
            for image in image_files(kind.path):
                mask = masks.get(os.path.splitext(image.name)[0].lower() + "_mask")
                normal = kind.name == NORMAL_FOLDER
                samples.append(
                    _sample(category, PUBLIC_TEST, image, "test", kind.name,
                            None if normal else mask)
                )  # fmt: skip
    samples.sort(key=lambda s: s.id)
    return samples


class MVTecAD2(DatasetReader):
    """MVTec AD 2 in its official layout (categories are discovered).

    Train = ``train/good``; Test = ``test_public/*`` (``good`` normal, ``bad`` defective, defect
    type ``bad``: the release names no finer types); ``validation/good`` is the ``calibration``
    subset; All = all three. ``test_private`` and ``test_private_mixed`` are not indexed.
    """

    name: ClassVar[str] = "mvtec-ad2"
    display_name: ClassVar[str] = "MVTec AD 2"
    layout_help: ClassVar[str] = MVTEC_AD2_LAYOUT_HELP
    official_counts: ClassVar[dict[str, CategoryCounts]] = {
        category: CategoryCounts(train, good, bad)
        for category, train, good, bad in zip(
            MVTEC_AD2_CATEGORIES,
            _spread(_TOTALS["train"]),
            _spread(_TOTALS["good"]),
            _spread(_TOTALS["bad"]),
            strict=True,
        )  # fmt: skip
    }
    counts_confirmed: ClassVar[bool] = False
    # README.txt of the authors' MVTecAD2_public_code_utils and anomalib's mvtecad2.py.
    licence: ClassVar[str] = (
        "MVTec AD 2 is licensed under Creative Commons Attribution-NonCommercial-ShareAlike "
        "4.0 International (CC BY-NC-SA 4.0), http://creativecommons.org/licenses/by-nc-sa/4.0/ "
        "- Copyright 2025 MVTec Software GmbH; for commercial use, contact MVTec."
    )
    unscored_subsets: ClassVar[dict[str, str]] = {
        name: f"MVTec AD 2's {name} subset {_PRIVATE_WHY.format(name=name)}"
        for name in PRIVATE_TESTS
    }

    def _index(self) -> list[Sample]:
        return index_mvtec_ad2(self.root)

    def _read_folders(self) -> dict[str, list[Path]]:
        folders: dict[str, list[Path]] = {}
        for category in mvtec_ad2_categories(self.root):
            cat_dir = self.root / category
            public = [Path(e.path) for e in subfolders(cat_dir / PUBLIC_TEST)
                      if e.name != MASK_FOLDER]  # fmt: skip
            folders[category] = [cat_dir / "train", cat_dir / "validation", *public]
        return folders

    def _where_read(self) -> str:
        return (
            "<category>/train/good/, <category>/validation/good/ and "
            "<category>/test_public/<good or bad>/"
        )

    def _category_marks(self, folder: str | Path) -> str | None:
        if not os.path.isdir(os.path.join(folder, PUBLIC_TEST)):
            return None
        return folder_list([n for n in _CATEGORY_FOLDERS if os.path.isdir(os.path.join(folder, n))])

    def _accepts_as_root(self, folder: str | Path) -> bool:
        return bool(mvtec_ad2_categories(folder))
