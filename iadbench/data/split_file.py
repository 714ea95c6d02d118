"""Split files in VisA's ``1cls.csv`` convention: which image trains, which tests, and its label.

One record format, one owner. VisA's ``split_csv/1cls.csv`` and the split file of a folder
dataset (``<root>/split.csv``, written by ``iadbench data split``) share the header
``object,split,label,image,mask``: ``split`` is ``train`` or ``test``, ``label`` is ``normal`` or
``anomaly``, ``image`` and ``mask`` are paths relative to the dataset root (``mask`` may be
empty). This module reads both, writes the latter, and draws a seeded split.

Files are read and written as UTF-8 with surrogate escapes, so a file name that is not valid
UTF-8 survives the round trip (it is matched against the same bytes on disk).
"""

from __future__ import annotations

import csv
import os
import random
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from iadbench.contract.errors import DatasetNotFoundError
from iadbench.contract.records import DEFECT, NORMAL, Label, Sample, Subset

SPLIT_FILE_NAME: Final = "split.csv"
SPLIT_COLUMNS: tuple[str, ...] = ("object", "split", "label", "image", "mask")
FILE_LABELS: dict[str, Label] = {"normal": NORMAL, "anomaly": DEFECT}
_LABEL_NAMES: dict[str, str] = {NORMAL: "normal", DEFECT: "anomaly"}


class SplitFileError(DatasetNotFoundError):
    """A split file is malformed, or does not list exactly the images on disk."""


@dataclass(frozen=True)
class SplitRow:
    """One row of a split file.

    Attributes:
        category: The ``object`` column (the image path's first folder when that is empty).
        subset: ``"train"`` or ``"test"``.
        label: ``"normal"`` or ``"defect"`` (written ``anomaly``, as VisA does).
        image: Image path relative to the root, forward slashes.
        mask: Mask path relative to the root, or None.
        line: Line of the file the row was read from (0 for a row not read from a file).
    """

    category: str
    subset: Subset
    label: Label
    image: str
    mask: str | None = None
    line: int = 0

    def sample(
        self, dataset: str, root: str, defect_type: str | None, image_path: str | None = None
    ) -> Sample:
        """The :class:`Sample` of this row under ``root`` (paths joined with the OS separator).

        Args:
            dataset: The dataset's name.
            root: The dataset root.
            defect_type: What the reader knows of the image's defect type.
            image_path: The image's path when the reader found it already (else joined here).
        """
        return Sample(
            id=self.image,
            dataset=dataset,
            category=self.category,
            subset=self.subset,
            label=self.label,
            image_path=image_path or os.path.join(root, *self.image.split("/")),
            mask_path=os.path.join(root, *self.mask.split("/")) if self.mask else None,
            defect_type=defect_type,
        )


def split_file_path(root: str | Path) -> Path:
    """Where a folder dataset's split file lives: ``<root>/split.csv``.

    A file at the root, not a folder: every folder under a folder dataset's root is a category.
    """
    return Path(root) / SPLIT_FILE_NAME


def normalise_relpath(value: str) -> str:
    r"""A csv path as a relative id: forward slashes, no leading ``./``, no surrounding blanks.

    Example:
        >>> normalise_relpath(" ./candle\\Data/a.JPG ")
        'candle/Data/a.JPG'
    """
    path = value.strip().replace("\\", "/")
    while path.startswith("./"):
        path = path[2:]
    return path


def stays_inside(relpath: str) -> bool:
    """Whether a csv path is relative and never climbs above the root (no ``..`` escape).

    Example:
        >>> stays_inside("candle/a.JPG"), stays_inside("../a.JPG"), stays_inside("/etc/passwd")
        (True, False, False)
    """
    parts = relpath.split("/")
    return not (relpath.startswith("/") or ":" in parts[0] or ".." in parts)


@contextmanager
def csv_records(
    path: Path, columns: Sequence[str], expected: str
) -> Iterator[csv.DictReader[str]]:
    """Records of a dataset CSV whose header holds ``columns`` (a BOM and odd bytes tolerated).

    Raises:
        SplitFileError: A column is missing; the message names the file and ``expected``.
    """
    with open(path, newline="", encoding="utf-8-sig", errors="surrogateescape") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in columns if c not in (reader.fieldnames or [])]
        if missing:
            raise SplitFileError(f"{path} lacks the column(s) {', '.join(missing)}; {expected}.")
        yield reader


