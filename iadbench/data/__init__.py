"""Layer 2, data: dataset readers, split files, subsets and fingerprints.

Dataset readers and how a dataset name becomes a root folder and a reader.

``iadbench.data.synth`` (synthetic trees) and ``iadbench.data.check`` (``data check``)
are imported on demand: they are not needed to read a dataset.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

from iadbench.contract.errors import DatasetNotFoundError
from iadbench.data.base import (
    IMAGE_SUFFIXES,
    SUBSET_NAMES,
    CategoryCounts,
    DatasetReader,
    SubsetName,
)
from iadbench.data.folder import FolderDataset
from iadbench.data.mvtec import MVTecAD
from iadbench.data.real_iad import RealIAD
from iadbench.data.split_file import split_file_path
from iadbench.data.visa import VisA

DATASET_READERS: dict[str, type[DatasetReader]] = {
    "mvtec": MVTecAD,
    "real-iad": RealIAD,
    "visa": VisA,
}


def reader_class(name: str) -> type[DatasetReader]:
    """The reader class for a dataset name; any name but mvtec/visa is a folder dataset."""
    return DATASET_READERS.get(name, FolderDataset)


def open_dataset(name: str, root: str | Path) -> DatasetReader:
    """Open a dataset root with the reader its name selects (nothing is indexed yet).

    Args:
        name: ``"mvtec"``, ``"visa"``, or any other name for a :class:`FolderDataset`.
        root: The dataset root folder.

    Returns:
        A reader; call ``samples("train" | "test" | "all")`` on it.

    Raises:
        DatasetNotFoundError: The root does not exist or (VisA) holds no accepted layout.
    """
    reader = DATASET_READERS.get(name)
    if reader is None:
        return FolderDataset(root, name=name)
    return reader(root)


def has_split_file(name: str, root: str | Path) -> bool:
    """Whether ``name`` is a folder dataset whose root holds a split file (``data split``)."""
    return reader_class(name) is FolderDataset and split_file_path(root).is_file()


def root_env_var(name: str) -> str:
    """The environment variable that holds a dataset's root.

    Example:
        >>> root_env_var("mvtec"), root_env_var("my-parts")
        ('IADBENCH_MVTEC_ROOT', 'IADBENCH_MY_PARTS_ROOT')
    """
    return f"IADBENCH_{re.sub(r'[^A-Za-z0-9]', '_', name).upper()}_ROOT"


def resolve_root(name: str, data_roots: Mapping[str, str]) -> Path:
    """Where a dataset lives: ``--data NAME=PATH`` first, else ``IADBENCH_<NAME>_ROOT``.

    The path is not checked here; opening the reader does that.

    Args:
        name: Dataset name.
        data_roots: ``NAME -> PATH`` pairs given on the command line.

    Returns:
        The root path, ``~`` expanded.

    Raises:
        DatasetNotFoundError: Neither the mapping nor the environment names a root.
    """
    env_var = root_env_var(name)
    value = data_roots.get(name) or os.environ.get(env_var, "").strip()
    if not value:
        cls = reader_class(name)
        display = cls.display_name if cls is not FolderDataset else f"dataset {name!r}"
        raise DatasetNotFoundError(
            f"No root folder is set for {display} ({name}). Pass --data {name}=PATH or set the "
            f"environment variable {env_var}=PATH. Expected layout under PATH: {cls.layout_help}"
        )
    return Path(value).expanduser()


__all__ = [
    "DATASET_READERS",
    "IMAGE_SUFFIXES",
    "SUBSET_NAMES",
    "CategoryCounts",
    "DatasetReader",
    "FolderDataset",
    "MVTecAD",
    "SubsetName",
    "VisA",
    "has_split_file",
    "open_dataset",
    "reader_class",
    "resolve_root",
    "root_env_var",
]
