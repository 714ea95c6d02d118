"""The one way an adapter is built, for ``run``, ``train`` and ``predict`` alike.

A :class:`MethodSetup` is what an adapter is built from (a planned run's, or a stored run's for
``predict --from-run``); :func:`build_adapter` resolves the device once (:func:`run_device`) and
hands the adapter its :class:`~iadbench.contract.method.RunContext`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from iadbench.contract.method import MethodAdapter, RunContext, trains
from iadbench.contract.records import Sample
from iadbench.execution.distributed import process_group
from iadbench.execution.planned_data import references_by_category
from iadbench.execution.planning import PlannedRun, trained_dir


@dataclass(frozen=True)
class MethodSetup:
    """What an adapter is built from.

    Attributes:
        adapter_cls: The method's adapter class.
        options: Its typed options.
        tiny: Tiny random-weight models (``--tiny``, where it applies).
        seed: The run's seed.
        workdir: The training dir (methods that train), else None.
        references: A few-shot configuration's reference images per category, else empty.
    """

    adapter_cls: type[MethodAdapter[Any]]
    options: Any
    tiny: bool
    seed: int
    workdir: Path | None = None
    references: Mapping[str, tuple[Sample, ...]] = field(default_factory=dict)


def setup_of(plan: PlannedRun) -> MethodSetup:
    """A planned run's setup: its training dir when the method trains, its references."""
    return MethodSetup(
        plan.adapter_cls,
        plan.options,
        plan.spec.tiny,
        plan.spec.seed,
        workdir=trained_dir(plan) if trains(plan.adapter_cls, plan.options) else None,
        references=references_by_category(plan.data.references or []),
    )


def run_device(requested: str, builds_models: bool) -> str:
    """The device an adapter gets: ``--device`` as this process must read it.

    Each process of a multi-GPU run takes its own GPU (``cuda:<local rank>``), and for methods
    that build models ``auto`` is resolved here, once, so adapters get ``cpu`` or ``cuda[:n]``;
    a model-free method keeps ``auto`` (it imports no torch).

    Raises:
        IADBenchError: Unknown device, or ``cuda`` asked for without a GPU.
    """
    device = process_group().device_for(requested)
    if builds_models:
        from iadbench.contract.devices import resolve_device  # imports torch

        device = resolve_device(device)
    return device


def build_adapter(
    setup: MethodSetup, device: str, artifacts_dir: Path | None = None
) -> MethodAdapter[Any]:
    """The adapter of ``setup`` on the resolved ``device``, its context filled in.

    Args:
        setup: What to build.
        device: ``--device`` as given (``auto``, ``cpu``, ``cuda``, ``cuda:N``).
        artifacts_dir: Where per-image artefacts go (a run dir's ``artifacts/``), None for none.
    """
    adapter_cls = setup.adapter_cls
    context = RunContext(
        tiny=setup.tiny,
        device=run_device(device, adapter_cls.capabilities.builds_models),
        seed=setup.seed,
        artifacts_dir=artifacts_dir,
        workdir=setup.workdir,
        references=setup.references,
    )
    return adapter_cls(setup.options, context=context)
