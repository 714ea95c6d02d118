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


_QUICK = "\n".join(f"def test_quick_{i}():\n    open('order.txt', 'a').write('quick\\n')\n"
                   for i in range(5))  # fmt: skip
_SLOW = """
import pytest

@pytest.mark.slow
def test_slow():
    open("order.txt", "a").write("slow\\n")
"""


def test_make_test_runs_files_in_the_collected_order(tmp_path: Path) -> None:
    """pytest-xdist 3 reorders files by their number of tests unless told not to: the Makefile's
    pytest arguments keep the order of pytest_collection_modifyitems (slow files first)."""
    import re
    import subprocess
    import sys

    makefile = (REPO_ROOT / "Makefile").read_text(encoding="utf-8")
    match = re.search(r"^PYTEST_ARGS := (.+)$", makefile, flags=re.MULTILINE)
    assert match is not None, "the Makefile names pytest's arguments in PYTEST_ARGS"
    args = match.group(1).replace("-n auto", "-n 1").split()  # one worker: one order to see
    (tmp_path / "test_many.py").write_text(_QUICK)
    (tmp_path / "test_one_slow.py").write_text(_SLOW)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT / "tests"),
                                                        os.environ.get("PYTHONPATH", "")])}
    env.pop("PYTEST_XDIST_WORKER", None)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", *args, "-p", "no:cacheprovider", "-p", "conftest",
         "-o", "markers=slow", "test_many.py", "test_one_slow.py"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert (tmp_path / "order.txt").read_text().splitlines() == ["slow"] + ["quick"] * 5
