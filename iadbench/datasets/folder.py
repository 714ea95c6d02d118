"""A generic reader for users' own parts: one folder per category, ``good`` = normal."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from iadbench.datasets.base import IMAGE_SUFFIXES, DatasetReader
from iadbench.records import DEFECT, NORMAL, Sample

# Folder names read as normal (defect-free) images, compared case-insensitively: MVTec's "good"
# and the other names people commonly give them. Every other folder is a defect type.
# ``FolderDataset(..., normal_folders=...)`` replaces this list for one dataset.
NORMAL_FOLDER_NAMES: tuple[str, ...] = ("good", "normal", "nominal", "ok")

FOLDER_LAYOUT_HELP = (
    "<root>/<category>/good/* (normal images; a folder named normal, nominal or ok, in any case, "
    "is read as normal too) and <root>/<category>/<defect type>/* (defective images, one folder "
    "per defect type, any other name), e.g. parts/bracket/good/001.png and "
    "parts/bracket/scratch/007.jpg; every image is in the test subset"
)


@dataclass(frozen=True)
class LabelBalance:
    """Normal and defect images of one category of a folder dataset, as the reader labels them.

    Attributes:
        normal: Images read as normal.
        defect: Images read as defects.
        normal_folders: Folders read as normal, as named on disk, sorted (empty ones included).
        defect_folders: Folders read as defect types, as named on disk, sorted (empty ones too).
    """

    normal: int
    defect: int
    normal_folders: tuple[str, ...] = ()
    defect_folders: tuple[str, ...] = ()

    @property
    def one_sided(self) -> bool:
        """True when the category lacks normal images or defect images (or both)."""
        return self.normal == 0 or self.defect == 0


@dataclass(frozen=True)
class _Folder:
    name: str
    is_normal: bool
    images: tuple[os.DirEntry[str], ...]


class FolderDataset(DatasetReader):
    """Images sorted into ``<root>/<category>/good`` and ``<root>/<category>/<defect type>``.

    A folder whose name is one of :data:`NORMAL_FOLDER_NAMES` (``good``, ``normal``, ``nominal``,
    ``ok``; any case) holds normal images; every other folder holds defects of the type it names.
    ``normal_folders`` replaces those names for datasets that use others.

    There is no official split: every sample is in subset ``"test"``, so Train is empty and All
    equals Test. Such a dataset serves as a test set (or as training data for methods trained on
    the Test subset); masks are not read. Only image files directly inside each folder count.
    :meth:`label_balance` and :meth:`balance_problems` tell categories that lack normal or defect
    images (a tree whose normal images sit in an unrecognised folder reads as 100 % defects).

    Args:
        root: The dataset root.
        name: Dataset name written into samples, results and messages (``--data NAME=PATH``).
        normal_folders: Folder names (case-insensitive) that hold normal images, instead of
            :data:`NORMAL_FOLDER_NAMES`; a single string names one folder.

    Raises:
        DatasetNotFoundError: The root is missing.
        ValueError: ``normal_folders`` names no folder.

    Example:
        >>> parts = FolderDataset("/data/my_parts", name="parts")  # doctest: +SKIP
        >>> parts.samples("train")  # doctest: +SKIP
        []
        >>> FolderDataset("/data/cans", normal_folders=("pass",)).label_balance()  # doctest: +SKIP
        {'can': LabelBalance(normal=40, defect=12, normal_folders=('pass',), ...)}
    """

    name: ClassVar[str] = "folder"
    display_name: ClassVar[str] = "Folder dataset"
    layout_help: ClassVar[str] = FOLDER_LAYOUT_HELP

    def __init__(
        self,
        root: str | Path,
        name: str = "folder",
        normal_folders: Iterable[str] | None = None,
    ) -> None:
        if normal_folders is None:
            names = NORMAL_FOLDER_NAMES
        else:
            names = (normal_folders,) if isinstance(normal_folders, str) else tuple(normal_folders)
            if not names or not all(isinstance(n, str) and n.strip() for n in names):
                raise ValueError(
                    f"normal_folders must name at least one folder, got {normal_folders!r}"
                )
        self.normal_folders: tuple[str, ...] = names
        self._explicit = normal_folders is not None
        self._normal_keys = frozenset(n.strip().lower() for n in names)
        # The name is per instance (one class serves every user dataset); set it before the base
        # constructor, whose error message uses the display name.
        self.name = name  # type: ignore[misc]  # per instance, over the base's ClassVar
        self.display_name = f"Dataset {name!r} (folder layout)"  # type: ignore[misc]  # same
        super().__init__(root)
        self._scanned: dict[str, list[_Folder]] | None = None

    def _scan(self) -> dict[str, list[_Folder]]:
        """Category -> its folders with their images, sorted by name (cached)."""
        if self._scanned is None:
            self._scanned = {
                category.name: sorted(
                    (
                        _Folder(
                            folder.name,
                            folder.name.lower() in self._normal_keys,
                            tuple(_image_files(folder.path)),
                        )
                        for folder in _subdirs(category.path)
                    ),
                    key=lambda f: f.name,
                )
                for category in sorted(_subdirs(str(self.root)), key=lambda e: e.name)
            }
        return self._scanned

    def _index(self) -> list[Sample]:
        samples: list[Sample] = []
        for category, folders in self._scan().items():
            for folder in folders:
                for image in folder.images:
                    samples.append(
                        Sample(
                            id=f"{category}/{folder.name}/{image.name}",
                            dataset=self.name,
                            category=category,
                            subset="test",
                            label=NORMAL if folder.is_normal else DEFECT,
                            image_path=image.path,
                            defect_type=folder.name,
                        )
                    )
        samples.sort(key=lambda s: s.id)
        return samples

    def label_balance(self) -> dict[str, LabelBalance]:
        """Normal and defect image counts per category, with the folders read each way.

        Every visible folder under the root is listed, also one holding no image (0 / 0).

        Returns:
            Category name -> :class:`LabelBalance`, sorted by category.
        """
        return {
            category: LabelBalance(
                normal=sum(len(f.images) for f in folders if f.is_normal),
                defect=sum(len(f.images) for f in folders if not f.is_normal),
                normal_folders=tuple(f.name for f in folders if f.is_normal),
                defect_folders=tuple(f.name for f in folders if not f.is_normal),
            )
            for category, folders in self._scan().items()
        }

    def balance_problems(self) -> list[str]:
        """One line per category without normal or without defect images; empty when none.

        When no category has a normal (or a defect) image, a first line says so for the whole
        dataset. Each line names the category, the folders seen there and the accepted normal
        names, so that ``data check`` and the runner can warn before scores mean nothing.
        """
        balance = self.label_balance()
        accepted = _accepted_names(self.normal_folders, explicit=self._explicit)
        lines: list[str] = []
        if balance and all(b.normal == 0 for b in balance.values()):
            lines.append(
                f"{self.display_name} has no normal image at all: every image is read as a "
                f"defect, so an always-defect method scores 100 %; {accepted}"
            )
        elif balance and all(b.defect == 0 for b in balance.values()):
            lines.append(
                f"{self.display_name} has no defect image at all: every image is read as "
                f"normal, so detection metrics are undefined"
            )
        for category, b in balance.items():
            if not b.one_sided:
                continue
            seen = _folders_seen(self._scan()[category])
            if b.normal == 0 and b.defect == 0:
                lines.append(f"category {category} has no image ({seen}); {accepted}")
            elif b.normal == 0:
                lines.append(
                    f"category {category} has no normal image, only {_images(b.defect, 'defect ')} "
                    f"({seen}); {accepted}"
                )
            else:
                lines.append(
                    f"category {category} has no defect image, only {_images(b.normal, 'normal ')} "
                    f"({seen}); defect images go in any other folder, one per defect type"
                )
        return lines


def _accepted_names(names: tuple[str, ...], *, explicit: bool) -> str:
    listed = ", ".join(names)
    if explicit:
        return f"normal images are read only from folders named {listed} (normal_folders)"
    return f"normal images are read from folders named {listed} (any case)"


def _folders_seen(folders: list[_Folder]) -> str:
    if not folders:
        return "no folder in it"
    return "folders seen: " + ", ".join(f"{f.name} ({_images(len(f.images))})" for f in folders)


def _images(n: int, kind: str = "") -> str:
    return f"{n} {kind}image{'' if n == 1 else 's'}"


def _subdirs(path: str) -> list[os.DirEntry[str]]:
    with os.scandir(path) as it:
        return [e for e in it if not e.name.startswith(".") and e.is_dir()]


def _image_files(path: str) -> list[os.DirEntry[str]]:
    with os.scandir(path) as it:
        return [
            e
            for e in it
            if not e.name.startswith(".")
            and os.path.splitext(e.name)[1].lower() in IMAGE_SUFFIXES
            and e.is_file()
        ]
