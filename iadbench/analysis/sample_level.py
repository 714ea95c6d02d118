"""Figures per physical sample where a dataset photographs each part from several views.

Real-IAD photographs every part with 5 cameras; a part is one sample of 5 images
(:attr:`~iadbench.contract.records.Sample.group`). An inspection line accepts or rejects the
part, so the release's evaluation also scores parts (the authors' "sample-level" S-AUROC). Rules:

* **label**: a sample is defective when any of its views is (a view where the defect does not
  show is labelled normal by the release, the part is still defective);
* **score**: the maximum of its views' scores (a defect seen from one camera is enough); a sample
  with a view that has no score has none (ranked at the wrong extreme, as an unscored image is);
* **answer**: ``defect`` when any view is answered defect, else ``invalid`` when any view's answer
  is invalid, else ``normal`` (one camera's alarm rejects the part).

Images without a group are samples of their own. The block holds the same figures as the
image-level ones (:func:`~iadbench.analysis.metrics.summarize`) and their statistics (bootstrap
and McNemar, now one draw per sample).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from iadbench.contract.records import DEFECT, INVALID, NORMAL
from iadbench.runs.reader import Outcome

#: What the block's ``rule`` field says (summary.json readers see the rule beside the figures).
RULE = "views grouped per sample: label = any view defective, score = max over views"


def sample_outcomes(outcomes: Sequence[Outcome]) -> list[Outcome]:
    """One outcome per sample (see the module docstring), in order of first appearance.

    Example:
        >>> views = [Outcome("a1", "pcb", "normal", "normal", 0.1, group="pcb/a"),
        ...          Outcome("a2", "pcb", "defect", "normal", 0.7, group="pcb/a")]
        >>> part = sample_outcomes(views)[0]
        >>> part.id, part.label, part.pred, part.score
        ('pcb/a', 'defect', 'normal', 0.7)
    """
    members: dict[str, list[Outcome]] = {}
    for outcome in outcomes:
        members.setdefault(outcome.group or outcome.id, []).append(outcome)
    merged = []
    for key, views in members.items():
        preds = {view.pred for view in views}
        scores = [view.score for view in views]
        known = [score for score in scores if score is not None]
        errors = [view.error for view in views if view.error is not None]
        merged.append(
            Outcome(
                id=key,
                category=views[0].category,
                label=DEFECT if any(v.label == DEFECT for v in views) else NORMAL,
                pred=DEFECT if DEFECT in preds else INVALID if INVALID in preds else NORMAL,
                score=max(known) if len(known) == len(scores) else None,
                error=errors[0] if errors else None,
                group=key,
            )
        )
    return merged


def sample_level_block(outcomes: Sequence[Outcome]) -> dict[str, Any] | None:
    """``summary["sample_level"]``: the figures per sample, or None when no image is grouped."""
    if all(o.group is None for o in outcomes):
        return None
    from iadbench.analysis.metrics import summarize
    from iadbench.analysis.statistics import run_statistics

    samples = [
        Outcome(o.id, o.category, o.label, o.pred, o.score, o.text, o.error)  # one per sample
        for o in sample_outcomes(outcomes)
    ]
    return {"rule": RULE, **summarize(samples), "statistics": run_statistics(samples)}
