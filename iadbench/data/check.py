"""``iadbench data check``: compare a local dataset copy with the official counts, decode files."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from iadbench.contract.images import ImageReadError, mask_files, verify_decodable
from iadbench.contract.records import DEFECT, NORMAL, Sample
from iadbench.data import DATASET_READERS, open_dataset
from iadbench.data.base import CategoryCounts, DatasetReader
from iadbench.data.folder import FolderDataset
from iadbench.data.synth import planned_counts, read_synthetic_marker

# Problem lines listed per kind before the rest is summarised as "... and N more".
MAX_LISTED = 20
_GROUPS: tuple[tuple[str, str], ...] = (
    ("train_normal", "train normal"),
    ("test_normal", "test normal"),
    ("test_defect", "test defect"),
    ("train_defect", "train defect"),
)

STATUS_OK = "ok"
STATUS_MISSING = "missing"
STATUS_EXTRA = "extra"
STATUS_COUNTS = "counts differ"
STATUS_NO_NORMAL = "no normal images"
STATUS_NO_DEFECT = "no defect images"
STATUS_FILES = "files missing"
STATUS_UNREADABLE = "unreadable files"
STATUS_IGNORED = "images not read"


@dataclass(frozen=True)
class CategoryCheck:
    """One category of a checked dataset.

    Attributes:
        category: Category folder name.
        expected: Official (or scaled) counts; ``None`` for extra categories and folder datasets.
        found: Counts of the local copy (for VisA's csv layout: rows listed, present or not).
        status: ``ok``, ``missing``, ``extra``, ``counts differ``, ``no normal images``,
            ``no defect images`` (folder datasets), ``files missing``, ``unreadable files`` or
            ``images not read`` (the first that applies, in that order).
        missing_files: Listed images and masks absent on disk.
        unreadable_files: Images and masks that failed to decode.
        train_defect: Defect images in the train subset (``found`` has no place for them; only
            a folder dataset's split file drawn with ``--train-defect-ratio`` puts some there).
    """

    category: str
    expected: CategoryCounts | None
    found: CategoryCounts
    status: str
    missing_files: int = 0
    unreadable_files: int = 0
    train_defect: int = 0


#: :attr:`CheckReport.counts`: what the per-category counts were found to be.
COUNTS_MATCHED = "matched"
COUNTS_MATCHED_UNCONFIRMED = "matched unconfirmed"
COUNTS_NOTED = "noted"
COUNTS_NOT_COMPARED = "not compared"


@dataclass
class CheckReport:
    """What ``check_dataset`` found.

    Attributes:
        dataset: Dataset name.
        root: Dataset root.
        rows: One entry per category, official ones first.
        problems: Human-readable lines, one per problem (long lists are summarised).
        notes: Hints that do not make the check fail (e.g. a synthetic tree at another scale).
        missing_files: Every listed image or mask absent on disk.
        unreadable: Path -> reason, for every file that failed to decode.
        n_decoded: Files decoded (images and masks).
        synthetic_marker: Content of ``.iadbench-synthetic.json`` when the root has one.
        split_file: The split file a folder dataset's subsets and labels come from, or None.
        ignored: Per category, image files under it that the layout does not read (e.g. nested
            one folder too deep), relative to the root; see ``DatasetReader.ignored_images``.
        licence: The release's licence as its authors state it (``DatasetReader.licence``);
            empty for a folder dataset.
        counts: How the per-category counts compared (what ``data check``'s last line may
            claim): one of :data:`COUNTS_MATCHED` (the authors' counts, confirmed),
            :data:`COUNTS_MATCHED_UNCONFIRMED` (counts the docs mark unconfirmed, e.g. a synthetic
            Real-IAD tree's), :data:`COUNTS_NOTED` (differences reported as notes only),
            :data:`COUNTS_NOT_COMPARED` (a split variant; a folder dataset).
    """

    dataset: str
    root: Path
    rows: list[CategoryCheck] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    missing_files: list[str] = field(default_factory=list)
    unreadable: dict[str, str] = field(default_factory=dict)
    n_decoded: int = 0
    synthetic_marker: dict[str, Any] | None = None
    split_file: Path | None = None
    ignored: dict[str, list[str]] = field(default_factory=dict)
    licence: str = ""
    counts: str = ""

    @property
    def ok(self) -> bool:
        """True when no problem was found."""
        return not self.problems


def _found_counts(samples: Iterable[Sample]) -> dict[str, CategoryCounts]:
    tally: dict[str, Counter[tuple[str, str]]] = {}
    for s in samples:
        tally.setdefault(s.category, Counter())[(s.subset, s.label)] += 1
    return {
        category: CategoryCounts(
            c[("train", NORMAL)], c[("test", NORMAL)], c[("test", DEFECT)], c[("train", DEFECT)]
        )
        for category, c in tally.items()
    }


def _split_notes(report: CheckReport) -> list[str]:
    """What a folder dataset's split leaves a method without: training images, a test group."""
    notes: list[str] = []
    for row in report.rows:
        train = row.found.train_normal + row.train_defect
        if train == 0:
            notes.append(f"category {row.category} has no training image in the split file")
        if row.train_defect:
            notes.append(
                f"category {row.category} trains on {row.train_defect} defect image(s) "
                "(--train-defect-ratio); they are not in its test subset"
            )
        for count, kind in ((row.found.test_normal, "normal"), (row.found.test_defect, "defect")):
            if count == 0:
                notes.append(f"category {row.category} has no {kind} image in its test subset")
    return notes


def _listed(lines: list[str], kind: str) -> list[str]:
    """At most ``MAX_LISTED`` lines, then one line saying how many more there are."""
    if len(lines) <= MAX_LISTED:
        return lines
    return [*lines[:MAX_LISTED], f"... and {len(lines) - MAX_LISTED} more {kind}"]


def _decode_all(paths: list[str], progress: Callable[[int], None] | None) -> dict[str, str]:
    """Decode files on a thread pool (Pillow releases the GIL while decoding)."""

    def attempt(path: str) -> str | None:
        try:
            verify_decodable(path)
        except ImageReadError as exc:
            return exc.reason
        return None

    failures: dict[str, str] = {}
    workers = min(8, os.cpu_count() or 2)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for path, reason in zip(paths, pool.map(attempt, paths), strict=True):
            if reason is not None:
                failures[path] = reason
            if progress is not None:
                progress(1)
    return failures


def check_dataset(
    name: str,
    root: str | Path,
    *,
    scale: float = 1.0,
    min_per_group: int = 3,
    decode: bool = True,
    progress: Callable[[int], None] | None = None,
    normal_folders: Sequence[str] | None = None,
) -> CheckReport:
    """Compare a local dataset copy with the official counts and decode every file.

    For ``mvtec`` and ``visa`` the expected counts are the official ones, scaled as
    :func:`iadbench.data.synth.synthesize` scales them when ``scale != 1`` (so a synthetic
    tree checks clean with its own scale). Other names are folder datasets: files are checked, and
    so is that the dataset and each of its categories hold both normal and defect images (see
    :meth:`FolderDataset.balance_problems`; a tree whose normal images sit in an unrecognised folder
    would otherwise read as 100 % defects).

    Args:
        name: Dataset name.
        root: Dataset root.
        scale: Share of the official counts expected per group.
        min_per_group: Floor per group, as in ``synthesize``.
        decode: Fully decode every image and mask (slow on real data; a thread pool is used).
        progress: Called with the number of files decoded since its last call.
        normal_folders: Folder dataset only: the folder names that hold normal images, instead of
            :data:`iadbench.data.folder.NORMAL_FOLDER_NAMES`.

    Returns:
        A :class:`CheckReport`; ``report.ok`` is False when anything was found.

    Raises:
        DatasetNotFoundError: The root is missing or holds no image in the expected layout.
        ValueError: ``normal_folders`` is given for mvtec or visa, or names no folder.
    """
    official = name in DATASET_READERS
    if normal_folders is not None:
        if official:
            raise ValueError(f"normal_folders applies to folder datasets only, not {name}")
        reader: DatasetReader = FolderDataset(root, name=name, normal_folders=normal_folders)
    else:
        reader = open_dataset(name, root)
    samples = reader.samples("all")
    report = CheckReport(
        dataset=name,
        root=reader.root,
        synthetic_marker=read_synthetic_marker(reader.root),
        split_file=reader.split_file if isinstance(reader, FolderDataset) else None,
        ignored=reader.ignored_images(),
        licence=reader.licence,
    )
    # A split variant other than the release's default (Real-IAD's realiad_jsons_sv, ...) lists
    # other images: the counts are the default split's, so they are not compared.
    variant = getattr(reader, "split", None)
    default_split = variant is None or variant == getattr(reader, "default_split", variant)
    expected = (
        planned_counts(name, scale=scale, min_per_group=min_per_group)
        if official and default_split
        else {}
    )
    if official and not default_split:
        report.notes.append(
            f"split variant {variant} read: the counts of the default split are not compared"
        )
    # Per-category counts that are not the authors' (Real-IAD's) fail a synthetic tree only.
    soft_counts = not reader.counts_confirmed and report.synthetic_marker is None
    found = _found_counts(samples)
    train_defects = Counter(s.category for s in samples if (s.subset, s.label) == ("train", DEFECT))

    marker = report.synthetic_marker
    if marker is not None and official and marker.get("scale") != scale:
        report.notes.append(
            f"{reader.root} is a synthetic tree written at scale {marker.get('scale')}; "
            f"check it with that scale to compare with the counts it was written with."
        )

    # Files listed but absent (VisA's csv can list files that were never extracted).
    missing_by_category: Counter[str] = Counter()
    to_decode: list[str] = []
    category_of: dict[str, str] = {}
    for s in samples:
        # A mask folder (MVTec LOCO) stands for its masks; an empty one is reported missing.
        masks = (mask_files(s.mask_path) or [s.mask_path]) if s.mask_path else []
        for path in (s.image_path, *masks):
            category_of[path] = s.category
            if os.path.isfile(path):
                to_decode.append(path)
            else:
                report.missing_files.append(path)
                missing_by_category[s.category] += 1
    if decode:
        report.unreadable = _decode_all(to_decode, progress)
        report.n_decoded = len(to_decode)
    unreadable_by_category = Counter(category_of[p] for p in report.unreadable)

    count_problems: list[str] = []
    balance = reader.label_balance() if isinstance(reader, FolderDataset) else {}
    if isinstance(reader, FolderDataset):
        count_problems += reader.balance_problems()
    categories = [*expected, *sorted((set(found) | set(balance)) - set(expected))]
    for category in categories:
        want = expected.get(category)
        have = found.get(category, CategoryCounts(0, 0, 0))
        n_missing = missing_by_category[category]
        n_unreadable = unreadable_by_category[category]
        if want is not None and category not in found:
            status = STATUS_MISSING
            count_problems.append(f"category {category} is missing ({want.total} images expected)")
        elif want is None and official:
            status = STATUS_EXTRA
            count_problems.append(
                f"category {category} is not an official {reader.display_name} category "
                f"({have.total} images)"
            )
        elif want is not None and want != have:
            status = STATUS_COUNTS
            for attr, label in _GROUPS:
                if getattr(want, attr) != getattr(have, attr):
                    (report.notes if soft_counts else count_problems).append(
                        f"category {category}: {getattr(have, attr)} {label} images, "
                        f"expected {getattr(want, attr)}"
                        + ("" if reader.counts_confirmed else " (an unconfirmed count)")
                    )
        elif category in balance and balance[category].normal == 0:
            status = STATUS_NO_NORMAL
        elif category in balance and balance[category].defect == 0:
            status = STATUS_NO_DEFECT
        elif n_missing:
            status = STATUS_FILES
        elif n_unreadable:
            status = STATUS_UNREADABLE
        elif category in report.ignored:
            status = STATUS_IGNORED
        else:
            status = STATUS_OK
        report.rows.append(
            CategoryCheck(
                category, want, have, status, n_missing, n_unreadable, train_defects[category]
            )
        )

    # Defects in train are stray unless the release's own train split holds some (KolektorSDD2):
    # there the counts above compare them.
    stray = [
        s for s in samples
        if s.subset == "train" and s.label == DEFECT
        and not (s.category in expected and expected[s.category].train_defect)
    ]  # fmt: skip
    if soft_counts and any(row.status == STATUS_COUNTS for row in report.rows):
        report.notes.append(
            f"{reader.display_name}'s per-category counts are not the authors' throughout (see "
            "its docs page), so on a copy of the release a difference is a note, not a failure"
        )
    # What the counts came to: a copy whose differences were only notes did not match them.
    differs = any(row.status == STATUS_COUNTS for row in report.rows)
    report.counts = (
        COUNTS_NOT_COMPARED if not expected
        else COUNTS_NOTED if differs and soft_counts
        else COUNTS_MATCHED if reader.counts_confirmed
        else COUNTS_MATCHED_UNCONFIRMED
    )  # fmt: skip
    if report.split_file is not None:
        report.notes += _split_notes(report)
    elif stray and default_split:  # a FUIAD variant trains on defects by design
        count_problems.append(
            f"{len(stray)} defective images are in the train subset (e.g. {stray[0].id}); "
            "official training data holds normal images only"
        )
    report.problems += count_problems
    report.problems += reader.ignored_problems(report.ignored)
    report.problems += _listed(
        [f"listed but absent on disk: {p}" for p in report.missing_files], "absent files"
    )
    report.problems += _listed(
        [f"cannot decode {p}: {reason}" for p, reason in sorted(report.unreadable.items())],
        "unreadable files",
    )
    return report
