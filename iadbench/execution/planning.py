"""Planning: what a user asked for (:class:`RunRequest`) → a resolved :class:`PlannedRun`.

:func:`plan_run` resolves everything that can be wrong in the arguments (method, options, roots,
splits, numbers, output dir) and indexes and fingerprints the data
(:mod:`iadbench.execution.planned_data`) before any work starts, so a matrix fails fast and the
configuration hash says which images a run reads. :func:`resolve_method` is the method half of
it, which ``predict`` shares (by flags, and for a stored run's configuration).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from iadbench.contract.errors import IADBenchError
from iadbench.contract.method import MethodAdapter
from iadbench.contract.options import build_options, inference_only_names, tiny_values
from iadbench.contract.settings import default_cache_dir
from iadbench.execution.planned_data import (
    CAPPED_TRAINING_TAG,
    PlannedData,
    calibration_ratio,
    index_data,
    sample_digest,
)
from iadbench.execution.registry import METHODS
from iadbench.execution.request import RunRequest, check_numbers
from iadbench.runs.runspec import ZERO_SHOT, RunSpec
from iadbench.runs.thresholds import DEFAULT_POLICY, ThresholdPolicy, parse_policy


@dataclass(frozen=True)
class MethodChoice:
    """A request's method resolved: its class, typed options and threshold policy.

    Attributes:
        tiny: ``--tiny`` where it applies (a model-free method has nothing to shrink).
        threshold: The policy text (normalised), or None for a method that gives no scores.
    """

    adapter_cls: type[MethodAdapter[Any]]
    options: Any
    tiny: bool
    threshold: str | None

    @property
    def policy(self) -> ThresholdPolicy | None:
        """The threshold policy, parsed (None for a method that gives no scores)."""
        return None if self.threshold is None else parse_policy(self.threshold)


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

    @property
    def policy(self) -> ThresholdPolicy | None:
        """The run's threshold policy, parsed (None for a method that gives no scores)."""
        return None if self.spec.threshold is None else parse_policy(self.spec.threshold)


def resolve_method(request: RunRequest) -> MethodChoice:
    """Resolve a request's method, options (``--tiny`` defaults under ``--set``) and threshold.

    Raises:
        UnknownNameError: Unknown method or option.
        IADBenchError: A threshold for a method that gives no scores, or a bad policy.
    """
    adapter_cls = METHODS.get(request.method)
    tiny = request.tiny and adapter_cls.capabilities.builds_models
    overrides = {**(tiny_values(adapter_cls.Options) if tiny else {}), **request.options}
    options = build_options(adapter_cls.Options, overrides)
    caps = adapter_cls.capabilities
    threshold = request.threshold or (DEFAULT_POLICY if caps.gives_scores else None)
    if threshold is not None:
        if not caps.gives_scores:
            raise IADBenchError(
                f"method {request.method!r} gives no scores; --threshold does not apply"
            )
        threshold = str(parse_policy(threshold))
    return MethodChoice(adapter_cls, options, tiny, threshold)


def default_options(adapter_cls: type[MethodAdapter[Any]], tiny: bool) -> dict[str, Any]:
    """The options a run of ``adapter_cls`` records when nothing is set (``--tiny``'s applied).

    Stored beside a run's options in its manifest, so a view can name what a run set away
    from them (:mod:`iadbench.views.leaderboard.collect`).
    """
    overrides = tiny_values(adapter_cls.Options) if tiny else {}
    return adapter_cls.options_dict(build_options(adapter_cls.Options, overrides))


def plan_run(request: RunRequest) -> PlannedRun:
    """Resolve method, options, dataset roots, splits, threshold and output dir.

    Raises:
        UnknownNameError: Unknown method or option.
        DatasetNotFoundError: A dataset root is not given or does not exist.
        IADBenchError: Any other invalid argument.
    """
    check_numbers(request)
    method = resolve_method(request)
    adapter_cls, options, threshold = method.adapter_cls, method.options, method.threshold
    data, test_ref, train_ref = index_data(request, adapter_cls, options, threshold)
    spec = RunSpec(
        method=request.method,
        method_version=adapter_cls.version,
        options=adapter_cls.options_dict(options),
        tiny=method.tiny,  # --tiny cannot change a model-free method
        train=train_ref,  # None for a zero-shot run: keyed by its test set only
        test=test_ref,
        threshold=threshold,
        seed=request.seed,
        calibration_fingerprint=sample_digest(data.calibration),
        limit=request.limit,
        references_fingerprint=sample_digest(data.references),
        # Hashed only where it can matter (a training method under a policy chosen on training
        # data: it may hold a share out of fit's samples); other runs keep their hashes.
        calibration_ratio=calibration_ratio(request)
        if data.calibration is not None and data.train is not None
        else None,
        categories=None if request.categories is None else tuple(request.categories),
    )
    source = ZERO_SHOT if train_ref is None else f"{train_ref.name}-{train_ref.split}"
    out = request.out or Path("runs") / request.method / (
        f"{source}_to_{request.test}-{test_ref.split}_{spec.config_hash()[:8]}"
    )
    cache_dir = request.cache_dir or default_cache_dir()
    return PlannedRun(request, spec, adapter_cls, options, Path(out), cache_dir, data)


def train_hash(plan: PlannedRun) -> str:
    """Key of the trained artefacts: everything training depends on (not test data)."""
    return plan.spec.train_hash(inference_only_names(plan.adapter_cls.Options))


def batch_size(plan: PlannedRun) -> int:
    """Images per predict call: ``--batch-size`` or the method's default."""
    return plan.request.batch_size or plan.adapter_cls.default_batch_size


def trained_dir(plan: PlannedRun) -> Path:
    """Where the run's trained artefacts live: ``<cache>/trained/<method>/<train hash>``.

    ``<train hash>-stratified`` when the method's ``max_train_samples`` subsamples the training
    subset (:attr:`PlannedData.capped`,
    :data:`~iadbench.execution.planned_data.CAPPED_TRAINING_TAG`): a training drawn by the rule
    before (at random) is never reused.
    """
    name = train_hash(plan)
    if plan.data.capped:
        name = f"{name}-{CAPPED_TRAINING_TAG}"
    return plan.cache_dir / "trained" / plan.spec.method / name


__all__ = [
    "MethodChoice",
    "PlannedRun",
    "RunRequest",
    "batch_size",
    "plan_run",
    "resolve_method",
    "train_hash",
    "trained_dir",
]
