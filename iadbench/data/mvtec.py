"""MVTec-AD reader, and the walker of MVTec-style trees that the converted VisA layout reuses."""

from __future__ import annotations

import os
from pathlib import Path
from typing import ClassVar

from iadbench.contract.records import DEFECT, NORMAL, Sample, Subset
from iadbench.data.base import CategoryCounts, DatasetReader, folder_list
from iadbench.data.traversal import image_files, subfolders

NORMAL_FOLDER = "good"
_SUBSETS: tuple[Subset, ...] = ("train", "test")

# Single-channel on disk in the official release.
MVTEC_GRAYSCALE: frozenset[str] = frozenset({"grid", "screw", "zipper"})
# Official defect-type folder names under <category>/test/.
MVTEC_DEFECT_TYPES: dict[str, tuple[str, ...]] = {
    "bottle": ("broken_large", "broken_small", "contamination"),
    "cable": ("bent_wire", "cable_swap", "combined", "cut_inner_insulation",
              "cut_outer_insulation", "missing_cable", "missing_wire", "poke_insulation"),
    "capsule": ("crack", "faulty_imprint", "poke", "scratch", "squeeze"),
    "carpet": ("color", "cut", "hole", "metal_contamination", "thread"),
    "grid": ("bent", "broken", "glue", "metal_contamination", "thread"),
    "hazelnut": ("crack", "cut", "hole", "print"),
    "leather": ("color", "cut", "fold", "glue", "poke"),
    "metal_nut": ("bent", "color", "flip", "scratch"),
    "pill": ("color", "combined", "contamination", "crack", "faulty_imprint", "pill_type",
             "scratch"),
    "screw": ("manipulated_front", "scratch_head", "scratch_neck", "thread_side", "thread_top"),
    "tile": ("crack", "glue_strip", "gray_stroke", "oil", "rough"),
    "toothbrush": ("defective",),
    "transistor": ("bent_lead", "cut_lead", "damaged_case", "misplaced"),
    "wood": ("color", "combined", "hole", "liquid", "scratch"),
    "zipper": ("broken_teeth", "combined", "fabric_border", "fabric_interior", "rough",
               "split_teeth", "squeezed_teeth"),
}  # fmt: skip
MVTEC_LAYOUT_HELP = (
    "<root>/<category>/train/good/*.png (normal training images), "
    "<root>/<category>/test/good/*.png (normal test images), "
    "<root>/<category>/test/<defect>/*.png (defective test images) and "
    "<root>/<category>/ground_truth/<defect>/<name>_mask.png (masks, optional), "
    "e.g. bottle/test/broken_large/000.png; any folder holding a test/ subfolder is a category"
)


def mvtec_style_categories(root: str | Path) -> list[str]:
    """Category folders of an MVTec-style tree: every visible folder that holds a ``test/`` folder.

    Args:
        root: Dataset root.

    Returns:
        Sorted folder names; empty when the root holds none (or does not exist).
    """
    # A category may be a link to a folder anywhere (docs/data.md: links are followed).
    return [e.name for e in subfolders(root) if os.path.isdir(os.path.join(e.path, "test"))]


def _masks_by_stem(mask_dir: str) -> dict[str, str]:
    """Map lower-cased image stems to mask file names in one ``ground_truth/<defect>`` folder.

    Official MVTec masks are ``<stem>_mask.png``; converted VisA trees name them ``<stem>.png``.
    Both are accepted; ``_mask`` wins when a folder (oddly) holds both.
    """
    by_stem: dict[str, str] = {}
    for entry in image_files(mask_dir):
        stem = os.path.splitext(entry.name)[0].lower()
        if stem.endswith("_mask"):
            by_stem[stem[: -len("_mask")]] = entry.name
        else:
            by_stem.setdefault(stem, entry.name)
    return by_stem


def mvtec_style_read_folders(root: str | Path) -> dict[str, list[Path]]:
    """Per category of an MVTec-style tree, the folders whose images should all be samples."""
    return {
        category: [Path(root, category, subset) for subset in _SUBSETS]
        for category in mvtec_style_categories(root)
    }


MVTEC_READ_FOLDERS_HELP = "<category>/train/good/ and <category>/test/<defect type>/"
# The folders of one category, as a root one level too deep shows them (``depth_hint``).
_CATEGORY_FOLDERS: tuple[str, ...] = ("train", "test", "ground_truth")


