"""Synthetic MVTec-AD and VisA trees in the official layouts, for tests, demos and dry runs.

Images are small procedural drawings (a per-category object or texture, with drawn blobs and
scratches as defects and matching masks); what matters is that the layout and its quirks match
the real releases, so the readers are exercised exactly as on real data: single-channel MVTec
grid/screw/zipper PNGs, 0/255 ``<stem>_mask.png`` masks, upper-case ``.JPG`` VisA files whose
basenames collide between Normal and Anomaly, class-index VisA masks and ``split_csv/1cls.csv``.
The drawing itself lives in :mod:`iadbench.data.synth_drawing`.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
from PIL import Image

from iadbench.contract.errors import ArgumentError, IADBenchError, UnknownNameError
from iadbench.contract.numbers import real_number, whole_number
from iadbench.data.base import CategoryCounts
from iadbench.data.mvtec import MVTEC_DEFECT_TYPES, MVTEC_GRAYSCALE, MVTecAD
from iadbench.data.synth_drawing import BLOB, SCRATCH, Painter, scaled_count
from iadbench.data.synth_mvtec_style import StyleNames, write_style_category
from iadbench.data.synth_registry import TREE_WRITERS
from iadbench.data.visa import SPLIT_CSV, SPLIT_CSV_COLUMNS, VisA

MARKER_NAME = ".iadbench-synthetic.json"
#: Most images one synthetic tree may hold: about 9x VisA's 10,821 (VisA at scale 9, MVTec-AD at
#: 18). A tree is for tests and dry runs; ``--scale 100000`` would start writing about 16 billion
#: files, filling the disk long before it ended.
MAX_SYNTH_IMAGES: Final = 100_000
#: Largest image side: MVTec-AD's largest images are 1024 px; a larger one only costs memory.
MAX_IMAGE_SIZE: Final = 2048
SYNTH_DATASETS: dict[str, dict[str, CategoryCounts]] = {
    "mvtec": MVTecAD.official_counts,
    "visa": VisA.official_counts,
    # The releases written by a module of their own (iadbench/data/synth_registry.py).
    **{name: writer.counts for name, writer in TREE_WRITERS.items()},
}
_FLUSH_EVERY = 64


@dataclass(frozen=True)
class SynthReport:
    """What :func:`synthesize` wrote.

    Attributes:
        root: The dataset root.
        dataset: A name of :data:`SYNTH_DATASETS` (``"mvtec"``, ``"visa"``, ``"mpdd"``, ...).
        scale: Share of the official counts written per group.
        seed: Random seed; the same seed writes the same files.
        n_images: Images written (masks not counted).
        counts: Per category, the images written per group.
        seconds: Wall time taken.
    """

    root: Path
    dataset: str
    scale: float
    seed: int
    n_images: int
    counts: dict[str, CategoryCounts]
    seconds: float


def planned_counts(
    dataset: str,
    *,
    scale: float = 1.0,
    min_per_group: int = 3,
    categories: Sequence[str] | None = None,
) -> dict[str, CategoryCounts]:
    """The per-category counts a synthetic tree holds; no file is touched.

    ``scale=1`` gives the official counts exactly (every official group has at least 12 images).

    Args:
        dataset: A name of :data:`SYNTH_DATASETS` (``"mvtec"``, ``"visa"``, ``"mpdd"``, ...).
        scale: Share of the official counts, > 0.
        min_per_group: Floor per group (train normal, test normal, test defect), >= 1.
        categories: Official category names to keep; all of them when ``None``.

    Returns:
        Category name -> :class:`CategoryCounts`, in the official order.

    Raises:
        UnknownNameError: Unknown dataset or category.
        ArgumentError: ``scale`` is not a finite number above 0, or ``min_per_group`` is not a
            whole number of at least 1.
    """
    official = SYNTH_DATASETS.get(dataset)
    if official is None:
        raise UnknownNameError("synthetic dataset", dataset, SYNTH_DATASETS)
    scale = positive_scale(scale, "scale")
    min_per_group = whole_number(min_per_group, name="min_per_group", minimum=1)
    for category in categories or ():
        if category not in official:
            raise UnknownNameError(f"{dataset} category", category, official)
    return {
        name: CategoryCounts(
            scaled_count(c.train_normal, scale, min_per_group),
            scaled_count(c.test_normal, scale, min_per_group),
            scaled_count(c.test_defect, scale, min_per_group),
            # Only a release whose training folder holds defects (KolektorSDD2) gets any.
            scaled_count(c.train_defect, scale, min_per_group) if c.train_defect else 0,
        )
        for name, c in official.items()
        if categories is None or name in categories
    }


def positive_scale(scale: object, name: str) -> float:
    """``scale`` as a finite number above 0, else ArgumentError naming it ``name``."""
    value = real_number(scale, name=name)
    if value <= 0:  # "must be 0 or more" for -1 misled: 0 is refused too
        raise ArgumentError(f"{name} must be greater than 0, got {scale!r}")
    return value


def check_synth_arguments(
    dataset: str,
    *,
    scale: float,
    image_size: int = 64,
    seed: int = 0,
    min_per_group: int = 3,
    categories: Sequence[str] | None = None,
    option_names: bool = False,
) -> int:
    """Check what :func:`synthesize` is asked for; the number of images the tree would hold.

    Args:
        dataset: A name of :data:`SYNTH_DATASETS` (``"mvtec"``, ``"visa"``, ``"mpdd"``, ...).
        scale: Share of the official counts, a finite number above 0.
        image_size: Side of the images, 16 to :data:`MAX_IMAGE_SIZE` pixels.
        seed: Random seed, a whole number >= 0.
        min_per_group: Floor per group, >= 1.
        categories: Official categories to write; all when ``None``.
        option_names: Name the arguments as the command line spells them (``--scale``).

    Returns:
        The images the tree would hold.

    Raises:
        UnknownNameError: Unknown dataset or category.
        ArgumentError: An argument out of range, or more than :data:`MAX_SYNTH_IMAGES` images;
            the message then says why and the largest scale that fits.
    """

    def name(argument: str) -> str:
        return f"--{argument.replace('_', '-')}" if option_names else argument

    scale = positive_scale(scale, name("scale"))
    whole_number(image_size, name=name("image_size"), minimum=16, maximum=MAX_IMAGE_SIZE)
    whole_number(seed, name=name("seed"), minimum=0)  # numpy's seeds are not negative

    def total(at: float) -> int:
        counts = planned_counts(dataset, scale=at, min_per_group=min_per_group,
                                categories=categories)  # fmt: skip
        writer = TREE_WRITERS.get(dataset)
        extra = writer.extra_images if writer else None
        return sum(c.total + (extra(name, at, min_per_group) if extra else 0)
                   for name, c in counts.items())  # fmt: skip

    # A release larger than the limit (Real-IAD, 151,050 images) may still be written whole.
    limit = max(MAX_SYNTH_IMAGES, sum(c.total for c in SYNTH_DATASETS.get(dataset, {}).values()))
    n_images = total(min(scale, 1e9))  # a bounded scale: round() of an infinite count overflows
    if n_images <= limit:
        return n_images
    fits = 0.0
    step = 100.0
    while step >= 0.01:  # the largest scale in hundredths that fits: the counts grow with it
        while total(fits + step) <= limit:
            fits += step
        step /= 10
    raise ArgumentError(
        f"{name('scale')} {scale:g} would write {'' if scale <= 1e9 else 'more than '}"
        f"{n_images:,} images of {dataset} (limit {limit:,}: a synthetic tree is for "
        f"tests and dry runs, and every image is a file on disk); use {name('scale')} "
        f"{round(fits, 2):g} or less"
    )


def read_synthetic_marker(root: str | Path) -> dict[str, Any] | None:
    """The content of ``<root>/.iadbench-synthetic.json``; ``None`` if absent or unreadable."""
    try:
        content = json.loads((Path(root) / MARKER_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return content if isinstance(content, dict) else None


class _Ticker:
    """Batches progress callbacks so a progress bar is not redrawn for every small file."""

    def __init__(self, progress: Callable[[int], None] | None) -> None:
        self.progress = progress
        self.pending = 0
        self.total = 0

    def tick(self) -> None:
        self.total += 1
        self.pending += 1
        if self.pending >= _FLUSH_EVERY:
            self.flush()

    def flush(self) -> None:
        if self.progress is not None and self.pending:
            self.progress(self.pending)
        self.pending = 0


def _mvtec_category(
    root: Path, category: str, counts: CategoryCounts, painter: Painter, ticker: _Ticker
) -> None:
    """Write one MVTec-AD category: the MVTec-style writer with MVTec-AD's own names."""
    names = StyleNames("good", MVTEC_DEFECT_TYPES[category], mask_tail="_mask")
    write_style_category(root, category, counts, painter, ticker.tick, names)


