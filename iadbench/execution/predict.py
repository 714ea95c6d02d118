"""``iadbench predict``: a method on unlabeled images, outside any run and any dataset layout.

The method comes either from a stored run (``--from-run DIR``: its method, options, seed, trained
artefacts and the threshold value its policy chose) or from the same flags as ``run``: a method
that trains is then found by its training hash (``<cache>/trained/<method>/<hash>``, written by
``iadbench train`` or ``run``) unless its options name trained weights (LR-IAD's ``adapter=``,
AnomalyGPT's ``checkpoint=``; :func:`~iadbench.contract.method.trains`).
Nothing is
trained here: a missing training is an error that names the command making it.

Images are predicted exactly as a run predicts them
(:func:`iadbench.execution.predict_loop.predict_batches`,
labels decided by :func:`iadbench.runs.thresholds.final_label`), so a file predicted here gets the
label it gets in a run with the same configuration and batch order.
"""

from __future__ import annotations

import csv
import json
import os
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from iadbench.contract.artifacts import map_path
from iadbench.contract.errors import IADBenchError
from iadbench.contract.method import MethodAdapter, RunContext, trains
from iadbench.contract.options import build_options, option_text, tiny_values
from iadbench.contract.progress import ProgressHook, SilentProgress
from iadbench.contract.records import NORMAL, Sample
from iadbench.data.base import IMAGE_SUFFIXES
from iadbench.execution.predict_loop import predict_batches
from iadbench.execution.registry import METHODS
from iadbench.runs.thresholds import DEFAULT_POLICY, final_label, parse_policy

#: Columns of every output row, in order (CSV header; JSONL keys).
OUTPUT_COLUMNS: Final = ("path", "category", "label", "score", "threshold", "text", "map", "error")
#: Dataset name of unlabeled images in the samples handed to the adapter.
UNLABELED: Final = "unlabeled"


@dataclass
class PredictRequest:
    """What ``iadbench predict`` was asked for.

    Attributes:
        inputs: Image files and folders (searched recursively for image files).
        output: ``.jsonl`` or ``.csv`` file written with one row per image.
        method: Method name; not with ``from_run``.
        from_run: A complete run dir whose configuration, training and threshold are reused.
        train: Training dataset of a method that trains (its training hash finds the weights).
        category: Category name told to the method (text methods put it in the prompt); default
            the name of each image's folder.
        dataset: Dataset name told to the method (AnomalyGPT picks its object description by
            dataset and category); default the test dataset of ``from_run``, else
            :data:`UNLABELED`.
    """

    inputs: list[Path]
    output: Path
    method: str | None = None
    from_run: Path | None = None
    train: str | None = None
    train_split: str | None = None
    options: dict[str, str] = field(default_factory=dict)
    tiny: bool = False
    seed: int = 0
    threshold: str | None = None
    data_roots: dict[str, str] = field(default_factory=dict)
    category: str | None = None
    dataset: str | None = None
    device: str = "auto"
    batch_size: int | None = None
    workers: int = 0
    cache_dir: Path | None = None


