"""Split files in VisA's ``1cls.csv`` convention: which image trains, which tests, and its label.

One record format, one owner. VisA's ``split_csv/1cls.csv`` and the split file of a folder
dataset (``<root>/split.csv``, written by ``iadbench data split``) share the header
``object,split,label,image,mask``: ``split`` is ``train``, ``test`` or ``calibration`` (held out
of training to choose a threshold on: :mod:`iadbench.data.split_calibration`), ``label`` is
``normal`` or ``anomaly``, ``image`` and ``mask`` are paths relative to the dataset root
(``mask`` may be empty). This module reads both, writes the latter, and draws a seeded split.

Files are read and written as UTF-8 with surrogate escapes, so a file name that is not valid
UTF-8 survives the round trip (it is matched against the same bytes on disk). Paths are taken
verbatim (blanks, ``:``, leading ``-`` or ``=`` are parts of names): what ``data split`` writes
reads back as the same images. ``/`` is the only separator on POSIX, where a backslash is a
character of a file name; on Windows, where no name holds one, it separates folders too.
"""

from __future__ import annotations

import csv
import itertools
import os
import random
import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Final, cast

from iadbench.contract.errors import DatasetNotFoundError, IADBenchError
from iadbench.contract.files import atomic_replace
from iadbench.contract.numbers import MAX_SEED, real_number, whole_number
from iadbench.contract.records import DEFECT, NORMAL, Label, Sample, Subset, printable_name
from iadbench.contract.text import terminal_text
from iadbench.data.split_calibration import check_calibration_ratio, draw_calibration

SPLIT_FILE_NAME: Final = "split.csv"
SPLIT_COLUMNS: tuple[str, ...] = ("object", "split", "label", "image", "mask")
#: The split column's values, in a written file's order (train first, as before calibration).
SUBSET_ORDER: Final[dict[str, int]] = {"train": 0, "calibration": 1, "test": 2}
FILE_LABELS: dict[str, Label] = {"normal": NORMAL, "anomaly": DEFECT}
_LABEL_NAMES: dict[str, str] = {NORMAL: "normal", DEFECT: "anomaly"}


class SplitFileError(DatasetNotFoundError):
    """A split file is malformed, or does not list exactly the images on disk."""


class SplitDrawError(IADBenchError):
    """A split cannot be drawn as asked (e.g. a category lacks normal or defect images)."""


