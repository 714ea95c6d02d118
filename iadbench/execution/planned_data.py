"""The data a planned run reads: indexed and fingerprinted once, before any work starts.

:func:`index_data` opens the test and training datasets a request names, picks their subsets
(Table II's defaults, ``splits/one_class.toml``'s for a one-class method, or a folder
dataset's own split), applies the one-class protocols, finds a few-shot method's reference
images and fingerprints every list, so the configuration hash says which images a run reads.
``predict --from-run`` finds a few-shot run's references again through the same rule
(:func:`stored_references`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, cast

from iadbench.contract.errors import DatasetNotFoundError, IADBenchError
from iadbench.contract.method import MethodAdapter, trains
from iadbench.contract.records import Sample
from iadbench.data import (
    FolderDataset,
    has_split_file,
    open_dataset,
    reader_class,
    resolve_root,
)
from iadbench.data.base import SUBSET_NAMES, DatasetReader, RootDepthError, SubsetName
from iadbench.data.fingerprint import fingerprint_samples
from iadbench.data.splits import (
    SplitError,
    check_no_overlap,
    check_reference_shots,
    first_per_category,
    one_class_refusal,
    one_class_training,
    only_categories,
    reference_candidates,
    reference_policy_refusal,
    split_table_for,
)
from iadbench.execution.calibration_data import (
    DEFAULT_CALIBRATION_RATIO,
    CalibrationChoice,
    choose_calibration,
    training_data_policy,
)
from iadbench.execution.request import RunRequest
from iadbench.runs.runspec import DatasetRef

#: Suffix of a capped training's dir (``<train hash>-stratified``): the subsample is not in the
#: training hash, and the rule drawing it became stratified (issue 19), so a training drawn at
#: random before (often from one label) is never reused; rename it when the rule changes again.
CAPPED_TRAINING_TAG = "stratified"


@dataclass
class PlannedData:
    """The samples a run reads, indexed once at planning, and their fingerprints.

    Attributes:
        test_reader: Reader of the test dataset (its folder-balance warnings are shown on run).
        test: Test samples, in test order.
        train: Training samples when the method trains, else None.
        calibration: The images a ``calibrated`` or ``normal-quantile`` threshold is chosen
            on (:func:`~iadbench.execution.calibration_data.choose_calibration`), else None.
        calibration_choice: Where those come from (held out or in-sample), else None.
        references: A few-shot method's reference images (the test dataset's Train normals that
            are not test images), else None.
        content: ``--verify-content`` digests by role (test, train, calibration, references);
            empty without.
        trained: The training images ``fit`` actually learns from
            (:meth:`~iadbench.contract.method.MethodAdapter.training_subset`: ``train`` less a
            method's cap or held-out slice), else None.
        capped: The method's ``max_train_samples`` subsamples ``train`` (0 < cap < its size):
            then the subsample's rule, not only the hash, decides which images train
            (:func:`~iadbench.execution.planning.trained_dir`).
    """

    test_reader: DatasetReader
    test: list[Sample]
    train: list[Sample] | None = None
    calibration: list[Sample] | None = None
    references: list[Sample] | None = None
    content: dict[str, str] = field(default_factory=dict)
    trained: list[Sample] | None = None
    capped: bool = False
    calibration_choice: CalibrationChoice | None = None

    def roles(self) -> dict[str, list[Sample]]:
        """The sample lists the run reads, by role (test, train, calibration, references)."""
        found = {"test": self.test, "train": self.train, "calibration": self.calibration,
                 "references": self.references}  # fmt: skip
        return {role: samples for role, samples in found.items() if samples is not None}

    def balance_problems(self) -> list[str]:
        """What looks wrong in the test dataset: a folder dataset's labels, images not read.

        A normal folder under an unexpected name reads as 100 % defects, and an image nested
        below the layout's folders is not read at all: the runner says both.
        """
        problems = list(self.test_reader.ignored_problems())
        if isinstance(self.test_reader, FolderDataset):
            problems[:0] = self.test_reader.balance_problems()
        return problems

    def one_label_categories(self) -> dict[str, str]:
        """Test categories whose images all carry one label: category → that label.

        Always answering that label scores 100 % accuracy there, and AUROC is undefined.
        """
        labels: dict[str, set[str]] = {}
        for sample in self.test:
            labels.setdefault(sample.category, set()).add(sample.label)
        return {c: next(iter(found)) for c, found in sorted(labels.items()) if len(found) == 1}

    def check_no_overlap(self, *, force: bool, fix: str | None = None) -> None:
        """Refuse to test a training method on its own training images (``--force-overlap``).

        ``fix``: the refusal's advice where ``run``'s flags do not apply (``matrix``).

        Raises:
            SplitError: Training and test samples share images, and ``force`` is off.
        """
        assert self.train is not None
        check_no_overlap(self.train, self.test, force=force, fix=fix)


def index_data(
    request: RunRequest,
    adapter_cls: type[MethodAdapter[Any]],
    options: Any,
    threshold: str | None,
) -> tuple[PlannedData, DatasetRef, DatasetRef | None]:
    """Open, index and fingerprint what a run of ``adapter_cls`` reads.

    Returns:
        The data, the test dataset's record and the training dataset's (None for a zero-shot
        run: it is keyed by its test set alone).

    Raises:
        DatasetNotFoundError: A dataset root is not given or does not exist.
        IADBenchError: A bad split, no ``--train`` where one is needed, training data the
            method cannot learn from, too few few-shot references.
    """
    caps = adapter_cls.capabilities
    if (refusal := protocol_refusal(request, adapter_cls, options)) is not None:
        raise IADBenchError(refusal)  # before any root is opened: the protocol is the problem
    shots = adapter_cls.reference_shots(options)
    if shots > 0 and training_data_policy(threshold) and request.train not in (None, request.test):
        # Its references cover the test dataset's categories only (docs/metrics.md).
        why = reference_policy_refusal(request.method, str(request.train), request.test,
                                       str(threshold))  # fmt: skip
        raise IADBenchError(why)
    table = split_table_for(one_class=caps.one_class)  # splits/one_class.toml or Table II
    _check_roots(request, uses_training_data(adapter_cls, options, threshold))
    # Own parts split by `iadbench data split`: test on their held-out Test subset, and train on
    # Train when they are also the training set (Table II's subsets pair two datasets).
    own_split = has_split_file(request.test, _absolute(request.test, request.data_roots))
    own_train = own_split and request.train == request.test
    train_default = "train" if own_train else table.train_split(request.method)
    train_split = _split(request.train_split, train_default, "--train-split", request.train)
    test_default = "test" if own_split else table.inference_default
    test_split = _split(request.test_split, test_default, "--test-split", request.test)
    test_reader = open_dataset(request.test, _absolute(request.test, request.data_roots))
    test_samples = test_reader.samples(test_split)
    if request.categories is not None:
        where = f"the {test_split!r} subset of {request.test!r}"
        test_samples = only_categories(test_samples, request.categories, where)
    if request.limit is not None:
        test_samples = first_per_category(test_samples, request.limit)
    data = PlannedData(test_reader, test_samples)
    if shots > 0:
        data.references = reference_candidates(test_reader.samples("train"), test_samples)
        check_reference_shots(request.method, request.test, data.references, test_samples, shots)
    train_ref: DatasetRef | None = None
    method_trains = trains(adapter_cls, options)
    if uses_training_data(adapter_cls, options, threshold):
        if request.train is None:
            raise IADBenchError(_needs_train_message(request.method, method_trains, threshold))
        train_reader = open_dataset(request.train, _absolute(request.train, request.data_roots))
        if method_trains:
            data.train = train_reader.samples(train_split)
            if not data.train:  # fit([]) "trained", was marked TRAINED and stored NaN (issue 18)
                raise IADBenchError(_empty_training_message(request, train_reader, train_split))
            if caps.one_class:  # normals of the tested categories only (splits/one_class.toml)
                tested = list(dict.fromkeys(s.category for s in test_samples))
                where = f"the {train_split!r} subset of {request.train!r}"
                data.train = one_class_training(data.train, tested, where)
        if (kind := training_data_policy(threshold)) is not None:
            # Before the checks below: images held out for the threshold leave data.train.
            _choose_calibration(request, kind, data, train_reader)
        if data.train is not None:
            if caps.needs_masks and not any(s.mask_path for s in data.train):
                raise IADBenchError(
                    f"method {request.method!r} trains on defect masks, and the {train_split!r} "
                    f"subset of {request.train!r} holds none ({len(data.train)} images). Choose "
                    "a training subset with defects and masks (--train-split test or all), as "
                    "in Table II." + _mask_hint(request.train)
                )
            # The method's own cap / held-out slice: the checks judge what is trained on.
            data.trained = adapter_cls.training_subset(data.train, options, request.seed)
            # The convention of every capping method (sampling.py): a monitor's held-out slice
            # alone is no cap (its rule never changed), so only this option tags the dir.
            cap = getattr(options, "max_train_samples", 0)
            data.capped = isinstance(cap, int) and 0 < cap < len(data.train)
            if caps.needs_both_labels:
                _check_both_labels(request, train_split, data.train, data.trained)
        train_root = str(train_reader.root)
        train_ref = DatasetRef(request.train, train_split, train_root, sample_digest(data.train))
    if request.verify_content:
        data.content = {
            role: fingerprint_samples(samples, "content").digest
            for role, samples in data.roles().items()
        }
    test_root = str(test_reader.root)
    test_ref = DatasetRef(request.test, test_split, test_root, sample_digest(data.test))
    return data, test_ref, train_ref


def _choose_calibration(
    request: RunRequest, kind: str, data: PlannedData, reader: DatasetReader
) -> None:
    """The images the threshold is chosen on (:mod:`~iadbench.execution.calibration_data`).

    Images held out for it leave ``data.train`` here, before anything is fingerprinted, so the
    training hash names what ``fit`` really learns from.
    """
    assert request.train is not None
    ratio = calibration_ratio(request)
    every_image = reader.samples("all")
    if request.train == request.test:
        # One dataset: calibrate on the tested categories only (`--categories` leaves others
        # out; a per-category model has none for them). Whole runs test every category.
        tested = {s.category for s in data.test}
        every_image = [s for s in every_image if s.category in tested]
    choice = choose_calibration(
        kind, request.train, every_image, data.train, data.test, ratio, request.seed,
        data.references or (),
    )  # fmt: skip
    data.calibration, data.calibration_choice = choice.samples, choice
    if choice.removed and data.train is not None:
        removed = {s.id for s in choice.removed}
        data.train = [s for s in data.train if s.id not in removed]


def calibration_ratio(request: RunRequest) -> float:
    """``--calibration-ratio``, or the run-level default when not given."""
    given = request.calibration_ratio
    return DEFAULT_CALIBRATION_RATIO if given is None else float(given)


def uses_training_data(
    adapter_cls: type[MethodAdapter[Any]], options: Any, threshold: str | None
) -> bool:
    """Whether a run reads its training dataset.

    It does when the method trains (:func:`~iadbench.contract.method.trains`) or its threshold
    is chosen on the training data (``calibrated``, ``normal-quantile``). Other runs are
    zero-shot: they take no ``--train`` and are keyed by their test set alone.
    """
    return trains(adapter_cls, options) or training_data_policy(threshold) is not None


def protocol_refusal(
    request: RunRequest, adapter_cls: type[MethodAdapter[Any]], options: Any
) -> str | None:
    """Why this train→test pair is not a protocol of the method, or None when it is.

    A one-class method that trains (:attr:`~iadbench.contract.method.Capabilities.one_class`)
    learns each tested category's normal images, so it trains on the dataset it tests; another
    training dataset (or none) is refused, naming the same-dataset and few-shot protocols.
    ``matrix`` skips such cells with the same sentence.
    """
    if not (adapter_cls.capabilities.one_class and trains(adapter_cls, options)):
        return None
    if request.train == request.test:
        return None
    few_shot = "shots" in {f.name for f in fields(adapter_cls.Options)}
    return one_class_refusal(request.method, request.train, request.test, few_shot=few_shot)


def sample_digest(samples: list[Sample] | None) -> str | None:
    """The fingerprint of a sample list (file names, sizes, times), or None for no list."""
    return None if samples is None else fingerprint_samples(samples).digest


def _split(value: str | None, default: str, flag: str, dataset: str | None) -> SubsetName:
    split = value or default
    # A release's subset without public labels (MVTec AD 2's test_private): say why and what to
    # use, not only that the name is not a subset.
    unscored = reader_class(dataset).unscored_subsets.get(split) if dataset else None
    if unscored is not None:
        raise IADBenchError(f"{flag} {split}: {unscored}")
    if split not in SUBSET_NAMES:
        raise IADBenchError(f"{flag} must be one of {', '.join(SUBSET_NAMES)}, got {split!r}")
    return cast("SubsetName", split)  # checked just above


def _needs_train_message(method: str, trains: bool, threshold: str | None) -> str:
    why = "trains" if trains else f"chooses its threshold ({threshold}) on training data"
    return f"method {method!r} {why}; name the training dataset with --train NAME"


def _empty_training_message(request: RunRequest, reader: DatasetReader, split: str) -> str:
    """Why a method cannot train on ``split`` of the training dataset: it holds no image."""
    name = request.train or ""
    if isinstance(reader, FolderDataset) and not has_split_file(name, reader.root):
        fix = (
            f"{name!r} is a folder dataset without a split file, so all its images are test "
            "images: split it first (`iadbench data split`) or pass --train-split test or all."
        )
    else:
        fix = "Choose a subset that holds images (--train-split train, test or all)."
    return (
        f"method {request.method!r} trains, and the {split!r} subset of {name!r} "
        f"({reader.root}) holds no images, so there is nothing to learn from. {fix}"
    )


def _check_both_labels(
    request: RunRequest, split: str, subset: list[Sample], trained: list[Sample]
) -> None:
    """Refuse training a method that needs both labels on images that hold one.

    Judged on what is trained on (``trained``: after the method's cap), not on the subset.

    Raises:
        IADBenchError: ``trained`` holds one label (or none).
    """
    labels = {s.label for s in trained}
    if len(labels) >= 2:
        return
    held = "/".join(sorted(labels)) or "no"
    where = f"the {split!r} subset of {request.train!r}"
    if len({s.label for s in subset}) >= 2:  # the cap or a held-out slice took the other label
        raise IADBenchError(
            f"method {request.method!r} learns from normal and defect images, and of {where} "
            f"({len(subset)} images) it would train on {len(trained)}, only {held}: it could "
            "only learn one answer. Raise the method's max_train_samples (--set "
            "max_train_samples=N, N ≥ 2, or 0 for all) or lower what it holds out."
        )
    raise IADBenchError(
        f"method {request.method!r} learns from normal and defect images, and {where} holds "
        f"only {held} images ({len(subset)}): it could only learn one answer. Train on a "
        "subset with both (for your own parts: `iadbench data split --train-defect-ratio R`), "
        "or use a method that trains on normal images alone (anomalygpt)."
    )


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


def references_by_category(samples: list[Sample]) -> dict[str, tuple[Sample, ...]]:
    """Reference images grouped as ``RunContext.references`` takes them."""
    grouped: dict[str, list[Sample]] = {}
    for sample in samples:
        grouped.setdefault(sample.category, []).append(sample)
    return {category: tuple(group) for category, group in grouped.items()}


def stored_references(config: Mapping[str, Any]) -> list[Sample] | None:
    """A stored few-shot run's reference images, found again by the rule that chose them.

    Args:
        config: The run's configuration (``manifest.json``'s ``config``: its test dataset,
            limit and references fingerprint).

    Returns:
        The references, or None when they are not the ones the run compared with (added,
        removed or changed since).

    Raises:
        DatasetNotFoundError: The run's test dataset is gone.
    """
    test = config["test"]
    reader = open_dataset(test["name"], test["root"])
    tested = reader.samples(test["split"])
    if config.get("categories") is not None:
        try:
            tested = only_categories(tested, config["categories"], f"{test['name']!r}")
        except SplitError:  # a category of the run is gone: these are not its references
            return None
    if config.get("limit") is not None:
        tested = first_per_category(tested, int(config["limit"]))
    candidates = reference_candidates(reader.samples("train"), tested)
    if sample_digest(candidates) != config.get("references_fingerprint"):
        return None
    return candidates


def _check_roots(request: RunRequest, reads_train: bool) -> None:
    """Every missing dataset root at once, with the way to get data (issue 19).

    A user without the datasets was told about one root, fixed it, then met the next.
    """
    names = dict.fromkeys([request.test, *([request.train] if reads_train else [])])
    problems: list[DatasetNotFoundError] = []
    for name in (n for n in names if n is not None):
        try:  # opening checks the root and its layout; nothing is indexed yet
            open_dataset(name, resolve_root(name, request.data_roots))
        except DatasetNotFoundError as missing:
            problems.append(missing)
    if problems and all(isinstance(p, RootDepthError) for p in problems):
        # The data is there, one folder off: each sentence names the path; no synth advice.
        raise RootDepthError("\n".join(map(str, problems)))
    if problems:
        raise DatasetNotFoundError(
            "\n".join(map(str, problems))
            + "\nNo dataset at hand? `iadbench data synth mvtec DIR` (or visa) "
            "writes a synthetic tree in the official layout, and `iadbench demo` runs the whole "
            "pipeline on synthetic data."
        )


def _absolute(name: str, data_roots: dict[str, str]) -> Path:
    """A dataset's root as an absolute path (two relative ``--data visa=visa`` are two places)."""
    return resolve_root(name, data_roots).resolve()
