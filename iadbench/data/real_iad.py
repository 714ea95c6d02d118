"""Real-IAD reader: the release's JSON split files, one per category, and its image folders.

Layout (docs/datasets/real_iad.md says where each fact was read)::

    <root>/realiad_1024/<category>/...            images and masks (or realiad_512/, _256/, _raw/)
    <root>/realiad_jsons/<category>.json          the default split (multi-view UIAD)
    <root>/realiad_jsons_sv/<category>.json       other split variants beside it, or all of them
    <root>/realiad_jsons/realiad_jsons_sv/...     one level down, as the JSON archive extracts

A JSON file is ``{"meta": {"prefix": ..., "normal_class": "OK", ...}, "train": [row, ...],
"test": [row, ...]}``; a row is ``{"category", "anomaly_class", "image_path", "mask_path"}``,
paths relative to ``<images folder>/<prefix>``. Every part is photographed by 5 cameras
(``..._C1_...`` to ``..._C5_...`` in the file name); its 5 images share one
:attr:`~iadbench.contract.records.Sample.group`, the key the authors' evaluation uses.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any, ClassVar, Final

from iadbench.contract.records import DEFECT, NORMAL, Sample, Subset
from iadbench.contract.text import terminal_text
from iadbench.data.base import CategoryCounts, DatasetReader
from iadbench.data.split_file import SplitFileError

#: The JSON split variant read when none is named (the authors' multi-view UIAD setting).
DEFAULT_SPLIT: Final = "realiad_jsons"
#: Names the other variants (the release's ``realiad_jsons_sv``, ``realiad_jsons_fuiad_0.0``,
#: ...): ``IADBENCH_REAL_IAD_SPLIT=realiad_jsons_sv``.
SPLIT_ENV_VAR: Final = "IADBENCH_REAL_IAD_SPLIT"
#: Image folders of the release, in the order the reader looks for them (the first present).
IMAGE_FOLDERS: tuple[str, ...] = ("realiad_1024", "realiad_512", "realiad_256", "realiad_raw")
#: The authors' sample key (their README's ``--sample_key_pat``): the file name before ``_C<n>_``.
SAMPLE_KEY = re.compile(r"([a-zA-Z][a-zA-Z0-9_]*_[0-9]{4}_[A-Z][A-Z_]*[A-Z])_C[0-9]_")
ROW_KEYS: frozenset[str] = frozenset({"category", "anomaly_class", "image_path", "mask_path"})
#: As the authors' page and anomalib 2.7's ``datamodules/image/realiad.py`` state it.
REAL_IAD_LICENCE = (
    "Creative Commons Attribution-NonCommercial-ShareAlike 4.0 International (CC BY-NC-SA 4.0), "
    "https://creativecommons.org/licenses/by-nc-sa/4.0/ (as stated in anomalib 2.7's Real-IAD "
    "datamodule; the authors grant access on request at "
    "https://huggingface.co/datasets/REAL-IAD/Real-IAD)"
)
# fmt: off
REAL_IAD_CATEGORIES: tuple[str, ...] = (
    "audiojack", "bottle_cap", "button_battery", "end_cap", "eraser", "fire_hood", "mint",
    "mounts", "pcb", "phone_battery", "plastic_nut", "plastic_plug", "porcelain_doll",
    "regulator", "rolled_strip_base", "sim_card_set", "switch", "tape", "terminalblock",
    "toothbrush", "toy", "toy_brick", "transistor1", "u_block", "usb", "usb_adaptor", "vcpill",
    "wooden_beads", "woodstick", "zipper",
)
# fmt: on
#: Release totals in images (docs/datasets/real_iad.md): 151,050 = 30,210 parts x 5 views; train
#: 36,465 (7,293 parts), test 114,585 (22,917 parts) - read on a public repack's card; normal
#: 99,721 / defective 51,329 - the paper's figures, not read in this session (unconfirmed).
RELEASE_TRAIN_SAMPLES, RELEASE_TEST_SAMPLES, RELEASE_TEST_DEFECT = 7_293, 22_917, 51_329
VIEWS: Final = 5


def _spread(total: int, index: int, parts: int) -> int:
    """``total`` shared as evenly as whole numbers allow over ``parts``; share number ``index``."""
    return total // parts + (index < total % parts)


def _planned_counts() -> dict[str, CategoryCounts]:
    """Per-category counts: the release totals spread evenly (per-category figures unconfirmed)."""
    counts: dict[str, CategoryCounts] = {}
    n = len(REAL_IAD_CATEGORIES)
    for i, category in enumerate(REAL_IAD_CATEGORIES):
        train = VIEWS * _spread(RELEASE_TRAIN_SAMPLES, i, n)
        test = VIEWS * _spread(RELEASE_TEST_SAMPLES, i, n)
        defect = _spread(RELEASE_TEST_DEFECT, i, n)
        counts[category] = CategoryCounts(train, test - defect, defect)
    return counts


class RealIADError(SplitFileError):
    """A Real-IAD split file is malformed or names a path outside the root or not on disk."""


def _json_dirs(root: Path, variant: str) -> list[Path]:
    """Where the files of ``variant`` may be: beside the image folders, or one level down."""
    return [root / variant, root / DEFAULT_SPLIT / variant]


def find_split_dir(root: str | Path, variant: str = DEFAULT_SPLIT) -> Path | None:
    """The folder holding ``variant``'s ``<category>.json`` files under ``root``, or None."""
    for folder in _json_dirs(Path(root), variant):
        if folder.is_dir() and any(p.suffix == ".json" for p in folder.iterdir()):
            return folder
    return None


