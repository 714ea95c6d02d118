"""KolektorSDD2 reader: ``train/`` and ``test/`` folders of images, each with a ``_GT.png`` mask.

Facts and where they were read (docs/datasets/ksdd2.md has the full list):

- layout ``<root>/{train,test}/<id>.png`` beside ``<root>/{train,test}/<id>_GT.png``, and an
  image is defective when its mask is not all zero: SuperSimpleNet's KolektorSDD2 reader
  (github.com/blaz-r/SuperSimpleNet ``datamodules/ksdd2.py``: mask ``f"{sample_id}_GT.png"``
  beside the image, label from ``is_mask_anomalous``, all-zero = normal). anomalib 2.7 has no
  KolektorSDD2 reader: its ``kolektor.py`` reads KolektorSDD (v1: ``kos01/Part0.jpg`` with
  ``Part0_label.bmp``) and labels it the same way (``is_mask_anomalous``);
- 246 defective training images: SuperSimpleNet's ``NumSegmented.N246`` (all positives of the
  train split); 356 defective and 2,979 defect-free images in all: the authors' figures as quoted
  in public notes; the split of the defect-free ones (2,085 train, 894 test) and of the defective
  ones (246 / 110): Božič et al. 2021 (mixed supervision) as cited from memory: **unconfirmed**;
- licence: not read from the authors' page here; KolektorSDD (v1) is CC BY-NC-SA 4.0 per anomalib
  2.7's ``kolektor.py``: **unconfirmed** for KolektorSDD2.

The release has no categories: the whole root is one category, :data:`KSDD2_CATEGORY`. Its
train split holds defective images too (the release is meant for mixed supervision): they are
Train samples with the defect label; methods that train on normal images only leave them out.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import ClassVar

from iadbench.contract.errors import DatasetNotFoundError
from iadbench.contract.records import DEFECT, NORMAL, Sample, Subset
from iadbench.contract.text import terminal_text
from iadbench.data.base import CategoryCounts, DatasetReader
from iadbench.data.traversal import image_files

KSDD2_CATEGORY = "ksdd2"
MASK_SUFFIX = "_GT"
_SUBSETS: tuple[Subset, ...] = ("train", "test")
KSDD2_LAYOUT_HELP = (
    "<root>/train/<id>.png with its mask <root>/train/<id>_GT.png, and <root>/test/ the same "
    "way (e.g. train/10000.png and train/10000_GT.png); an image whose mask is all black is "
    "normal, any other is defective"
)


def _mask_stem(stem: str) -> str | None:
    """The image stem a mask stem belongs to (``10000_GT`` -> ``10000``); None for an image."""
    return stem[: -len(MASK_SUFFIX)] if stem.upper().endswith(MASK_SUFFIX) else None


class KolektorSDD2(DatasetReader):
    """KolektorSDD2 in its official layout, one category; labels come from the masks' pixels.

    Train = ``train/*`` (normal and defective, as released); Test = ``test/*``. Indexing opens
    every ``_GT`` mask (3,335 small PNGs) because the label is "the mask is not all zero": there
    is no label folder or list. A defective image keeps its mask; a normal one has none.

    Raises:
        DatasetNotFoundError: An image has no ``_GT`` mask beside it, or a mask cannot be read
            (its image's label is then unknown), when samples are first asked for.
    """

    name: ClassVar[str] = "ksdd2"
    display_name: ClassVar[str] = "KolektorSDD2"
    layout_help: ClassVar[str] = KSDD2_LAYOUT_HELP
    # Unconfirmed split (see the module docstring); totals 356 defective / 2,979 normal.
    official_counts: ClassVar[dict[str, CategoryCounts]] = {
        KSDD2_CATEGORY: CategoryCounts(2085, 894, 110, train_defect=246),
    }
    licence: ClassVar[str] = (
        "not read from the authors' page (https://www.vicos.si/resources/kolektorsdd2/) here; "
        "their KolektorSDD (v1) is CC BY-NC-SA 4.0 "
        "(https://creativecommons.org/licenses/by-nc-sa/4.0/) per anomalib 2.7's kolektor.py - "
        "unconfirmed for KolektorSDD2, check the authors' page"
    )

    def _index(self) -> list[Sample]:
        samples: list[Sample] = []
        for subset in _SUBSETS:
            folder = self.root / subset
            if not folder.is_dir():
                continue
            files = image_files(folder)
            masks = {
                image_stem.lower(): entry.path
                for entry in files
                if (image_stem := _mask_stem(os.path.splitext(entry.name)[0])) is not None
            }
            for entry in files:
                stem = os.path.splitext(entry.name)[0]
                if _mask_stem(stem) is not None:
                    continue
                mask = masks.get(stem.lower())
                if mask is None:
                    raise DatasetNotFoundError(
                        f"KolektorSDD2 image {terminal_text(entry.path)} has no mask "
                        f"{terminal_text(stem)}{MASK_SUFFIX}.png beside it, and the mask decides "
                        "whether the image is defective: restore the mask from the release or "
                        "move the image out of the root."
                    )
                defective = self._mask_is_not_empty(entry.path, mask)
                samples.append(
                    Sample(
                        id=f"{subset}/{entry.name}",
                        dataset=self.name,
                        category=KSDD2_CATEGORY,
                        subset=subset,
                        label=DEFECT if defective else NORMAL,
                        image_path=entry.path,
                        mask_path=mask if defective else None,
                        defect_type="defect" if defective else "good",
                    )
                )
        samples.sort(key=lambda s: s.id)
        return samples

    @staticmethod
    def _mask_is_not_empty(image: str, mask: str) -> bool:
        """Whether ``mask`` marks any pixel (``load_mask``'s ``!= 0`` rule)."""
        # Imported here: importing iadbench.data must not pull numpy and Pillow in (a rerun of
        # a finished run and --help import no heavy library; tests/core/cli/test_startup_imports).
        from iadbench.contract.images import ImageReadError, load_mask

        try:
            return bool(load_mask(mask).any())
        except ImageReadError as exc:
            raise DatasetNotFoundError(
                f"KolektorSDD2 mask {terminal_text(mask)} cannot be read ({exc.reason}), and it "
                f"decides whether {terminal_text(image)} is defective: restore it from the release."
            ) from exc

    def _read_folders(self) -> dict[str, list[Path]]:
        return {KSDD2_CATEGORY: [self.root / s for s in _SUBSETS if (self.root / s).is_dir()]}

    def _read_image_paths(self) -> list[str]:
        # An image's mask is read too (it decides the label), even when all black; a mask
        # without its image is not, and `data check` lists it.
        images = {os.path.splitext(s.image_path)[0].lower() for s in self.samples("all")}
        paths = [s.image_path for s in self.samples("all")]
        for folder in self._read_folders()[KSDD2_CATEGORY]:
            for entry in image_files(folder):
                stem = _mask_stem(os.path.splitext(entry.path)[0])
                if stem is not None and stem.lower() in images:
                    paths.append(entry.path)
        return paths

    def _where_read(self) -> str:
        return "train/ and test/ (images with their _GT.png masks, directly inside)"

    @staticmethod
    def _split_marks(folder: str | Path) -> str | None:
        """``images with _GT masks`` when ``folder`` is one of the release's train/ or test/."""
        n = sum(_mask_stem(os.path.splitext(e.name)[0]) is not None for e in image_files(folder))
        return f"{n} _GT mask{'' if n == 1 else 's'} beside images" if n else None

    def depth_hint(self) -> str | None:
        """Too deep: the root is ``train/`` or ``test/`` itself; too high: as for any reader."""
        marks = self._split_marks(self.root)
        if marks is None:
            return super().depth_hint()
        parent = self.root.parent
        if self._accepts_as_root(parent):
            return (
                f"KolektorSDD2 root {self.root} holds {marks} directly, as the release's "
                f"train/ and test/ do: pass the folder above it, {parent}, instead."
            )
        return (
            f"KolektorSDD2 root {self.root} holds {marks} directly, as the release's train/ "
            f"and test/ do: pass the folder that holds train/ and test/ ({self.layout_help})."
        )

    def _accepts_as_root(self, folder: str | Path) -> bool:
        return any(self._split_marks(Path(folder, s)) for s in _SUBSETS if Path(folder, s).is_dir())
