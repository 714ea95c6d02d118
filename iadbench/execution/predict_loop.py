"""Turn a list of samples into predictions, batch by batch, whatever goes wrong with one image.

Adapters without a preprocessor get plain sample batches. Adapters with one get their inputs
from a torch DataLoader (decoding in worker processes, ahead of the model, pinned memory on GPU);
an image the preprocessor fails on becomes an error for that image and never reaches the model.

Only what belongs to the image is its error (missing, truncated, undecodable, refused). A failure
of the machine (disk full, I/O error, out of memory:
:func:`iadbench.contract.errors.environment_cause`)
is never recorded against an image: it stops the loop with :class:`EnvironmentFailure`, and the
images of that batch stay pending for the next attempt.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, cast

from iadbench.contract.errors import (
    ArgumentError,
    EnvironmentFailure,
    IADBenchError,
    environment_cause,
    environment_failure,
)
from iadbench.contract.method import MethodAdapter
from iadbench.contract.numbers import optional_whole_number
from iadbench.contract.records import Prediction, Sample

Batch = tuple[Sequence[Sample], list[Prediction]]


def predict_batches(
    adapter: MethodAdapter[Any],
    samples: Sequence[Sample],
    *,
    batch_size: int,
    workers: int = 0,
    pin_memory: bool = False,
) -> Iterator[Batch]:
    """Yield ``(samples, predictions)`` per batch, in order, one prediction per sample.

    Raises:
        IADBenchError: The adapter returns the wrong number of predictions, or fails on every
            image of the first batch (a broken method, not bad images).
    """
    preprocess = adapter.preprocessor()
    if preprocess is None:
        # A method that never opens images (the baselines) would score a listed file that is
        # not on disk (a VisA 1cls.csv row of a damaged copy): it is that image's error, as for
        # every method that reads it.
        batches: Iterator[tuple[Sequence[Sample], list[Any] | None, dict[int, str]]] = (
            (batch, None, _absent_files(batch))
            for batch in (samples[c.start : c.stop] for c in _chunks(len(samples), batch_size))
        )
    else:
        batches = _loaded_batches(samples, preprocess, batch_size, workers, pin_memory)
    for index, (batch, inputs, failures) in enumerate(batches):
        predictions = _predict_with_failures(adapter, batch, inputs, failures)
        if index == 0:
            _check_not_systematic(batch, predictions)
        yield batch, predictions


def _chunks(count: int, batch_size: int) -> Iterator[range]:
    """Indices ``0 .. count - 1`` in consecutive batches of ``batch_size`` (at least 1)."""
    size = max(1, batch_size)
    return (range(start, min(start + size, count)) for start in range(0, count, size))


def _absent_files(batch: Sequence[Sample]) -> dict[int, str]:
    return {
        i: f"image file not found: {sample.image_path}"
        for i, sample in enumerate(batch)
        if not os.path.isfile(sample.image_path)
    }


def predict_samples(
    adapter: MethodAdapter[Any], samples: Sequence[Sample], *, batch_size: int | None = None
) -> list[Prediction]:
    """Predict ``samples`` outside a run, exactly as a run does (decoding in this process).

    The adapter's preprocessor prepares every input (``predict`` always receives them), an
    image that cannot be read becomes that image's error, a machine failure raises. Use it in
    notebooks and tests instead of calling ``adapter.predict`` on raw samples.

    Example:
        >>> from iadbench_methods.baselines import AlwaysNormal
        >>> [p.label for p in predict_samples(AlwaysNormal(), [])]
        []

    Raises:
        ArgumentError: ``adapter`` is not an adapter instance, ``samples`` not a sequence of
            :class:`~iadbench.contract.records.Sample`, or ``batch_size`` not a whole number of
            at least 1.
    """
    # A batch size of -1 sliced images away (5 samples -> 4 predictions, issue 18); a class
    # instead of an instance, None, or a string of "samples" failed deep inside or was iterated.
    if not isinstance(adapter, MethodAdapter):
        raise ArgumentError(
            f"adapter must be a method adapter instance (e.g. AlwaysNormal()), got {adapter!r}"
        )
    if isinstance(samples, str | bytes) or not isinstance(samples, Sequence):
        raise ArgumentError(f"samples must be a list of iadbench.Sample, got {samples!r:.80}")
    if strangers := [s for s in samples if not isinstance(s, Sample)]:
        raise ArgumentError(f"samples must be iadbench.Sample records, got {strangers[0]!r:.80}")
    size = optional_whole_number(batch_size, name="batch_size", minimum=1)
    size = size or type(adapter).default_batch_size
    return [
        prediction
        for _, predictions in predict_batches(adapter, samples, batch_size=size, workers=0)
        for prediction in predictions
    ]


def _predict_with_failures(
    adapter: MethodAdapter[Any],
    batch: Sequence[Sample],
    inputs: list[Any] | None,
    failures: dict[int, str],
) -> list[Prediction]:
    keep = [i for i in range(len(batch)) if i not in failures]
    kept = _predict_isolating_failures(
        adapter, [batch[i] for i in keep], None if inputs is None else [inputs[i] for i in keep]
    )
    by_index = dict(zip(keep, kept, strict=True))
    return [by_index.get(i) or Prediction.failed(failures[i]) for i in range(len(batch))]


def _predict_isolating_failures(
    adapter: MethodAdapter[Any], batch: Sequence[Sample], inputs: list[Any] | None
) -> list[Prediction]:
    """Predict a batch; when it raises, retry image by image so one bad file costs one image."""
    if not batch:
        return []
    try:
        predictions = _call_predict(adapter, batch, inputs)
    except KeyboardInterrupt:
        raise
    except Exception as exc:
        if environment_cause(exc) is not None:
            raise environment_failure(exc, f"predicting images from {batch[0].id}") from exc
        predictions = [
            _predict_one(adapter, sample, None if inputs is None else [inputs[i]])
            for i, sample in enumerate(batch)
        ]
    if len(predictions) != len(batch):
        raise IADBenchError(
            f"{type(adapter).__name__}.predict returned {len(predictions)} predictions for "
            f"{len(batch)} samples; an adapter must return one per sample, in order"
        )
    return predictions


def _predict_one(
    adapter: MethodAdapter[Any], sample: Sample, inputs: list[Any] | None
) -> Prediction:
    try:
        (prediction,) = _call_predict(adapter, [sample], inputs)
        return prediction
    except KeyboardInterrupt:
        raise
    except Exception as exc:
        if environment_cause(exc) is not None:
            raise environment_failure(exc, f"predicting {sample.id}") from exc
        return Prediction.failed(f"{type(exc).__name__}: {exc}")


def _call_predict(
    adapter: MethodAdapter[Any], batch: Sequence[Sample], inputs: list[Any] | None
) -> list[Prediction]:
    # Adapters without a preprocessor may define predict(self, batch): keep that simple form.
    return adapter.predict(batch) if inputs is None else adapter.predict(batch, inputs)


def _check_not_systematic(batch: Sequence[Sample], predictions: list[Prediction]) -> None:
    """A method that fails on every image of its first batch is broken, not facing bad images."""
    errors = [p.error for p in predictions if p.error is not None]
    if len(batch) > 1 and len(errors) == len(batch):
        raise IADBenchError(
            f"the method failed on all {len(batch)} images of its first batch, so the run stops "
            f"instead of recording {len(batch)} errors per batch. First error: {errors[0]}"
        )


@dataclass(frozen=True)
class _Failure:
    """Why an image could not be prepared; ``environment``: the machine's fault (see module)."""

    message: str
    environment: bool


