"""``iadbench predict``: a method on unlabeled images, outside any run and any dataset layout.

The method configuration is a :class:`~iadbench.execution.predictor.Predictor` (from a stored run
or from the same flags as ``run``); the images are found by
:func:`~iadbench.execution.unlabeled_images.unlabeled_samples` and the rows written by
:mod:`iadbench.execution.label_files`.

Images are predicted exactly as a run predicts them
(:func:`iadbench.execution.predict_loop.predict_batches`,
labels decided by :func:`iadbench.runs.thresholds.final_label`), so a file predicted here gets the
label it gets in a run with the same configuration and batch order.

The output is checked before anything is read or loaded, and rows are appended as they are
predicted: an interrupted command resumes where it stopped
(:class:`~iadbench.execution.predict_log.PredictOutput`).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from iadbench.contract.numbers import optional_whole_number, whole_number
from iadbench.contract.progress import ProgressHook, SilentProgress
from iadbench.contract.records import Sample
from iadbench.execution.label_files import output_row
from iadbench.execution.predict_log import PredictOutput
from iadbench.execution.predict_loop import predict_batches

# RunRequest through the predictor module, which resolves it: one core import fewer here.
from iadbench.execution.predictor import (
    Predictor,
    RunRequest,
    predicting,
    predictor_adapter,
    resolve_predictor,
)
from iadbench.execution.submission import check_submission, write_submission_map
from iadbench.execution.unlabeled_images import told_categories, unlabeled_samples
from iadbench.runs.maps import store_predicted_map


@dataclass(frozen=True)
class PredictOutcome:
    """What was written: the output file, rows per label, and the predictor used.

    Attributes:
        output: The file written.
        counts: Rows per label.
        predictor: The configuration that predicted.
        resumed: Rows an earlier, interrupted attempt of the same command had predicted.
        category_note: One line saying which category the method was told
            (:func:`~iadbench.execution.unlabeled_images.told_categories`).
    """

    output: Path
    counts: dict[str, int]
    predictor: Predictor
    resumed: int = 0
    category_note: str = ""


def predict_images(
    source: RunRequest | Path,
    inputs: Sequence[Path],
    output: Path,
    *,
    category: str | None = None,
    dataset: str | None = None,
    device: str = "auto",
    batch_size: int | None = None,
    workers: int = 0,
    force: bool = False,
    progress: ProgressHook | None = None,
    submission: Path | None = None,
) -> PredictOutcome:
    """Predict every image ``inputs`` names and write one row per image to ``output``.

    An image that cannot be read gets its error in its row (label ``invalid``) and the others go
    on; a failure of the machine raises (the CLI exits 75). Rows are appended to
    ``<output>.partial`` per batch; the same call after an interruption predicts only the images
    without a row, and ``output`` appears when every image has one.

    Args:
        source: The method's flags, or a complete run dir whose configuration, training and
            threshold are reused (:func:`~iadbench.execution.predictor.resolve_predictor`).
        inputs: Image files and folders (searched recursively for image files).
        output: ``.jsonl`` or ``.csv`` file written with one row per image.
        category: Category name told to the method (text methods put it in the prompt). Default:
            the run's (or the training's) category when it has exactly one, else each image's
            folder name, which must then be one of its categories
            (:func:`~iadbench.execution.unlabeled_images.told_categories`).
        dataset: Dataset name told to the method (AnomalyGPT picks its object description by
            dataset and category); default the predictor's (a run's test dataset).
        device: ``--device`` as given.
        batch_size: Images per predict call (default: the method's); at least 1.
        workers: DataLoader workers for adapters with a preprocessor; 0 or more.
        force: Replace an existing ``output`` and discard unfinished rows of an earlier attempt.
        progress: Progress display.
        submission: MVTec AD 2's private test sets: also write each image's map where the
            authors' evaluation server takes it, under this folder
            (:mod:`~iadbench.execution.submission`).

    Raises:
        IADBenchError: Bad arguments, a missing training, an output of another format or in a
            place predict must not write (checked before any model is loaded), unfinished rows
            of another command under ``output``, folder names that are not categories of a run
            with several.
        MethodCrash: The method's ``load`` or ``predict`` raised (the CLI prints one line and
            exits 70, as ``run`` does); the rows predicted before stay in ``<output>.partial``.
    """
    batch_size = optional_whole_number(batch_size, name="batch_size", minimum=1)
    workers = whole_number(workers, name="workers", minimum=0)
    progress = progress or SilentProgress()
    predictor = resolve_predictor(source)
    # The folders predicted are protected as datasets are: `predict ROOT/cat --output
    # ROOT/split.csv --force` replaced a dataset's split file (the attack re-run).
    folders = [path for path in inputs if Path(path).is_dir()]
    target = PredictOutput.checked(
        output, force=force, dataset_roots=[*predictor.data_roots, *folders]
    )
    samples, category_note = told_categories(
        unlabeled_samples(inputs, None, dataset or predictor.dataset),
        category, predictor.categories, predictor.categories_of,
    )  # fmt: skip
    predictor.check_categories(s.category for s in samples)
    submitted = (
        {} if submission is None
        else check_submission(
            submission, samples, [*predictor.data_roots, *folders], method=predictor.method,
            gives_maps=predictor.setup.adapter_cls.capabilities.gives_maps,
        )
    )  # fmt: skip
    identity = _identity(predictor, samples, category, dataset)
    with target:
        done = target.start(identity, restart=force)
        pending = [s for s in samples if s.id not in done]
        maps_dir = output.with_name(output.stem + "-artifacts")
        progress.start(f"{predictor.method} predict", len(samples))
        progress.advance(len(samples) - len(pending))
        if pending:
            adapter = predictor_adapter(predictor, device, maps_dir)
            batch = batch_size or predictor.setup.adapter_cls.default_batch_size
            with predicting(predictor):  # a crash: one line, the rows so far kept
                for finished, predictions in predict_batches(
                    adapter, pending, batch_size=batch, workers=workers
                ):
                    # Each map is written before its row: a resumed command never has a row
                    # whose map is missing (it predicts a row-less image again, replacing it).
                    arrays = [
                        store_predicted_map(maps_dir, s.id, p)
                        for s, p in zip(finished, predictions, strict=True)
                    ]
                    for sample, prediction in zip(finished, predictions, strict=True):
                        if sample.id in submitted:
                            write_submission_map(submitted[sample.id], sample, prediction)
                    threshold = predictor.threshold_value
                    target.append([
                        (sample.id, output_row(sample, prediction, threshold, maps_dir, array))
                        for sample, prediction, array
                        in zip(finished, predictions, arrays, strict=True)
                    ])  # fmt: skip
                    progress.advance(len(finished))
        progress.finish()
        rows = target.finish(identity, [s.id for s in samples])
    resumed = len(samples) - len(pending)
    return PredictOutcome(
        target.output, dict(Counter(r["label"] for r in rows)), predictor, resumed, category_note
    )


def _identity(
    predictor: Predictor, samples: Sequence[Sample], category: str | None, dataset: str | None
) -> dict[str, Any]:
    """What the rows of this command depend on: its configuration, names, and images.

    The categories told count as well as ``--category``: by default they come from the run
    (:func:`~iadbench.execution.unlabeled_images.told_categories`).

    Not the batch size, device or workers: a resumed command may change them (a smaller batch
    after running out of memory) without changing what an image's row says.
    """
    images = hashlib.sha256(
        json.dumps([[s.id, s.image_path] for s in samples], ensure_ascii=True).encode()
    ).hexdigest()
    return {
        "predictor": predictor.identity(),
        "category": category,
        "categories": dict(sorted(Counter(s.category for s in samples).items())),
        "dataset": dataset or predictor.dataset,
        "images": {"count": len(samples), "sha256": images},
    }
