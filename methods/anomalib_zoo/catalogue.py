"""The anomalib zoo as iadbench sees it: one entry per anomalib image model (no anomalib import).

TEMPORARY (issue 21, zooadapter): PatchCore and PaDiM only, in the agreed format, so the bridge
can be built and tested; zoocat's complete catalogue replaces this file at the merge.

Read from anomalib 2.7.0's sources (site-packages/anomalib/models/image/patchcore/
lightning_model.py and padim/lightning_model.py: constructor signatures, ``Args:`` sections,
class docstrings; ``configure_pre_processor`` resizes to 256 × 256 in both). Options are the
constructor's arguments of simple types; ``layers`` (a sequence) and the component switches
(``pre_processor``, ``post_processor``, ``evaluator``, ``visualizer``) are not options: the bridge
sets the components itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from iadbench.contract.errors import UnknownNameError


@dataclass(frozen=True)
class ZooOption:
    """One constructor argument of an anomalib model, settable with ``--set``.

    Attributes:
        name: The constructor argument's name.
        type: What ``--set`` parses: ``"int"``, ``"float"``, ``"bool"``, ``"str"``,
            ``"str|None"``, ``"int|None"``, ``"float|None"``.
        default: The JSON-ready default (None allowed).
        help: One line, from anomalib's docstring (``Args:`` section).
    """

    name: str
    type: str
    default: Any
    help: str


@dataclass(frozen=True)
class ZooEntry:
    """One anomalib image model as an iadbench method.

    Attributes:
        method: The iadbench method name (``anomalib-patchcore``).
        model_class: The attribute of ``anomalib.models`` (``Patchcore``).
        summary: One line for ``iadbench list`` (from anomalib's class docstring).
        options: The constructor's own typed arguments (simple types only).
        tiny: Constructor overrides ``--tiny`` applies (small backbone, ``pre_trained=False``):
            the model then builds offline.
        needs: None when it builds offline with ``tiny``; else one sentence naming the asset
            missing offline and where it goes.
        image_size: Input side the bridge resizes to (anomalib's default pre-processor).
        tiny_image_size: The side under ``--tiny``.
    """

    method: str
    model_class: str
    summary: str
    options: tuple[ZooOption, ...]
    tiny: Mapping[str, Any]
    needs: str | None
    image_size: int
    tiny_image_size: int


_PATCHCORE = ZooEntry(
    method="anomalib-patchcore",
    model_class="Patchcore",
    summary="PatchCore (anomalib): memory bank of normal patch features, nearest-neighbour "
    "distance.",
    options=(
        ZooOption("backbone", "str", "wide_resnet50_2", "Name of the backbone CNN network."),
        ZooOption("pre_trained", "bool", True, "Whether to use pre-trained backbone weights."),
        ZooOption(
            "coreset_sampling_ratio",
            "float",
            0.1,
            "Ratio for coreset sampling to subsample embeddings.",
        ),
        ZooOption("num_neighbors", "int", 9, "Number of nearest neighbors to use."),
        ZooOption("precision", "str", "float32", "Precision type for model computations."),
    ),
    tiny=MappingProxyType({"backbone": "resnet18", "pre_trained": False}),
    needs=None,
    image_size=256,
    tiny_image_size=64,
)

_PADIM = ZooEntry(
    method="anomalib-padim",
    model_class="Padim",
    summary="PaDiM (anomalib): per-patch Gaussian of normal features, Mahalanobis distance.",
    options=(
        ZooOption("backbone", "str", "resnet18", "Name of the backbone CNN network."),
        ZooOption("pre_trained", "bool", True, "Whether to use pre-trained backbone weights."),
        ZooOption(
            "n_features",
            "int|None",
            None,
            "Number of features to retain after dimension reduction (None: the backbone's).",
        ),
    ),
    tiny=MappingProxyType({"pre_trained": False}),
    needs=None,
    image_size=256,
    tiny_image_size=64,
)

#: Every entry by method name, sorted.
ZOO: Mapping[str, ZooEntry] = MappingProxyType(
    {entry.method: entry for entry in sorted((_PADIM, _PATCHCORE), key=lambda e: e.method)}
)


def zoo_entry(method: str) -> ZooEntry:
    """The entry of ``method`` (``anomalib-patchcore``).

    Raises:
        UnknownNameError: No such entry (close matches named).
    """
    if method not in ZOO:
        raise UnknownNameError("anomalib zoo method", method, ZOO)
    return ZOO[method]
