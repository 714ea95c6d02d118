"""Threshold policies: how a score method's score becomes a defect/normal decision.

The policy is part of every run's configuration and is printed in every table, because for score
methods accuracy and F1 depend on it entirely. ``fixed:T`` decides ``defect`` when score >= T.
"""

from __future__ import annotations

from iadbench.errors import IADBenchError
from iadbench.records import DEFECT, NORMAL

DEFAULT_POLICY = "fixed:0.5"


class ThresholdError(IADBenchError):
    """A threshold policy that is malformed or not available."""


def parse_fixed(policy: str) -> float:
    """The threshold of a ``fixed:T`` policy.

    Raises:
        ThresholdError: ``policy`` is not ``fixed:T`` with T in [0, 1].
    """
    kind, _, value = policy.partition(":")
    if kind != "fixed":
        raise ThresholdError(
            f"threshold policy {policy!r} is not available; use fixed:T with T in [0, 1] "
            f"(default {DEFAULT_POLICY})."
        )
    try:
        threshold = float(value)
    except ValueError:
        raise ThresholdError(f"threshold policy {policy!r}: {value!r} is not a number") from None
    if not 0.0 <= threshold <= 1.0:
        raise ThresholdError(f"threshold policy {policy!r}: T must lie in [0, 1]")
    return threshold


def decide(score: float, threshold: float) -> str:
    """``defect`` when the score reaches the threshold, else ``normal``."""
    return DEFECT if score >= threshold else NORMAL
