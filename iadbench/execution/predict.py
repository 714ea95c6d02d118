"""``iadbench predict``: a method on unlabeled images, outside any run and any dataset layout.

The method configuration is a :class:`~iadbench.execution.predictor.Predictor` (from a stored run
or from the same flags as ``run``); the images are found by
:func:`~iadbench.execution.unlabeled_images.unlabeled_samples` and the rows written by
:mod:`iadbench.execution.label_files`.

Images are predicted exactly as a run predicts them
(:func:`iadbench.execution.predict_loop.predict_batches`,
labels decided by :func:`iadbench.runs.thresholds.final_label`), so a file predicted here gets the
label it gets in a run with the same configuration and batch order.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from iadbench.contract.artifacts import map_path
from iadbench.contract.progress import ProgressHook, SilentProgress
from iadbench.execution.label_files import write_rows, writer_for
from iadbench.execution.predict_loop import predict_batches
from iadbench.execution.predictor import Predictor, predictor_adapter, resolve_predictor
from iadbench.execution.request import RunRequest
from iadbench.execution.unlabeled_images import unlabeled_samples
from iadbench.runs.thresholds import final_label


@dataclass(frozen=True)
class PredictOutcome:
    """What was written: the output file, rows per label, and the predictor used."""

    output: Path
    counts: dict[str, int]
    predictor: Predictor


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
    progress: ProgressHook | None = None,
) -> PredictOutcome:
    """Predict every image ``inputs`` names and write one row per image to ``output``.

    An image that cannot be read gets its error in its row (label ``invalid``) and the others go
    on; a failure of the machine raises (the CLI exits 75).

    Args:
        source: The method's flags, or a complete run dir whose configuration, training and
            threshold are reused (:func:`~iadbench.execution.predictor.resolve_predictor`).
        inputs: Image files and folders (searched recursively for image files).
        output: ``.jsonl`` or ``.csv`` file written with one row per image.
        category: Category name told to the method (text methods put it in the prompt); default
            the name of each image's folder.
        dataset: Dataset name told to the method (AnomalyGPT picks its object description by
            dataset and category); default the predictor's (a run's test dataset).
        device: ``--device`` as given.
        batch_size: Images per predict call (default: the method's).
        workers: DataLoader workers for adapters with a preprocessor.
        progress: Progress display.

    Raises:
        IADBenchError: Bad arguments, a missing training, an output of another format.
    """
    writer = writer_for(output)
    progress = progress or SilentProgress()
    predictor = resolve_predictor(source)
    samples = unlabeled_samples(inputs, category, dataset or predictor.dataset)
    predictor.check_categories(s.category for s in samples)
    maps_dir = output.with_name(output.stem + "-artifacts")
    adapter = predictor_adapter(predictor, device, maps_dir)
    batch = batch_size or predictor.setup.adapter_cls.default_batch_size
    rows: list[dict[str, Any]] = []
    progress.start(f"{predictor.method} predict", len(samples))
    for done, predictions in predict_batches(adapter, samples, batch_size=batch, workers=workers):
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
    write_rows(output, rows, writer)
    return PredictOutcome(output, dict(Counter(r["label"] for r in rows)), predictor)