def read_split_file(path: Path) -> list[SplitRow]:
    """Every row of a split file, in file order; blank rows are skipped.

    Args:
        path: The csv file (VisA's ``1cls.csv`` or a folder dataset's ``split.csv``).

    Returns:
        One :class:`SplitRow` per listed image.

    Raises:
        SplitFileError: A column is missing, a split or label value is unknown, an image is
            listed twice, or a path is absolute or leaves the root; the message names the line.
    """
    rows: list[SplitRow] = []
    seen: dict[str, int] = {}
    expected = f"the header must be {','.join(SPLIT_COLUMNS)}"
    with csv_records(path, SPLIT_COLUMNS, expected) as reader:
        for record in reader:
            line = reader.line_num
            image = normalise_relpath(record["image"] or "")
            if not image:
                continue  # blank line or trailing separator row: nothing listed
            split = (record["split"] or "").strip().lower()
            label = FILE_LABELS.get((record["label"] or "").strip().lower())
            if split not in ("train", "test") or label is None:
                raise SplitFileError(
                    f"{path} line {line}: split must be train or test and label normal or "
                    f"anomaly, got split={record['split']!r} label={record['label']!r}."
                )
            if image in seen:
                raise SplitFileError(
                    f"{path} line {line} lists {image} again (first on line {seen[image]}); "
                    "every image must appear once."
                )
            seen[image] = line
            mask = normalise_relpath(record["mask"] or "")
            for listed in (image, mask):
                if listed and not stays_inside(listed):
                    raise SplitFileError(
                        f"{path} line {line} points outside the dataset root ({listed!r}): "
                        "paths in the split file must be relative and stay under the root."
                    )
            rows.append(
                SplitRow(
                    category=(record["object"] or "").strip() or image.split("/", 1)[0],
                    subset="train" if split == "train" else "test",
                    label=label,
                    image=image,
                    mask=mask or None,
                    line=line,
                )
            )
    return rows


def write_split_file(path: Path, rows: Iterable[SplitRow]) -> None:
    """Write rows under the ``object,split,label,image,mask`` header, sorted, atomically.

    Rows are sorted by category, train before test, then image path, so the same split always
    gives the same bytes. A temporary file replaces ``path`` at the end: an interrupted write
    never leaves half a split file for the next run to read.
    """
    ordered = sorted(rows, key=lambda r: (r.category, r.subset != "train", r.image))
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", newline="", encoding="utf-8", errors="surrogateescape") as handle:
        writer = csv.writer(handle)
        writer.writerow(SPLIT_COLUMNS)
        for row in ordered:
            writer.writerow(
                [row.category, row.subset, _LABEL_NAMES[row.label], row.image, row.mask or ""]
            )
    os.replace(tmp, path)


def draw_split(
    samples: Sequence[Sample],
    root: str | Path,
    *,
    train_normal_ratio: float,
    train_defect_ratio: float = 0.0,
    seed: int = 0,
) -> list[SplitRow]:
    """A seeded train/test assignment: per category, a share of normals (and defects) trains.

    Each category draws from its own random stream (seeded by ``seed`` and the category name),
    so adding or removing a category leaves the others' assignment unchanged. A share of ``n``
    images is ``round(ratio * n)``, halves rounded up.

    Args:
        samples: Every image with its label (e.g. ``FolderDataset.folder_samples()``).
        root: The dataset root; rows hold image paths relative to it.
        train_normal_ratio: Share of each category's normal images that trains, in [0, 1].
        train_defect_ratio: Share of each category's defect images that trains, in [0, 1];
            0 (the default) gives normal-only training data, as factories have.
        seed: Random seed: the same seed and images give the same rows.

    Returns:
        One :class:`SplitRow` per sample, in sample order.

    Raises:
        ValueError: A ratio outside [0, 1].

    Example:
        >>> pool = [Sample(f"c/good/{i}.png", "d", "c", "test", "normal", f"/r/c/good/{i}.png")
        ...         for i in range(4)]
        >>> rows = draw_split(pool, "/r", train_normal_ratio=0.5, seed=1)
        >>> sorted(r.subset for r in rows)
        ['test', 'test', 'train', 'train']
    """
    for name, ratio in (("train_normal_ratio", train_normal_ratio),
                        ("train_defect_ratio", train_defect_ratio)):  # fmt: skip
        if not 0.0 <= ratio <= 1.0:
            raise ValueError(f"{name} must be between 0 and 1, got {ratio!r}")
    ratios = {NORMAL: train_normal_ratio, DEFECT: train_defect_ratio}
    relpaths = {s.image_path: _relpath(s.image_path, root) for s in samples}
    pools: dict[tuple[str, str], list[str]] = {}
    category_of: dict[str, str] = {}
    for s in samples:
        category = relpaths[s.image_path].split("/", 1)[0]
        category_of[s.image_path] = category
        pools.setdefault((category, s.label), []).append(relpaths[s.image_path])
    training: set[str] = set()
    for (category, label), pool in sorted(pools.items()):
        rng = random.Random(f"{seed}/{label}/".encode() + _bytes(category))
        ordered = sorted(pool)
        training.update(rng.sample(ordered, int(ratios[label] * len(ordered) + 0.5)))
    return [
        SplitRow(
            category=category_of[s.image_path],
            subset="train" if relpaths[s.image_path] in training else "test",
            label=s.label,
            image=relpaths[s.image_path],
            mask=_relpath(s.mask_path, root) if s.mask_path else None,
        )
        for s in samples
    ]


def _relpath(path: str, root: str | Path) -> str:
    # The path on disk, not Sample.id: an id shows undecodable bytes as \xNN, the file has them.
    return os.path.relpath(path, root).replace(os.sep, "/")


def _bytes(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")
