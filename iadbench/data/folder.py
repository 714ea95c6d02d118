"""A generic reader for users' own parts: one folder per category, ``good`` = normal."""

from __future__ import annotations

import os
import shlex
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from iadbench.contract.errors import DatasetNotFoundError
from iadbench.contract.records import DEFECT, NORMAL, Sample, printable_name
from iadbench.data.base import DatasetReader, folder_list
from iadbench.data.split_file import (
    SPLIT_FILE_NAME,
    SplitFileError,
    SplitRow,
    read_split_file,
    split_file_path,
)
from iadbench.data.traversal import image_files, subfolders

# Folder names read as normal (defect-free) images, compared case-insensitively: MVTec's "good"
# and the other names people commonly give them. Every other folder is a defect type.
# ``FolderDataset(..., normal_folders=...)`` replaces this list for one dataset.
NORMAL_FOLDER_NAMES: tuple[str, ...] = ("good", "normal", "nominal", "ok")

FOLDER_LAYOUT_HELP = (
    "<root>/<category>/good/* (normal images; a folder named normal, nominal or ok, in any case, "
    "is read as normal too) and <root>/<category>/<defect type>/* (defective images, one folder "
    "per defect type, any other name), e.g. parts/bracket/good/001.png and "
    "parts/bracket/scratch/007.jpg; every image is in the test subset unless "
    f"<root>/{SPLIT_FILE_NAME} (written by `iadbench data split`) assigns train and test"
)
# Examples of unmatched images or rows named in a split-file mismatch message.
_EXAMPLES = 3


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

    Without a split file every sample is in subset ``"test"``, so Train is empty and All equals
    Test: the dataset serves as a test set only. A split file (``<root>/split.csv``, written by
    ``iadbench data split``, in VisA's ``object,split,label,image,mask`` convention; see
    :mod:`iadbench.data.split_file`) gives every image its subset and its label, so the
    folder-name mapping only matters when the split is drawn; the defect type stays the folder
    name, and a mask is read where the file names one. The file must list exactly the images on
    disk. Only image files directly inside each folder count; :meth:`ignored_images` names the
    others under a category (nested deeper, or beside the folders).
    :meth:`label_balance` and :meth:`balance_problems` tell categories that lack normal or defect
    images (a tree whose normal images sit in an unrecognised folder reads as 100 % defects).

    Args:
        root: The dataset root.
        name: Dataset name written into samples, results and messages (``--data NAME=PATH``).
        normal_folders: Folder names (case-insensitive) that hold normal images, instead of
            :data:`NORMAL_FOLDER_NAMES`; a single string names one folder. Unused for labels
            when a split file is read (the file holds them).
        split_file: A split file elsewhere than ``<root>/split.csv``; it must exist.

    Raises:
        DatasetNotFoundError: The root or the given split file is missing.
        SplitFileError: (when indexing) The split file is malformed or does not list exactly
            the images on disk.
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
        split_file: str | Path | None = None,
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
        self.split_file: Path | None = None
        """The split file read for subsets and labels; None when every image is in Test."""
        if split_file is not None:
            self.split_file = Path(split_file).expanduser().resolve()
            if not self.split_file.is_file():
                raise DatasetNotFoundError(
                    f"Split file {self.split_file} for {self.display_name} does not exist. Write "
                    f"one with `iadbench data split {name} --data {name}={self.root}`, or leave "
                    f"split_file out to read <root>/{SPLIT_FILE_NAME} when it is there."
                )
        elif split_file_path(self.root).is_file():
            self.split_file = split_file_path(self.root)

    def _scan(self) -> dict[str, list[_Folder]]:
        """Category -> its folders with their images, sorted by name (cached)."""
        if self._scanned is None:
            self._scanned = {
                category.name: sorted(
                    (
                        _Folder(
                            folder.name,
                            folder.name.lower() in self._normal_keys,
                            tuple(image_files(folder.path)),
                        )
                        for folder in subfolders(category.path)
                    ),
                    key=lambda f: f.name,
                )
                for category in subfolders(self.root)
            }
        return self._scanned

    def _read_folders(self) -> dict[str, list[Path]]:
        return {category: [self.root / category] for category in self._scan()}

    def _read_image_paths(self) -> list[str]:
        # The folder layout's images, whatever a split file says: it must list exactly these,
        # and a stale one must not stop `data split` from naming what it ignores.
        return [
            image.path for folders in self._scan().values() for f in folders for image in f.images
        ]

    def _where_read(self) -> str:
        return "<category>/<folder>/ (image files directly inside each folder)"

    def _category_marks(self, folder: str | Path) -> str | None:
        # One category holds its label folders (good/, scratch/...), each with images directly
        # inside; a root one level too deep holds them itself. A normal folder among them is
        # required: categories holding their images directly (bracket/*.png) lack the label
        # folders, and the folder above them is no root.
        labelled = _image_folders(folder)
        if not any(name.lower() in self._normal_keys for name in labelled):
            return None
        return f"the image folder{'s' if len(labelled) > 1 else ''} {folder_list(labelled)}"

    def _accepts_as_root(self, folder: str | Path) -> bool:
        # Every folder under a folder dataset's root is a category: a folder is a root only
        # when each of its subfolders holds image folders, else passing it would read strangers
        # as parts (a category without normal images is still one: data check names it).
        categories = subfolders(folder)
        return bool(categories) and all(_image_folders(c.path) for c in categories)

    def _one_category_advice(self, marks: str) -> str:
        new_root = self.root.parent / f"{self.name}-dataset"
        for number in range(2, 100):  # a name not taken, so the command runs as printed
            if not os.path.lexists(new_root):
                break
            new_root = self.root.parent / f"{self.name}-dataset-{number}"
        link = new_root / self.root.name
        return (
            f"{self.display_name} root {self.root} holds {marks} directly, as one category "
            "does, but a folder dataset's root holds one folder per category: leave the images "
            f"where they are and pass a new root holding a link to this folder, made with "
            f"`mkdir {shlex.quote(str(new_root))} && ln -s {shlex.quote(str(self.root))} "
            f"{shlex.quote(str(link))}` (the category is then {self.root.name})."
        )

    def _index(self) -> list[Sample]:
        if self.split_file is None:
            return self.folder_samples()
        return self._index_split_file(self.split_file)

    def folder_samples(self) -> list[Sample]:
        """Every image labelled by its folder name, all in Test, sorted by id; no split file read.

        What ``iadbench data split`` assigns to train and test.
        """
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

    def _index_split_file(self, path: Path) -> list[Sample]:
        """Samples with subset and label from the split file, which must match the disk."""
        rows = read_split_file(path)
        on_disk = {
            f"{category}/{folder.name}/{image.name}": image.path
            for category, folders in self._scan().items()
            for folder in folders
            for image in folder.images
        }
        root = str(self.root)
        unlisted = sorted(set(on_disk) - {row.image for row in rows})
        absent = [row for row in rows if row.image not in on_disk]
        no_mask = [
            row for row in rows
            if row.mask and not os.path.isfile(os.path.join(root, *row.mask.split("/")))
        ]  # fmt: skip
        wrong_category = [row for row in rows if row.category != row.image.split("/", 1)[0]]
        if unlisted or absent or no_mask or wrong_category:
            raise SplitFileError(self._mismatch(path, unlisted, absent, no_mask, wrong_category))
        samples = [
            row.sample(self.name, root, row.image.split("/")[1], image_path=on_disk[row.image])
            for row in rows
        ]
        samples.sort(key=lambda s: s.id)
        return samples

    def _mismatch(
        self,
        path: Path,
        unlisted: list[str],
        absent: list[SplitRow],
        no_mask: list[SplitRow],
        wrong_category: list[SplitRow],
    ) -> str:
        """The one-paragraph message for a split file that does not match the disk."""
        found: list[str] = []
        if unlisted:
            found.append(
                f"{_images(len(unlisted))} on disk {'is' if len(unlisted) == 1 else 'are'} not "
                f"in it (e.g. {', '.join(printable_name(i) for i in unlisted[:_EXAMPLES])})"
            )
        for rows, what, named in (
            (absent, "an image that is not on disk in the folder layout", "image"),
            (no_mask, "a mask file that does not exist", "mask"),
            (wrong_category, "an object that is not the first folder of its image path", "image"),
        ):
            if rows:
                examples = ", ".join(
                    f"line {r.line}: {printable_name(str(getattr(r, named)))}"
                    for r in rows[:_EXAMPLES]
                )
                found.append(f"{len(rows)} row(s) name {what} (e.g. {examples})")
        return (
            f"The split file {path} does not match the images of {self.display_name} under "
            f"{self.root}: {'; '.join(found)}. For images added or removed since the split was "
            f"drawn, run `iadbench data split {self.name} --data {self.name}={self.root} "
            "--append` (add --prune for removed ones) with the --normal-folders, --seed and "
            "ratios it was drawn with: it assigns the new images and keeps every listed one where "
            "it is (--force instead draws every image again); or edit the file."
        )

    def label_balance(self) -> dict[str, LabelBalance]:
        """Normal and defect image counts per category, with the folders read each way.

        Every visible folder under the root is listed, also one holding no image (0 / 0). With a
        split file the labels are the file's, and a folder is listed under each label its images
        carry there.

        Returns:
            Category name -> :class:`LabelBalance`, sorted by category.

        Raises:
            SplitFileError: The split file is malformed or does not match the disk.
        """
        if self.split_file is not None:
            return self._split_balance()
        return {
            category: LabelBalance(
                normal=sum(len(f.images) for f in folders if f.is_normal),
                defect=sum(len(f.images) for f in folders if not f.is_normal),
                normal_folders=tuple(f.name for f in folders if f.is_normal),
                defect_folders=tuple(f.name for f in folders if not f.is_normal),
            )
            for category, folders in self._scan().items()
        }

    def _split_balance(self) -> dict[str, LabelBalance]:
        # Samples carry printable category names (a folder named b"\xff" is "\\xff"): key by them.
        categories = [printable_name(c) for c in self._scan()]
        labels: dict[str, dict[str, set[str]]] = {c: {} for c in categories}
        counts: dict[str, Counter[str]] = {c: Counter() for c in categories}
        for s in self.samples("all"):
            labels[s.category].setdefault(str(s.defect_type), set()).add(s.label)
            counts[s.category][s.label] += 1
        return {
            category: LabelBalance(
                normal=counts[category][NORMAL],
                defect=counts[category][DEFECT],
                normal_folders=tuple(sorted(f for f, ls in folders.items() if NORMAL in ls)),
                defect_folders=tuple(sorted(f for f, ls in folders.items() if DEFECT in ls)),
            )
            for category, folders in labels.items()
        }

    def balance_problems(self) -> list[str]:
        """One line per category without normal or without defect images; empty when none.

        When no category has a normal (or a defect) image, a first line says so for the whole
        dataset. Each line names the category, the folders seen there and the accepted normal
        names, so that ``data check`` and the runner can warn before scores mean nothing.
        """
        balance = self.label_balance()
        accepted = _accepted_names(self.normal_folders, explicit=self._explicit)
        if self.split_file is not None:
            accepted = (
                f"labels come from the split file {self.split_file}; draw it again with "
                f"`iadbench data split {self.name} --normal-folders NAMES --force` to relabel"
            )
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
            if self.split_file is not None:
                seen = f"{seen}, labelled by the split file"
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


def _image_folders(folder: str | Path) -> list[str]:
    """Names of the subfolders of ``folder`` that hold image files directly, sorted."""
    return [sub.name for sub in subfolders(folder) if image_files(sub.path)]


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
