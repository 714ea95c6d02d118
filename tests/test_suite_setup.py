"""The test suite's own setup (tests/conftest.py): what keeps `make test` within its time.

`make test` took 12:05 on 2 cores with two pytest-xdist workers each running torch with a thread
per core, and 6:16 with one thread per worker; the learning proof, started last, ran alone at the
end. These guard the two settings that made the difference (a timed test would be flaky).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import LONGEST_FIRST, REPO_ROOT


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


def test_the_longest_files_are_collected_first(request: pytest.FixtureRequest) -> None:
    files = list(
        dict.fromkeys(
            Path(str(item.path)).resolve().relative_to(REPO_ROOT).as_posix()
            for item in request.session.items
        )
    )
    expected = [path for path in LONGEST_FIRST if path in files]
    assert files[: len(expected)] == expected
