"""VisA reader: the raw release (``split_csv/1cls.csv``) or a converted MVTec-style tree."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Literal

from iadbench.contract.records import DEFECT, NORMAL, Sample
from iadbench.data.base import CategoryCounts, DatasetReader
from iadbench.data.mvtec import (
    MVTEC_READ_FOLDERS_HELP,
    index_mvtec_style,
    mvtec_style_categories,
    mvtec_style_category_marks,
    mvtec_style_read_folders,
)
from iadbench.data.split_file import (
    SPLIT_COLUMNS,
    csv_records,
    normalise_relpath,
    read_split_file,
)

SPLIT_CSV = "split_csv/1cls.csv"
SPLIT_CSV_COLUMNS: tuple[str, ...] = SPLIT_COLUMNS
# Per category, the release's annotation file: ``image,label,mask``, where label is ``normal``
# or the anomaly type(s) of the image, several separated by commas (e.g. "spot,scratch").
IMAGE_ANNO = "image_anno.csv"
IMAGE_ANNO_COLUMNS: tuple[str, ...] = ("image", "label")
_DEFECT_TYPES: dict[str, str] = {NORMAL: "good", DEFECT: "anomaly"}

VISA_LAYOUT_HELP = (
    "either the raw VisA release - <root>/split_csv/1cls.csv (columns object,split,label,image,"
    "mask with paths relative to <root>), <root>/<category>/Data/Images/Normal/*.JPG, "
    "<root>/<category>/Data/Images/Anomaly/*.JPG and <root>/<category>/Data/Masks/Anomaly/*.png - "
    "or a converted MVTec-style tree: <root>/<category>/train/good, <root>/<category>/test/good, "
    "<root>/<category>/test/bad and <root>/<category>/ground_truth/bad"
)

VisALayout = Literal["split_csv", "mvtec_style"]


class VisA(DatasetReader):
    """VisA, read from the raw release's ``split_csv/1cls.csv`` or from a converted tree.

    The csv defines Train (normal images only) and Test. Normal and anomaly files reuse
    basenames, so sample ids are the csv's relative image paths, never basenames. A csv row whose
    file is absent still yields a sample: ``iadbench data check`` reports it and a run records an
    error for that image instead of silently shrinking the test set.

    An anomaly's defect type is its label in ``<category>/image_anno.csv`` when the release
    has that file (several types of one image joined as ``"scratch,spot"``), else
    ``"anomaly"``; normal images are ``"good"``.

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
            raise self._layout_error(
                f"{self.display_name} root {self.root} holds neither {SPLIT_CSV} nor a converted "
                "MVTec-style tree."
            )

    def _index(self) -> list[Sample]:
        if self.layout == "mvtec_style":
            return index_mvtec_style(self.root, self.name)
        return self._index_split_csv(self.root / SPLIT_CSV)

    def _read_folders(self) -> dict[str, list[Path]]:
        if self.layout == "mvtec_style":
            return mvtec_style_read_folders(self.root)
        # Every image under <category>/Data/Images should be a row of 1cls.csv.
        categories = {s.category for s in self.samples("all")}
        return {c: [self.root / c / "Data" / "Images"] for c in sorted(categories)}

    def _where_read(self) -> str:
        if self.layout == "mvtec_style":
            return MVTEC_READ_FOLDERS_HELP
        return f"the rows of {SPLIT_CSV}"

    def _category_marks(self, folder: str | Path) -> str | None:
        # One category of the raw release holds Data/ and image_anno.csv; of a converted tree,
        # train/ and test/.
        raw = [
            name
            for name, present in (
                ("Data/", (Path(folder) / "Data").is_dir()),
                (IMAGE_ANNO, (Path(folder) / IMAGE_ANNO).is_file()),
            )
            if present
        ]
        return " and ".join(raw) if raw else mvtec_style_category_marks(folder)

    def _accepts_as_root(self, folder: str | Path) -> bool:
        return (Path(folder) / SPLIT_CSV).is_file() or bool(mvtec_style_categories(folder))

    def _one_category_advice(self, marks: str) -> str:
        return (
            f"{self.display_name} root {self.root} holds {marks} directly, as one category "
            f"does, but the folder above it, {self.root.parent}, holds no {SPLIT_CSV}: pass "
            f"the folder of the VisA release that holds {SPLIT_CSV} and the category folders."
        )

    def _index_split_csv(self, csv_path: Path) -> list[Sample]:
        """Samples listed by ``1cls.csv``, one per row, whether or not the file exists."""
        root = str(self.root)
        rows = read_split_file(csv_path)
        anomaly_types: dict[str, dict[str, str]] = {}
        for category in sorted({row.category for row in rows}):
            anomaly_types[category] = read_image_anno(self.root, category)
        samples = [
            row.sample(
                self.name,
                root,
                anomaly_types[row.category].get(row.image, _DEFECT_TYPES[DEFECT])
                if row.label == DEFECT
                else _DEFECT_TYPES[NORMAL],
            )
            for row in rows
        ]
        samples.sort(key=lambda s: s.id)
        return samples


def read_image_anno(root: Path, category: str) -> dict[str, str]:
    """Anomaly type per image path from ``<root>/<category>/image_anno.csv``; {} when absent.

    Several types of one image (``"scratch, spot"``) become one name, sorted and joined by
    commas (``"scratch,spot"``), so an image with the same types always lands in one group.
    Image paths relative to the category folder are accepted too. Rows labelled ``normal`` and
    rows without a label are left out: their images keep the reader's default type.

    Raises:
        SplitFileError: The file lacks an ``image`` or ``label`` column.
    """
    path = root / category / IMAGE_ANNO
    if not path.is_file():
        return {}
    types: dict[str, str] = {}
    expected = "VisA's image_anno.csv has the header image,label,mask"
    with csv_records(path, IMAGE_ANNO_COLUMNS, expected) as reader:
        for record in reader:
            image = normalise_relpath(record["image"] or "")
            names = sorted({n.strip() for n in (record["label"] or "").split(",") if n.strip()})
            if not image or not names or names == ["normal"]:
                continue
            if not image.startswith(f"{category}/"):
                image = f"{category}/{image}"
            types[image] = ",".join(names)
    return types