def mvtec_style_category_marks(folder: str | Path) -> str | None:
    """``train/ and test/`` (what is there) when ``folder`` is one category of an MVTec-style tree.

    A category is a folder holding ``test/`` (:func:`mvtec_style_categories`), so a root given
    one level too deep holds ``test/`` itself.
    """
    if not os.path.isdir(os.path.join(folder, "test")):
        return None
    return folder_list([n for n in _CATEGORY_FOLDERS if os.path.isdir(os.path.join(folder, n))])


def index_mvtec_style(
    root: str | Path, dataset: str, normal_folder: str = NORMAL_FOLDER
) -> list[Sample]:
    """Index an MVTec-style tree without opening any image.

    ``<cat>/{train,test}/<folder>/<image>``: ``good`` folders hold normal images, every other
    folder holds defects of that type. Masks come from ``<cat>/ground_truth/<folder>/`` when a
    file named ``<stem>_mask.<ext>`` or ``<stem>.<ext>`` exists there.

    Args:
        root: Dataset root (should be absolute: ``image_path`` values are built from it).
        dataset: Dataset name written into every sample (``"mvtec"``, ``"visa"``).
        normal_folder: The folder name (any case) that holds normal images: ``good``, or
            ``ok`` in BTAD.

    Returns:
        Every sample of the tree, sorted by id (relative path with forward slashes).
    """
    root_str = str(root)
    samples: list[Sample] = []
    for category in mvtec_style_categories(root_str):
        cat_dir = os.path.join(root_str, category)
        for subset in _SUBSETS:
            for folder in subfolders(os.path.join(cat_dir, subset)):
                is_normal = folder.name.lower() == normal_folder
                masks = (
                    {} if is_normal
                    else _masks_by_stem(os.path.join(cat_dir, "ground_truth", folder.name))
                )  # fmt: skip
                for image in image_files(folder.path):
                    mask_name = masks.get(os.path.splitext(image.name)[0].lower())
                    mask_path = (
                        os.path.join(cat_dir, "ground_truth", folder.name, mask_name)
                        if mask_name is not None
                        else None
                    )
                    samples.append(
                        Sample(
                            id=f"{category}/{subset}/{folder.name}/{image.name}",
                            dataset=dataset,
                            category=category,
                            subset=subset,
                            label=NORMAL if is_normal else DEFECT,
                            image_path=image.path,
                            mask_path=mask_path,
                            defect_type=folder.name,
                        )
                    )
    samples.sort(key=lambda s: s.id)
    return samples


class MVTecAD(DatasetReader):
    """MVTec-AD in its official layout (categories are discovered, so subsets and extras work).

    Train = ``train/good``; Test = ``test/*``; All = both. Grid, screw and zipper images are
    single-channel on disk: :func:`iadbench.contract.images.load_rgb` converts them.

    Example:
        >>> reader = MVTecAD("/data/mvtec")  # doctest: +SKIP
        >>> len(reader.samples("test"))  # doctest: +SKIP
        1725
    """

    name: ClassVar[str] = "mvtec"
    display_name: ClassVar[str] = "MVTec-AD"
    layout_help: ClassVar[str] = MVTEC_LAYOUT_HELP
    official_counts: ClassVar[dict[str, CategoryCounts]] = {
        "bottle": CategoryCounts(209, 20, 63),
        "cable": CategoryCounts(224, 58, 92),
        "capsule": CategoryCounts(219, 23, 109),
        "carpet": CategoryCounts(280, 28, 89),
        "grid": CategoryCounts(264, 21, 57),
        "hazelnut": CategoryCounts(391, 40, 70),
        "leather": CategoryCounts(245, 32, 92),
        "metal_nut": CategoryCounts(220, 22, 93),
        "pill": CategoryCounts(267, 26, 141),
        "screw": CategoryCounts(320, 41, 119),
        "tile": CategoryCounts(230, 33, 84),
        "toothbrush": CategoryCounts(60, 12, 30),
        "transistor": CategoryCounts(213, 60, 40),
        "wood": CategoryCounts(247, 19, 60),
        "zipper": CategoryCounts(240, 32, 119),
    }

    def _index(self) -> list[Sample]:
        return index_mvtec_style(self.root, self.name)

    def _read_folders(self) -> dict[str, list[Path]]:
        return mvtec_style_read_folders(self.root)

    def _where_read(self) -> str:
        return MVTEC_READ_FOLDERS_HELP

    def _category_marks(self, folder: str | Path) -> str | None:
        return mvtec_style_category_marks(folder)

    def _accepts_as_root(self, folder: str | Path) -> bool:
        return bool(mvtec_style_categories(folder))
