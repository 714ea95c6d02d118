"""What every dataset reader provides: an index of :class:`~iadbench.contract.records.Sample`."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Literal

from iadbench.contract.errors import DatasetNotFoundError
from iadbench.contract.records import Sample

SubsetName = Literal["train", "test", "all"]
SUBSET_NAMES: tuple[str, ...] = ("train", "test", "all")
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"})


@dataclass(frozen=True)
class CategoryCounts:
    """Official image counts of one category: train normals, test normals, test defects."""

    train_normal: int
    test_normal: int
    test_defect: int

    @property
    def total(self) -> int:
        """All images of the category."""
        return self.train_normal + self.test_normal + self.test_defect


class DatasetReader(ABC):
    """Indexes one dataset root without decoding any image.

    Subclasses set ``name``, ``display_name``, ``layout_help`` and ``official_counts`` and
    implement :meth:`_index`, which returns every sample of the root (train and test).
    """

    name: ClassVar[str]
    display_name: ClassVar[str]
    layout_help: ClassVar[str]
    official_counts: ClassVar[dict[str, CategoryCounts]] = {}

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).expanduser().resolve()
        if not self.root.is_dir():
            raise DatasetNotFoundError(
                f"{self.display_name} root {self.root} does not exist or is not a directory. "
                f"Expected layout: {self.layout_help}"
            )
        self._all: list[Sample] | None = None

    @abstractmethod
    def _index(self) -> list[Sample]:
        """Every sample under the root, sorted by id."""

    def samples(self, subset: SubsetName = "all") -> list[Sample]:
        """Samples of one subset (``train``, ``test`` or ``all``), sorted by id.

        Raises:
            DatasetNotFoundError: The root holds no image in the expected layout.
            ValueError: ``subset`` is not one of train, test, all.
        """
        if subset not in SUBSET_NAMES:
            raise ValueError(f"subset must be one of {', '.join(SUBSET_NAMES)}, got {subset!r}")
        if self._all is None:
            self._all = self._index()
            if not self._all:
                raise DatasetNotFoundError(
                    f"{self.display_name} root {self.root} holds no images in the expected layout. "
                    f"Expected layout: {self.layout_help}"
                )
        if subset == "all":
            return list(self._all)
        return [s for s in self._all if s.subset == subset]

    def categories(self) -> list[str]:
        """Category names present under the root, sorted."""
        return sorted({s.category for s in self.samples("all")})