@dataclass(frozen=True)
class SplitRow:
    """One row of a split file.

    Attributes:
        category: The ``object`` column (the image path's first folder when that is empty).
        subset: ``"train"``, ``"test"`` or ``"calibration"``.
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
            image_path=image_path or _under(root, self.image),
            mask_path=_under(root, self.mask) if self.mask else None,
            defect_type=defect_type,
        )


def _under(root: str, relpath: str) -> str:
    """A normalised ``relpath`` (forward slashes) under ``root``, with the OS separator."""
    if os.sep == "/":  # one join: VisA's 10,821 rows are indexed on every run, re-runs too
        return os.path.join(root, relpath)
    return os.path.join(root, *relpath.split("/"))


def split_file_path(root: str | Path) -> Path:
    """Where a folder dataset's split file lives: ``<root>/split.csv``.

    A file at the root, not a folder: every folder under a folder dataset's root is a category.
    """
    return Path(root) / SPLIT_FILE_NAME


#: A path with no empty and no ``.`` segment: :func:`normalise_relpath` returns it unchanged.
_NORMAL: Final = re.compile(r"(?!\./|\.$)[^/]+(?:/(?!\./|\.(?:/|$))[^/]+)*")


def normalise_relpath(value: str) -> str:
    r"""A csv path as a relative id: forward slashes, no ``.`` or empty segment.

    Two spellings of one file (``a/./b.JPG``, ``a//b.JPG``, ``./a/b.JPG``) give one id, so a
    duplicate row is found whatever its spelling. ``..`` is kept (:func:`stays_inside` refuses
    it). Blanks are kept: they are parts of file names. A backslash separates folders only on
    Windows; on POSIX it is a character of a name.

    Example:
        >>> normalise_relpath("./candle/Data/./Images//a.JPG")
        'candle/Data/Images/a.JPG'
    """
    path = value.replace("\\", "/") if os.sep == "\\" else value
    if _NORMAL.fullmatch(path):  # nothing to drop: the usual case, a third of the cost
        return path
    return "/".join(part for part in path.split("/") if part not in ("", "."))


def stays_inside(relpath: str, raw: str | None = None) -> bool:
    """Whether a csv path is relative and never climbs above the root (no ``..`` escape).

    Args:
        relpath: The normalised path (:func:`normalise_relpath`).
        raw: The path as written, when known: an absolute one (``/etc/x``) is refused even
            though normalising drops its leading slash.

    Example:
        >>> stays_inside("candle/a.JPG"), stays_inside("../a.JPG"), stays_inside("lot:7/a.png")
        (True, False, True)
        >>> stays_inside("etc/passwd", raw="/etc/passwd")
        False
    """
    spelled = raw if raw is not None else relpath
    if spelled.startswith("/") or (os.sep == "\\" and spelled.startswith("\\")):
        return False
    # A drive ("C:x") leaves the root only on Windows; elsewhere "lot:7" is a folder name.
    if os.name == "nt" and len(spelled) > 1 and spelled[1] == ":":
        return False
    return ".." not in relpath.split("/")


@contextmanager
def csv_records(path: Path, columns: Sequence[str], expected: str) -> Iterator[csv.DictReader[str]]:
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
            raw_image, raw_mask = record["image"] or "", record["mask"] or ""
            raw_mask = raw_mask if raw_mask.strip() else ""
            if not raw_image.strip():
                continue  # blank line or trailing separator row: nothing listed
            image, mask = normalise_relpath(raw_image), normalise_relpath(raw_mask)
            split = (record["split"] or "").strip().lower()
            label = FILE_LABELS.get((record["label"] or "").strip().lower())
            if split not in SUBSET_ORDER or label is None:
                raise SplitFileError(
                    f"{path} line {line}: split must be train, test or calibration and label "
                    f"normal or anomaly, got split={record['split']!r} "
                    f"label={record['label']!r}."
                )
            for listed, raw in ((image, raw_image), (mask, raw_mask)):
                if raw and not (listed and stays_inside(listed, raw)):
                    raise SplitFileError(
                        f"{path} line {line} points outside the dataset root ({shown(raw)}): "
                        "paths in the split file must be relative and stay under the root."
                    )
            if image in seen:
                # Compared after normalising: "a/./b.png" and "a//b.png" are one image, and
                # scoring it twice would count it twice.
                raise SplitFileError(
                    f"{path} line {line} lists {shown(image)} again (first on line "
                    f"{seen[image]}); every image must appear once: delete one of the two lines."
                )
            seen[image] = line
            category = record["object"] or ""
            rows.append(
                SplitRow(
                    category=category if category.strip() else image.split("/", 1)[0],
                    subset=cast("Subset", split),  # checked above
                    label=label,
                    image=image,
                    mask=mask or None,
                    line=line,
                )
            )
    return rows


def shown(path: str) -> str:
    r"""``path`` as a message shows it: undecodable bytes as ``\xNN``, control characters inert."""
    return terminal_text(printable_name(path))


def write_split_file(path: Path, rows: Iterable[SplitRow]) -> None:
    """Write rows under the ``object,split,label,image,mask`` header, sorted, atomically.

    Rows are sorted by category, subset (:data:`SUBSET_ORDER`), then image path, so the same
    split always gives the same bytes. The file is read back before it replaces ``path``: one
    that :func:`read_split_file` would refuse or read otherwise is never left (the advice for a
    refused file is to draw it again, which must then give a readable one).

    Raises:
        SplitFileError: A row does not read back as written (the message names it); ``path``
            is left as it was.
    """
    ordered = sorted(rows, key=lambda r: (r.category, SUBSET_ORDER[r.subset], r.image))
    with atomic_replace(path, newline="", errors="surrogateescape") as (handle, tmp):
        writer = csv.writer(handle)
        writer.writerow(SPLIT_COLUMNS)
        for row in ordered:
            writer.writerow(
                [row.category, row.subset, _LABEL_NAMES[row.label], row.image, row.mask or ""]
            )
        handle.flush()
        back = read_split_file(tmp)  # an error here leaves path as it was
        for written, read in itertools.zip_longest(ordered, back):
            if written is None or read is None or _fields(written) != _fields(read):
                shown_row = shown(written.image) if written is not None else "(extra row)"
                raise SplitFileError(
                    f"The split file {path} would not read back as drawn at {shown_row}; "
                    "rename that file (nothing was written)."
                )


def _fields(row: SplitRow) -> tuple[str, str, str, str, str | None]:
    return (row.category, row.subset, row.label, row.image, row.mask)


def draw_split(
    samples: Sequence[Sample],
    root: str | Path,
    *,
    train_normal_ratio: float,
    train_defect_ratio: float = 0.0,
    seed: int = 0,
    calibration_ratio: float = 0.0,
) -> list[SplitRow]:
    """A seeded train/test assignment: per category, a share of normals (and defects) trains.

    Each category draws from its own random stream (seeded by ``seed`` and the category name),
    so adding or removing a category leaves the others' assignment unchanged. A share of ``n``
    images is ``round(ratio * n)``, halves rounded up, but at most ``n - 1``: every category's
    test subset keeps at least one normal and one defect image, so no category is scored on one
    label (where always-defect scores 100 %). With ``ratio = 1`` all but one image of that
    label train; a category with a single normal image keeps it in Test.

    Args:
        samples: Every image with its label (e.g. ``FolderDataset.folder_samples()``).
        root: The dataset root; rows hold image paths relative to it.
        train_normal_ratio: Share of each category's normal images that trains, in [0, 1].
        train_defect_ratio: Share of each category's defect images that trains, in [0, 1];
            0 (the default) gives normal-only training data, as factories have.
        seed: Random seed: the same seed and images give the same rows.
        calibration_ratio: Share of the training rows held out as ``calibration`` rows
            (:func:`~iadbench.data.split_calibration.draw_calibration`); 0: none.

    Returns:
        One :class:`SplitRow` per sample, in sample order.

    Raises:
        ArgumentError: A ratio outside [0, 1] (or not a number), a seed that is not whole.
        SplitDrawError: A category has no normal or no defect image: no split can test both
            labels there; the message names every such category and the fix.

    Example:
        >>> pool = [Sample(f"c/{f}/{i}.png", "d", "c", "test", label, f"/r/c/{f}/{i}.png")
        ...         for f, label in (("good", "normal"), ("bent", "defect")) for i in range(4)]
        >>> rows = draw_split(pool, "/r", train_normal_ratio=0.5, seed=1)
        >>> sorted((r.subset, r.label) for r in rows).count(("train", "normal"))
        2
    """
    check_split_arguments(train_normal_ratio, train_defect_ratio, seed)
    check_calibration_ratio(calibration_ratio)
    ratios = {NORMAL: train_normal_ratio, DEFECT: train_defect_ratio}
    relpaths = {s.image_path: dataset_relpath(s.image_path, root) for s in samples}
    pools: dict[tuple[str, str], list[str]] = {}
    category_of: dict[str, str] = {}
    folders: dict[str, set[str]] = {}
    for s in samples:
        category = relpaths[s.image_path].split("/", 1)[0]
        category_of[s.image_path] = category
        pools.setdefault((category, s.label), []).append(relpaths[s.image_path])
        folders.setdefault(category, set()).add(str(s.defect_type or "?"))
    refuse_one_label_categories(pools, folders)
    training: set[str] = set()
    for (category, label), pool in sorted(pools.items()):
        training.update(
            draw_training(pool, category, label, train_share(ratios[label], len(pool)), seed)
        )
    rows = [
        SplitRow(
            category=category_of[s.image_path],
            subset="train" if relpaths[s.image_path] in training else "test",
            label=s.label,
            image=relpaths[s.image_path],
            mask=dataset_relpath(s.mask_path, root) if s.mask_path else None,
        )
        for s in samples
    ]
    return draw_calibration(rows, calibration_ratio, seed) if calibration_ratio else rows


def check_split_arguments(
    train_normal_ratio: float, train_defect_ratio: float, seed: int, *,
    option_names: bool = False, calibration_ratio: float = 0.0,
) -> None:  # fmt: skip
    """Refuse ratios outside [0, 1] (or not numbers) and a seed that is not a whole number.

    Args:
        train_normal_ratio: As :func:`draw_split` takes it.
        train_defect_ratio: As :func:`draw_split` takes it.
        seed: As :func:`draw_split` takes it.
        option_names: Name them as the command line spells them (``--train-normal-ratio``).
        calibration_ratio: As :func:`draw_split` takes it (always named as an option).

    Raises:
        ArgumentError: The first argument out of range, named.
    """
    for argument, ratio in (("train_normal_ratio", train_normal_ratio),
                            ("train_defect_ratio", train_defect_ratio)):  # fmt: skip
        name = f"--{argument.replace('_', '-')}" if option_names else argument
        real_number(ratio, name=name, minimum=0, maximum=1)
    whole_number(seed, name="--seed" if option_names else "seed", minimum=0, maximum=MAX_SEED)
    check_calibration_ratio(calibration_ratio)


def train_share(ratio: float, n: int) -> int:
    """How many of ``n`` images of one label train: ``round(ratio * n)`` half up, at most ``n - 1``.

    The cap keeps one image of each label in Test, so no category is scored on one label.

    Example:
        >>> train_share(0.8, 2), train_share(0.5, 5), train_share(1.0, 4), train_share(0.8, 0)
        (1, 3, 3, 0)
    """
    return max(0, min(int(ratio * n + 0.5), n - 1))


def draw_training(
    pool: Iterable[str], category: str, label: str, n_train: int, seed: int
) -> list[str]:
    """The ``n_train`` paths of ``pool`` that train: a seeded draw from the sorted pool.

    The random stream is seeded by ``seed``, the label and the category name alone, so one
    category's draw never depends on another's; ``data split --append`` draws its new images
    with the same stream (:mod:`iadbench.data.split_append`).
    """
    rng = random.Random(f"{seed}/{label}/".encode() + _bytes(category))
    return rng.sample(sorted(pool), n_train)


def refuse_one_label_categories(
    pools: dict[tuple[str, str], list[str]], folders: dict[str, set[str]]
) -> None:
    """Raise :class:`SplitDrawError` naming every category without a normal or a defect image."""
    lacking = [
        f"{shown(category)} has no {label} image "
        f"(folders: {', '.join(shown(f) for f in sorted(folders[category]))})"
        for category in sorted(folders)
        for label in (NORMAL, DEFECT)
        if not pools.get((category, label))
    ]
    if lacking:
        raise SplitDrawError(
            f"No split can test both labels in every category: {'; '.join(lacking)}. Name the "
            "folders that hold normal images with --normal-folders, add the missing images, or "
            "move those categories out of the dataset root; nothing was written."
        )


def dataset_relpath(path: str, root: str | Path) -> str:
    r"""``path`` relative to ``root`` with forward slashes, as a split file names it.

    The path on disk, not ``Sample.id``: an id shows undecodable bytes as ``\xNN``, the file has
    them.
    """
    return os.path.relpath(path, root).replace(os.sep, "/")


def _bytes(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")
