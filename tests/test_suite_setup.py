"""The test suite's own setup (tests/conftest.py): what keeps `make test` within its time.

`make test` took 12:05 on 2 cores with two pytest-xdist workers each running torch with a thread
per core, and 6:16 with one thread per worker. These guard that setting and its companion, no
DataLoader process per run (a timed test would be flaky; tests/cpu_budget.py guards the total).
"""

from __future__ import annotations

import os

import pytest


def test_each_xdist_worker_runs_torch_on_one_thread() -> None:
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        pytest.skip("only under pytest-xdist (make test); a single process keeps torch's default")
    assert os.environ.get("OMP_NUM_THREADS") == "1"
    torch = pytest.importorskip("torch")
    assert torch.get_num_threads() == 1


def test_each_xdist_worker_runs_without_dataloader_processes() -> None:
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        pytest.skip("only under pytest-xdist (make test)")
    from iadbench.contract.settings import default_workers

    assert default_workers("cpu") == 0
