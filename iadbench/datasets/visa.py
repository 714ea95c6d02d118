"""VisA reader: the raw release (``split_csv/1cls.csv``) or a converted MVTec-style tree."""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import ClassVar, Literal

from iadbench.datasets.base import CategoryCounts, DatasetReader
from iadbench.datasets.mvtec import index_mvtec_style, mvtec_style_categories
from iadbench.errors import DatasetNotFoundError
from iadbench.records import DEFECT, NORMAL, Label, Sample

SPLIT_CSV = "split_csv/1cls.csv"
SPLIT_CSV_COLUMNS: tuple[str, ...] = ("object", "split", "label", "image", "mask")
_LABELS: dict[str, Label] = {"normal": NORMAL, "anomaly": DEFECT}
_DEFECT_TYPES: dict[str, str] = {NORMAL: "good", DEFECT: "anomaly"}

VISA_LAYOUT_HELP = (
    "either the raw VisA release - <root>/split_csv/1cls.csv (columns object,split,label,image,"
    "mask with paths relative to <root>), <root>/<category>/Data/Images/Normal/*.JPG, "
    "<root>/<category>/Data/Images/Anomaly/*.JPG and <root>/<category>/Data/Masks/Anomaly/*.png - "
    "or a converted MVTec-style tree: <root>/<category>/train/good, <root>/<category>/test/good, "
    "<root>/<category>/test/bad and <root>/<category>/ground_truth/bad"
)

VisALayout = Literal["split_csv", "mvtec_style"]


def _normalise_relpath(value: str) -> str:
    """A csv path as a sample id: forward slashes, no leading ``./``, no surrounding blanks."""
    path = value.strip().replace("\\", "/")
    while path.startswith("./"):
        path = path[2:]
    return path


def _stays_inside(relpath: str) -> bool:
    """Whether a csv path is relative and never climbs above the root (no ``..`` escape)."""
    parts = relpath.split("/")
    return not (relpath.startswith("/") or ":" in parts[0] or ".." in parts)


class VisA(DatasetReader):
    """VisA, read from the raw release's ``split_csv/1cls.csv`` or from a converted tree.

    The csv defines Train (normal images only) and Test. Normal and anomaly files reuse
    basenames, so sample ids are the csv's relative image paths, never basenames. A csv row whose
    file is absent still yields a sample: ``iadbench data check`` reports it and a run records an
    error for that image instead of silently shrinking the test set.

    Attributes:
        layout: ``"split_csv"`` for the raw release, ``"mvtec_style"`` for a converted tree.

    Raises:
        DatasetNotFoundError: The root is missing or holds neither accepted layout.
    """

    name: ClassVar[str] = "visa"
    display_name: ClassVar[str] = "VisA"
    layout_help: ClassVar[str] = VISA_LAYOUT_HELP
    official_counts: ClassVar[dict[str, CategoryCounts]] = {
        "candle": CategoryCounts(900, 100, 100),
        "capsules": CategoryCounts(542, 60, 100),
        "cashew": CategoryCounts(450, 50, 100),
        "chewinggum": CategoryCounts(453, 50, 100),
        "fryum": CategoryCounts(450, 50, 100),
        "macaroni1": CategoryCounts(900, 100, 100),
        "macaroni2": CategoryCounts(900, 100, 100),
        "pcb1": CategoryCounts(904, 100, 100),
        "pcb2": CategoryCounts(901, 100, 100),
        "pcb3": CategoryCounts(905, 101, 100),
        "pcb4": CategoryCounts(904, 101, 100),
        "pipe_fryum": CategoryCounts(450, 50, 100),
    }

    def __init__(self, root: str | Path) -> None:
        super().__init__(root)
        self.layout: VisALayout
        if (self.root / SPLIT_CSV).is_file():
            self.layout = "split_csv"
        elif mvtec_style_categories(self.root):
            self.layout = "mvtec_style"
        else:
            raise DatasetNotFoundError(
                f"{self.display_name} root {self.root} holds neither {SPLIT_CSV} nor a converted "
                f"MVTec-style tree. Expected layout: {self.layout_help}"
            )

    def _index(self) -> list[Sample]:
        if self.layout == "mvtec_style":
            return index_mvtec_style(self.root, self.name)
        return self._index_split_csv(self.root / SPLIT_CSV)

    def _index_split_csv(self, csv_path: Path) -> list[Sample]:
        """Samples listed by ``1cls.csv``, one per row, whether or not the file exists."""
        root = str(self.root)
        samples: list[Sample] = []
        seen: dict[str, int] = {}
        with open(csv_path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            missing = [c for c in SPLIT_CSV_COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise DatasetNotFoundError(
                    f"{csv_path} lacks the column(s) {', '.join(missing)}; the header must be "
                    f"{','.join(SPLIT_CSV_COLUMNS)}."
                )
            for row in reader:
                line = reader.line_num
                image = _normalise_relpath(row["image"] or "")
                if not image:
                    continue  # blank line or trailing separator row: nothing to index
                split = (row["split"] or "").strip().lower()
                label = _LABELS.get((row["label"] or "").strip().lower())
                if split not in ("train", "test") or label is None:
                    raise DatasetNotFoundError(
                        f"{csv_path} line {line}: split must be train or test and label normal or "
                        f"anomaly, got split={row['split']!r} label={row['label']!r}."
                    )
                if image in seen:
                    raise DatasetNotFoundError(
                        f"{csv_path} line {line} lists {image} again (first on line {seen[image]});"
                        " every image must appear once."
                    )
                seen[image] = line
                mask = _normalise_relpath(row["mask"] or "")
                for listed in (image, mask):
                    if listed and not _stays_inside(listed):
                        raise DatasetNotFoundError(
                            f"{csv_path} line {line} points outside the dataset root ({listed!r}):"
                            " paths in the split file must be relative and stay under the root."
                        )
                samples.append(
                    Sample(
                        id=image,
                        dataset=self.name,
                        category=(row["object"] or "").strip() or image.split("/", 1)[0],
                        subset=split,  # type: ignore[arg-type]  # checked above
                        label=label,
                        image_path=os.path.join(root, *image.split("/")),
                        mask_path=os.path.join(root, *mask.split("/")) if mask else None,
                        defect_type=_DEFECT_TYPES[label],
                    )
                )
        samples.sort(key=lambda s: s.id)
        return samples
