"""MPDD (Metal Parts Defect Detection) reader: an MVTec-AD-style tree of six metal parts.

Facts and where they were read (docs/datasets/mpdd.md has the full list):

- layout ``<category>/train/good``, ``<category>/test/good``, ``<category>/test/<defect>``,
  ``<category>/ground_truth/<defect>/<stem>_mask.png``: anomalib 2.7
  ``anomalib/data/datasets/image/mpdd.py`` (``make_mpdd_dataset``) and ADer's
  ``data/gen_benchmark/mpdd.py``; the ``_mask`` suffix in public code naming
  ``bracket_brown/ground_truth/parts_mismatch/024_mask.png``;
- the six category names: anomalib's ``CATEGORIES`` and ADer's ``CLSNAMES``;
- the per-category counts: the MPDD paper's table as cited from memory (the paper itself could not
  be read here): **unconfirmed**; their total, 1,346 images, is likewise unconfirmed;
- the licence: the authors' README (github.com/stepanje/MPDD) states none; anomalib 2.7's
  ``mpdd.py`` says CC BY-NC-SA 4.0.
"""

from __future__ import annotations

from typing import ClassVar

from iadbench.data.base import CategoryCounts
from iadbench.data.mvtec import MVTecAD

MPDD_LAYOUT_HELP = (
    "<root>/<category>/train/good/*.png (normal training images), "
    "<root>/<category>/test/good/*.png (normal test images), "
    "<root>/<category>/test/<defect>/*.png (defective test images) and "
    "<root>/<category>/ground_truth/<defect>/<name>_mask.png (masks), "
    "e.g. bracket_black/test/hole/000.png, for the categories bracket_black, bracket_brown, "
    "bracket_white, connector, metal_plate and tubes"
)
# Official defect-type folders under <category>/test/, as public MPDD readers name them
# (e.g. a table {"bracket_brown": ["bend_and_parts_mismatch", "parts_mismatch"], ...} in public
# code read with the search tool); not confirmed against the release itself.
MPDD_DEFECT_TYPES: dict[str, tuple[str, ...]] = {
    "bracket_black": ("hole", "scratches"),
    "bracket_brown": ("bend_and_parts_mismatch", "parts_mismatch"),
    "bracket_white": ("defective_painting", "scratches"),
    "connector": ("parts_mismatch",),
    "metal_plate": ("major_rust", "scratches", "total_rust"),
    "tubes": ("flattening",),
}


class MPDD(MVTecAD):
    """MPDD in its official layout, which is MVTec-AD's (``good`` folders, ``_mask`` masks).

    Train = ``train/good``; Test = ``test/*``; All = both. Only the name, counts, licence and
    layout text differ from :class:`~iadbench.data.mvtec.MVTecAD`; the walk, the depth hints and
    the unread-image check are MVTec-AD's.

    Example:
        >>> MPDD.official_counts["tubes"].total  # unconfirmed, see the module docstring
        223
    """

    name: ClassVar[str] = "mpdd"
    display_name: ClassVar[str] = "MPDD"
    layout_help: ClassVar[str] = MPDD_LAYOUT_HELP
    # train normal, test normal, test defect. Unconfirmed (see the module docstring): a copy
    # that differs is named by `data check`, never silently accepted.
    official_counts: ClassVar[dict[str, CategoryCounts]] = {
        "bracket_black": CategoryCounts(289, 32, 47),
        "bracket_brown": CategoryCounts(185, 26, 51),
        "bracket_white": CategoryCounts(110, 30, 30),
        "connector": CategoryCounts(128, 30, 14),
        "metal_plate": CategoryCounts(54, 26, 71),
        "tubes": CategoryCounts(122, 32, 69),
    }
    licence: ClassVar[str] = (
        "not stated by the authors (github.com/stepanje/MPDD README); anomalib 2.7 "
        "(anomalib/data/datasets/image/mpdd.py) gives CC BY-NC-SA 4.0 "
        "(https://creativecommons.org/licenses/by-nc-sa/4.0/) - unconfirmed, ask the authors"
    )