@dataclass(frozen=True)
class Predictor:
    """A resolved method configuration: what predicts, from which weights, with which threshold.

    Attributes:
        source: Where the configuration came from, for people (``run DIR`` or ``flags``).
        dataset: Dataset name the images are presented under (the run's test dataset).
        threshold_value: The number a score decides against (None: the method's own labels).
        workdir: The training dir loaded, or None.
        references: A few-shot configuration's reference images per category (the run's), else
            empty.
    """

    method: str
    adapter_cls: type[MethodAdapter[Any]]
    options: Any
    tiny: bool
    seed: int
    threshold: str | None
    threshold_value: float | None
    workdir: Path | None
    source: str
    dataset: str = UNLABELED
    references: Mapping[str, tuple[Sample, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class PredictOutcome:
    """What was written: the output file, rows per label, and the predictor used."""

    output: Path
    counts: dict[str, int]
    predictor: Predictor


def resolve_predictor(request: PredictRequest) -> Predictor:
    """The method configuration ``request`` names, with its trained weights located.

    Raises:
        IADBenchError: Neither or both of method and run are given, the run is incomplete or
            from another method version, or a policy needs what predict cannot know.
    """
    if (request.method is None) == (request.from_run is None):
        raise IADBenchError("name either --method or --from-run DIR (exactly one)")
    if request.from_run is not None:
        return _from_run(request.from_run)
    assert request.method is not None
    adapter_cls = METHODS.get(request.method)
    caps = adapter_cls.capabilities
    tiny = request.tiny and caps.builds_models
    overrides = {**(tiny_values(adapter_cls.Options) if tiny else {}), **request.options}
    options = build_options(adapter_cls.Options, overrides)
    threshold = request.threshold or (DEFAULT_POLICY if caps.gives_scores else None)
    value = None
    if threshold is not None:
        if not caps.gives_scores:
            raise IADBenchError(
                f"method {request.method!r} gives no scores; --threshold does not apply"
            )
        policy = parse_policy(threshold)
        if policy.kind != "fixed":
            raise IADBenchError(
                f"--threshold {threshold}: predict has no labelled images to choose a threshold "
                f"on; use --from-run DIR of a run under that policy (its chosen value is applied) "
                f"or fixed:T"
            )
        threshold, value = str(policy), policy.value
    workdir = None
    if trains(adapter_cls, options) and request.train is not None:
        workdir = _trained_dir_by_hash(request)
    return Predictor(
        request.method, adapter_cls, options, tiny, request.seed, threshold, value, workdir, "flags"
    )


def _trained_dir_by_hash(request: PredictRequest) -> Path:
    """The training dir ``run`` would use for these flags (the training data is fingerprinted)."""
    from iadbench.execution.planning import RunRequest, plan_run, trained_dir

    assert request.train is not None and request.method is not None
    plan = plan_run(
        RunRequest(
            method=request.method, train=request.train, test=request.train,
            train_split=request.train_split, options=request.options, tiny=request.tiny,
            seed=request.seed, data_roots=request.data_roots, cache_dir=request.cache_dir,
        )
    )  # fmt: skip
    return trained_dir(plan)


def _from_run(run_dir: Path) -> Predictor:
    from iadbench.views.leaderboard.collect import MANIFEST_FILE, SUMMARY_FILE

    try:
        manifest = json.loads((run_dir / MANIFEST_FILE).read_text(encoding="utf-8"))
        summary = json.loads((run_dir / SUMMARY_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise IADBenchError(
            f"--from-run {run_dir}: no readable {MANIFEST_FILE} and {SUMMARY_FILE} there ({exc}); "
            "give the dir of a complete run"
        ) from None
    if manifest.get("status") != "complete":
        raise IADBenchError(
            f"--from-run {run_dir}: the run is {manifest.get('status')!r}, not complete; finish it "
            "with the same `iadbench run` command first"
        )
    config = manifest["config"]
    adapter_cls = METHODS.get(config["method"])
    if adapter_cls.version != config["method_version"]:
        raise IADBenchError(
            f"--from-run {run_dir}: made by {config['method']} version {config['method_version']}, "
            f"installed is version {adapter_cls.version}, whose predictions differ"
        )
    options = build_options(
        adapter_cls.Options, {k: option_text(v) for k, v in config["options"].items()}
    )
    trained = manifest.get("trained_artifacts")
    references = {}
    if adapter_cls.reference_shots(options) > 0:
        references = _run_references(run_dir, config)
    return Predictor(
        config["method"],
        adapter_cls,
        options,
        bool(config["tiny"]),
        int(config["seed"]),
        summary.get("threshold"),
        summary.get("threshold_value"),
        Path(trained) if trained else None,
        f"run {run_dir}",
        str(summary["test"]["dataset"]),
        references,
    )


def _run_references(run_dir: Path, config: Mapping[str, Any]) -> dict[str, tuple[Sample, ...]]:
    """A few-shot run's reference images, found again and checked against its fingerprint.

    Raises:
        IADBenchError: The run's test dataset is gone, or its reference images changed.
    """
    from iadbench.data import open_dataset
    from iadbench.data.fingerprint import fingerprint_samples
    from iadbench.data.splits import first_per_category
    from iadbench.execution.planning import reference_candidates, references_by_category

    test = config["test"]
    reader = open_dataset(test["name"], test["root"])
    tested = reader.samples(test["split"])
    if config.get("limit") is not None:
        tested = first_per_category(tested, int(config["limit"]))
    candidates = reference_candidates(reader, tested)
    if fingerprint_samples(candidates).digest != config.get("references_fingerprint"):
        raise IADBenchError(
            f"--from-run {run_dir}: the few-shot reference images under {test['root']} are not "
            "the ones the run compared with (added, removed or changed since); predict with "
            "a fresh run"
        )
    return references_by_category(candidates)


def unlabeled_samples(
    inputs: Sequence[Path], category: str | None = None, dataset: str = UNLABELED
) -> list[Sample]:
    """Samples for image files and the image files under folders (recursively, sorted).

    Ids are the images' paths relative to the deepest folder holding every input (unique, and
    safe as file names under a maps dir); ``image_path`` is the absolute path. The label is a
    placeholder that no output shows: adapters never read labels when they predict.

    Raises:
        IADBenchError: An input does not exist, or no image file is found.
    """
    files: list[Path] = []
    folders: list[Path] = []
    for given in inputs:
        path = given.expanduser().resolve()
        if path.is_dir():
            files.extend(sorted(_image_files(path)))
            folders.append(path)
        elif path.is_file():
            files.append(path)
            folders.append(path.parent)
        else:
            raise IADBenchError(f"{given} is neither an image file nor a folder")
    if not files:
        suffixes = ", ".join(sorted(IMAGE_SUFFIXES))
        raise IADBenchError(f"no image file ({suffixes}) in {', '.join(map(str, inputs))}")
    base = Path(os.path.commonpath(folders))
    return [
        Sample(
            id=path.relative_to(base).as_posix(),
            dataset=dataset,
            category=category or path.parent.name,
            subset="test",
            label=NORMAL,
            image_path=str(path),
        )
        for path in dict.fromkeys(files)  # an image named twice is predicted once
    ]


def _image_files(folder: Path) -> Iterator[Path]:
    for root, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in names:
            if not name.startswith(".") and os.path.splitext(name)[1].lower() in IMAGE_SUFFIXES:
                yield Path(root) / name


def build_adapter(predictor: Predictor, device: str, maps_dir: Path) -> MethodAdapter[Any]:
    """The adapter with its trained weights loaded.

    Raises:
        IADBenchError: The method needs a training that is not stored.
    """
    adapter_cls = predictor.adapter_cls
    if adapter_cls.reference_shots(predictor.options) > 0 and not predictor.references:
        raise IADBenchError(
            f"{predictor.method} is configured few-shot and needs reference images: use "
            "--from-run DIR of a few-shot run (its references are used), or --set few_shot=0"
        )
    if adapter_cls.capabilities.builds_models:
        from iadbench.contract.devices import resolve_device

        device = resolve_device(device)
    context = RunContext(
        tiny=predictor.tiny, device=device, seed=predictor.seed, artifacts_dir=maps_dir,
        workdir=predictor.workdir, references=predictor.references,
    )  # fmt: skip
    adapter = adapter_cls(predictor.options, context=context)
    if trains(adapter_cls, predictor.options):
        _load_training(adapter, predictor)
    return adapter


def _load_training(adapter: MethodAdapter[Any], predictor: Predictor) -> None:
    from iadbench.execution.training_stage import TRAINED_MARKER

    name = predictor.method
    workdir = predictor.workdir
    if workdir is None:
        raise IADBenchError(
            f"{name} trains: name its training with --train DATASET (and the flags the training "
            "used), or use --from-run DIR of a run of it"
        )
    if not (workdir / TRAINED_MARKER).is_file():
        raise IADBenchError(
            f"no finished training of this configuration in {workdir}; make it with "
            "`iadbench train` and the same --method/--train/--set/--tiny/--seed flags (or "
            "`iadbench run`), then predict again"
        )
    adapter.load()


def predict_images(
    request: PredictRequest, progress: ProgressHook | None = None
) -> PredictOutcome:
    """Predict every image ``request`` names and write one row per image.

    An image that cannot be read gets its error in its row (label ``invalid``) and the others go
    on; a failure of the machine raises (the CLI exits 75).

    Raises:
        IADBenchError: Bad arguments, a missing training, an output of another format.
    """
    writer = _writer_for(request.output)
    progress = progress or SilentProgress()
    predictor = resolve_predictor(request)
    dataset = request.dataset or predictor.dataset
    samples = unlabeled_samples(request.inputs, request.category, dataset)
    if predictor.references:
        unknown = sorted({s.category for s in samples} - set(predictor.references))
        if unknown:
            raise IADBenchError(
                f"few-shot {predictor.method} has reference images for "
                f"{', '.join(sorted(predictor.references))} only, not for {', '.join(unknown)}: "
                "put the images in folders named by category, or name it with --category"
            )
    maps_dir = request.output.with_name(request.output.stem + "-artifacts")
    adapter = build_adapter(predictor, request.device, maps_dir)
    batch = request.batch_size or predictor.adapter_cls.default_batch_size
    rows: list[dict[str, Any]] = []
    progress.start(f"{predictor.method} predict", len(samples))
    for done, predictions in predict_batches(
        adapter, samples, batch_size=batch, workers=request.workers
    ):
        for sample, prediction in zip(done, predictions, strict=True):
            label = final_label(
                prediction.label, prediction.score, prediction.error, predictor.threshold_value
            )
            map_file = map_path(maps_dir, sample.id)
            rows.append({
                "path": sample.image_path, "category": sample.category, "label": label,
                "score": prediction.score, "threshold": predictor.threshold_value,
                "text": prediction.text, "map": str(map_file) if map_file.is_file() else None,
                "error": prediction.error,
            })  # fmt: skip
        progress.advance(len(done))
    progress.finish()
    request.output.parent.mkdir(parents=True, exist_ok=True)
    temporary = request.output.with_name(request.output.name + ".tmp")
    writer(temporary, rows)
    temporary.replace(request.output)
    return PredictOutcome(request.output, dict(Counter(r["label"] for r in rows)), predictor)


def _writer_for(output: Path) -> Any:
    suffix = output.suffix.lower()
    if suffix == ".jsonl":
        return _write_jsonl
    if suffix == ".csv":
        return _write_csv
    raise IADBenchError(f"--output {output}: give a .jsonl or .csv file name")


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=OUTPUT_COLUMNS)
        writer.writeheader()
        writer.writerows({k: "" if v is None else v for k, v in row.items()} for row in rows)


__all__ = [
    "OUTPUT_COLUMNS",
    "PredictOutcome",
    "PredictRequest",
    "Predictor",
    "build_adapter",
    "predict_images",
    "resolve_predictor",
    "unlabeled_samples",
]