Item = tuple[int, Any, _Failure | None]


class _PreprocessedSamples:
    """Map-style dataset: item i → (i, input or None, failure or None); never raises per image.

    Failures travel as values: a DataLoader worker's exception would reach the main process
    rebuilt from its message, without the errno that tells a full disk from a bad file.
    """

    def __init__(self, samples: Sequence[Sample], preprocess: Callable[[Sample], Any]) -> None:
        self.samples = samples
        self.preprocess = preprocess

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> Item:
        try:
            return index, self.preprocess(self.samples[index]), None
        except Exception as exc:  # unreadable image: recorded against it, the run goes on
            if (cause := environment_cause(exc)) is not None:
                message = str(environment_failure(cause, f"reading {self.samples[index].id}"))
                return index, None, _Failure(message, environment=True)
            return index, None, _Failure(f"{type(exc).__name__}: {exc}", environment=False)


def _keep_as_list(items: list[Item]) -> list[Item]:
    return items


def _loaded_batches(
    samples: Sequence[Sample],
    preprocess: Callable[[Sample], Any],
    batch_size: int,
    workers: int,
    pin_memory: bool,
) -> Iterator[tuple[Sequence[Sample], list[Any], dict[int, str]]]:
    dataset = _PreprocessedSamples(samples, preprocess)
    loader: Iterable[list[Item]]
    if workers == 0 and not pin_memory:
        # What DataLoader(num_workers=0) does (items in order, collated as a list), without
        # importing torch: a method that never uses it (pixel-stats, most plugins) starts a run
        # about 1.2 s of CPU sooner.
        loader = ([dataset[i] for i in chunk] for chunk in _chunks(len(dataset), batch_size))
    else:
        from torch.utils.data import DataLoader, Dataset

        # A map-style dataset by protocol (__len__/__getitem__); torch is imported only here.
        loader = DataLoader(
            cast("Dataset[Item]", dataset),
            batch_size=max(1, batch_size),
            shuffle=False,
            num_workers=workers,
            collate_fn=_keep_as_list,
            pin_memory=pin_memory,
            prefetch_factor=4 if workers else None,
        )
    for items in loader:
        first = items[0][0]
        batch = samples[first : first + len(items)]
        failed = {i: failure for i, (_, _, failure) in enumerate(items) if failure is not None}
        for failure in failed.values():
            if failure.environment:
                raise EnvironmentFailure(failure.message)
        failures = {i: failure.message for i, failure in failed.items()}
        yield batch, [value for _, value, _ in items], failures
