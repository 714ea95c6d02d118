"""``run`` and ``train`` as commands: plan, execute, and leave the process group.

Under ``torchrun`` every process plans and executes the same request; the process group is left
cleanly whatever happens, and only the first process has anything to report.
"""

from __future__ import annotations

from pathlib import Path

from iadbench.contract.progress import ProgressHook
from iadbench.execution.distributed import is_main_process, shutdown
from iadbench.execution.planning import RunRequest, plan_run
from iadbench.execution.runner import RunOutcome, execute_run
from iadbench.execution.training_stage import train_only


def launch_run(request: RunRequest, progress: ProgressHook | None = None) -> RunOutcome | None:
    """Plan and execute a run; its outcome on the first process, None on the others.

    Raises:
        IADBenchError: Anything :func:`~iadbench.execution.planning.plan_run` or
            :func:`~iadbench.execution.runner.execute_run` refuses.
    """
    try:
        outcome = execute_run(plan_run(request), progress)
    finally:
        shutdown()
    return outcome if is_main_process() else None


def launch_training(request: RunRequest) -> Path | None:
    """Plan a run of the training dataset and run its training stage alone.

    Returns:
        Where the trained artefacts are, on the first process; None on the others.

    Raises:
        IADBenchError: The method has no training stage, or a bad argument.
    """
    try:
        workdir = train_only(plan_run(request))
    finally:
        shutdown()
    return workdir if is_main_process() else None
