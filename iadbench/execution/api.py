"""The Python API: ``iadbench run`` and ``iadbench train`` as function calls.

Methods use these too (LR-IAD's learning proof trains through :func:`train`): they may import
only ``iadbench`` and ``iadbench.contract``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, cast

from iadbench.contract.devices import check_device
from iadbench.contract.errors import ArgumentError, IADBenchError
from iadbench.contract.numbers import (
    fraction_targets,
    optional_whole_number,
    real_number,
    whole_number,
)
from iadbench.contract.records import Sample


def evaluate(
    method: str,
    test: str,
    *,
    train: str | None = None,
    data: Mapping[str, str | Path] | None = None,
    options: Mapping[str, Any] | None = None,
    tiny: bool = False,
    threshold: str | None = None,
    train_split: str | None = None,
    test_split: str | None = None,
    limit: int | None = None,
    categories: Sequence[str] | None = None,
    calibration_ratio: float | None = None,
    seed: int = 0,
    device: str = "auto",
    out: str | Path | None = None,
    cache_dir: str | Path | None = None,
    overwrite: bool = False,
    far_targets: Sequence[float] | None = None,
    recall_targets: Sequence[float] | None = None,
) -> dict[str, Any]:
    """Run (or resume, or reuse) one method on one test set and return its ``summary.json``.

    The same planning, run dir, resume and reuse rules as ``iadbench run`` apply: calling it
    twice computes once. Arguments mirror the command's flags.

    Args:
        method: Registered method name (``iadbench list``).
        test: Test dataset name (``mvtec``, ``visa`` or a folder dataset's name).
        train: Training dataset, for methods that train or thresholds chosen on training data;
            None for a zero-shot run.
        data: Dataset name -> root folder (``--data``); else ``IADBENCH_<NAME>_ROOT``.
        options: Method options (``--set``); values are converted as on the command line.
        tiny: Tiny random-weight models built locally (``--tiny``).
        threshold: Threshold policy of a score method (``fixed:0.5`` when None).
        train_split: Training subset (default: Table II's for the method).
        test_split: Test subset (default: All; Test for a split folder dataset and for a
            one-class method).
        limit: Only the first N test images per category (a partial run).
        categories: Only these categories of the test dataset (``--categories``): tested, and
            the ones a one-class method trains on; None: every category.
        calibration_ratio: Share of the training images held out to choose a ``calibrated`` /
            ``normal-quantile`` threshold on (``--calibration-ratio``; None: the default).
        seed: Random seed.
        device: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``.
        out: Run dir; default ``runs/<method>/<cell>_<hash8>`` under the working directory.
        cache_dir: Where trained artefacts go (default ``IADBENCH_CACHE_DIR`` or ``~/.cache``).
        overwrite: Replace a run of another configuration in ``out``.
        far_targets: False-alarm budgets of the operating points, fractions (default
            ``(0.01, 0.05)``); not part of the configuration hash: a finished run is
            re-summarised from its predictions (``--far-targets``).
        recall_targets: Recall targets of the operating points (default ``(0.95, 0.99)``).

    Returns:
        The summary: ``overall``, ``class_mean``, ``per_class`` metrics and the run's record.

    Raises:
        ArgumentError: An argument of the wrong type or out of range (``limit=2.5``,
            ``seed="x"``, ``device="tpu"``, ``method=None``), before anything is read.
        IADBenchError: A missing dataset, a conflicting run dir, an unknown name.

    Example:
        >>> import iadbench
        >>> summary = iadbench.evaluate("always-normal", "mvtec",
        ...                             data={"mvtec": "/data/mvtec"})  # doctest: +SKIP
        >>> summary["overall"]["accuracy"]  # doctest: +SKIP
        0.765...
    """
    from iadbench.execution.planning import RunRequest, plan_run
    from iadbench.execution.runner import execute_run

    request = RunRequest(
        method=_name(method, "method"), train=_optional_name(train, "train"),
        test=_name(test, "test"), train_split=_optional_name(train_split, "train_split"),
        test_split=_optional_name(test_split, "test_split"), options=_options(options),
        tiny=_flag(tiny, "tiny"), seed=_seed(seed),
        threshold=_optional_name(threshold, "threshold"), data_roots=_roots(data),
        out=_optional_path(out, "out"), device=check_device(device, name="device"),
        overwrite=_flag(overwrite, "overwrite"), cache_dir=_optional_path(cache_dir, "cache_dir"),
        limit=optional_whole_number(limit, name="limit", minimum=1),
        categories=_categories(categories),
        far_targets=_targets(far_targets, "far_targets"),
        recall_targets=_targets(recall_targets, "recall_targets"),
        calibration_ratio=None if calibration_ratio is None else real_number(
            calibration_ratio, name="calibration_ratio", minimum=0, maximum=0.9),
        command=["iadbench.evaluate", method, test],
    )  # fmt: skip
    outcome = execute_run(plan_run(request))
    if outcome.warning is not None:  # the command prints it; a notebook gets it logged
        logging.getLogger(__name__).warning("Warning: %s", outcome.warning)
    return dict(outcome.summary)


def train(
    method: str,
    train: str,
    *,
    data: Mapping[str, str | Path] | None = None,
    options: Mapping[str, Any] | None = None,
    tiny: bool = False,
    train_split: str | None = None,
    seed: int = 0,
    device: str = "auto",
    cache_dir: str | Path | None = None,
) -> Path:
    """Run only a method's training stage (or reuse it) and return its training dir.

    What ``iadbench train`` does: the dir is keyed by the training hash, so a later
    :func:`evaluate` (or ``iadbench run``) with the same method, options, training data, ``tiny``
    and seed loads it instead of training, and a second call returns at once.

    Args:
        method: Registered method name with a training stage.
        train: Training dataset name.
        data: Dataset name -> root folder (``--data``); else ``IADBENCH_<NAME>_ROOT``.
        options: Method options (``--set``); values are converted as on the command line.
        tiny: Tiny random-weight models built locally (``--tiny``).
        train_split: Training subset (default: Table II's for the method).
        seed: Random seed.
        device: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``.
        cache_dir: Where trained artefacts go (default ``IADBENCH_CACHE_DIR`` or ``~/.cache``).

    Returns:
        The training dir (``<cache>/trained/<method>/<hash>``), holding the ``TRAINED`` marker.

    Raises:
        ArgumentError: An argument of the wrong type or out of range, before anything is read.
        IADBenchError: A missing dataset, or a method that does not train.

    Example:
        >>> import iadbench
        >>> iadbench.train("aprilgan", "visa", tiny=True,
        ...                data={"visa": "/data/visa"})  # doctest: +SKIP
        PosixPath('.../trained/aprilgan/...')
    """
    from iadbench.execution.planning import RunRequest, plan_run
    from iadbench.execution.training_stage import train_only

    request = RunRequest(
        method=_name(method, "method"), train=_name(train, "train"), test=train,
        train_split=_optional_name(train_split, "train_split"), options=_options(options),
        tiny=_flag(tiny, "tiny"), seed=_seed(seed), data_roots=_roots(data),
        device=check_device(device, name="device"),
        cache_dir=_optional_path(cache_dir, "cache_dir"),
        command=["iadbench.train", method, train],
    )  # fmt: skip
    return train_only(plan_run(request))


def load_samples(dataset: str, root: str | Path, subset: str = "all") -> list[Sample]:
    """The samples of one subset of a dataset, read as a run reads them.

    Args:
        dataset: ``mvtec``, ``visa`` or any other name (a folder dataset, or one that
            ``iadbench data split`` split).
        root: The dataset's root folder.
        subset: ``all``, ``train`` or ``test``.

    Raises:
        IADBenchError: A missing root or an unknown subset.

    Example:
        >>> import iadbench
        >>> samples = iadbench.load_samples("visa", "/data/visa", "test")  # doctest: +SKIP
    """
    from iadbench.data import open_dataset
    from iadbench.data.base import SUBSET_NAMES, SubsetName

    if subset not in SUBSET_NAMES:  # the reader's ValueError would read as a bug here
        raise IADBenchError(f"subset must be one of {', '.join(SUBSET_NAMES)}, got {subset!r}")
    if not isinstance(root, str | Path):  # load_samples("mvtec", 5) raised a raw TypeError
        raise ArgumentError(f"root must be a folder path (str or Path), got {root!r}")
    return open_dataset(_name(dataset, "dataset"), Path(root)).samples(cast(SubsetName, subset))


# The API's arguments are checked here, under their Python names, before a RunRequest is built:
# a wrong type was recorded as given (limit=2.5, seed="x") or raised a raw TypeError or
# AttributeError deep inside planning (method=None, data=[...]) (issue 18).


def _name(value: object, name: str) -> str:
    if not isinstance(value, str) or not value:
        raise ArgumentError(f"{name} must be a non-empty string, got {value!r}")
    return value


def _optional_name(value: object, name: str) -> str | None:
    return None if value is None else _name(value, name)


def _categories(value: object) -> tuple[str, ...] | None:
    # A text is the command line's spelling (bottle,cable): Python passes a list of names.
    if value is None:
        return None
    if isinstance(value, str) or not isinstance(value, list | tuple) or not value:
        raise ArgumentError(f"categories must be a list of names such as ['bottle'], got {value!r}")
    return tuple(dict.fromkeys(_name(name, "categories") for name in value))


def _targets(value: object, name: str) -> tuple[float, ...] | None:
    # A text is the command line's spelling: Python passes a list of numbers.
    if value is None:
        return None
    if isinstance(value, str):
        raise ArgumentError(f"{name} must be a list of fractions such as [0.01, 0.05], "
                            f"got {value!r}")  # fmt: skip
    return fraction_targets(value, name=name)


def _flag(value: object, name: str) -> bool:
    if not isinstance(value, bool):
        raise ArgumentError(f"{name} must be True or False, got {value!r}")
    return value


def _seed(value: object) -> int:
    from iadbench.contract.numbers import MAX_SEED

    return whole_number(value, name="seed", minimum=0, maximum=MAX_SEED)


def _path(value: object, name: str) -> Path:
    if not isinstance(value, str | os.PathLike) or not os.fspath(value):
        raise ArgumentError(f"{name} must be a path (str or pathlib.Path), got {value!r}")
    return Path(value)


def _optional_path(value: object, name: str) -> Path | None:
    return None if value is None else _path(value, name)


def _mapping(value: object, name: str, what: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping) or not all(isinstance(k, str) and k for k in value):
        raise ArgumentError(f"{name} must be a dict of {what}, got {value!r:.100}")
    return value


def _roots(data: object) -> dict[str, str]:
    roots = _mapping(data, "data", "dataset name -> root folder")
    return {key: str(_path(root, f"data[{key!r}]")) for key, root in roots.items()}


def _options(options: object) -> dict[str, str]:
    from iadbench.contract.options import option_text

    given = _mapping(options, "options", "option name -> value")
    return {key: option_text(value) for key, value in given.items()}
