"""Planning: what a user asked for (:class:`RunRequest`) → a resolved :class:`PlannedRun`.

:func:`plan_run` resolves everything that can be wrong in the arguments (method, options, roots,
splits, numbers, output dir) and indexes and fingerprints the data before any work starts, so a
matrix fails fast and the configuration hash says which images a run reads.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from iadbench.contract.errors import IADBenchError
from iadbench.contract.method import MethodAdapter, trains
from iadbench.contract.options import build_options, inference_only_names, tiny_values
from iadbench.contract.records import NORMAL, Sample
from iadbench.contract.settings import default_cache_dir
from iadbench.data import (
    FolderDataset,
    has_split_file,
    open_dataset,
    reader_class,
    resolve_root,
)
from iadbench.data.base import SUBSET_NAMES, DatasetReader, SubsetName
from iadbench.data.fingerprint import fingerprint_samples
from iadbench.data.splits import first_per_category, load_split_table
from iadbench.execution.registry import METHODS
from iadbench.runs.runspec import ZERO_SHOT, DatasetRef, RunSpec
from iadbench.runs.thresholds import DEFAULT_POLICY, TRAINING_DATA_POLICIES, parse_policy


@dataclass
class RunRequest:
    """What a user asked for (CLI flags), before resolution."""

    method: str
    train: str | None  # None: a zero-shot run (no training stage, no training-data threshold)
    test: str
    train_split: str | None = None
    test_split: str | None = None
    options: dict[str, str] = field(default_factory=dict)
    tiny: bool = False
    seed: int = 0
    threshold: str | None = None
    data_roots: dict[str, str] = field(default_factory=dict)
    out: Path | None = None
    device: str = "auto"
    batch_size: int | None = None
    workers: int | None = None  # DataLoader workers for adapters with a preprocessor
    force_overlap: bool = False
    overwrite: bool = False
    cache_dir: Path | None = None
    command: list[str] = field(default_factory=list)
    verify_content: bool = False  # also fingerprint file contents (reads every byte)
    limit: int | None = None  # only the first N test images per category (a partial run)


@dataclass
class PlannedData:
    """The samples a run reads, indexed once at planning, and their fingerprints.

    Attributes:
        test_reader: Reader of the test dataset (its folder-balance warnings are shown on run).
        test: Test samples, in test order.
        train: Training samples when the method trains, else None.
        calibration: The training dataset's All subset under ``calibrated`` and
            ``normal-quantile``, else None.
        references: A few-shot method's reference images (the test dataset's Train normals that
            are not test images), else None.
        content: ``--verify-content`` digests by role (test, train, calibration, references);
            empty without.
    """

    test_reader: DatasetReader
    test: list[Sample]
    train: list[Sample] | None = None
    calibration: list[Sample] | None = None
    references: list[Sample] | None = None
    content: dict[str, str] = field(default_factory=dict)

    def roles(self) -> dict[str, list[Sample]]:
        """The sample lists the run reads, by role (test, train, calibration, references)."""
        found = {"test": self.test, "train": self.train, "calibration": self.calibration,
                 "references": self.references}  # fmt: skip
        return {role: samples for role, samples in found.items() if samples is not None}


@dataclass
class PlannedRun:
    """A fully resolved run, ready to execute."""

    request: RunRequest
    spec: RunSpec
    adapter_cls: type[MethodAdapter[Any]]
    options: Any
    out: Path
    cache_dir: Path
    data: PlannedData

    @property
    def config_hash(self) -> str:
        """Content hash of the run's configuration."""
        return self.spec.config_hash()


def _split(value: str | None, default: str, flag: str) -> SubsetName:
    split = value or default
    if split not in SUBSET_NAMES:
        raise IADBenchError(f"{flag} must be one of {', '.join(SUBSET_NAMES)}, got {split!r}")
    return cast("SubsetName", split)  # checked just above


