"""How AnomalyGPT's replies are read: a strict rule (the headline) and the official lenient one.

The official answers begin with the verdict: "No, there is no anomaly in the image." / "Yes, there
is an anomaly in the image, at the {position} of the image." (``code/datasets/{mvtec,visa}.py``).
The official test decides by ``'Yes' in reply`` (``code/test_mvtec.py``): any reply is a verdict,
even one that says nothing. iadbench's strict rule takes the verdict only where the reply gives
one — its first word, "Yes" or "No" — and counts everything else as ``invalid``; the summary
reports the official rule's figures beside it (``lenient:yes-in-reply``).
"""

from __future__ import annotations

import re

from iadbench.contract.records import DEFECT, INVALID, NORMAL, AnswerRules, PredictedLabel

from ..qwen2vl.answers import LENIENT_YES_NO_RULE, parse_yes_no_lenient

STRICT_YES_NO_RULE = "strict:leading-yes-no"
_LEADING_WORD = re.compile(r"\s*([A-Za-z]+)")


def parse_yes_no_strict(text: str) -> PredictedLabel:
    """``defect`` when the reply's first word is ``Yes``, ``normal`` for ``No``, else ``invalid``.

    Example:
        >>> [parse_yes_no_strict(t) for t in ("Yes, there is an anomaly.", "No.", "Maybe yes")]
        ['defect', 'normal', 'invalid']
    """
    match = _LEADING_WORD.match(text)
    word = match.group(1) if match else ""
    return DEFECT if word == "Yes" else NORMAL if word == "No" else INVALID


#: AnomalyGPT's adapter declares these: the strict headline and the official lenient rule.
YES_NO_ANSWER_RULES = AnswerRules(STRICT_YES_NO_RULE, LENIENT_YES_NO_RULE, parse_yes_no_lenient)
