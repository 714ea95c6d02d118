"""Execute a planned run: samples → adapter → predictions.jsonl → sealed summary.json.

:func:`execute_run` runs, resumes or reuses a :class:`~iadbench.execution.planning.PlannedRun`: it
takes the run dir's lock, asks :mod:`iadbench.execution.reuse` what the dir holds, and leaves the
work to one attempt (:mod:`iadbench.execution.attempt`: training stage, threshold, predictions,
records).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from iadbench.contract.progress import ProgressHook, SilentProgress
from iadbench.contract.text import terminal_text
from iadbench.execution.attempt import compute_run
from iadbench.execution.distributed import process_group
from iadbench.execution.planning import PlannedRun
from iadbench.execution.reuse import inspect_run_dir
from iadbench.execution.summaries import resummarised
from iadbench.runs.writer import RunStore


@dataclass
class RunOutcome:
    """What :func:`execute_run` did."""

    summary: dict[str, Any]
    out: Path
    reused: bool  # the run was already complete: nothing was computed
    computed: int  # predictions computed in this call
    resumed: int  # predictions found from an earlier attempt
    seconds: float
    # Test categories that hold one label (one_label_warning): the caller shows it once.
    warning: str | None = None


def execute_run(plan: PlannedRun, progress: ProgressHook | None = None) -> RunOutcome:
    """Run (or resume, or reuse) a planned run and return its summary.

    Raises:
        RunConflictError: The output dir is locked or holds another configuration.
        DatasetNotFoundError: A dataset root holds no images in the expected layout.
        SplitError: A training method would be tested on its own training images.
    """
    if plan.data.train is not None:
        # Before the run dir exists: a refused attempt writes nothing (no manifest or lock left
        # to make the next run there read as "another configuration").
        plan.data.check_no_overlap(force=plan.request.force_overlap)
    group = process_group()
    # One bar per run: the other processes of a sharded run work silently.
    progress = (progress if group.is_main else None) or SilentProgress()
    started = time.perf_counter()
    warning = one_label_warning(plan.data.one_label_categories(), plan.request.limit)
    store = RunStore(plan.out)
    # The first process holds the lock for all of them (they are one run).
    with store.locked() if group.is_main else nullcontext(store):
        state = inspect_run_dir(store, plan)
        if state.discard:
            group.barrier()  # every process has read the old manifest before it goes
            if group.is_main:
                store.clear()
        manifest = state.manifest
        if state.summary is not None and manifest is not None:
            summary = state.summary
            if plan.data.content and not manifest.get("content_fingerprints") and group.is_main:
                store.write_manifest({**manifest, "content_fingerprints": plan.data.content})
            # Other operating-point targets: the block recomputed from the sealed predictions
            # (predicting nothing); the first process writes it, as it writes every summary.
            if group.is_main and (updated := resummarised(plan, store, summary)) is not None:
                store.write_summary(updated)
                summary = dict(updated)
            elapsed = time.perf_counter() - started
            return RunOutcome(summary, plan.out, True, 0, 0, elapsed, warning)
        summary, computed, resumed = compute_run(plan, store, progress, previous=manifest)
        elapsed = time.perf_counter() - started
        return RunOutcome(summary, plan.out, False, computed, resumed, elapsed, warning)


def one_label_warning(categories: Mapping[str, str], limit: int | None) -> str | None:
    """The warning for test categories holding one label (:meth:`PlannedData.one_label_categories`).

    Args:
        categories: Category → the one label its test images carry.
        limit: The run's ``--limit``: at 1, the cause and the fix.

    Returns:
        One paragraph naming the categories (made terminal-safe: they are folder names), or
        None when every category holds both labels.
    """
    if not categories:
        return None
    by_label = {
        label: sorted(terminal_text(c) for c, found in categories.items() if found == label)
        for label in sorted(set(categories.values()))
    }
    named = "; ".join(f"only {label} images in {', '.join(names)}"
                      for label, names in by_label.items())  # fmt: skip
    cause = (
        " --limit 1 takes one image per category: use --limit 2 or more for both labels."
        if limit == 1
        else ""
    )
    return (
        f"one-label test categories ({named}): there, always answering that label scores 100 % "
        f"accuracy and AUROC is undefined, so their figures say little.{cause}"
    )