def plan_run(request: RunRequest) -> PlannedRun:
    """Resolve method, options, dataset roots, splits, threshold and output dir.

    Raises:
        UnknownNameError: Unknown method or option.
        DatasetNotFoundError: A dataset root is not given or does not exist.
        IADBenchError: Any other invalid argument.
    """
    _check_numbers(request)
    adapter_cls = METHODS.get(request.method)
    tiny = request.tiny and adapter_cls.capabilities.builds_models
    overrides = {**(tiny_values(adapter_cls.Options) if tiny else {}), **request.options}
    options = build_options(adapter_cls.Options, overrides)
    table = load_split_table()
    caps = adapter_cls.capabilities
    threshold = request.threshold or (DEFAULT_POLICY if caps.gives_scores else None)
    if threshold is not None:
        if not caps.gives_scores:
            raise IADBenchError(
                f"method {request.method!r} gives no scores; --threshold does not apply"
            )
        threshold = str(parse_policy(threshold))
    # Own parts split by `iadbench data split`: test on their held-out Test subset, and train on
    # Train when they are also the training set (Table II's subsets pair two datasets).
    own_split = has_split_file(request.test, _absolute(request.test, request.data_roots))
    own_train = own_split and request.train == request.test
    train_default = "train" if own_train else table.train_split(request.method)
    train_split = _split(request.train_split, train_default, "--train-split")
    test_default = "test" if own_split else table.inference_default
    test_split = _split(request.test_split, test_default, "--test-split")
    test_reader = open_dataset(request.test, _absolute(request.test, request.data_roots))
    test_samples = test_reader.samples(test_split)
    if request.limit is not None:
        test_samples = first_per_category(test_samples, request.limit)
    data = PlannedData(test_reader, test_samples)
    if (shots := adapter_cls.reference_shots(options)) > 0:
        data.references = _references(request, test_reader, test_samples, shots)
    train_ref: DatasetRef | None = None
    method_trains = trains(adapter_cls, options)
    if uses_training_data(adapter_cls, options, threshold):
        if request.train is None:
            raise IADBenchError(_needs_train_message(request.method, method_trains, threshold))
        train_reader = open_dataset(request.train, _absolute(request.train, request.data_roots))
        if method_trains:
            data.train = train_reader.samples(train_split)
            if caps.needs_masks and not any(s.mask_path for s in data.train):
                raise IADBenchError(
                    f"method {request.method!r} trains on defect masks, and the {train_split!r} "
                    f"subset of {request.train!r} holds none ({len(data.train)} images). Choose "
                    "a training subset with defects and masks (--train-split test or all), as "
                    "in Table II." + _mask_hint(request.train)
                )
            labels = {s.label for s in data.train}
            if caps.needs_both_labels and len(labels) < 2:
                raise IADBenchError(
                    f"method {request.method!r} learns from normal and defect images, and the "
                    f"{train_split!r} subset of {request.train!r} holds only "
                    f"{'/'.join(sorted(labels)) or 'no'} images ({len(data.train)}): it could "
                    "only learn one answer. Train on a subset with both (for your own parts: "
                    "`iadbench data split --train-defect-ratio R`), or use a method that trains "
                    "on normal images alone (anomalygpt)."
                )
        if threshold is not None and parse_policy(threshold).kind in TRAINING_DATA_POLICIES:
            data.calibration = train_reader.samples("all")
        train_root = str(train_reader.root)
        train_ref = DatasetRef(request.train, train_split, train_root, _stat(data.train))
    if request.verify_content:
        data.content = {
            role: fingerprint_samples(samples, "content").digest
            for role, samples in data.roles().items()
        }
    spec = RunSpec(
        method=request.method,
        method_version=adapter_cls.version,
        options=adapter_cls.options_dict(options),
        tiny=tiny,  # --tiny cannot change a model-free method
        train=train_ref,  # None for a zero-shot run: keyed by its test set only
        test=DatasetRef(request.test, test_split, str(test_reader.root), _stat(data.test)),
        threshold=threshold,
        seed=request.seed,
        calibration_fingerprint=_stat(data.calibration),
        limit=request.limit,
        references_fingerprint=_stat(data.references),
    )
    source = ZERO_SHOT if train_ref is None else f"{train_ref.name}-{train_split}"
    out = request.out or Path("runs") / request.method / (
        f"{source}_to_{request.test}-{test_split}_{spec.config_hash()[:8]}"
    )
    cache_dir = request.cache_dir or default_cache_dir()
    return PlannedRun(request, spec, adapter_cls, options, Path(out), cache_dir, data)


def uses_training_data(
    adapter_cls: type[MethodAdapter[Any]], options: Any, threshold: str | None
) -> bool:
    """Whether a run reads its training dataset.

    It does when the method trains (:func:`~iadbench.contract.method.trains`) or its threshold
    is chosen on the training data (``calibrated``, ``normal-quantile``). Other runs are
    zero-shot: they take no ``--train`` and are keyed by their test set alone.
    """
    policy_reads_train = (
        threshold is not None and parse_policy(threshold).kind in TRAINING_DATA_POLICIES
    )
    return trains(adapter_cls, options) or policy_reads_train


