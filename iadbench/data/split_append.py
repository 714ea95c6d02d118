"""``data split --append``: assign newly added images without moving any assigned one.

A split file grows with the dataset. Every line already in the file is kept byte for byte, in
its place (its line number too); the images on disk that the file does not list are assigned and
their rows written after the last line, sorted as :func:`~iadbench.data.split_file.
write_split_file` sorts. So every image keeps its subset and label, the fingerprint of a subset
that got no new image does not change, and a run that read only such images is reused.

**The rule for new images**, per category and label, with the seed and ratio of a fresh split:
the group's Train share is topped up towards the ratio over old and new images together,
without moving an old one. With ``old`` rows of which ``old_train`` train and ``new`` new images,
the group should have ``target = train_share(ratio, old + new)`` training images (half up,
capped at all but one, as a fresh split); ``clamp(target - old_train, 0, new)`` of the new images
train, drawn from the sorted new images with the fresh split's random stream for that category
and label (:func:`~iadbench.data.split_file.draw_training`). A category that is new as a whole
gets exactly the rows a fresh split with that seed would give it. ``calibration`` rows
(:mod:`iadbench.data.split_calibration`) are kept like every listed row and count towards the
Train share they were drawn from; a new image is never made a calibration row.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from iadbench.contract.files import atomic_replace
from iadbench.contract.records import DEFECT, NORMAL, Label, Sample
from iadbench.data.split_file import (
    FILE_LABELS,
    SplitDrawError,
    SplitFileError,
    SplitRow,
    check_split_arguments,
    dataset_relpath,
    draw_training,
    normalise_relpath,
    read_split_file,
    refuse_one_label_categories,
    shown,
    train_share,
)

_EXAMPLES = 3
_LABEL_WORDS = {label: word for word, label in FILE_LABELS.items()}


@dataclass(frozen=True)
class SplitAppend:
    """What ``data split --append`` would do to a split file.

    Attributes:
        kept: The rows that stay, in file order (their lines are copied byte for byte).
        added: The rows of the newly assigned images, in the order they are written.
        pruned: Rows of images gone from disk, dropped (``--prune``); empty otherwise.
    """

    kept: list[SplitRow]
    added: list[SplitRow]
    pruned: list[SplitRow]

    @property
    def changes(self) -> bool:
        """Whether the file would change at all."""
        return bool(self.added or self.pruned)

    def rows(self) -> list[SplitRow]:
        """Every row of the resulting file, in file order."""
        return [*self.kept, *self.added]


def plan_append(
    path: Path,
    samples: Sequence[Sample],
    root: str | Path,
    *,
    train_normal_ratio: float,
    train_defect_ratio: float = 0.0,
    seed: int = 0,
    prune: bool = False,
) -> SplitAppend:
    """Assign the images of ``samples`` that the split file at ``path`` does not list.

    Args:
        path: The existing split file.
        samples: Every image on disk with its folder label (``FolderDataset.folder_samples()``).
        root: The dataset root; rows hold paths relative to it.
        train_normal_ratio: Share of each category's normal images that trains, in [0, 1].
        train_defect_ratio: Share of each category's defect images that trains, in [0, 1].
        seed: The random seed (pass the one the file was drawn with).
        prune: Drop the rows of images gone from disk instead of refusing.

    Returns:
        The rows kept, added and pruned; nothing is written.

    Raises:
        SplitFileError: The file is malformed; or it lists images gone from disk and ``prune``
            is off; or a new image's folder label contradicts the labels the file gives that
            folder's other images (another ``--normal-folders`` than the split's).
        SplitDrawError: The result would leave a category without a normal or a defect image,
            or its Test subset without one.
    """
    check_split_arguments(train_normal_ratio, train_defect_ratio, seed)
    listed = read_split_file(path)
    on_disk = {dataset_relpath(s.image_path, root): s for s in samples}
    gone = [row for row in listed if row.image not in on_disk]
    if gone and not prune:
        raise SplitFileError(
            f"{len(gone)} image(s) listed in {path} are no longer on disk ({_examples(gone)}); "
            "put them back, or add --prune to drop their lines (runs that read them become "
            "stale); nothing was written."
        )
    kept = [row for row in listed if row.image in on_disk]
    known = {row.image for row in listed}
    new = {relpath: s for relpath, s in on_disk.items() if relpath not in known}
    _refuse_contradicting_labels(path, kept, new)
    ratios = {NORMAL: train_normal_ratio, DEFECT: train_defect_ratio}
    pools: dict[tuple[str, str], list[str]] = {}
    for relpath, sample in new.items():
        pools.setdefault((relpath.split("/", 1)[0], sample.label), []).append(relpath)
    training: set[str] = set()
    for (category, label), pool in sorted(pools.items()):
        old = [r for r in kept if (r.category, r.label) == (category, label)]
        # A calibration row was drawn from the training share: it counts as one, and stays.
        old_train = sum(r.subset in ("train", "calibration") for r in old)
        target = train_share(ratios[label], len(old) + len(pool))
        n_train = max(0, min(target - old_train, len(pool)))
        training.update(draw_training(pool, category, label, n_train, seed))
    added = [
        SplitRow(
            category=relpath.split("/", 1)[0],
            subset="train" if relpath in training else "test",
            label=sample.label,
            image=relpath,
            mask=dataset_relpath(sample.mask_path, root) if sample.mask_path else None,
        )
        for relpath, sample in new.items()
    ]
    added.sort(key=lambda r: (r.category, r.subset != "train", r.image))
    result = SplitAppend(kept, added, [row for row in listed if row.image not in on_disk])
    _refuse_one_label_result(result.rows())
    return result


def write_append(path: Path, change: SplitAppend) -> None:
    """Write the kept lines byte for byte, then the added rows; atomically, read back first.

    Raises:
        SplitFileError: The file would not read back as planned (``path`` is left as it was).
    """
    raw = path.read_bytes().decode("utf-8", "surrogateescape")
    header, records = _raw_records(raw)
    dropped = {row.image for row in change.pruned}
    kept_text = header + "".join(text for image, text in records if image not in dropped)
    newline = _line_end(header)
    if kept_text and not kept_text.endswith(("\n", "\r")):
        kept_text += newline  # the last line had no line end: the first new row starts its own
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator=newline)
    for row in change.added:
        writer.writerow(
            [row.category, row.subset, _LABEL_WORDS[row.label], row.image, row.mask or ""]
        )
    with atomic_replace(path, newline="", errors="surrogateescape") as (handle, tmp):
        handle.write(kept_text + buffer.getvalue())
        handle.flush()
        back = [_fields(r) for r in read_split_file(tmp)]
        if back != [_fields(r) for r in change.rows()]:
            raise SplitFileError(
                f"The split file {path} would not read back as appended; draw it again with "
                "--force or rename it (nothing was written)."
            )


def _raw_records(text: str) -> tuple[str, list[tuple[str | None, str]]]:
    """The header's text, then each record's image (normalised; None if blank) and exact text.

    A record's text is every line the csv reader consumed for it, line ends included, so a
    quoted field holding a line break stays one record.
    """
    consumed: list[str] = []

    def lines() -> Iterator[str]:
        for line in io.StringIO(text, newline=""):
            consumed.append(line)
            yield line

    reader = csv.reader(lines())
    header_fields = next(reader, [])
    header = "".join(consumed)
    consumed.clear()
    names = [name.lstrip("\ufeff").strip() for name in header_fields]
    column = names.index("image") if "image" in names else -1
    records: list[tuple[str | None, str]] = []
    for record in reader:
        value = record[column] if 0 <= column < len(record) else ""
        records.append((normalise_relpath(value) if value.strip() else None, "".join(consumed)))
        consumed.clear()
    return header, records


def _line_end(line: str) -> str:
    r"""The line end a file uses (its header's), ``\r\n`` as the csv module writes by default."""
    for end in ("\r\n", "\n", "\r"):
        if line.endswith(end):
            return end
    return "\r\n"


def _fields(row: SplitRow) -> tuple[str, str, str, str, str | None]:
    return (row.category, row.subset, row.label, row.image, row.mask)


def _examples(rows: Sequence[SplitRow]) -> str:
    shown_rows = ", ".join(f"line {r.line}: {shown(r.image)}" for r in rows[:_EXAMPLES])
    return f"e.g. {shown_rows}" if len(rows) > _EXAMPLES else shown_rows


def _refuse_contradicting_labels(path: Path, kept: list[SplitRow], new: dict[str, Sample]) -> None:
    """Refuse new images whose folder the file labels otherwise (another ``--normal-folders``).

    The file, not the folder name, holds an assigned image's label; a new image in a folder whose
    listed images all carry the other label was labelled with another folder mapping than the
    split's, and would enter the file as the wrong label.
    """
    labels: dict[str, set[Label]] = {}
    for row in kept:
        labels.setdefault(row.image.rsplit("/", 1)[0], set()).add(row.label)
    clashes = sorted(
        {
            (folder, sample.label)
            for relpath, sample in new.items()
            if (folder := relpath.rsplit("/", 1)[0]) in labels
            and sample.label not in labels[folder]
        }
    )
    if clashes:
        folder, label = clashes[0]
        raise SplitFileError(
            f"{path} labels the images of {shown(folder)} "
            f"{'/'.join(sorted(_LABEL_WORDS[lab] for lab in labels[folder]))}, but new images "
            f"there read as {_LABEL_WORDS[label]}: pass the --normal-folders the split was drawn "
            f"with ({len(clashes)} folder(s) disagree); nothing was written."
        )


def _refuse_one_label_result(rows: list[SplitRow]) -> None:
    """The fresh split's guards on the result: both labels per category, and both in Test."""
    pools: dict[tuple[str, str], list[str]] = {}
    folders: dict[str, set[str]] = {}
    for row in rows:
        pools.setdefault((row.category, row.label), []).append(row.image)
        folders.setdefault(row.category, set()).add(
            row.image.split("/")[1] if "/" in row.image else "?"
        )
    refuse_one_label_categories(pools, folders)
    tested = {(row.category, row.label) for row in rows if row.subset == "test"}
    lacking = [
        f"{shown(category)} would test no {_LABEL_WORDS[label]} image"
        for category in sorted(folders)
        for label in sorted(_LABEL_WORDS)
        if (category, label) not in tested
    ]
    if lacking:
        raise SplitDrawError(
            f"After appending, {'; '.join(lacking)} (the split file keeps every listed image in "
            "its subset): draw the split again with --force, or move a listed image of that "
            "label to test in the file; nothing was written."
        )
