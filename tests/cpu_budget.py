"""`make test`'s CPU budget: the suite's CPU time in units of a reference measured beside it.

Issue 17 asks for `make test` <= 8 min on 2 cores. Wall time moves with the machine's load and
speed; the suite's CPU time (``IADBENCH_TEST_CPU_DIR``, summed per file by tests/conftest.py)
divided by the CPU time of a fresh ``python -c "import sklearn.metrics"`` (what most of the
suite's CLI subprocesses pay before anything else) moves little with either. ``make test`` prints
the ratio and fails above :data:`BUDGET`.

Usage: ``python tests/cpu_budget.py reference FOLDER`` before the tests (a quiet machine: the
figure is steadier than after them, beside mypy), ``python tests/cpu_budget.py check FOLDER``
after them (``FOLDER`` holds ``by_file.tsv``; without a stored reference it measures one then).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
from pathlib import Path

#: On 2 cores: 539x-582x on 2026-12-07/08 (765-806 s of CPU for 1,821-1,827 tests, 1.33-1.46 s
#: per reference import), 487x-509x after in-process CLI calls (682-753 s, 2026-12-08); 634x
#: once (the two longest files forced to run at once, the reference measured after the tests).
#: 700x, 20 % above the highest ordinary figure: pip's --no-compile where bytecode is not cached
#: (1,184 s, 816x) fails, and so would about 300 s of CPU more than 682 s (make test's wall time
#: is about its CPU divided by 2, plus a minute of set-up). Raise it knowingly.
BUDGET = 700.0
REFERENCE = "import sklearn.metrics"
REFERENCE_FILE = "reference_seconds.txt"


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


def stored_reference(folder: Path) -> float | None:
    """The reference ``reference`` stored in ``folder`` before the tests, if any."""
    path = folder / REFERENCE_FILE
    return float(path.read_text()) if path.is_file() else None


def check(folder: Path, reference: float | None = None) -> tuple[bool, str]:
    """``(within budget, the line to print)``; ``reference``: stored or measured when None."""
    total = suite_seconds(folder)
    if total is None:
        return True, f"CPU budget: no by_file.tsv in {folder} (the tests did not finish)"
    if reference is None:
        reference = stored_reference(folder) or reference_seconds()
    ratio = total / reference
    verdict = "within" if ratio <= BUDGET else "OVER"
    line = (
        f"CPU budget: the tests took {total:.0f} s of CPU = {ratio:.0f}x a fresh "
        f"`{REFERENCE}` ({reference:.2f} s); {verdict} the budget of {BUDGET:.0f}x "
        "(tests/cpu_budget.py)"
    )
    return ratio <= BUDGET, line


def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[1] not in ("reference", "check"):
        print("usage: cpu_budget.py reference|check FOLDER", file=sys.stderr)
        return 2
    folder = Path(argv[2])
    if argv[1] == "reference":
        folder.mkdir(parents=True, exist_ok=True)
        (folder / REFERENCE_FILE).write_text(f"{reference_seconds(runs=5):.4f}\n")
        return 0
    within, line = check(folder)
    print(line)
    return 0 if within else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
