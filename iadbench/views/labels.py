"""Labels that tell rows apart wherever runs of one method are shown together.

:attr:`~iadbench.views.leaderboard.collect.StoredRun.label` names the options, seed, data and
``--limit`` in which runs of one identity differ; the threshold policy is part of the identity,
so it is not named there. Views without a threshold column (the report's verdict, confusion
matrices, per-category columns and chart legends, the terminal's statistics table, the exports'
``shown_label``) add it here.
"""

from __future__ import annotations

from collections.abc import Sequence

from iadbench.views.catalogue import MISSING


def with_setting(label: str, setting: str) -> str:
    """``label`` naming one more setting: ``winclip [seed=1]`` → ``winclip [seed=1, x=y]``."""
    if label.endswith("]") and " [" in label:
        return f"{label[:-1]}, {setting}]"
    return f"{label} [{setting}]"


def shown_labels(rows: Sequence[tuple[str, str, str | None]]) -> list[str]:
    """Labels that name every setting in which runs of one method shown together differ.

    :attr:`StoredRun.label` already names differing options, seed, data and ``--limit``, but not
    the threshold policy (part of a row's identity, so the markdown gives it a column). Where a
    view shows runs of one method without that column, ``threshold=...`` is added to each of
    them when their policies differ.

    Args:
        rows: ``(label, method, threshold)`` of each run shown together, in order.

    Returns:
        One label per row, in the same order.

    Example:
        >>> shown_labels([("w", "w", "oracle"), ("w [k=1]", "w", "fixed:0.5"), ("x", "x", None)])
        ['w [threshold=oracle]', 'w [k=1, threshold=fixed:0.5]', 'x']
    """
    policies: dict[str, set[str | None]] = {}
    for _, method, threshold in rows:
        policies.setdefault(method, set()).add(threshold)
    return [
        with_setting(label, f"threshold={threshold or MISSING}")
        if len(policies[method]) > 1
        else label
        for label, method, threshold in rows
    ]
