"""`make test`'s CPU budget: the suite's CPU time in units of a reference measured beside it.

Issue 17 asks for `make test` <= 8 min on 2 cores. Wall time moves with the machine's load and
speed; the suite's CPU time (``IADBENCH_TEST_CPU_DIR``, summed per file by tests/conftest.py)
divided by the CPU time of a fresh ``python -c "import sklearn.metrics"`` (what most of the
suite's CLI subprocesses pay before anything else) moves little with either. ``make test`` prints
the ratio and fails above :data:`BUDGET`.

Usage: ``python tests/cpu_budget.py FOLDER`` (the folder holding ``by_file.tsv``).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
from pathlib import Path

#: 2026-12-07 on 2 cores: 804 s of CPU for 1,819 tests at 1.45 s per reference import, 555x.
#: 1.35x that: a change as costly as pip's --no-compile where bytecode is not cached (1,184 s,
#: 816x) fails; a new test file of a few CLI runs does not. Raise it knowingly, with the figure.
BUDGET = 750.0
REFERENCE = "import sklearn.metrics"


def reference_seconds(runs: int = 3) -> float:
    """Median CPU seconds (user + sys) of a fresh interpreter running :data:`REFERENCE`."""
    samples = []
    for _ in range(runs):
        before = os.times()
        subprocess.run([sys.executable, "-c", REFERENCE], check=True)
        after = os.times()
        samples.append(
            after.children_user - before.children_user
            + after.children_system - before.children_system
        )  # fmt: skip
    return statistics.median(samples)


def suite_seconds(folder: Path) -> float | None:
    """The suite's CPU seconds from ``by_file.tsv`` (None when the suite wrote none)."""
    table = folder / "by_file.tsv"
    if not table.is_file():
        return None
    return sum(float(line.split("\t", 1)[0]) for line in table.read_text().splitlines() if line)


def check(folder: Path, reference: float | None = None) -> tuple[bool, str]:
    """``(within budget, the line to print)``."""
    total = suite_seconds(folder)
    if total is None:
        return True, f"CPU budget: no by_file.tsv in {folder} (the tests did not finish)"
    reference = reference_seconds() if reference is None else reference
    ratio = total / reference
    verdict = "within" if ratio <= BUDGET else "OVER"
    line = (
        f"CPU budget: the tests took {total:.0f} s of CPU = {ratio:.0f}x a fresh "
        f"`{REFERENCE}` ({reference:.2f} s); {verdict} the budget of {BUDGET:.0f}x "
        "(tests/cpu_budget.py)"
    )
    return ratio <= BUDGET, line


def main(argv: list[str]) -> int:
    within, line = check(Path(argv[1]))
    print(line)
    return 0 if within else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