def _visa_category(
    root: Path, category: str, counts: CategoryCounts, painter: Painter, ticker: _Ticker
) -> list[list[str]]:
    """Write one VisA category; return its ``1cls.csv`` rows."""
    data = f"{category}/Data"
    for sub in ("Images/Normal", "Images/Anomaly", "Masks/Anomaly"):
        (root / data / sub).mkdir(parents=True)
    n_normal = counts.train_normal + counts.test_normal
    train = set(painter.rng.permutation(n_normal)[: counts.train_normal].tolist())
    rows: list[list[str]] = []
    annotations: list[list[str]] = []
    for i in range(n_normal):
        # Normal and Anomaly both count from 0000: basenames collide, as in the real release.
        image = f"{data}/Images/Normal/{i:04d}.JPG"
        Image.fromarray(painter.normal()).save(root / image, "JPEG", quality=90)
        ticker.tick()
        rows.append([category, "train" if i in train else "test", "normal", image, ""])
        annotations.append([image, "normal", ""])
    for j in range(counts.test_defect):
        image, mask_rel = f"{data}/Images/Anomaly/{j:04d}.JPG", f"{data}/Masks/Anomaly/{j:04d}.png"
        pixels, mask = painter.defect()
        Image.fromarray(pixels).save(root / image, "JPEG", quality=90)
        Image.fromarray(mask).save(root / mask_rel, "PNG", compress_level=1)
        ticker.tick()
        kinds = {int(k) for k in np.unique(mask)} - {0}
        label = ",".join(name for k, name in ((BLOB, "spot"), (SCRATCH, "scratch")) if k in kinds)
        rows.append([category, "test", "anomaly", image, mask_rel])
        annotations.append([image, label, mask_rel])
    with open(root / category / "image_anno.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["image", "label", "mask"])
        writer.writerows(annotations)
    rows.sort(key=lambda row: (row[1] != "train", row[2], row[3]))
    return rows


def _is_plain_name(name: str) -> bool:
    return bool(name) and name not in (".", "..") and "/" not in name and "\\" not in name


def _prepare_root(root: Path) -> None:
    """Make ``root`` an empty directory; clear an earlier synthetic tree, refuse anything else."""
    if root.exists() and not root.is_dir():
        raise IADBenchError(f"Cannot write a synthetic dataset to {root}: it is not a directory.")
    root.mkdir(parents=True, exist_ok=True)
    entries = set(os.listdir(root))
    if not entries:
        return
    marker = read_synthetic_marker(root)
    if marker is None:
        raise IADBenchError(
            f"Refusing to write a synthetic dataset into {root}: the directory is not empty and "
            f"holds no {MARKER_NAME} from an earlier `iadbench data synth`. Choose a new or empty "
            "directory; nothing was changed."
        )
    written = {n for n in marker.get("written", []) if isinstance(n, str) and _is_plain_name(n)}
    foreign = sorted(entries - written - {MARKER_NAME})
    if foreign:
        listed = ", ".join(foreign[:5]) + (", ..." if len(foreign) > 5 else "")
        raise IADBenchError(
            f"Refusing to overwrite the synthetic dataset in {root}: it also holds entries that "
            f"iadbench did not write ({listed}). Move them away or choose another directory; "
            "nothing was changed."
        )
    for name in sorted(written & entries):
        path = root / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
    (root / MARKER_NAME).unlink()


def synthesize(
    dataset: str,
    root: str | Path,
    *,
    scale: float = 0.02,
    image_size: int = 64,
    seed: int = 0,
    min_per_group: int = 3,
    categories: Sequence[str] | None = None,
    progress: Callable[[int], None] | None = None,
) -> SynthReport:
    """Write a synthetic dataset in the official layout of one release (MVTec-AD, VisA, MPDD, ...).

    Each (category, group) gets ``max(min_per_group, round(official * scale))`` images, so
    ``scale=1`` writes the official counts (5,354 MVTec-AD images, 10,821 VisA images). An
    earlier synthetic tree in ``root`` is replaced; ``<root>/.iadbench-synthetic.json`` records
    what was written (``iadbench data check`` reads it).

    Args:
        dataset: A name of :data:`SYNTH_DATASETS` (``"mvtec"``, ``"visa"``, ``"mpdd"``, ...).
        root: Target directory: new, empty, or holding an earlier synthetic tree.
        scale: Share of the official counts per group, > 0.
        image_size: Side of the square images in pixels, >= 16.
        seed: Random seed; the same arguments write byte-identical images.
        min_per_group: Floor per group.
        categories: Official categories to write; all when ``None``.
        progress: Called with the number of images written since its last call.

    Returns:
        A :class:`SynthReport`.

    Raises:
        UnknownNameError: Unknown dataset or category.
        ArgumentError: Scale, size or seed out of range, or more than :data:`MAX_SYNTH_IMAGES`
            images.
        IADBenchError: ``root`` is not empty and not an earlier synthetic tree.

    Example:
        >>> synthesize("mvtec", "/tmp/mvtec-synth", scale=0.02).n_images  # doctest: +SKIP
        286
    """
    started = time.perf_counter()
    n_images = check_synth_arguments(
        dataset, scale=scale, image_size=image_size, seed=seed, min_per_group=min_per_group,
        categories=categories,
    )  # fmt: skip
    counts = planned_counts(dataset, scale=scale, min_per_group=min_per_group,
                            categories=categories)  # fmt: skip
    root = Path(root).expanduser()
    _prepare_root(root)
    marker: dict[str, Any] = {
        "generator": "iadbench data synth",
        "dataset": dataset,
        "scale": scale,
        "seed": seed,
        "image_size": image_size,
        "min_per_group": min_per_group,
        # train_defect only where there are any (KolektorSDD2): other markers read as before.
        "counts": {
            name: {k: v for k, v in asdict(c).items() if v or k != "train_defect"}
            for name, c in counts.items()
        },
        "n_images": n_images,
        "written": sorted(
            TREE_WRITERS[dataset].entries(list(counts))
            if dataset in TREE_WRITERS
            else [*counts, *(["split_csv"] if dataset == "visa" else [])]
        ),
        "complete": False,
    }
    # Written first, so an interrupted run leaves a tree that the next run may replace.
    marker_path = root / MARKER_NAME
    marker_path.write_text(json.dumps(marker, indent=2), encoding="utf-8")
    ticker = _Ticker(progress)
    split_rows: list[list[str]] = []
    for category, category_counts in counts.items():
        # One stream per category: a category's files do not depend on which others are written.
        rng = np.random.default_rng([seed, zlib.crc32(category.encode())])
        grayscale = dataset == "mvtec" and category in MVTEC_GRAYSCALE
        painter = Painter(category, image_size, grayscale, rng)
        if dataset in TREE_WRITERS:
            TREE_WRITERS[dataset].write_category(
                root, category, category_counts, painter, ticker.tick, scale, min_per_group
            )
        elif dataset == "mvtec":
            _mvtec_category(root, category, category_counts, painter, ticker)
        else:
            split_rows += _visa_category(root, category, category_counts, painter, ticker)
    if dataset == "visa":
        (root / SPLIT_CSV).parent.mkdir(parents=True, exist_ok=True)
        with open(root / SPLIT_CSV, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(SPLIT_CSV_COLUMNS)
            writer.writerows(split_rows)
    ticker.flush()
    marker["complete"] = True
    marker_path.write_text(json.dumps(marker, indent=2), encoding="utf-8")
    return SynthReport(
        root=root,
        dataset=dataset,
        scale=scale,
        seed=seed,
        n_images=ticker.total,
        counts=counts,
        seconds=time.perf_counter() - started,
    )
