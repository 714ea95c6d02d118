"""When a run beats a baseline: the significance rule, without numpy (``run``'s last line).

:mod:`iadbench.analysis.statistics` computes the tests (numpy, scipy); deciding from a stored
McNemar block needs neither, and a re-run of a finished run must not import them
(``tests/core/cli/test_startup_imports.py``).
"""

from __future__ import annotations

from iadbench.runs.schema import McNemarBlock

#: Significance level at which a run is said to beat (or lose to) a baseline.
ALPHA = 0.05


def beats(block: McNemarBlock, alpha: float = ALPHA) -> int:
    """+1 when the run is significantly more accurate than the baseline, -1 less, else 0."""
    if block["p_value"] >= alpha or block["better"] == block["worse"]:
        return 0
    return 1 if block["better"] > block["worse"] else -1