def find_image_dir(root: str | Path) -> Path | None:
    """The first of :data:`IMAGE_FOLDERS` present under ``root``, or None."""
    return next((Path(root, n) for n in IMAGE_FOLDERS if Path(root, n).is_dir()), None)


def sample_key(file_name: str) -> str | None:
    """The authors' sample key of an image file name, or None when it has none.

    Example:
        >>> sample_key("audiojack_0001_NG_HS_C3_20231021101010.jpg")
        'audiojack_0001_NG_HS'
    """
    found = SAMPLE_KEY.search(file_name)
    return found.group(1) if found else None


class RealIAD(DatasetReader):
    """Real-IAD, read from its JSON split files untouched (see the module docstring).

    Train and Test are the JSON's ``train`` and ``test`` lists. A row is a defect when its
    ``anomaly_class`` is not the file's ``meta.normal_class`` and it names a mask (the authors'
    loader reads a row without a mask as normal); its defect type is its ``anomaly_class``, a
    normal row's is ``good``. A row that names a path outside the root, a file not on disk or a
    file name without the authors' sample key is refused, naming the file and the row.

    Args:
        root: The release folder holding ``realiad_1024/`` and ``realiad_jsons/``.
        split: The JSON variant (``realiad_jsons_sv``, ``realiad_jsons_fuiad_0.2``, ...); default
            the environment variable :data:`SPLIT_ENV_VAR`, else :data:`DEFAULT_SPLIT`.
    """

    name: ClassVar[str] = "real-iad"
    display_name: ClassVar[str] = "Real-IAD"
    layout_help: ClassVar[str] = (
        "<root>/realiad_1024/<category>/... (images and masks; or realiad_512, realiad_256, "
        "realiad_raw) and <root>/realiad_jsons/<category>.json (the split; other variants such "
        f"as realiad_jsons_sv beside it, chosen with {SPLIT_ENV_VAR}), as the release extracts"
    )
    official_counts: ClassVar[dict[str, CategoryCounts]] = _planned_counts()
    counts_confirmed: ClassVar[bool] = False
    default_split: ClassVar[str] = DEFAULT_SPLIT
    licence: ClassVar[str] = REAL_IAD_LICENCE

    def __init__(self, root: str | Path, split: str | None = None) -> None:
        super().__init__(root)
        self.split = split or os.environ.get(SPLIT_ENV_VAR, "").strip() or DEFAULT_SPLIT
        if "/" in self.split or "\\" in self.split or self.split in (".", ".."):
            raise RealIADError(
                f"{SPLIT_ENV_VAR}={self.split!r} is not a split variant: name a folder of the "
                f"release such as realiad_jsons_sv, not a path."
            )
        split_dir, image_dir = find_split_dir(self.root, self.split), find_image_dir(self.root)
        if split_dir is None or image_dir is None:
            wanted = ((f"{self.split}/*.json", split_dir),
                      (f"{' or '.join(IMAGE_FOLDERS)}/", image_dir))  # fmt: skip
            missing = " and ".join(what for what, there in wanted if there is None)
            raise self._layout_error(f"Real-IAD root {self.root} holds no {missing}.")
        self.split_dir: Path = split_dir
        self.image_dir: Path = image_dir
        self._root_prefix = os.path.join(str(self.root), "")  # "/data/Real-IAD/"

    def _index(self) -> list[Sample]:
        samples: list[Sample] = []
        for json_path in sorted(self.split_dir.glob("*.json")):
            samples += self._read_json(json_path)
        samples.sort(key=lambda s: s.id)
        return samples

    def _refuse(self, json_path: Path, row: str, problem: str) -> RealIADError:
        where = terminal_text(str(json_path))
        return RealIADError(f"Real-IAD split file {where}, row {row}: {problem}.")

    def _read_json(self, json_path: Path) -> list[Sample]:
        """The samples of one category's split file (see the class docstring for the rules)."""
        try:
            content = json.loads(json_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise RealIADError(
                f"Real-IAD split file {json_path} cannot be read as JSON ({exc}): restore it "
                "from the release."
            ) from None
        meta = content.get("meta") if isinstance(content, dict) else None
        if not isinstance(meta, dict) or not isinstance(meta.get("prefix"), str):
            raise self._refuse(json_path, "meta", 'no "meta" object with a "prefix" string')
        normal_class = str(meta.get("normal_class", "OK"))
        base = self._inside(json_path, "meta", meta["prefix"], str(self.image_dir))
        category = json_path.stem
        samples: list[Sample] = []
        subsets: tuple[Subset, ...] = ("train", "test")
        for subset in subsets:
            rows = content.get(subset, [])
            if not isinstance(rows, list):
                raise self._refuse(json_path, subset, f'"{subset}" is not a list')
            for number, row in enumerate(rows):
                samples.append(self._sample(json_path, f"{subset}[{number}]", row, subset,
                                            category, base, normal_class))  # fmt: skip
        return samples

    def _inside(self, json_path: Path, row: str, relative: Any, base: str) -> str:
        """``base/relative`` normalised, refused unless a relative path that stays in the root.

        String operations only (no ``Path``, no ``relpath``): this runs twice per image, 200,000
        times for the release, and ``relpath`` alone made indexing take minutes.
        """
        if not isinstance(relative, str) or not relative:
            raise self._refuse(json_path, row, f"the path {relative!r} is not a file name")
        path = os.path.normpath(os.path.join(base, relative))
        if os.path.isabs(relative) or not path.startswith(self._root_prefix):
            raise self._refuse(
                json_path, row, f"the path {terminal_text(relative)} leads outside {self.root}; "
                "a split file names files in the tree only"
            )  # fmt: skip
        return path

    def _sample(
        self, json_path: Path, row_name: str, row: Any, subset: Subset, category: str,
        base: str, normal_class: str,
    ) -> Sample:  # fmt: skip
        if not isinstance(row, dict) or not row.keys() >= ROW_KEYS:
            raise self._refuse(json_path, row_name, f"a row needs the keys {sorted(ROW_KEYS)}")
        image = self._inside(json_path, row_name, row["image_path"], base)
        anomaly_class, mask_name = str(row["anomaly_class"]), row["mask_path"]
        defect = anomaly_class != normal_class and mask_name is not None
        mask = self._inside(json_path, row_name, mask_name, base) if defect else None
        for path in (image, mask):
            if path is not None and not os.path.isfile(path):
                raise self._refuse(
                    json_path, row_name, f"{terminal_text(path)} is not on disk; restore "
                    "it from the release (or check that the copy is complete)"
                )  # fmt: skip
        file_name = os.path.basename(image)
        key = sample_key(file_name)
        if key is None:
            raise self._refuse(
                json_path, row_name, f"the file name {terminal_text(file_name)} has no view "
                "part (_C1_ to _C5_) after the authors' sample key, so its 5 views cannot be "
                "grouped"
            )  # fmt: skip
        return Sample(
            id=image[len(self._root_prefix) :].replace(os.sep, "/"),
            dataset=self.name,
            category=category,
            subset=subset,
            label=DEFECT if defect else NORMAL,
            image_path=image,
            mask_path=mask,
            defect_type=anomaly_class if defect else "good",
            group=f"{category}/{key}",
        )

    def _read_folders(self) -> dict[str, list[Path]]:
        # The other variants list a share of the images (one view, a FUIAD subset): only the
        # default split should list every image of a category.
        if self.split != DEFAULT_SPLIT:
            return {}
        categories = sorted({s.category for s in self.samples("all")})
        return {c: [self.image_dir / c] for c in categories if (self.image_dir / c).is_dir()}

    def _read_image_paths(self) -> list[str]:
        return [p for s in self.samples("all") for p in (s.image_path, s.mask_path) if p]

    def _where_read(self) -> str:
        return f"the rows of {self.split}/<category>.json"

    def _category_marks(self, folder: str | Path) -> str | None:
        present = [n for n in ("OK", "NG") if Path(folder, n).is_dir()]
        return " and ".join(f"{n}/" for n in present) if present else None

    def _accepts_as_root(self, folder: str | Path) -> bool:
        return find_split_dir(folder, self.split) is not None and find_image_dir(folder) is not None

    def depth_hint(self) -> str | None:
        """Also names the root when given its ``realiad_1024/`` or ``realiad_jsons/`` folder."""
        marks = self._category_marks(self.root)
        release = self.root.parent.parent
        if marks is not None and self._accepts_as_root(release):
            return (
                f"Real-IAD root {self.root} holds {marks} directly, as one category does: pass "
                f"the release folder two levels up, {release}, instead."
            )
        if self.root.name.startswith("realiad_") and self._accepts_as_root(self.root.parent):
            return (
                f"Real-IAD root {self.root} is one folder of the release: pass the folder that "
                f"holds it, {self.root.parent}, instead."
            )
        return super().depth_hint()