def _needs_train_message(method: str, trains: bool, threshold: str | None) -> str:
    why = "trains" if trains else f"chooses its threshold ({threshold}) on training data"
    return f"method {method!r} {why}; name the training dataset with --train NAME"


def _mask_hint(name: str) -> str:
    """For a folder dataset: where its masks come from, and which methods train without them."""
    if reader_class(name) is not FolderDataset:
        return ""
    return (
        f" {name!r} is a folder dataset: its images have masks only where its split file's mask "
        f"column names them. Train this method on a dataset with masks (e.g. --train visa "
        f"--test {name}), or choose a method that trains on normal images alone (anomalygpt); "
        "lr-iad needs defects among its training images (`iadbench data split "
        "--train-defect-ratio`)."
    )


def _references(
    request: RunRequest, reader: DatasetReader, test: list[Sample], shots: int
) -> list[Sample]:
    """Few-shot references: the test dataset's Train normals outside the test set, in id order.

    Raises:
        IADBenchError: A test category has fewer than ``shots`` of them.
    """
    candidates = reference_candidates(reader, test)
    found = Counter(s.category for s in candidates)
    short = sorted(c for c in {s.category for s in test} if found[c] < shots)
    if short:
        raise IADBenchError(
            f"method {request.method!r} compares each test image with {shots} normal reference "
            f"image(s) of its category from the Train subset of {request.test!r}, outside the "
            f"test images; {', '.join(f'{c} has {found[c]}' for c in short)}. Test on the Test "
            "subset (--test-split test: the All split holds every Train image) or lower the "
            "number of shots."
        )
    return candidates


def reference_candidates(reader: DatasetReader, test: list[Sample]) -> list[Sample]:
    """The normal images of ``reader``'s Train subset that are not test images, in id order."""
    tested = {s.id for s in test}
    found = [s for s in reader.samples("train") if s.label == NORMAL and s.id not in tested]
    return sorted(found, key=lambda s: s.id)


def references_by_category(samples: list[Sample]) -> dict[str, tuple[Sample, ...]]:
    """Reference images grouped as ``RunContext.references`` takes them."""
    grouped: dict[str, list[Sample]] = {}
    for sample in samples:
        grouped.setdefault(sample.category, []).append(sample)
    return {category: tuple(group) for category, group in grouped.items()}


def _absolute(name: str, data_roots: dict[str, str]) -> Path:
    """A dataset's root as an absolute path (two relative ``--data visa=visa`` are two places)."""
    return resolve_root(name, data_roots).resolve()


def _stat(samples: list[Sample] | None) -> str | None:
    return None if samples is None else fingerprint_samples(samples).digest


def _check_numbers(request: RunRequest) -> None:
    """Refuse numbers that would give a wrong result or a traceback, before anything is read.

    A negative batch size skipped and duplicated images with exit 0; negative workers and an
    ``--out`` that is a file crashed later.
    """
    if request.batch_size is not None and request.batch_size < 1:
        raise IADBenchError(f"--batch-size must be at least 1, got {request.batch_size}")
    if request.limit is not None and request.limit < 1:
        raise IADBenchError(f"--limit must be at least 1, got {request.limit}")
    if request.workers is not None and request.workers < 0:
        raise IADBenchError(f"--workers must be 0 or more, got {request.workers}")
    if request.out is not None and Path(request.out).exists() and not Path(request.out).is_dir():
        raise IADBenchError(f"--out {request.out} is a file; a run needs a directory there")


def train_hash(plan: PlannedRun) -> str:
    """Key of the trained artefacts: everything training depends on (not test data)."""
    return plan.spec.train_hash(inference_only_names(plan.adapter_cls.Options))


def batch_size(plan: PlannedRun) -> int:
    """Images per predict call: ``--batch-size`` or the method's default."""
    return plan.request.batch_size or plan.adapter_cls.default_batch_size


def trained_dir(plan: PlannedRun) -> Path:
    """Where the run's trained artefacts live: ``<cache>/trained/<method>/<train hash>``."""
    return plan.cache_dir / "trained" / plan.spec.method / train_hash(plan)
