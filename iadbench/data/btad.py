"""BTAD (beanTech Anomaly Detection) reader: three anonymised products, ``ok``/``ko`` folders.

Facts and where they were read (docs/datasets/btad.md has the full list):

- layout ``<product>/train/ok``, ``<product>/test/ok``, ``<product>/test/ko``,
  ``<product>/ground_truth/ko/<stem>.<png|bmp>``, products ``01``, ``02``, ``03`` under the
  archive's ``BTech_Dataset_transformed/``: anomalib 2.7 ``anomalib/data/datasets/image/btech.py``
  and ``datamodules/image/btech.py``, ADer's ``data/gen_benchmark/btad.py``, dataset-ninja's
  ``btad/src/convert.py``;
- masks: ``.bmp`` for product 03 and ``.png`` for 01 and 02 (dataset-ninja's converter); images
  are ``.bmp`` or ``.png`` (anomalib converts every ``.bmp`` to ``.png`` after download, so a copy
  made by anomalib holds only ``.png``); which product's images use which suffix: unconfirmed;
- totals 1,799 train and 741 test images, 290 ``ko`` and 2,250 ``ok``: dataset-ninja's
  ``btad/SUMMARY.md``; the per-product split of them is **unconfirmed** (see the counts below);
- licence: CC BY-SA 4.0 as the authors state it (github.com/pankajmishra000/VT-ADL README,
  "License type: CC-BY-SA"); anomalib 2.7 says CC BY-NC-SA 4.0 instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from iadbench.contract.errors import DatasetNotFoundError
from iadbench.contract.records import Sample
from iadbench.contract.text import terminal_text
from iadbench.data.base import CategoryCounts
from iadbench.data.mvtec import MVTecAD, index_mvtec_style, mvtec_style_categories
from iadbench.data.traversal import subfolders

BTAD_NORMAL_FOLDER = "ok"
BTAD_DEFECT_FOLDER = "ko"
# The folders each subset may hold: training is normal-only, the test set holds both.
_SUBSET_FOLDERS: dict[str, tuple[str, ...]] = {
    "train": (BTAD_NORMAL_FOLDER,),
    "test": (BTAD_NORMAL_FOLDER, BTAD_DEFECT_FOLDER),
}
BTAD_LAYOUT_HELP = (
    "<root>/<product>/train/ok/* (normal training images), <root>/<product>/test/ok/* (normal "
    "test images), <root>/<product>/test/ko/* (defective test images) and "
    "<root>/<product>/ground_truth/ko/<name>.png or .bmp (masks), for the products 01, 02 and 03; "
    "images are .bmp or .png; the release unpacks as BTech_Dataset_transformed/, which is the root"
)


class BTAD(MVTecAD):
    """BTAD in its official layout: MVTec-AD's shape with ``ok`` (normal) and ``ko`` (defect).

    Train = ``train/ok``; Test = ``test/ok`` and ``test/ko``; All = both. The defect type of a
    ``ko`` image is ``ko`` (the release has no finer types). A masks' name is the image's stem
    with ``.png`` or ``.bmp`` (no ``_mask`` suffix).

    Raises:
        DatasetNotFoundError: A product's ``train/`` or ``test/`` holds a folder other than the
            release's ``ok``/``ko`` (a tree renamed to MVTec-AD's ``good`` would otherwise be read
            as defects), when samples are first asked for.
    """

    name: ClassVar[str] = "btad"
    display_name: ClassVar[str] = "BTAD"
    layout_help: ClassVar[str] = BTAD_LAYOUT_HELP
    # train normal, test normal, test defect. The per-product figures are unconfirmed: they fit
    # dataset-ninja's totals (1,799 train; 741 test, of which 290 ko) exactly, and the product
    # sizes the authors' README gives (400, 1,000 and 399 images) as the training sets, but
    # which of 02 and 03 has 1,000 training images is not settled by what was read here (the
    # README gives 1,000 to product 2; the per-product tables cited from memory give it to 03).
    official_counts: ClassVar[dict[str, CategoryCounts]] = {
        "01": CategoryCounts(400, 21, 49),
        "02": CategoryCounts(399, 30, 200),
        "03": CategoryCounts(1000, 400, 41),
    }
    licence: ClassVar[str] = (
        "CC BY-SA 4.0 (https://creativecommons.org/licenses/by-sa/4.0/legalcode), as the authors "
        'state it in github.com/pankajmishra000/VT-ADL\'s README ("License type: CC-BY-SA"); '
        "anomalib 2.7 gives CC BY-NC-SA 4.0 instead"
    )

    def _index(self) -> list[Sample]:
        self._refuse_unknown_folders()
        return index_mvtec_style(self.root, self.name, normal_folder=BTAD_NORMAL_FOLDER)

    def _refuse_unknown_folders(self) -> None:
        """Stop on a subset folder that is not the release's ``ok``/``ko`` (see the class)."""
        for product in mvtec_style_categories(self.root):
            for subset, allowed in _SUBSET_FOLDERS.items():
                for folder in subfolders(Path(self.root, product, subset)):
                    if folder.name.lower() not in allowed:
                        shown = terminal_text(f"{product}/{subset}/{folder.name}/")
                        raise DatasetNotFoundError(
                            f"BTAD root {self.root} holds {shown}, but a BTAD product's {subset}/ "
                            f"holds only {' and '.join(f'{n}/' for n in allowed)}: rename that "
                            f"folder to the release's name or move it out of {self.root}."
                        )
